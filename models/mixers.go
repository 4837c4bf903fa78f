package models

import (
	"strings"
)

// LayerKind is the sequence mixer of one decoder layer, written as one letter
// of Arch.LayerPattern.
type LayerKind byte

// Layer kinds. Every kind but attention keeps a constant-size recurrent state
// per sequence instead of a cache that grows with the context.
const (
	LayerAttention LayerKind = 'a' // softmax attention (sliding_window/global_every apply)
	LayerMamba     LayerKind = 'm' // Mamba (selective scan) or Mamba-2 (SSD): [mamba]
	LayerRWKV      LayerKind = 'r' // RWKV-6 time mix + channel mix: [rwkv]
	LayerMLSTM     LayerKind = 'x' // xLSTM mLSTM matrix memory: [mlstm]
	LayerLinear    LayerKind = 'l' // linear attention with a feature map (BASED): [linear]
	LayerConv      LayerKind = 'c' // gated short convolution (BASED's BaseConv, H3): [conv]
)

// layerKinds lists every kind; counts index by position in this list.
var layerKinds = [...]LayerKind{LayerAttention, LayerMamba, LayerRWKV, LayerMLSTM, LayerLinear, LayerConv}

func kindIndex(k LayerKind) int {
	for i, c := range layerKinds {
		if c == k {
			return i
		}
	}
	return -1
}

// String is the kind's name.
func (k LayerKind) String() string {
	switch k {
	case LayerAttention:
		return "attention"
	case LayerMamba:
		return "mamba"
	case LayerRWKV:
		return "rwkv"
	case LayerMLSTM:
		return "mlstm"
	case LayerLinear:
		return "linear"
	case LayerConv:
		return "conv"
	}
	return "?"
}

// Mamba is the selective state-space mixer: Mamba (version 1: in_proj,
// conv1d, x_proj, dt_proj, selective scan over a diagonal d_state state per
// channel, out_proj) or Mamba-2 (version 2: one in_proj for z, x, B, C, dt;
// conv1d over x, B, C; the SSD scan with a head_dim × d_state state per
// head; a gated RMSNorm; out_proj).
type Mamba struct {
	Version int `toml:"version"` // 1 or 2; 0 → 1
	DState  int `toml:"d_state"` // state size N per channel (1) or per head (2)
	DConv   int `toml:"d_conv"`  // depthwise causal conv width; 0 → 4
	Expand  int `toml:"expand"`  // d_inner = expand × hidden; 0 → 2
	// DTRank is the rank of Δ's projection (version 1); 0 → ceil(hidden/16).
	DTRank int `toml:"dt_rank"`
	// HeadDim, Groups and ChunkSize are Mamba-2's: head width P (0 → 64),
	// B/C groups (0 → 1), SSD chunk length (0 → 256).
	HeadDim   int `toml:"head_dim"`
	Groups    int `toml:"groups"`
	ChunkSize int `toml:"chunk_size"`
	// ProjBias: in_proj and out_proj have biases (Mamba's use_bias).
	ProjBias bool `toml:"proj_bias"`
	// InnerNorms: RMSNorms on Δ, B and C (Jamba).
	InnerNorms bool `toml:"inner_norms"`
}

// RWKV is RWKV-6 ("Finch"): a time mix with data-dependent token shift
// (LoRA ranks mix_rank and decay_rank) and a head_size × head_size matrix
// state per head, followed by a channel mix of width intermediate that
// replaces the MLP.
type RWKV struct {
	HeadSize  int `toml:"head_size"`  // 0 → 64
	MixRank   int `toml:"mix_rank"`   // TIME_MIX_EXTRA_DIM; 0 → 32 (64 when hidden = 4096)
	DecayRank int `toml:"decay_rank"` // TIME_DECAY_EXTRA_DIM; 0 → 64 (128 when hidden = 4096)
}

// MLSTM is xLSTM's mLSTM cell: per head a matrix memory C (qk × v), a
// normaliser n (qk) and a stabiliser m, with exponential input and forget
// gates and an output gate.
type MLSTM struct {
	Heads     int `toml:"heads"`
	QKDim     int `toml:"qk_dim"`     // total query/key width; 0 → hidden/2
	VDim      int `toml:"v_dim"`      // total value width; 0 → hidden
	ChunkSize int `toml:"chunk_size"` // chunkwise-parallel prefill; 0 → 64
}

// LinearAttn is linear attention with a feature map φ on queries and keys
// (BASED): per head a running state Σφ(k)vᵀ (D × head_dim) and Σφ(k) (D),
// where D is the feature size after the map.
type LinearAttn struct {
	Heads      int    `toml:"heads"`
	FeatureDim int    `toml:"feature_dim"` // per-head q/k width before φ
	HeadDim    int    `toml:"head_dim"`    // per-head value width; 0 → hidden/heads
	FeatureMap string `toml:"feature_map"` // taylor (D = 1 + d + d²) | identity (D = d); "" → taylor
	ChunkSize  int    `toml:"chunk_size"`  // chunkwise-parallel prefill; 0 → 64
}

