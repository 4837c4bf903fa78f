package models

import (
	"github.com/llmsim/llmsim/dtype"
)

// groupSize is the number of weights sharing one fp16 scale in group-wise
// quantized formats (GPTQ and AWQ default to 128).
const groupSize = 128

// WeightBytesPerParam is the storage cost of one weight stored as d: the
// element itself plus, for int4/int3/int2, one fp16 scale per 128 weights
// (zero points, when used, are packed at the weight width and ignored).
func WeightBytesPerParam(d dtype.DType) float64 {
	switch d {
	case dtype.INT4, dtype.INT3, dtype.INT2:
		return d.Bytes() + dtype.FP16.Bytes()/groupSize
	}
	return d.Bytes()
}

// QDim is the width of the query projection (heads × head_dim).
func (m *Model) QDim() int { return m.Heads * m.HeadDim }

// KVDim is the width of the key (or value) projection (kv_heads × head_dim).
func (m *Model) KVDim() int { return m.KVHeads * m.HeadDim }

// Gated reports whether the MLP has three matrices (gate, up, down).
func (m *Model) Gated() bool { return m.Activation == "swiglu" || m.Activation == "geglu" }

// WindowedLayers is the number of sliding-window attention layers; the
// other attention layers attend to the full context. With GlobalEvery = g,
// every g-th attention layer is global.
func (m *Model) WindowedLayers() int {
	la := m.AttentionLayers()
	switch {
	case m.SlidingWindow == 0:
		return 0
	case m.GlobalEvery > 0:
		return la - la/m.GlobalEvery
	}
	return la
}

// MoELayers is the number of layers whose MLP is a mixture of experts.
func (m *Model) MoELayers() int {
	switch {
	case m.MoE == nil:
		return 0
	case m.MoE.Every > 1:
		return m.MLPLayers() / m.MoE.Every
	}
	return m.MLPLayers()
}

// Params is the total parameter count, embeddings included and tied
// embeddings counted once.
func (m *Model) Params() float64 { return m.params(false) }

// ActiveParams is the parameters touched per token: for MoE models only the
// top-k routed experts of each MoE layer count; equal to Params when dense.
func (m *Model) ActiveParams() float64 { return m.params(true) }

// WeightBytes is the size of all weights stored as d (see WeightBytesPerParam).
func (m *Model) WeightBytes(d dtype.DType) float64 {
	return m.Params() * WeightBytesPerParam(d)
}

// KVBytesPerToken is the KV cache one token occupies in every attention
// layer: 2 (K and V) × attention layers × kv_heads × head_dim × bytes.
// Windowed layers count too; KVBytes applies their cap. Recurrent layers
// add nothing per token (see StateBytes).
func (m *Model) KVBytesPerToken(d dtype.DType) float64 {
	return 2 * float64(m.AttentionLayers()) * float64(m.KVDim()) * d.Bytes()
}

// KVBytes is the cache of one sequence of seqTokens tokens: the K/V of
// the attention layers (windowed layers keep only the last SlidingWindow
// tokens) in d, plus the constant recurrent state of the other layers
// (StateBytes(d)) once the sequence has a token.
func (m *Model) KVBytes(seqTokens int, d dtype.DType) float64 {
	if seqTokens <= 0 {
		return 0
	}
	return m.AttentionKVBytes(seqTokens, d) + m.StateBytes(d)
}

// AttentionKVBytes is the growing part of KVBytes: the attention layers'
// K and V only.
func (m *Model) AttentionKVBytes(seqTokens int, d dtype.DType) float64 {
	windowed := m.WindowedLayers()
	kept := float64(windowed)*float64(min(seqTokens, m.SlidingWindow)) +
		float64(m.AttentionLayers()-windowed)*float64(seqTokens)
	return 2 * kept * float64(m.KVDim()) * d.Bytes()
}

func (m *Model) params(active bool) float64 {
	p := m.embeddingParams() + m.lmHeadParams() + m.normParams()
	for _, k := range layerKinds {
		if n := m.LayersOf(k); n > 0 {
			p += float64(n) * m.mixerParams(k)
		}
	}
	p += float64(m.layerNorms()) * m.normWeights(m.Hidden)
	moe := m.MoELayers()
	if dense := m.MLPLayers() - moe; dense > 0 && m.Intermediate > 0 {
		p += float64(dense) * m.denseMLPParams()
	}
	if moe > 0 {
		p += float64(moe) * m.moeMLPParams(active)
	}
	return p
}

// layerNorms is the number of norms inside the layers: one before every
// mixer and one before every MLP or RWKV channel mix, except that a parallel
// block's mixer and MLP share one.
func (m *Model) layerNorms() int {
	if m.ParallelBlock {
		return m.Layers
	}
	return m.Layers + m.MLPLayers() + m.LayersOf(LayerRWKV)
}

// embeddingParams: token table, learned positions and the OPT-350m
// projection in.
func (m *Model) embeddingParams() float64 {
	h, e := float64(m.Hidden), float64(m.EmbedDim)
	p := float64(m.Vocab) * e
	if m.Position == "learned" {
		p += float64(m.MaxContext) * h
	}
	if m.EmbedDim != m.Hidden {
		p += e * h
	}
	if m.LayersOf(LayerRWKV) > 0 {
		p += m.normWeights(m.Hidden) // RWKV's ln0 after the embedding
	}
	return p
}

// lmHeadParams: the output matrix unless tied, its bias and the projection
// out.
func (m *Model) lmHeadParams() float64 {
	h, e := float64(m.Hidden), float64(m.EmbedDim)
	var p float64
	if !m.TiedEmbeddings {
		p = float64(m.Vocab) * e
		if m.LinearBias {
			p += float64(m.Vocab)
		}
	}
	if m.EmbedDim != m.Hidden {
		p += e * h
	}
	return p
}

// normWeights is the parameters of one norm over n features.
func (m *Model) normWeights(n int) float64 {
	if m.Norm == "layernorm" {
		return 2 * float64(n) // scale and shift
	}
	return float64(n)
}

// normParams is the final norm.
func (m *Model) normParams() float64 { return m.normWeights(m.Hidden) }

func (m *Model) attentionParams() float64 {
	h, q, kv := float64(m.Hidden), float64(m.QDim()), float64(m.KVDim())
	p := h*(q+2*kv) + q*h
	if m.QKVBias || m.LinearBias {
		p += q + 2*kv
	}
	if m.LinearBias {
		p += h
	}
	return p
}

// mlpParams is one MLP of intermediate width inter (no bias).
func (m *Model) mlpParams(inter int) float64 {
	mats := 2.0
	if m.Gated() {
		mats = 3
	}
	return mats * float64(m.Hidden) * float64(inter)
}

func (m *Model) denseMLPParams() float64 {
	p := m.mlpParams(m.Intermediate)
	if m.LinearBias {
		up := float64(m.Intermediate)
		if m.Gated() {
			up *= 2
		}
		p += up + float64(m.Hidden)
	}
	return p
}

func (m *Model) moeMLPParams(active bool) float64 {
	e := m.MoE
	routed := float64(e.Experts)
	if active {
		routed = float64(e.TopK)
	}
	router := float64(e.Experts) * float64(m.Hidden)
	return router + routed*m.mlpParams(e.ExpertIntermediate) +
		float64(e.SharedExperts)*m.mlpParams(e.SharedIntermediate)
}
