package models

import (
	"math"

	"github.com/llmsim/llmsim/dtype"
)

// FLOPs per element of the non-GEMM ops. They are small next to the GEMMs
// and only keep the memory-bound ops from being free of arithmetic.
const (
	rmsNormFLOPs   = 4 // square, accumulate, multiply by rsqrt, multiply by weight
	layerNormFLOPs = 7 // plus mean, subtraction and shift
	ropeFLOPs      = 3 // x·cos ± rotate(x)·sin
	softmaxFLOPs   = 5 // max, subtract, exp, sum, divide (per score or logit)
	tokenIDBytes   = 4 // int32 token ids read by embed and written by sample
)

// actFLOPs is the cost per intermediate element of the MLP activation,
// including the gate product of gated MLPs.
func actFLOPs(activation string) float64 {
	switch activation {
	case "swiglu":
		return 5 // silu: exp, add, divide, multiply; times up
	case "geglu":
		return 9 // tanh-approximated gelu, times up
	case "gelu":
		return 8
	}
	return 1 // relu
}

// Graph builds the op list of one forward step over seqs. See GraphInto.
func (m *Model) Graph(seqs []Seq, p Precision, o Options) *Graph {
	g := &Graph{Ops: make([]Op, 0, 24)}
	m.GraphInto(g, seqs, p, o)
	return g
}

// GraphInto builds the op list of one forward step over seqs into g, reusing
// g.Ops: after the first call with a given model it does not allocate.
//
// A sequence decodes when New == 1 and Cached > 0 and prefills otherwise;
// sequences with New <= 0 take no part. GEMMs run over all T = ΣNew tokens;
// lm_head and sample over one position per sequence. Attention is one op
// (attn) when all sequences are in the same phase and two (attn_prefill,
// attn_decode) when the batch mixes phases. Layer ops appear once per layer
// type with Repeat = number of such layers: windowed and global attention,
// dense and MoE MLPs are separate entries under the same name.
//
// Zero fields of p default to: weights in the model's DType; activations in
// the weight format when it is 16 bits or wider, else bf16; KV in the
// activation format.
func (m *Model) GraphInto(g *Graph, seqs []Seq, p Precision, o Options) {
	p = m.resolve(p)
	b := builder{
		m: m, g: g, seqs: seqs, opts: o,
		w:       WeightBytesPerParam(p.Weights),
		a:       p.Activations.Bytes(),
		kv:      p.KV.Bytes(),
		compute: p.Activations,
		gemm:    gemmCompute(p),
	}
	b.state = m.StateFormat(p.KV).Bytes()
	g.Ops = g.Ops[:0]
	g.Seqs, g.Tokens = 0, 0
	for _, s := range seqs {
		if s.New > 0 {
			g.Seqs++
			g.Tokens += s.New
		}
	}
	// Every sequence yields logits; whether a prefill chunk's token is kept
	// is the scheduler's business.
	g.OutputTokens = g.Seqs
	if g.Tokens == 0 {
		return
	}
	b.tokens, b.nseqs = float64(g.Tokens), float64(g.Seqs)
	b.countStateTraffic()
	b.embed()
	b.mixerBlock()
	b.mlpBlock()
	b.head()
}

// Resolve returns p with its zero fields filled as GraphInto fills them,
// for code that rewrites a built graph (KV-cache schemes).
func (m *Model) Resolve(p Precision) Precision { return m.resolve(p) }

// resolve fills the zero fields of p (see GraphInto).
func (m *Model) resolve(p Precision) Precision {
	if !p.Weights.Valid() {
		p.Weights = dtype.DType(m.DType)
		if !p.Weights.Valid() {
			p.Weights = dtype.BF16
		}
	}
	if !p.Activations.Valid() {
		p.Activations = dtype.BF16
		if p.Weights.Bits() >= 16 {
			p.Activations = p.Weights
		}
	}
	if !p.KV.Valid() {
		p.KV = p.Activations
	}
	return p
}

// gemmCompute is the format GEMM arithmetic runs in: weights narrower than
// the activations are dequantised to the activation format (W4A16, W8A16);
// equal widths compute natively (W8A8 in fp8/int8, W4A4); wider weights
// (W16A8) compute in the weight format.
func gemmCompute(p Precision) dtype.DType {
	if p.Weights.Bits() > p.Activations.Bits() {
		return p.Weights
	}
	return p.Activations
}

