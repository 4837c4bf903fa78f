package engine

import (
	"time"

	"github.com/llmsim/llmsim/models"
)

// forward runs one step over already validated tokens and returns the
// greedy next token of each sequence.
func (e *Engine) forward(seqs []*sequence, tokens [][]int) ([]int, Timing) {
	tm := Timing{Ops: make(map[string]time.Duration), Seqs: len(seqs)}
	e.reserve(seqs, tokens)
	begin := e.clock()
	clock := timer{tm: &tm, clock: e.clock, last: begin}
	st := e.newStep(seqs, tokens)
	s, b := &e.s, &e.buf
	n, hid := st.tokens, s.Hidden
	tm.Tokens = n
	x := grow(&b.x, n*hid)
	h := grow(&b.h, n*hid)
	qkv := grow(&b.qkv, n*(s.qDim+2*s.kvDim))
	att := grow(&b.att, n*s.qDim)
	proj := grow(&b.proj, n*hid)
	mo := grow(&b.mo, n*hid)

	t := 0
	for _, toks := range tokens {
		for _, tok := range toks {
			e.w.embed.Row(tok, x[t*hid:(t+1)*hid])
			if e.w.pos != nil {
				row := h[:hid] // h is free until the first norm
				e.w.pos.Row(st.pos[t], row)
				for i, v := range row {
					x[t*hid+i] += v
				}
			}
			t++
		}
	}
	tm.WeightBytes += int64(n) * e.w.embed.Bytes() / int64(s.Vocab)
	if e.w.pos != nil {
		tm.WeightBytes += int64(n) * e.w.pos.Bytes() / int64(s.MaxContext)
	}
	clock.lap(models.OpEmbed)

	for l := range e.w.layers {
		ly := &e.w.layers[l]
		e.norm(h, x, n, ly.attnNorm, ly.attnNormBias)
		clock.lap(models.OpAttnNorm)
		tm.WeightBytes += e.matMul(qkv, h, n, ly.qkv, ly.qkvBias)
		clock.lap(models.OpQKV)
		if s.Position == "rope" {
			e.rope(qkv, st)
			clock.lap(models.OpRoPE)
		}
		e.attention(att, qkv, l, st)
		clock.lap(models.OpAttn)
		tm.WeightBytes += e.matMul(proj, att, n, ly.o, ly.oBias)
		clock.lap(models.OpOProj)
		if s.ParallelBlock {
			e.mlpBlock(mo, h, n, ly, &clock)
			e.add(x, proj, n*hid)
			e.add(x, mo, n*hid)
			clock.lap(models.OpResidual)
			continue
		}
		e.add(x, proj, n*hid)
		clock.lap(models.OpResidual)
		e.norm(h, x, n, ly.mlpNorm, ly.mlpNormBias)
		clock.lap(models.OpMLPNorm)
		e.mlpBlock(mo, h, n, ly, &clock)
		e.add(x, mo, n*hid)
		clock.lap(models.OpResidual)
	}

	// The final norm runs over every position, as in Hugging Face models
	// and vLLM (both prune to the sampled positions only before the LM
	// head), and as models.Graph prices it; the LM head then reads each
	// sequence's last position.
	rows := len(seqs)
	e.norm(h, x, n, e.w.finalNorm, e.w.finalNormBias)
	lastN := grow(&b.lastN, rows*hid)
	for i := range seqs {
		end := st.start[i+1] - 1
		copy(lastN[i*hid:(i+1)*hid], h[end*hid:(end+1)*hid])
	}
	clock.lap(models.OpFinalNorm)
	logits := grow(&e.logits, rows*s.Vocab)
	tm.WeightBytes += e.matMul(logits, lastN, rows, e.w.lmHead, nil)
	clock.lap(models.OpLMHead)
	next := make([]int, rows)
	for i := range next {
		next[i] = argmax(logits[i*s.Vocab : (i+1)*s.Vocab])
	}
	clock.lap(models.OpSample)
	for i, sq := range seqs {
		sq.len += len(tokens[i])
	}
	tm.Step = e.clock() - begin
	return next, tm
}

// matMul is MatMul on the engine's pool; it returns the weight bytes read.
func (e *Engine) matMul(dst, x []float32, rows int, w *Matrix, bias []float32) int64 {
	MatMul(e.pool, dst, x, rows, w, bias)
	return w.Bytes()
}

// mlpBlock runs layer ly's feed-forward part (dense or mixture of experts)
// on the normed rows h into out.
func (e *Engine) mlpBlock(out, h []float32, n int, ly *layer, clock *timer) {
	s, b, tm := &e.s, &e.buf, clock.tm
	if d := ly.dense; d != nil {
		up := grow(&b.up, n*d.up.Rows)
		act := grow(&b.act, n*d.down.Cols)
		tm.WeightBytes += e.matMul(up, h, n, d.up, d.upBias)
		if s.gated {
			clock.lap(models.OpGateUp)
		} else {
			clock.lap(models.OpUp)
		}
		e.activate(act, up, n, d.down.Cols)
		clock.lap(models.OpAct)
		tm.WeightBytes += e.matMul(out, act, n, d.down, d.downBias)
		clock.lap(models.OpDown)
		return
	}
	k, experts := s.MoE.TopK, s.MoE.Experts
	rl := grow(&b.rl, n*experts)
	choice := grow(&b.choice, n*k)
	weight := grow(&b.weight, n*k)
	tm.WeightBytes += e.matMul(rl, h, n, ly.router, nil)
	route(rl, n, experts, k, choice, weight)
	clock.lap(models.OpRouter)
	tm.WeightBytes += e.experts(out, h, n, ly, choice, weight)
	clock.lap(models.OpExperts)
	if sh := ly.shared; sh != nil {
		up := grow(&b.up, n*sh.up.Rows)
		act := grow(&b.act, n*sh.down.Cols)
		shOut := grow(&b.sh, n*s.Hidden)
		tm.WeightBytes += e.mlpForward(shOut, h, n, sh, up, act)
		e.add(out, shOut, n*s.Hidden)
		clock.lap(models.OpSharedExpert)
	}
}
