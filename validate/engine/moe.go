package engine

import (
	"math"
)

// mlpForward runs a dense feed-forward block on rows of x into dst, using
// up (rows × up width) and act (rows × inter) as scratch. It returns the
// bytes of weights read.
func (e *Engine) mlpForward(dst, x []float32, rows int, m *mlp, up, act []float32) int64 {
	inter := m.down.Cols
	MatMul(e.pool, up, x, rows, m.up, m.upBias)
	e.activate(act, up, rows, inter)
	MatMul(e.pool, dst, act, rows, m.down, m.downBias)
	return m.up.Bytes() + m.down.Bytes()
}

// route computes the router's softmax over experts for every token and
// keeps the top k, renormalised to sum to one (Mixtral). choice and weight
// receive tokens×k entries; ties go to the lower expert index.
func route(logits []float32, tokens, experts, k int, choice []int, weight []float32) {
	probs := make([]float64, experts)
	for t := 0; t < tokens; t++ {
		row := logits[t*experts : (t+1)*experts]
		top := row[argmax(row)]
		var sum float64
		for i, v := range row {
			probs[i] = math.Exp(float64(v - top))
			sum += probs[i]
		}
		var kept float64
		for j := 0; j < k; j++ {
			best := -1
			for i, p := range probs {
				if p >= 0 && (best < 0 || p > probs[best]) {
					best = i
				}
			}
			choice[t*k+j] = best
			weight[t*k+j] = float32(probs[best] / sum)
			kept += probs[best] / sum
			probs[best] = -1
		}
		for j := 0; j < k; j++ {
			weight[t*k+j] = float32(float64(weight[t*k+j]) / kept)
		}
	}
}

// experts runs the routed experts of layer ly on the normed rows h and
// writes the weighted sum of their outputs to out. Tokens are grouped by
// expert so each expert runs one GEMM over the tokens routed to it. It
// returns the bytes of expert weights read.
func (e *Engine) experts(out, h []float32, rows int, ly *layer, choice []int, weight []float32) int64 {
	s := &e.s
	hid, k := s.Hidden, s.MoE.TopK
	inter := s.MoE.ExpertIntermediate
	upW := inter
	if s.gated {
		upW *= 2
	}
	b := &e.buf
	gx := grow(&b.gx, rows*hid)
	gup := grow(&b.gup, rows*upW)
	gact := grow(&b.gact, rows*inter)
	gout := grow(&b.gout, rows*hid)
	clear(out[:rows*hid])
	var bytes int64
	members := make([]int, 0, rows)
	for x := range ly.experts {
		members = members[:0]
		for i, c := range choice[:rows*k] {
			if c == x {
				members = append(members, i)
			}
		}
		if len(members) == 0 {
			continue
		}
		for r, i := range members {
			t := i / k
			copy(gx[r*hid:(r+1)*hid], h[t*hid:(t+1)*hid])
		}
		bytes += e.mlpForward(gout, gx, len(members), &ly.experts[x], gup, gact)
		for r, i := range members {
			t := i / k
			axpy(out[t*hid:(t+1)*hid], weight[i], gout[r*hid:(r+1)*hid])
		}
	}
	return bytes
}
