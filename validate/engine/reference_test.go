package engine

import (
	"math"
	"sort"
)

// reference is a deliberately plain forward pass in float64 over the
// engine's (dequantised) weights: no KV cache, no blocking, no threads. It
// recomputes a sequence from scratch and returns the logits of its last
// position.
type reference struct {
	s     shape
	w     *weights
	eps   float64
	theta float64
}

func newReference(e *Engine) *reference {
	return &reference{s: e.s, w: e.w, eps: e.eps, theta: 10000}
}

func matRow(m *Matrix, r int) []float64 {
	row := make([]float32, m.Cols)
	m.Row(r, row)
	out := make([]float64, m.Cols)
	for i, v := range row {
		out[i] = float64(v)
	}
	return out
}

// linear returns rows [r0, r0+n) of m applied to x, plus bias[r0:r0+n].
func linear(m *Matrix, r0, n int, bias []float32, x []float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		row := matRow(m, r0+i)
		for k, v := range row {
			out[i] += v * x[k]
		}
		if bias != nil {
			out[i] += float64(bias[r0+i])
		}
	}
	return out
}

func refNorm(kind string, x []float64, w, b []float32, eps float64) []float64 {
	n := float64(len(x))
	mean := 0.0
	if kind == "layernorm" {
		for _, v := range x {
			mean += v / n
		}
	}
	variance := 0.0
	for _, v := range x {
		variance += (v - mean) * (v - mean) / n
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (v - mean) / math.Sqrt(variance+eps) * float64(w[i])
		if b != nil {
			out[i] += float64(b[i])
		}
	}
	return out
}

func refRope(x []float64, pos int, theta float64) {
	half := len(x) / 2
	for i := 0; i < half; i++ {
		angle := float64(pos) * math.Pow(theta, -2*float64(i)/float64(len(x)))
		a, b := x[i], x[i+half]
		x[i] = a*math.Cos(angle) - b*math.Sin(angle)
		x[i+half] = b*math.Cos(angle) + a*math.Sin(angle)
	}
}

func refAct(kind string, x float64) float64 {
	switch kind {
	case "swiglu":
		return x / (1 + math.Exp(-x))
	case "relu":
		return math.Max(x, 0)
	}
	return 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
}

func (r *reference) mlp(m *mlp, x []float64) []float64 {
	inter := m.down.Cols
	var act []float64
	if r.s.gated {
		g := linear(m.up, 0, inter, m.upBias, x)
		u := linear(m.up, inter, inter, m.upBias, x)
		for i := range g {
			act = append(act, refAct(r.s.Activation, g[i])*u[i])
		}
	} else {
		for _, v := range linear(m.up, 0, inter, m.upBias, x) {
			act = append(act, refAct(r.s.Activation, v))
		}
	}
	return linear(m.down, 0, m.down.Rows, m.downBias, act)
}

func (r *reference) moe(ly *layer, x []float64) []float64 {
	k := r.s.MoE.TopK
	logits := linear(ly.router, 0, ly.router.Rows, nil, x)
	probs := softmax(logits)
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	kept := 0.0
	for _, i := range idx[:k] {
		kept += probs[i]
	}
	out := make([]float64, len(x))
	for _, i := range idx[:k] {
		y := r.mlp(&ly.experts[i], x)
		for j := range out {
			out[j] += probs[i] / kept * y[j]
		}
	}
	if ly.shared != nil {
		y := r.mlp(ly.shared, x)
		for j := range out {
			out[j] += y[j]
		}
	}
	return out
}

func softmax(v []float64) []float64 {
	top := math.Inf(-1)
	for _, x := range v {
		top = math.Max(top, x)
	}
	out := make([]float64, len(v))
	sum := 0.0
	for i, x := range v {
		out[i] = math.Exp(x - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// logits runs the whole sequence and returns the last position's logits.
func (r *reference) logits(tokens []int) []float64 {
	s := &r.s
	d := s.headDim
	xs := make([][]float64, len(tokens))
	for t, tok := range tokens {
		xs[t] = matRow(r.w.embed, tok)
		if r.w.pos != nil {
			for i, v := range matRow(r.w.pos, t) {
				xs[t][i] += v
			}
		}
	}
	for l := range r.w.layers {
		ly := &r.w.layers[l]
		hs := make([][]float64, len(tokens))
		qs, ks, vs := make([][]float64, len(tokens)), make([][]float64, len(tokens)), make([][]float64, len(tokens))
		for t := range tokens {
			hs[t] = refNorm(s.Norm, xs[t], ly.attnNorm, ly.attnNormBias, r.eps)
			qs[t] = linear(ly.qkv, 0, s.qDim, ly.qkvBias, hs[t])
			ks[t] = linear(ly.qkv, s.qDim, s.kvDim, ly.qkvBias, hs[t])
			vs[t] = linear(ly.qkv, s.qDim+s.kvDim, s.kvDim, ly.qkvBias, hs[t])
			if s.Position == "rope" {
				for h := 0; h < s.Heads; h++ {
					refRope(qs[t][h*d:(h+1)*d], t, r.theta)
				}
				for h := 0; h < s.KVHeads; h++ {
					refRope(ks[t][h*d:(h+1)*d], t, r.theta)
				}
			}
		}
		for t := range tokens {
			att := make([]float64, s.qDim)
			for h := 0; h < s.Heads; h++ {
				kvh := h / (s.Heads / s.KVHeads)
				lo := 0
				if s.windowed(l) {
					lo = max(0, t-s.SlidingWindow+1)
				}
				var scores []float64
				for j := lo; j <= t; j++ {
					dot := 0.0
					for i := 0; i < d; i++ {
						dot += qs[t][h*d+i] * ks[j][kvh*d+i]
					}
					scores = append(scores, dot/math.Sqrt(float64(d)))
				}
				p := softmax(scores)
				for j := lo; j <= t; j++ {
					for i := 0; i < d; i++ {
						att[h*d+i] += p[j-lo] * vs[j][kvh*d+i]
					}
				}
			}
			o := linear(ly.o, 0, s.Hidden, ly.oBias, att)
			var m []float64
			if s.ParallelBlock {
				m = r.mlpOrMoE(ly, l, hs[t])
			} else {
				for i := range o {
					xs[t][i] += o[i]
				}
				o = make([]float64, len(o))
				m = r.mlpOrMoE(ly, l, refNorm(s.Norm, xs[t], ly.mlpNorm, ly.mlpNormBias, r.eps))
			}
			for i := range m {
				xs[t][i] += o[i] + m[i]
			}
		}
	}
	last := refNorm(s.Norm, xs[len(tokens)-1], r.w.finalNorm, r.w.finalNormBias, r.eps)
	return linear(r.w.lmHead, 0, s.Vocab, nil, last)
}

func (r *reference) mlpOrMoE(ly *layer, l int, x []float64) []float64 {
	if ly.dense != nil {
		return r.mlp(ly.dense, x)
	}
	return r.moe(ly, x)
}