// builder appends ops to g; bytes per element: w weight (with scales),
// a activation, kv KV cache.
type builder struct {
	m             *Model
	g             *Graph
	seqs          []Seq
	opts          Options
	w, a, kv      float64
	compute, gemm dtype.DType
	tokens, nseqs float64
	// state is bytes per recurrent-state element; stateReads and
	// stateWrites the sequences that read (have a state already) and
	// write their state this step.
	state                   float64
	stateReads, stateWrites float64
}

func (b *builder) op(name string, kind OpKind, repeat int, layered bool) *Op {
	b.g.Ops = append(b.g.Ops, Op{Name: name, Kind: kind, Repeat: repeat, Layered: layered, Compute: b.compute})
	return &b.g.Ops[len(b.g.Ops)-1]
}

// gemmOp is an M×K by K×N product with optional bias; it reads its input
// and writes its output once.
func (b *builder) gemmOp(name string, repeat int, layered bool, M, N, K int, bias bool) *Op {
	o := b.op(name, KindGEMM, repeat, layered)
	o.M, o.N, o.K = M, N, K
	o.Compute = b.gemm
	m, n, k := float64(M), float64(N), float64(K)
	o.FLOPs = 2 * m * n * k
	o.WeightBytes = n * k * b.w
	if bias {
		o.FLOPs += m * n
		o.WeightBytes += n * b.w
	}
	o.ActivationReadBytes = m * k * b.a
	o.ActivationWriteBytes = m * n * b.a
	return o
}

func (b *builder) norm(name string, repeat int, layered bool) {
	o := b.op(name, KindNorm, repeat, layered)
	h := float64(b.m.Hidden)
	perElement := float64(rmsNormFLOPs)
	if b.m.Norm == "layernorm" {
		perElement = layerNormFLOPs
	}
	o.FLOPs = perElement * b.tokens * h
	o.WeightBytes = b.m.normWeights(b.m.Hidden) * b.w
	o.ActivationReadBytes = b.tokens * h * b.a
	o.ActivationWriteBytes = b.tokens * h * b.a
}

// residual adds inputs-1 tensors to the residual stream.
func (b *builder) residual(repeat, inputs int) {
	o := b.op(OpResidual, KindElemwise, repeat, true)
	th := b.tokens * float64(b.m.Hidden)
	o.FLOPs = float64(inputs-1) * th
	o.ActivationReadBytes = float64(inputs) * th * b.a
	o.ActivationWriteBytes = th * b.a
}

// embed gathers T rows of the token table (plus learned positions and the
// OPT-350m projection in).
func (b *builder) embed() {
	m := b.m
	o := b.op(OpEmbed, KindEmbedding, 1, false)
	t, h, e := b.tokens, float64(m.Hidden), float64(m.EmbedDim)
	o.WeightBytes = t * e * b.w
	o.ActivationReadBytes = t * tokenIDBytes
	o.ActivationWriteBytes = t * h * b.a
	if m.Position == "learned" {
		o.WeightBytes += t * h * b.w
		o.FLOPs += t * h
	}
	if m.EmbedDim != m.Hidden {
		o.WeightBytes += e * h * b.w
		o.FLOPs += 2 * t * e * h
	}
}

// mixerBlock appends the pre-mixer norm of every layer, the sequence
// mixers of each layer kind, the residual add and the norm before the MLP
// (or RWKV channel mix).
func (b *builder) mixerBlock() {
	m := b.m
	b.norm(OpAttnNorm, m.Layers, true)
	if la := m.AttentionLayers(); la > 0 {
		b.attentionBlock(la)
	}
	b.recurrentBlocks()
	if !m.ParallelBlock {
		b.residual(m.Layers, 2)
		if second := m.MLPLayers() + m.LayersOf(LayerRWKV); second > 0 {
			b.norm(OpMLPNorm, second, true)
		}
	}
}

// attentionBlock appends the attention mixer of the layers attention
// layers.
func (b *builder) attentionBlock(layers int) {
	m := b.m
	T := b.g.Tokens
	q, kv := m.QDim(), m.KVDim()
	b.gemmOp(OpQKV, layers, true, T, q+2*kv, m.Hidden, m.QKVBias || m.LinearBias)
	if m.Position == "rope" {
		o := b.op(OpRoPE, KindRoPE, layers, true)
		elems := b.tokens * float64(q+kv)
		o.FLOPs = ropeFLOPs * elems
		o.ActivationReadBytes = elems * b.a
		o.ActivationWriteBytes = elems * b.a
	}
	windowed := m.WindowedLayers()
	if windowed > 0 {
		b.attention(windowed, m.SlidingWindow)
	}
	if layers > windowed {
		b.attention(layers-windowed, 0)
	}
	b.gemmOp(OpOProj, layers, true, T, m.Hidden, q, m.LinearBias)
}

