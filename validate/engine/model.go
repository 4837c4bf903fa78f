package engine

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// shape is an Arch with defaults filled in and derived sizes.
type shape struct {
	models.Arch
	headDim int
	qDim    int // Heads·headDim
	kvDim   int // KVHeads·headDim
	gated   bool
}

func newShape(a models.Arch) (shape, error) {
	s := shape{Arch: a}
	if a.Norm == "" {
		s.Norm = "rmsnorm"
	}
	if a.Activation == "" {
		s.Activation = "swiglu"
	}
	if a.Position == "" {
		s.Position = "rope"
	}
	if s.KVHeads == 0 {
		s.KVHeads = s.Heads
	}
	bad := func(format string, args ...any) (shape, error) {
		return shape{}, fmt.Errorf("engine: arch %q: %s", a.Name, fmt.Sprintf(format, args...))
	}
	// The engine runs softmax-attention layers only; a recurrent layer
	// run as attention would time the wrong work.
	if k := recurrentLayers(a); k != "" {
		return bad("layer_pattern %q has %s layers; the CPU engine runs attention-only models (pattern empty or all \"a\")", a.LayerPattern, k)
	}
	switch {
	case s.Layers < 1 || s.Hidden < 1 || s.Heads < 1 || s.Vocab < 1:
		return bad("layers, hidden, heads and vocab must be positive")
	case s.Heads%s.KVHeads != 0:
		return bad("heads %d not a multiple of kv_heads %d", s.Heads, s.KVHeads)
	}
	s.headDim = s.HeadDim
	if s.headDim == 0 {
		if s.Hidden%s.Heads != 0 {
			return bad("hidden %d not divisible by heads %d", s.Hidden, s.Heads)
		}
		s.headDim = s.Hidden / s.Heads
	}
	s.qDim, s.kvDim = s.Heads*s.headDim, s.KVHeads*s.headDim
	switch s.Norm {
	case "rmsnorm", "layernorm":
	default:
		return bad("norm %q not supported (rmsnorm, layernorm)", s.Norm)
	}
	switch s.Activation {
	case "swiglu", "geglu":
		s.gated = true
	case "gelu", "relu":
	default:
		return bad("activation %q not supported (swiglu, geglu, gelu, relu)", s.Activation)
	}
	switch s.Position {
	case "rope":
		if s.headDim%2 != 0 {
			return bad("rope needs an even head_dim, not %d", s.headDim)
		}
	case "learned":
		if s.MaxContext < 1 {
			return bad("learned positions need max_context")
		}
	case "none":
	default:
		return bad("position %q not supported (rope, learned, none)", s.Position)
	}
	if m := s.MoE; m != nil {
		if m.Experts < 1 || m.TopK < 1 || m.TopK > m.Experts || m.ExpertIntermediate < 1 {
			return bad("moe needs 1 <= top_k <= experts and expert_intermediate > 0")
		}
		if m.SharedExperts > 0 && m.SharedIntermediate < 1 {
			return bad("moe shared experts need shared_intermediate")
		}
	}
	for l := 0; l < s.Layers; l++ {
		if !s.moeLayer(l) && s.Intermediate < 1 {
			return bad("dense layer %d needs intermediate > 0", l)
		}
	}
	return s, nil
}

// recurrentLayers names the first non-attention layer kind of a's
// pattern (or of a mixer table given without one), or "".
func recurrentLayers(a models.Arch) string {
	for _, c := range strings.ToLower(a.LayerPattern) {
		if c != rune(models.LayerAttention) && !unicode.IsSpace(c) {
			return models.LayerKind(c).String()
		}
	}
	switch {
	case a.Mamba != nil:
		return "mamba"
	case a.RWKV != nil:
		return "rwkv"
	case a.MLSTM != nil:
		return "mlstm"
	case a.Linear != nil:
		return "linear"
	case a.Conv != nil:
		return "conv"
	}
	return ""
}

// moeLayer reports whether layer l has a mixture-of-experts MLP: every layer
// when MoE.Every <= 1, else layers Every-1, 2·Every-1, ...
func (s *shape) moeLayer(l int) bool {
	return s.MoE != nil && (s.MoE.Every <= 1 || (l+1)%s.MoE.Every == 0)
}

