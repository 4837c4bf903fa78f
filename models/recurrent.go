package models

import "github.com/llmsim/llmsim/dtype"

// stateElems is the recurrent state one layer of kind k keeps per sequence,
// in elements: conv is the convolution window (d_conv inputs per channel, as
// mamba_ssm and transformers allocate it) or RWKV's two token-shift vectors,
// rec the recurrent memory proper.
func (m *Model) stateElems(k LayerKind) (conv, rec float64) {
	h := float64(m.Hidden)
	switch k {
	case LayerMamba:
		e := m.Mamba
		conv = float64(m.mambaConvChannels()) * float64(e.DConv)
		rec = float64(m.mambaInner()) * float64(e.DState) // v2: heads × head_dim × d_state
	case LayerRWKV:
		conv = 2 * h                       // time-mix and channel-mix shift
		rec = h * float64(m.RWKV.HeadSize) // heads × head_size²
	case LayerMLSTM:
		e := m.MLSTM
		nh := float64(e.Heads)
		dk, dv := float64(e.QKDim)/nh, float64(e.VDim)/nh
		rec = nh * (dk*dv + dk + 1) // C, n, m
	case LayerLinear:
		e := m.Linear
		rec = float64(e.Heads) * float64(m.linearFeatures()) * float64(e.HeadDim+1) // Σφ(k)vᵀ and Σφ(k)
	case LayerConv:
		conv = float64(m.Conv.Expand) * h * float64(m.Conv.Kernel)
	}
	return conv, rec
}

// StateFormat is the format of the recurrent state when the attention
// cache is stored as kv: Arch.StateDType when set (RWKV runtimes keep fp32),
// else kv — like mamba_ssm, which allocates the state in the model's dtype,
// and vLLM's "auto" cache dtype.
func (m *Model) StateFormat(kv dtype.DType) dtype.DType {
	if d := dtype.DType(m.StateDType); d.Valid() {
		return d
	}
	return kv
}

// StateBytes is the recurrent state of one sequence over all non-attention
// layers, in StateFormat(kv): constant, whatever the context length. Zero
// for pure-attention models.
func (m *Model) StateBytes(kv dtype.DType) float64 {
	var elems float64
	for _, k := range layerKinds[1:] {
		if n := m.LayersOf(k); n > 0 {
			conv, rec := m.stateElems(k)
			elems += float64(n) * (conv + rec)
		}
	}
	return elems * m.StateFormat(kv).Bytes()
}

// mixerParams is the parameters of one layer's sequence mixer of kind k
// (RWKV: time mix and channel mix), norms outside the mixer excluded.
func (m *Model) mixerParams(k LayerKind) float64 {
	h := float64(m.Hidden)
	switch k {
	case LayerAttention:
		return m.attentionParams()
	case LayerMamba:
		return m.mambaParams()
	case LayerRWKV:
		e := m.RWKV
		i, mix, decay := float64(m.Intermediate), float64(e.MixRank), float64(e.DecayRank)
		timeMix := 5*h*h + // receptance, key, value, gate, output
			2*5*mix*h + // time_maa_w1 (h × 5·mix), time_maa_w2 (5 × mix × h)
			2*decay*h + // time_decay_w1, time_decay_w2
			8*h + // time_maa_x, _w, _k, _v, _r, _g; time_decay; time_faaaa
			m.normWeights(m.Hidden) // ln_x (group norm)
		channelMix := 2*h*i + h*h + 2*h // key, value, receptance; time_maa_k, time_maa_r
		return timeMix + channelMix
	case LayerMLSTM:
		e := m.MLSTM
		qk, v, nh := float64(e.QKDim), float64(e.VDim), float64(e.Heads)
		return h*(2*qk+2*v) + 2*(h*nh+nh) + v + v*h // q, k, v, o-gate; i, f gates; head norm; out
	case LayerLinear:
		e := m.Linear
		qk := float64(e.Heads * e.FeatureDim)
		v := float64(e.Heads * e.HeadDim)
		return h*(2*qk+v) + v*h
	case LayerConv:
		inner := float64(m.Conv.Expand) * h
		p := h*2*inner + inner*float64(m.Conv.Kernel) + inner*h
		if m.Conv.Bias {
			p += 2*inner + h
		}
		return p
	}
	return 0
}

func (m *Model) mambaParams() float64 {
	e := m.Mamba
	h, di, n := float64(m.Hidden), float64(m.mambaInner()), float64(e.DState)
	conv := float64(m.mambaConvChannels())
	p := conv*float64(e.DConv) + conv + di*h // conv1d with bias, out_proj
	if e.ProjBias {
		p += h
	}
	if e.Version == 2 {
		nh, gn := float64(m.mambaHeads()), float64(e.Groups*e.DState)
		in := 2*di + 2*gn + nh
		p += h*in + 3*nh + di // in_proj; A_log, D, dt_bias; gated norm
		if e.ProjBias {
			p += in
		}
		return p
	}
	r := float64(e.DTRank)
	p += h*2*di + di*(r+2*n) + r*di + di + di*n + di // in_proj, x_proj, dt_proj (+bias), A_log, D
	if e.ProjBias {
		p += 2 * di
	}
	if e.InnerNorms {
		p += r + 2*n
	}
	return p
}