// mlpBlock appends the dense and MoE MLPs, RWKV's channel mix and the
// residual add after them.
func (b *builder) mlpBlock() {
	m := b.m
	moe := m.MoELayers()
	if dense := m.MLPLayers() - moe; dense > 0 && m.Intermediate > 0 {
		T, I := b.g.Tokens, m.Intermediate
		in := 1.0
		if m.Gated() {
			in = 2
			b.gemmOp(OpGateUp, dense, true, T, 2*I, m.Hidden, m.LinearBias)
		} else {
			b.gemmOp(OpUp, dense, true, T, I, m.Hidden, m.LinearBias)
		}
		o := b.op(OpAct, KindActivation, dense, true)
		ti := b.tokens * float64(I)
		o.FLOPs = actFLOPs(m.Activation) * ti
		o.ActivationReadBytes = in * ti * b.a
		o.ActivationWriteBytes = ti * b.a
		b.gemmOp(OpDown, dense, true, T, m.Hidden, I, m.LinearBias)
	}
	if moe > 0 {
		b.moe(moe)
	}
	if r := m.LayersOf(LayerRWKV); r > 0 {
		b.channelMix(r)
	}
	if m.ParallelBlock {
		b.residual(m.Layers, 3) // x + attention + MLP
	} else if second := m.MLPLayers() + m.LayersOf(LayerRWKV); second > 0 {
		b.residual(second, 2)
	}
}

func (b *builder) head() {
	m := b.m
	b.norm(OpFinalNorm, 1, false)
	S := b.g.Seqs
	o := b.gemmOp(OpLMHead, 1, false, S, m.Vocab, m.EmbedDim, m.LinearBias && !m.TiedEmbeddings)
	if m.EmbedDim != m.Hidden {
		s, h, e := b.nseqs, float64(m.Hidden), float64(m.EmbedDim)
		o.FLOPs += 2 * s * h * e
		o.WeightBytes += h * e * b.w
		o.ActivationReadBytes = s * h * b.a
	}
	o = b.op(OpSample, KindSampling, 1, false)
	logits := b.nseqs * float64(m.Vocab)
	o.FLOPs = softmaxFLOPs * logits
	o.ActivationReadBytes = logits * b.a
	o.ActivationWriteBytes = b.nseqs * tokenIDBytes
}

// UniqueExperts is the expected number of distinct experts that tokens
// tokens select when each picks topK of experts uniformly:
// E·(1 − (1 − k/E)^T).
func UniqueExperts(experts, topK, tokens int) float64 {
	e := float64(experts)
	return e * (1 - math.Pow(1-float64(topK)/e, float64(tokens)))
}

// moe appends router, routed experts and shared experts.
func (b *builder) moe(layers int) {
	m, e := b.m, b.m.MoE
	T, h := b.g.Tokens, float64(m.Hidden)
	o := b.gemmOp(OpRouter, layers, true, T, e.Experts, m.Hidden, false)
	o.Kind = KindRouter
	o.FLOPs += softmaxFLOPs * b.tokens * float64(e.Experts)

	mats := 2.0
	if m.Gated() {
		mats = 3
	}
	touched := UniqueExperts(e.Experts, e.TopK, T)
	pairs := b.tokens * float64(e.TopK)
	ie := float64(e.ExpertIntermediate)
	o = b.op(OpExperts, KindExperts, layers, true)
	o.Compute = b.gemm
	o.M, o.N, o.K = max(1, int(math.Round(pairs/touched))), e.ExpertIntermediate, m.Hidden
	o.FLOPs = pairs * (2*mats*h*ie + actFLOPs(m.Activation)*ie)
	o.WeightBytes = touched * mats * h * ie * b.w
	o.ActivationReadBytes = pairs * (h + mats*ie) * b.a
	o.ActivationWriteBytes = pairs * (h + mats*ie) * b.a

	if e.SharedExperts == 0 {
		return
	}
	si := float64(e.SharedExperts * e.SharedIntermediate)
	o = b.op(OpSharedExpert, KindGEMM, layers, true)
	o.Compute = b.gemm
	o.M, o.N, o.K = T, e.SharedExperts*e.SharedIntermediate, m.Hidden
	o.FLOPs = b.tokens * (2*mats*h*si + actFLOPs(m.Activation)*si)
	o.WeightBytes = mats * h * si * b.w
	o.ActivationReadBytes = b.tokens * (h + mats*si) * b.a
	o.ActivationWriteBytes = b.tokens * (h + mats*si) * b.a
}