// windowed reports whether layer l attends to the last SlidingWindow tokens
// only; with GlobalEvery = g, layers g-1, 2g-1, ... attend globally.
func (s *shape) windowed(l int) bool {
	return s.SlidingWindow > 0 && !(s.GlobalEvery > 0 && (l+1)%s.GlobalEvery == 0)
}

// mlp is a dense feed-forward block; up holds the gate rows then the up rows
// when the activation is gated.
type mlp struct {
	up, down         *Matrix
	upBias, downBias []float32
}

type layer struct {
	attnNorm, attnNormBias []float32
	qkv                    *Matrix // rows: q, then k, then v
	qkvBias                []float32
	o                      *Matrix
	oBias                  []float32
	mlpNorm, mlpNormBias   []float32 // nil with a parallel block
	dense                  *mlp
	router                 *Matrix
	experts                []mlp
	shared                 *mlp // all shared experts fused into one wider MLP
}

type weights struct {
	embed                    *Matrix // vocab × hidden
	pos                      *Matrix // learned positions: max_context × hidden
	layers                   []layer
	finalNorm, finalNormBias []float32
	lmHead                   *Matrix // the embedding when tied
}

// tensor is one named tensor of a checkpoint: a row range of a (possibly
// fused) matrix or a vector. Random initialisation, Load and Save all walk
// the same list.
type tensor struct {
	name   string
	alt    []string // other names accepted on load
	rows   int      // matrix rows, or vector length
	cols   int      // 0 for vectors
	mat    *Matrix
	rowOff int
	vec    []float32
	amp    float32 // random init: uniform in [-amp, amp)
	ones   bool    // random init: 1 + uniform noise (norm weights)
}

func (s *shape) newWeights(dt dtype.DType) (*weights, error) {
	w := &weights{layers: make([]layer, s.Layers)}
	var err error
	mat := func(rows, cols int) *Matrix {
		if err != nil {
			return nil
		}
		var m *Matrix
		m, err = NewMatrix(rows, cols, dt)
		return m
	}
	vec := func(n int, on bool) []float32 {
		if !on {
			return nil
		}
		return make([]float32, n)
	}
	h, ln := s.Hidden, s.Norm == "layernorm"
	newMLP := func(inter int) mlp {
		up := inter
		if s.gated {
			up *= 2
		}
		return mlp{up: mat(up, h), down: mat(h, inter),
			upBias: vec(up, s.LinearBias), downBias: vec(h, s.LinearBias)}
	}
	w.embed = mat(s.Vocab, h)
	if s.Position == "learned" {
		w.pos = mat(s.MaxContext, h)
	}
	for l := range w.layers {
		ly := &w.layers[l]
		ly.attnNorm, ly.attnNormBias = vec(h, true), vec(h, ln)
		ly.qkv = mat(s.qDim+2*s.kvDim, h)
		ly.qkvBias = vec(s.qDim+2*s.kvDim, s.QKVBias || s.LinearBias)
		ly.o, ly.oBias = mat(h, s.qDim), vec(h, s.LinearBias)
		if !s.ParallelBlock {
			ly.mlpNorm, ly.mlpNormBias = vec(h, true), vec(h, ln)
		}
		if !s.moeLayer(l) {
			d := newMLP(s.Intermediate)
			ly.dense = &d
			continue
		}
		ly.router = mat(s.MoE.Experts, h)
		ly.experts = make([]mlp, s.MoE.Experts)
		for e := range ly.experts {
			ly.experts[e] = newMLP(s.MoE.ExpertIntermediate)
		}
		if s.MoE.SharedExperts > 0 {
			sh := newMLP(s.MoE.SharedExperts * s.MoE.SharedIntermediate)
			ly.shared = &sh
		}
	}
	w.finalNorm, w.finalNormBias = vec(h, true), vec(h, ln)
	w.lmHead = w.embed
	if !s.TiedEmbeddings {
		w.lmHead = mat(s.Vocab, h)
	}
	return w, err
}

