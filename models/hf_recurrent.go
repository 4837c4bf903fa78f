package models

import (
	"encoding/json"
	"strconv"
	"strings"
)

// recurrentMaxContext is the context limit given to recurrent models whose
// config names none: they have no position table (2^20, llama.cpp's
// context_length for RWKV).
const recurrentMaxContext = 1 << 20

// hfMamba imports MambaForCausalLM (Mamba) and Mamba2ForCausalLM
// (Mamba-2): every layer a Mamba mixer, no attention and no MLP.
func hfMamba(r *hfReader, a *Arch) {
	a.Norm, a.Position, a.LayerPattern = "rmsnorm", "none", string(LayerMamba)
	a.Layers = r.int(r.firstOr("num_hidden_layers", "n_layer"), "layers", -1)
	a.Hidden = r.int(r.firstOr("hidden_size", "d_model"), "hidden", -1)
	a.Vocab = r.int("vocab_size", "vocab", -1)
	a.MaxContext = r.int("max_position_embeddings", "max_context", recurrentMaxContext)
	e := &Mamba{
		Version:  1,
		DState:   r.int("state_size", "mamba.d_state", 16),
		DConv:    r.int("conv_kernel", "mamba.d_conv", 4),
		Expand:   r.int("expand", "mamba.expand", 2),
		ProjBias: r.bool("use_bias", false),
	}
	if a.Family == "mamba2" {
		e.Version = 2
		e.HeadDim = r.int("head_dim", "mamba.head_dim", 64)
		e.Groups = r.int("n_groups", "mamba.groups", 1)
		e.ChunkSize = r.int("chunk_size", "mamba.chunk_size", 256)
		// transformers' Mamba2Config leaves embeddings untied by default.
		a.TiedEmbeddings = r.bool("tie_word_embeddings", false)
		if heads := r.int("num_heads", "", 0); heads > 0 && heads*e.HeadDim != e.Expand*a.Hidden {
			r.fail("num_heads", "%d heads × head_dim %d differ from expand × hidden_size = %d", heads, e.HeadDim, e.Expand*a.Hidden)
		}
	} else {
		e.DTRank = r.autoInt("time_step_rank", "mamba.dt_rank")
		a.TiedEmbeddings = r.bool("tie_word_embeddings", true)
	}
	if r.has("intermediate_size") && a.Hidden > 0 {
		if inner := r.int("intermediate_size", "", 0); inner != e.Expand*a.Hidden {
			r.fail("intermediate_size", "%d is not expand (%d) × hidden_size (%d)", inner, e.Expand, a.Hidden)
		}
	}
	a.Mamba = e
}

// hfJamba imports JambaForCausalLM: Llama-style attention every
// attn_layer_period layers (at attn_layer_offset), Mamba elsewhere, and a
// MoE MLP every expert_layer_period layers.
func hfJamba(r *hfReader, a *Arch) {
	a.Norm, a.Position = "rmsnorm", "none"
	r.core(a, 262144)
	a.KVHeads = r.int("num_key_value_heads", "kv_heads", 0)
	a.Intermediate = r.int("intermediate_size", "intermediate", -1)
	a.SlidingWindow = r.int("sliding_window", "sliding_window", 0)
	a.TiedEmbeddings = r.bool("tie_word_embeddings", false)
	r.activation(a, true, "hidden_act")

	period := r.int("attn_layer_period", "layer_pattern", 8)
	offset := r.int("attn_layer_offset", "", 4)
	if period <= 0 || offset < 0 || offset >= period {
		r.fail("attn_layer_offset", "must be in [0, attn_layer_period = %d), got %d", period, offset)
	} else {
		p := []byte(strings.Repeat(string(LayerMamba), period))
		p[offset] = byte(LayerAttention)
		a.LayerPattern = string(p)
	}
	a.Mamba = &Mamba{
		Version:    1,
		DState:     r.int("mamba_d_state", "mamba.d_state", 16),
		DConv:      r.int("mamba_d_conv", "mamba.d_conv", 4),
		Expand:     r.int("mamba_expand", "mamba.expand", 2),
		DTRank:     r.autoInt("mamba_dt_rank", "mamba.dt_rank"),
		ProjBias:   r.bool("mamba_proj_bias", false),
		InnerNorms: true,
	}
	experts := r.int("num_experts", "moe.experts", 16)
	if experts <= 1 {
		return
	}
	every := r.int("expert_layer_period", "moe.every", 2)
	if off := r.int("expert_layer_offset", "", 1); every > 0 && off != every-1 {
		r.fail("expert_layer_offset", "only expert_layer_offset = expert_layer_period - 1 (%d) is supported, got %d", every-1, off)
	}
	a.MoE = &MoE{
		Experts:            experts,
		TopK:               r.int("num_experts_per_tok", "moe.top_k", 2),
		ExpertIntermediate: a.Intermediate,
		Every:              every,
	}
	r.from["moe.expert_intermediate"] = "intermediate_size"
}

// hfRWKV6 imports Rwkv6ForCausalLM (RWKV-6 "Finch"): time mix with
// head_size heads, channel mix of width intermediate_size.
func hfRWKV6(r *hfReader, a *Arch) {
	a.Norm, a.Position, a.Activation, a.LayerPattern = "layernorm", "none", "relu", string(LayerRWKV)
	a.Layers = r.int("num_hidden_layers", "layers", -1)
	a.Hidden = r.int("hidden_size", "hidden", -1)
	a.Vocab = r.int("vocab_size", "vocab", -1)
	a.MaxContext = r.int("max_position_embeddings", "max_context", recurrentMaxContext)
	a.TiedEmbeddings = r.bool("tie_word_embeddings", false)
	// rwkv6 configuration: a null intermediate_size means int(3.5·hidden)
	// rounded down to a multiple of 32.
	a.Intermediate = r.int("intermediate_size", "intermediate", 0)
	if a.Intermediate == 0 {
		a.Intermediate = a.Hidden * 7 / 2 / 32 * 32
	}
	if att := r.int("attention_hidden_size", "", 0); att != 0 && att != a.Hidden {
		r.fail("attention_hidden_size", "%d differs from hidden_size %d (not supported)", att, a.Hidden)
	}
	a.StateDType = "fp32" // RWKV runtimes keep the WKV state in fp32
	a.RWKV = &RWKV{HeadSize: r.int("head_size", "rwkv.head_size", 64)}
}

// firstOr is the first of keys present, or the first key (to name it in a
// "missing" error).
func (r *hfReader) firstOr(keys ...string) string {
	if k := r.first(keys...); k != "" {
		return k
	}
	return keys[0]
}

// autoInt reads an integer key that may also be "auto" (or absent): 0, so
// validation applies the default (ceil(hidden/16) for Δ's rank).
func (r *hfReader) autoInt(key, archKey string) int {
	r.from[archKey] = key
	if !r.has(key) {
		return 0
	}
	var s string
	if err := json.Unmarshal(r.raw[key], &s); err == nil {
		if s == "auto" {
			return 0
		}
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
		r.fail(key, `want an integer or "auto", got %q`, s)
		return 0
	}
	return r.int(key, archKey, 0)
}
