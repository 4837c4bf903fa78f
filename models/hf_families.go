package models

import (
	"encoding/json"
)

// hfLlamaLike imports the pre-norm, RMSNorm, RoPE, gated-MLP decoders that
// share Llama's config keys: Llama, Mistral, Mixtral, Qwen2/3 (+MoE), Phi-3,
// Gemma and Gemma 2.
func hfLlamaLike(r *hfReader, a *Arch) {
	a.Norm, a.Position = "rmsnorm", "rope"
	r.core(a, -1)
	a.KVHeads = r.int("num_key_value_heads", "kv_heads", 0)
	a.HeadDim = r.int("head_dim", "head_dim", 0)
	a.Intermediate = r.int("intermediate_size", "intermediate", -1)

	gemma := a.Family == "gemma" || a.Family == "gemma2"
	a.TiedEmbeddings = r.bool("tie_word_embeddings", gemma)
	if gemma {
		r.activation(a, true, "hidden_activation", "hidden_act")
	} else {
		r.activation(a, true, "hidden_act")
	}
	switch a.Family {
	case "qwen2", "qwen2_moe":
		a.QKVBias = true // hard-wired in Qwen2Attention
	default:
		a.QKVBias = r.bool("attention_bias", false)
	}

	switch a.Family {
	case "mistral", "mixtral", "phi3":
		a.SlidingWindow = r.int("sliding_window", "sliding_window", 0)
	case "gemma2":
		// Even layers are local (sliding), odd layers global.
		a.SlidingWindow = r.int("sliding_window", "sliding_window", -1)
		a.GlobalEvery = 2
	case "qwen2", "qwen2_moe", "qwen3", "qwen3_moe":
		if r.bool("use_sliding_window", false) {
			window := r.int("sliding_window", "sliding_window", -1)
			if r.int("max_window_layers", "", 0) < a.Layers {
				a.SlidingWindow = window
			}
		}
	}
	hfMoE(r, a)
}

// hfMoE reads the expert keys of Mixtral and the Qwen MoE families.
func hfMoE(r *hfReader, a *Arch) {
	switch a.Family {
	case "mixtral":
		a.MoE = &MoE{
			Experts:            r.int("num_local_experts", "moe.experts", -1),
			TopK:               r.int("num_experts_per_tok", "moe.top_k", -1),
			ExpertIntermediate: a.Intermediate,
		}
		r.from["moe.expert_intermediate"] = "intermediate_size"
	case "qwen2_moe", "qwen3_moe":
		experts := r.int("num_experts", "moe.experts", -1)
		if experts == 0 {
			return // dense, as in the HF code
		}
		e := &MoE{
			Experts:            experts,
			TopK:               r.int("num_experts_per_tok", "moe.top_k", -1),
			ExpertIntermediate: r.int("moe_intermediate_size", "moe.expert_intermediate", -1),
			Every:              r.int("decoder_sparse_step", "moe.every", 1),
		}
		if a.Family == "qwen2_moe" {
			e.SharedIntermediate = r.int("shared_expert_intermediate_size", "moe.shared_intermediate", 0)
			if e.SharedIntermediate > 0 {
				e.SharedExperts = 1
			}
		}
		if r.has("mlp_only_layers") {
			var layers []int
			if err := json.Unmarshal(r.raw["mlp_only_layers"], &layers); err != nil {
				r.fail("mlp_only_layers", "want a list of layer indices")
			} else if len(layers) > 0 {
				r.fail("mlp_only_layers", "dense layers at chosen indices are not supported (only decoder_sparse_step)")
			}
		}
		a.MoE = e
	}
}

// hfOPT imports OPT: post-LN-era learned positions, LayerNorm, ReLU, biases.
func hfOPT(r *hfReader, a *Arch) {
	a.Norm, a.Position = "layernorm", "learned"
	r.core(a, -1)
	a.Intermediate = r.int("ffn_dim", "intermediate", -1)
	a.EmbedDim = r.int("word_embed_proj_dim", "embed_dim", 0)
	a.TiedEmbeddings = r.bool("tie_word_embeddings", true)
	a.LinearBias = r.bool("enable_bias", true)
	r.activation(a, false, "activation_function")
}

// hfPhi imports Phi-1/1.5/2: parallel block, LayerNorm, partial rotary.
func hfPhi(r *hfReader, a *Arch) {
	a.Norm, a.Position = "layernorm", "rope"
	a.ParallelBlock, a.LinearBias = true, true
	r.core(a, -1)
	a.KVHeads = r.int("num_key_value_heads", "kv_heads", 0)
	a.Intermediate = r.int("intermediate_size", "intermediate", -1)
	a.TiedEmbeddings = r.bool("tie_word_embeddings", false)
	r.activation(a, false, "hidden_act")
}

// hfNeoX imports GPT-NeoX and Pythia.
func hfNeoX(r *hfReader, a *Arch) {
	a.Norm, a.Position = "layernorm", "rope"
	r.core(a, -1)
	a.Intermediate = r.int("intermediate_size", "intermediate", -1)
	a.TiedEmbeddings = r.bool("tie_word_embeddings", false)
	a.ParallelBlock = r.bool("use_parallel_residual", true)
	a.LinearBias = r.bool("attention_bias", true)
	r.activation(a, false, "hidden_act")
}

// hfGPTJ imports GPT-J: parallel block, rotary, GPT-2 style key names.
func hfGPTJ(r *hfReader, a *Arch) {
	a.Norm, a.Position = "layernorm", "rope"
	a.ParallelBlock, a.LinearBias = true, true
	hfGPT2Keys(r, a)
	a.TiedEmbeddings = r.bool("tie_word_embeddings", false)
}

// hfGPT2 imports GPT-2: learned positions, tied embeddings, biases.
func hfGPT2(r *hfReader, a *Arch) {
	a.Norm, a.Position = "layernorm", "learned"
	a.LinearBias, a.TiedEmbeddings = true, true
	hfGPT2Keys(r, a)
}

func hfGPT2Keys(r *hfReader, a *Arch) {
	a.Layers = r.int("n_layer", "layers", -1)
	a.Hidden = r.int("n_embd", "hidden", -1)
	a.Heads = r.int("n_head", "heads", -1)
	a.Intermediate = r.int("n_inner", "intermediate", 0)
	if a.Intermediate == 0 {
		a.Intermediate = 4 * a.Hidden
	}
	a.Vocab = r.int("vocab_size", "vocab", -1)
	if r.has("n_positions") || !r.has("n_ctx") {
		a.MaxContext = r.int("n_positions", "max_context", -1)
	} else {
		a.MaxContext = r.int("n_ctx", "max_context", -1)
	}
	r.activation(a, false, "activation_function")
}

// core reads the shape keys every transformer family's config spells the
// same way: layers, hidden size, attention heads, vocabulary and the
// longest context (maxContext when absent; -1 makes it required).
func (r *hfReader) core(a *Arch, maxContext int) {
	a.Layers = r.int("num_hidden_layers", "layers", -1)
	a.Hidden = r.int("hidden_size", "hidden", -1)
	a.Heads = r.int("num_attention_heads", "heads", -1)
	a.Vocab = r.int("vocab_size", "vocab", -1)
	a.MaxContext = r.int("max_position_embeddings", "max_context", maxContext)
}
