package models

import "math"

// FLOPs of the recurrences, per state element and token in decode (the
// recurrent form). Mamba's diagonal state: exp(Δ·A) (2), (Δ·x)·B (1),
// h = dA·h + dBx (2), y += C·h (2). Matrix states with a scalar or vector
// decay: decay h (1), add k⊗v (2), read y = qᵀh (2); RWKV-6 adds its bonus
// term u⊙k⊗v read by r (2); linear attention has no decay.
const (
	mambaScanFLOPs = 7
	// Per token and channel: Δ·x (1), softplus(Δ) (3), D·x + y (2),
	// y·silu(z) (5).
	mambaChannelFLOPs = 11
	matrixStateFLOPs  = 5
	rwkvStateFLOPs    = 7
	linearStateFLOPs  = 4
	siluGateFLOPs     = 5 // silu(g)·y: exp, add, divide, multiply, multiply
)

// countStateTraffic counts the sequences that read a recurrent state (they
// have cached tokens) and write one (all that take part).
func (b *builder) countStateTraffic() {
	b.stateReads, b.stateWrites = 0, 0
	if !b.m.Recurrent() {
		return // attention-only: no state (and the simulator's hot path)
	}
	for _, s := range b.seqs {
		if s.New <= 0 {
			continue
		}
		b.stateWrites++
		if s.Cached > 0 {
			b.stateReads++
		}
	}
}

// recurrentBlocks appends the mixers of the non-attention layers, one
// group of ops per kind.
func (b *builder) recurrentBlocks() {
	m := b.m
	if n := m.LayersOf(LayerMamba); n > 0 {
		if m.Mamba.Version == 2 {
			b.mamba2(n)
		} else {
			b.mamba(n)
		}
	}
	if n := m.LayersOf(LayerRWKV); n > 0 {
		b.rwkvTimeMix(n)
	}
	if n := m.LayersOf(LayerMLSTM); n > 0 {
		b.mlstm(n)
	}
	if n := m.LayersOf(LayerLinear); n > 0 {
		b.linearAttention(n)
	}
	if n := m.LayersOf(LayerConv); n > 0 {
		b.shortConv(n)
	}
}

// stateTraffic charges a state of elems elements per sequence: read by the
// sequences that have one, written by all.
func (b *builder) stateTraffic(o *Op, elems float64) {
	o.KVReadBytes += b.stateReads * elems * b.state
	o.KVWriteBytes += b.stateWrites * elems * b.state
}

// convOp is a depthwise causal convolution of width kernel over channels
// channels (plus its bias and perElement more FLOPs per output: SiLU,
// gating), reading inputs tensors of channels per token. Its state is the
// last kernel inputs of every channel.
func (b *builder) convOp(name string, repeat, channels, kernel int, bias bool, perElement float64, inputs float64) *Op {
	o := b.op(name, KindConv, repeat, true)
	c, k := float64(channels), float64(kernel)
	elems := b.tokens * c
	perOut := 2*k + perElement
	o.WeightBytes = c * k * b.w
	if bias {
		perOut++
		o.WeightBytes += c * b.w
	}
	o.FLOPs = perOut * elems
	o.ActivationReadBytes = inputs * elems * b.a
	o.ActivationWriteBytes = elems * b.a
	b.stateTraffic(o, c*k)
	return o
}

// matrixState is the work of a recurrence with heads states of dk × dv:
// a decoding token costs perElement·dk·dv per head (the recurrent step);
// a prefilling sequence of q new tokens runs the chunkwise-parallel form
// with chunks of c = min(chunk, q) tokens, 2·c·(dk + dv) per token and head
// inside the chunk (scores and their product with the values, over full
// c × c blocks as the kernels compute them) plus 4·dk·dv (the output from
// the chunk-start state and the token's share of the state update).
// chunks is the number of chunk-boundary states the prefill materialises.
func (b *builder) matrixState(heads, dk, dv float64, chunk int, perElement float64) (flops, chunks float64) {
	for _, s := range b.seqs {
		switch {
		case s.New <= 0:
		case isDecode(s):
			flops += perElement * dk * dv
		default:
			c := float64(min(chunk, s.New))
			flops += float64(s.New) * (2*c*(dk+dv) + 4*dk*dv)
			chunks += math.Ceil(float64(s.New) / float64(chunk))
		}
	}
	return heads * flops, chunks
}

// scanOp is a matrix-state recurrence op with its state traffic; the
// chunk-boundary states of a prefill are written and read once in the
// state format.
func (b *builder) scanOp(name string, repeat int, heads, dk, dv float64, chunk int, perElement, stateElems float64) *Op {
	o := b.op(name, KindScan, repeat, true)
	flops, chunks := b.matrixState(heads, dk, dv, chunk, perElement)
	o.FLOPs = flops
	o.Chunked = chunks > 0 // a decode-only step runs the recurrent form
	o.ActivationReadBytes = chunks * stateElems * b.state
	o.ActivationWriteBytes = chunks * stateElems * b.state
	b.stateTraffic(o, stateElems)
	return o
}