// ShortConv is a gated short convolution (BASED's BaseConv, H3's shift
// SSM): in_proj to 2·inner, a depthwise causal conv of width kernel on one
// half, times the other half, out_proj back.
type ShortConv struct {
	Expand int  `toml:"expand"` // inner = expand × hidden; 0 → 2
	Kernel int  `toml:"kernel"` // 0 → 3
	Bias   bool `toml:"bias"`   // in_proj and out_proj biases
}

// checkMixers expands and validates the layer pattern and the tables of
// the kinds it uses, fills their defaults and counts the layers per kind.
func (a *Arch) checkMixers() *fieldError {
	p := strings.ToLower(strings.Join(strings.Fields(a.LayerPattern), ""))
	if p == "" {
		p = string(LayerAttention)
	}
	if len(p) > a.Layers || a.Layers%len(p) != 0 {
		return errKey("layer_pattern", "%d letters neither equal nor divide the %d layers", len(p), a.Layers)
	}
	a.LayerPattern = p
	a.kindLayers = [len(layerKinds)]int{}
	reps := a.Layers / len(p)
	for i := 0; i < len(p); i++ {
		ki := kindIndex(LayerKind(p[i]))
		if ki < 0 {
			return errKey("layer_pattern", "unknown layer kind %q at position %d (a attention, m mamba, r rwkv, x mlstm, l linear, c conv)", p[i], i)
		}
		a.kindLayers[ki] += reps
	}
	has := func(k LayerKind) bool { return a.kindLayers[kindIndex(k)] > 0 }
	tables := []struct {
		kind    LayerKind
		key     string
		present bool
		check   func() *fieldError
	}{
		{LayerMamba, "mamba", a.Mamba != nil, func() *fieldError { return a.Mamba.check(a.Hidden) }},
		{LayerRWKV, "rwkv", a.RWKV != nil, func() *fieldError { return a.RWKV.check(a.Hidden) }},
		{LayerMLSTM, "mlstm", a.MLSTM != nil, func() *fieldError { return a.MLSTM.check(a.Hidden) }},
		{LayerLinear, "linear", a.Linear != nil, func() *fieldError { return a.Linear.check(a.Hidden) }},
		{LayerConv, "conv", a.Conv != nil, func() *fieldError { return a.Conv.check() }},
	}
	for _, t := range tables {
		switch {
		case has(t.kind) && !t.present:
			return errKey("layer_pattern", "%q (%s) layers need a [%s] table", string(t.kind), t.kind, t.key)
		case !has(t.kind) && t.present:
			return errKey(t.key, "table given but layer_pattern has no %q layers", string(t.kind))
		case t.present:
			if fe := t.check(); fe != nil {
				return fe
			}
		}
	}
	if has(LayerRWKV) && a.Intermediate == 0 {
		return errKey("intermediate", "must be positive: it is the RWKV channel-mix width")
	}
	return nil
}

func (e *Mamba) check(hidden int) *fieldError {
	if e.Version == 0 {
		e.Version = 1
	}
	if e.Version != 1 && e.Version != 2 {
		return errKey("mamba.version", "must be 1 (Mamba) or 2 (Mamba-2), got %d", e.Version)
	}
	defaults(&e.DConv, 4)
	defaults(&e.Expand, 2)
	if e.Version == 1 {
		defaults(&e.DTRank, (hidden+15)/16)
	} else {
		defaults(&e.HeadDim, 64)
		defaults(&e.Groups, 1)
		defaults(&e.ChunkSize, 256)
	}
	for _, s := range []struct {
		key string
		v   int
	}{{"mamba.d_state", e.DState}, {"mamba.d_conv", e.DConv}, {"mamba.expand", e.Expand}} {
		if fe := checkSize(s.key, s.v, false); fe != nil {
			return fe
		}
	}
	if fe := checkSize("mamba.expand", e.Expand*hidden, false); fe != nil {
		return fe
	}
	if e.Version == 1 {
		return checkSize("mamba.dt_rank", e.DTRank, false)
	}
	inner := e.Expand * hidden
	for _, s := range []struct {
		key string
		v   int
	}{{"mamba.head_dim", e.HeadDim}, {"mamba.groups", e.Groups}, {"mamba.chunk_size", e.ChunkSize}} {
		if fe := checkSize(s.key, s.v, false); fe != nil {
			return fe
		}
	}
	if inner%e.HeadDim != 0 {
		return errKey("mamba.head_dim", "%d does not divide d_inner %d", e.HeadDim, inner)
	}
	if heads := inner / e.HeadDim; heads%e.Groups != 0 {
		return errKey("mamba.groups", "%d groups do not divide %d heads", e.Groups, heads)
	}
	return nil
}

