package models

import (
	"fmt"
	"strings"

	"github.com/llmsim/llmsim/dtype"
)

// Accepted values of the enumerated Arch fields.
var (
	norms       = []string{"rmsnorm", "layernorm"}
	activations = []string{"swiglu", "geglu", "gelu", "relu"}
	positions   = []string{"rope", "learned", "alibi", "none"}
)

// maxSize bounds every size so that products of sizes stay exact in int and
// float64; no real model comes near it.
const maxSize = 1 << 26

// fieldError is a validation failure of one Arch key, named by its TOML key
// ("moe.top_k"). Loaders turn it into FILE:LINE: key: message.
type fieldError struct {
	key, msg string
}

func (e *fieldError) Error() string { return e.key + ": " + e.msg }

func errKey(key, format string, args ...any) *fieldError {
	return &fieldError{key: key, msg: fmt.Sprintf(format, args...)}
}

// New validates a, fills in its defaults (KVHeads = Heads, HeadDim =
// Hidden/Heads, EmbedDim = Hidden, MoE.Every = 1, DType = bf16) and returns
// the model.
func New(a Arch) (*Model, error) {
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("model %q: %w", a.Name, err)
	}
	return &Model{Arch: a}, nil
}

// check normalises a in place and reports its first invalid key.
func (a *Arch) check() *fieldError {
	if strings.TrimSpace(a.Name) == "" {
		return errKey("name", "missing")
	}
	sizes := []struct {
		key      string
		v        int
		optional bool // 0 allowed (means default or off)
	}{
		{"layers", a.Layers, false},
		{"hidden", a.Hidden, false},
		{"heads", a.Heads, true},
		{"kv_heads", a.KVHeads, true},
		{"head_dim", a.HeadDim, true},
		{"intermediate", a.Intermediate, true},
		{"vocab", a.Vocab, false},
		{"max_context", a.MaxContext, false},
		{"embed_dim", a.EmbedDim, true},
		{"sliding_window", a.SlidingWindow, true},
		{"global_every", a.GlobalEvery, true},
	}
	for _, s := range sizes {
		if e := checkSize(s.key, s.v, s.optional); e != nil {
			return e
		}
	}
	if fe := a.checkMixers(); fe != nil {
		return fe
	}
	attention := a.kindLayers[kindIndex(LayerAttention)] > 0
	if e := checkSize("heads", a.Heads, !attention); e != nil {
		return e
	}
	// Only recurrent models may lack an MLP (Mamba, Mamba-2).
	if e := checkSize("intermediate", a.Intermediate, a.kindLayers[kindIndex(LayerAttention)] < a.Layers); e != nil {
		return e
	}
	if a.Heads == 0 {
		// A model without attention layers has no K/V heads.
		if a.KVHeads != 0 || a.HeadDim != 0 {
			return errKey("kv_heads", "needs heads > 0")
		}
	} else if e := a.checkHeads(); e != nil {
		return e
	}
	if a.EmbedDim == 0 {
		a.EmbedDim = a.Hidden
	}
	if a.GlobalEvery > 0 && a.SlidingWindow == 0 {
		return errKey("global_every", "needs sliding_window > 0")
	}
	if e := checkEnum("norm", &a.Norm, norms); e != nil {
		return e
	}
	noMLP := a.Intermediate == 0 && a.MoE == nil
	if e := checkEnum("activation", &a.Activation, activations); e != nil && !(noMLP && a.Activation == "") {
		return e
	}
	if e := checkEnum("position", &a.Position, positions); e != nil {
		return e
	}
	if a.DType == "" {
		a.DType = string(dtype.BF16)
	}
	d, err := dtype.Parse(a.DType)
	if err != nil {
		return errKey("dtype", "%v", err)
	}
	a.DType = string(d)
	if a.StateDType != "" {
		sd, err := dtype.Parse(a.StateDType)
		if err != nil {
			return errKey("state_dtype", "%v", err)
		}
		a.StateDType = string(sd)
	}
	if a.MoE != nil {
		return a.MoE.check()
	}
	return nil
}

// checkHeads fills head_dim and kv_heads and checks that they divide.
func (a *Arch) checkHeads() *fieldError {
	if a.HeadDim == 0 {
		if a.Hidden%a.Heads != 0 {
			return errKey("heads", "%d heads do not divide hidden %d (set head_dim)", a.Heads, a.Hidden)
		}
		a.HeadDim = a.Hidden / a.Heads
	}
	if a.KVHeads == 0 {
		a.KVHeads = a.Heads
	}
	if a.Heads%a.KVHeads != 0 {
		return errKey("kv_heads", "%d kv heads do not divide %d heads", a.KVHeads, a.Heads)
	}
	return nil
}

func (e *MoE) check() *fieldError {
	sizes := []struct {
		key      string
		v        int
		optional bool
	}{
		{"moe.experts", e.Experts, false},
		{"moe.top_k", e.TopK, false},
		{"moe.expert_intermediate", e.ExpertIntermediate, false},
		{"moe.shared_experts", e.SharedExperts, true},
		{"moe.shared_intermediate", e.SharedIntermediate, true},
		{"moe.every", e.Every, true},
	}
	for _, s := range sizes {
		if fe := checkSize(s.key, s.v, s.optional); fe != nil {
			return fe
		}
	}
	if e.TopK > e.Experts {
		return errKey("moe.top_k", "%d exceeds the %d experts", e.TopK, e.Experts)
	}
	if e.SharedExperts > 0 && e.SharedIntermediate == 0 {
		return errKey("moe.shared_intermediate", "must be positive when shared_experts > 0")
	}
	if e.Every == 0 {
		e.Every = 1
	}
	return nil
}

func checkSize(key string, v int, optional bool) *fieldError {
	switch {
	case v < 0 || (v == 0 && !optional):
		return errKey(key, "must be positive, got %d", v)
	case v > maxSize:
		return errKey(key, "%d is implausibly large (limit %d)", v, maxSize)
	}
	return nil
}

func checkEnum(key string, v *string, allowed []string) *fieldError {
	s := strings.ToLower(strings.TrimSpace(*v))
	for _, a := range allowed {
		if s == a {
			*v = s
			return nil
		}
	}
	if s == "" {
		return errKey(key, "missing (one of %s)", strings.Join(allowed, ", "))
	}
	return errKey(key, "unknown value %q (one of %s)", *v, strings.Join(allowed, ", "))
}