// elementOp is an elementwise op over width features per token.
func (b *builder) elementOp(name string, kind OpKind, repeat int, width, flopsPer, reads float64, weights float64) *Op {
	o := b.op(name, kind, repeat, true)
	elems := b.tokens * width
	o.FLOPs = flopsPer * elems
	o.WeightBytes = weights * b.w
	o.ActivationReadBytes = reads * elems * b.a
	o.ActivationWriteBytes = elems * b.a
	return o
}

// mamba appends the Mamba (selective scan) mixer of n layers.
func (b *builder) mamba(n int) {
	m, e := b.m, b.m.Mamba
	T, H, di := b.g.Tokens, m.Hidden, m.mambaInner()
	N, R := e.DState, e.DTRank
	b.gemmOp(OpSSMInProj, n, true, T, 2*di, H, e.ProjBias)
	b.convOp(OpSSMConv, n, di, e.DConv, true, 4, 1) // + SiLU
	b.gemmOp(OpSSMXProj, n, true, T, R+2*N, di, false)
	b.gemmOp(OpSSMDTProj, n, true, T, di, R, true)
	o := b.op(OpSSMScan, KindScan, n, true)
	fdi, fn := float64(di), float64(N)
	o.FLOPs = b.tokens * fdi * (mambaScanFLOPs*fn + mambaChannelFLOPs)
	o.WeightBytes = (fdi*fn + fdi) * b.w // A, D
	// x, Δ, z and B, C in; y out. The hardware-aware scan keeps the
	// per-token states on chip, so only the final state is written.
	o.ActivationReadBytes = b.tokens * (3*fdi + 2*fn) * b.a
	o.ActivationWriteBytes = b.tokens * fdi * b.a
	b.stateTraffic(o, fdi*fn)
	b.gemmOp(OpSSMOutProj, n, true, T, H, di, e.ProjBias)
}

// mamba2 appends the Mamba-2 (SSD) mixer of n layers.
func (b *builder) mamba2(n int) {
	m, e := b.m, b.m.Mamba
	T, H, di := b.g.Tokens, m.Hidden, m.mambaInner()
	nh, gn := m.mambaHeads(), e.Groups*e.DState
	b.gemmOp(OpSSMInProj, n, true, T, 2*di+2*gn+nh, H, e.ProjBias)
	b.convOp(OpSSMConv, n, di+2*gn, e.DConv, true, 4, 1)
	fdi, fnh := float64(di), float64(nh)
	o := b.scanOp(OpSSMScan, n, fnh, float64(e.DState), float64(e.HeadDim), e.ChunkSize, matrixStateFLOPs, fdi*float64(e.DState))
	// Per head: softplus(Δ) and exp(Δ·A); per channel the D skip.
	o.FLOPs += b.tokens * (5*fnh + 2*fdi)
	o.WeightBytes = 3 * fnh * b.w // A, D, Δ bias
	o.ActivationReadBytes += b.tokens * (fdi + 2*float64(gn) + fnh) * b.a
	o.ActivationWriteBytes += b.tokens * fdi * b.a
	b.elementOp(OpSSMNorm, KindNorm, n, fdi, rmsNormFLOPs+siluGateFLOPs, 2, fdi)
	b.gemmOp(OpSSMOutProj, n, true, T, H, di, e.ProjBias)
}

// rwkvTimeMix appends RWKV-6's time mix of n layers.
func (b *builder) rwkvTimeMix(n int) {
	m, e := b.m, b.m.RWKV
	T, H := b.g.Tokens, m.Hidden
	h, mix, decay := float64(H), float64(e.MixRank), float64(e.DecayRank)
	// Token shift and the data-dependent interpolation: x_{t-1} − x_t, the
	// tanh LoRA to 5 mixes (h → 5·mix → 5·h), 5 lerps, and the decay LoRA
	// (h → decay → h); each lerp or shift costs 3 FLOPs per feature.
	o := b.op(OpRWKVMix, KindGEMM, n, true)
	o.Compute = b.gemm
	o.M, o.N, o.K = T, 5*e.MixRank, H
	o.FLOPs = b.tokens * (2*(10*mix*h+2*decay*h) + 3*7*h)
	o.WeightBytes = (10*mix*h + 2*decay*h + 8*h) * b.w
	o.ActivationReadBytes = b.tokens * h * b.a
	o.ActivationWriteBytes = 6 * b.tokens * h * b.a // xr, xk, xv, xg, xw inputs and the decay
	b.stateTraffic(o, h)                            // the time-mix shift state
	p := b.gemmOp(OpRWKVProj, n, true, T, 4*H, H, false)
	p.ActivationReadBytes *= 4 // four differently mixed inputs
	hs := float64(e.HeadSize)
	_, rec := m.stateElems(LayerRWKV)
	w := b.scanOp(OpRWKVWKV, n, h/hs, hs, hs, 64, rwkvStateFLOPs, rec)
	w.FLOPs += b.tokens * h * 3 // w = exp(−exp(decay)) per channel
	w.WeightBytes = h * b.w     // time_faaaa
	w.ActivationReadBytes += 4 * b.tokens * h * b.a
	w.ActivationWriteBytes += b.tokens * h * b.a
	b.elementOp(OpRWKVNorm, KindNorm, n, h, layerNormFLOPs+siluGateFLOPs, 2, m.normWeights(H))
	b.gemmOp(OpRWKVOut, n, true, T, H, H, false)
}