func (e *RWKV) check(hidden int) *fieldError {
	defaults(&e.HeadSize, 64)
	mix, decay := 32, 64
	if hidden == 4096 { // the 7B and 14B Finch models (RWKV-LM, llama.cpp)
		mix, decay = 64, 128
	}
	defaults(&e.MixRank, mix)
	defaults(&e.DecayRank, decay)
	for _, s := range []struct {
		key string
		v   int
	}{{"rwkv.head_size", e.HeadSize}, {"rwkv.mix_rank", e.MixRank}, {"rwkv.decay_rank", e.DecayRank}} {
		if fe := checkSize(s.key, s.v, false); fe != nil {
			return fe
		}
	}
	if hidden%e.HeadSize != 0 {
		return errKey("rwkv.head_size", "%d does not divide hidden %d", e.HeadSize, hidden)
	}
	return nil
}

func (e *MLSTM) check(hidden int) *fieldError {
	defaults(&e.QKDim, hidden/2)
	defaults(&e.VDim, hidden)
	defaults(&e.ChunkSize, 64)
	for _, s := range []struct {
		key string
		v   int
	}{{"mlstm.heads", e.Heads}, {"mlstm.qk_dim", e.QKDim}, {"mlstm.v_dim", e.VDim}, {"mlstm.chunk_size", e.ChunkSize}} {
		if fe := checkSize(s.key, s.v, false); fe != nil {
			return fe
		}
	}
	if e.QKDim%e.Heads != 0 || e.VDim%e.Heads != 0 {
		return errKey("mlstm.heads", "%d heads do not divide qk_dim %d and v_dim %d", e.Heads, e.QKDim, e.VDim)
	}
	return nil
}

func (e *LinearAttn) check(hidden int) *fieldError {
	if e.Heads > 0 && e.HeadDim == 0 {
		if hidden%e.Heads != 0 {
			return errKey("linear.heads", "%d heads do not divide hidden %d (set linear.head_dim)", e.Heads, hidden)
		}
		e.HeadDim = hidden / e.Heads
	}
	defaults(&e.ChunkSize, 64)
	for _, s := range []struct {
		key string
		v   int
	}{{"linear.heads", e.Heads}, {"linear.feature_dim", e.FeatureDim}, {"linear.head_dim", e.HeadDim}, {"linear.chunk_size", e.ChunkSize}} {
		if fe := checkSize(s.key, s.v, false); fe != nil {
			return fe
		}
	}
	if e.FeatureMap == "" {
		e.FeatureMap = "taylor"
	}
	if fe := checkEnum("linear.feature_map", &e.FeatureMap, []string{"taylor", "identity"}); fe != nil {
		return fe
	}
	if e.FeatureMap == "taylor" && e.FeatureDim > 1<<12 {
		return errKey("linear.feature_dim", "%d is too large for the taylor map (d² features)", e.FeatureDim)
	}
	return nil
}

func (e *ShortConv) check() *fieldError {
	defaults(&e.Expand, 2)
	defaults(&e.Kernel, 3)
	if fe := checkSize("conv.expand", e.Expand, false); fe != nil {
		return fe
	}
	return checkSize("conv.kernel", e.Kernel, false)
}

// defaults sets *v to def when it is zero.
func defaults(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// LayersOf is the number of layers of kind k.
func (m *Model) LayersOf(k LayerKind) int {
	if i := kindIndex(k); i >= 0 {
		return m.kindLayers[i]
	}
	return 0
}

// AttentionLayers is the number of softmax-attention layers: the layers
// whose KV cache grows with the context.
func (m *Model) AttentionLayers() int { return m.LayersOf(LayerAttention) }

// Recurrent reports whether some layer keeps a constant-size state.
func (m *Model) Recurrent() bool { return m.AttentionLayers() < m.Layers }

// LayerKinds spells the kind of every layer, layer 0 first ("mmmmammm…").
func (m *Model) LayerKinds() string {
	return strings.Repeat(m.LayerPattern, m.Layers/len(m.LayerPattern))
}

// MLPLayers is the number of layers with an MLP block (dense or MoE): all
// but RWKV layers (their channel mix replaces it), none when intermediate
// is 0 and the model has no experts.
func (m *Model) MLPLayers() int {
	if m.Intermediate == 0 && m.MoE == nil {
		return 0
	}
	return m.Layers - m.LayersOf(LayerRWKV)
}

// mambaInner is d_inner of the Mamba layers.
func (m *Model) mambaInner() int { return m.Mamba.Expand * m.Hidden }

// mambaHeads is Mamba-2's number of heads (d_inner / head_dim).
func (m *Model) mambaHeads() int { return m.mambaInner() / m.Mamba.HeadDim }

// mambaConvChannels: Mamba convolves x; Mamba-2 convolves x, B and C.
func (m *Model) mambaConvChannels() int {
	c := m.mambaInner()
	if m.Mamba.Version == 2 {
		c += 2 * m.Mamba.Groups * m.Mamba.DState
	}
	return c
}

// linearFeatures is D, the per-head feature size after BASED's map.
func (m *Model) linearFeatures() int {
	d := m.Linear.FeatureDim
	if m.Linear.FeatureMap == "taylor" {
		return 1 + d + d*d
	}
	return d
}