// tensors lists the checkpoint tensors under Hugging Face Llama names
// (Qwen2-MoE names for experts; Mixtral names accepted on load).
func (s *shape) tensors(w *weights) []tensor {
	var ts []tensor
	h := s.Hidden
	matAmp := func(cols int) float32 { return float32(math.Sqrt(3 / float64(cols))) }
	addMat := func(name string, m *Matrix, rowOff, rows int, alt ...string) {
		ts = append(ts, tensor{name: name + ".weight", alt: suffix(alt, ".weight"), rows: rows, cols: m.Cols,
			mat: m, rowOff: rowOff, amp: matAmp(m.Cols)})
	}
	addVec := func(name string, v []float32, ones bool, alt ...string) {
		if v != nil {
			ts = append(ts, tensor{name: name, alt: alt, rows: len(v), vec: v, amp: 0.1, ones: ones})
		}
	}
	addNorm := func(name string, wt, bias []float32) {
		addVec(name+".weight", wt, true)
		addVec(name+".bias", bias, false)
	}
	addMLP := func(prefix string, m *mlp, inter int, altPrefixes ...string) {
		alt := func(hf, mixtral string) []string {
			var out []string
			for _, a := range altPrefixes {
				out = append(out, a+hf, a+mixtral)
			}
			return out
		}
		up := 0
		if s.gated {
			addMat(prefix+".gate_proj", m.up, 0, inter, alt(".gate_proj", ".w1")...)
			addVec(prefix+".gate_proj.bias", sub(m.upBias, 0, inter), false)
			up = inter
		}
		addMat(prefix+".up_proj", m.up, up, inter, alt(".up_proj", ".w3")...)
		addVec(prefix+".up_proj.bias", sub(m.upBias, up, inter), false)
		addMat(prefix+".down_proj", m.down, 0, h, alt(".down_proj", ".w2")...)
		addVec(prefix+".down_proj.bias", m.downBias, false)
	}
	addMat("model.embed_tokens", w.embed, 0, s.Vocab)
	ts[len(ts)-1].amp = 1
	if w.pos != nil {
		addMat("model.embed_positions", w.pos, 0, s.MaxContext)
		ts[len(ts)-1].amp = 0.1
	}
	for l := range w.layers {
		ly := &w.layers[l]
		p := fmt.Sprintf("model.layers.%d.", l)
		addNorm(p+"input_layernorm", ly.attnNorm, ly.attnNormBias)
		for i, n := range []string{"q_proj", "k_proj", "v_proj"} {
			off, rows := 0, s.qDim
			if i > 0 {
				off, rows = s.qDim+(i-1)*s.kvDim, s.kvDim
			}
			addMat(p+"self_attn."+n, ly.qkv, off, rows)
			addVec(p+"self_attn."+n+".bias", sub(ly.qkvBias, off, rows), false)
		}
		addMat(p+"self_attn.o_proj", ly.o, 0, h)
		addVec(p+"self_attn.o_proj.bias", ly.oBias, false)
		addNorm(p+"post_attention_layernorm", ly.mlpNorm, ly.mlpNormBias)
		if ly.dense != nil {
			addMLP(p+"mlp", ly.dense, s.Intermediate)
			continue
		}
		addMat(p+"mlp.gate", ly.router, 0, s.MoE.Experts, p+"block_sparse_moe.gate")
		for e := range ly.experts {
			addMLP(fmt.Sprintf("%smlp.experts.%d", p, e), &ly.experts[e], s.MoE.ExpertIntermediate,
				fmt.Sprintf("%sblock_sparse_moe.experts.%d", p, e))
		}
		if ly.shared != nil {
			addMLP(p+"mlp.shared_expert", ly.shared, s.MoE.SharedExperts*s.MoE.SharedIntermediate,
				p+"mlp.shared_experts")
		}
	}
	addNorm("model.norm", w.finalNorm, w.finalNormBias)
	if w.lmHead != w.embed {
		addMat("lm_head", w.lmHead, 0, s.Vocab)
	}
	return ts
}

// suffix appends sfx to every name.
func suffix(names []string, sfx string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + sfx
	}
	return out
}

// sub is v[off:off+n], or nil when v is nil.
func sub(v []float32, off, n int) []float32 {
	if v == nil {
		return nil
	}
	return v[off : off+n]
}

// randomise fills every tensor from seed: a tensor's values depend only on
// seed and its name.
func randomise(p *Pool, ts []tensor, seed uint64) {
	for _, t := range ts {
		tseed := seed ^ nameHash(t.name)
		if t.mat != nil {
			t.mat.fillRandom(p, t.rowOff, t.rowOff+t.rows, tseed, t.amp)
			continue
		}
		randomRow(t.vec, tseed, t.amp)
		if t.ones {
			for i := range t.vec {
				t.vec[i]++
			}
		}
	}
}

// nameHash is 64-bit FNV-1a.
func nameHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