// channelMix appends RWKV's channel mix of n layers: shifted key and
// receptance, relu(k)², value, sigmoid(r)·v.
func (b *builder) channelMix(n int) {
	m := b.m
	T, H, I := b.g.Tokens, m.Hidden, m.Intermediate
	h, i := float64(H), float64(I)
	o := b.gemmOp(OpCMixKR, n, true, T, I+H, H, false)
	o.FLOPs += 2 * 3 * b.tokens * h // two token-shift lerps
	o.WeightBytes += 2 * h * b.w
	o.ActivationReadBytes *= 2
	b.stateTraffic(o, h) // the channel-mix shift state
	a := b.op(OpCMixAct, KindElemwise, n, true)
	a.FLOPs = b.tokens * (2*i + 5*h)
	a.ActivationReadBytes = b.tokens * (i + 2*h) * b.a
	a.ActivationWriteBytes = b.tokens * (i + h) * b.a
	b.gemmOp(OpCMixValue, n, true, T, H, I, false)
}

// mlstm appends xLSTM's mLSTM mixer of n layers.
func (b *builder) mlstm(n int) {
	m, e := b.m, b.m.MLSTM
	T, H := b.g.Tokens, m.Hidden
	o := b.gemmOp(OpMLSTMProj, n, true, T, 2*e.QKDim+2*e.VDim+2*e.Heads, H, false)
	o.WeightBytes += 2 * float64(e.Heads) * b.w // gate biases
	nh := float64(e.Heads)
	qk, v := float64(e.QKDim), float64(e.VDim)
	_, rec := m.stateElems(LayerMLSTM)
	c := b.scanOp(OpMLSTMCell, n, nh, qk/nh, v/nh, e.ChunkSize, matrixStateFLOPs, rec)
	c.ActivationReadBytes += b.tokens * (2*qk + v + 2*nh) * b.a
	c.ActivationWriteBytes += b.tokens * v * b.a
	b.elementOp(OpMLSTMNorm, KindNorm, n, v, rmsNormFLOPs+siluGateFLOPs, 2, v)
	b.gemmOp(OpMLSTMOut, n, true, T, H, e.VDim, false)
}

// linearAttention appends the linear-attention mixer of n layers.
func (b *builder) linearAttention(n int) {
	m, e := b.m, b.m.Linear
	T, H := b.g.Tokens, m.Hidden
	qk, v := e.Heads*e.FeatureDim, e.Heads*e.HeadDim
	b.gemmOp(OpLAProj, n, true, T, 2*qk+v, H, false)
	heads, D := float64(e.Heads), float64(m.linearFeatures())
	// φ(q) and φ(k): D features per head from feature_dim inputs, ~2
	// FLOPs each (product and scale).
	f := b.op(OpLAFeature, KindElemwise, n, true)
	f.FLOPs = 2 * 2 * b.tokens * heads * D
	f.ActivationReadBytes = 2 * b.tokens * float64(qk) * b.a
	f.ActivationWriteBytes = 2 * b.tokens * heads * D * b.a
	_, rec := m.stateElems(LayerLinear)
	// The normaliser Σφ(k) is one more value column.
	s := b.scanOp(OpLAScan, n, heads, D, float64(e.HeadDim+1), e.ChunkSize, linearStateFLOPs, rec)
	s.ActivationReadBytes += b.tokens * heads * (2*D + float64(e.HeadDim)) * b.a
	s.ActivationWriteBytes += b.tokens * float64(v) * b.a
	b.gemmOp(OpLAOut, n, true, T, H, v, false)
}

// shortConv appends the gated short-convolution mixer of n layers.
func (b *builder) shortConv(n int) {
	m, e := b.m, b.m.Conv
	T, H := b.g.Tokens, m.Hidden
	inner := e.Expand * H
	b.gemmOp(OpConvIn, n, true, T, 2*inner, H, e.Bias)
	b.convOp(OpConvShort, n, inner, e.Kernel, false, siluGateFLOPs, 2) // silu(conv(u))·v
	b.gemmOp(OpConvOut, n, true, T, H, inner, e.Bias)
}
