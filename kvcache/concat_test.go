package kvcache

import (
	"testing"

	"github.com/llmsim/llmsim/models"
)

// concatStep builds a step of an engine that grows its cache with
// torch.cat (and, as Hugging Face eager, materialises its scores), then
// rewrites it for spec.
func concatStep(t *testing.T, m *models.Model, spec string, seqs []models.Seq) *models.Graph {
	t.Helper()
	g := m.Graph(seqs, bf16, models.Options{MaterialisedAttention: true, ConcatKVCache: true})
	parse(t, spec).Rewrite(g, m, seqs, bf16)
	return g
}

// kv_concat copies what the scheme stores before the step, once read and
// once written: Llama-3-8B, two sequences decoding (4096 bytes per token
// and layer in bf16).
func TestConcatScalesWithStoredCache(t *testing.T) {
	m := load(t, "llama3-8b")
	for _, tc := range []struct {
		spec   string
		cached int
		want   float64 // bytes each way per layer, both sequences
	}{
		// Full: the whole past, 1000 tokens each.
		{"full", 1000, 2 * 1000 * perTokenLayer},
		// H2O 10% heavy + 10% recent of 1000: 200 kept.
		{"h2o", 1000, 2 * 200 * perTokenLayer},
		// Keyformer with a fixed k: 2048 of 8000.
		{"keyformer:budget=0.5,tokens=2048", 8000, 2 * 2048 * perTokenLayer},
		// Keyformer 50% of 1000: 500.
		{"keyformer:budget=0.5", 1000, 2 * 500 * perTokenLayer},
		// KIVI 2-bit, group 32, fp16 scale + zero: 0.375 bytes for each of
		// 2048 elements per token.
		{"kivi:bits=2,group=32,residual=0", 1000, 2 * 1000 * 2048 * 0.375},
		// DuoAttention: the retrieval half of the heads keeps 1000, the
		// streaming half 128 sink + 256 recent.
		{"duo:retrieval=0.5,sink=128,recent=256", 1000, 2 * (0.5*1000 + 0.5*384) * perTokenLayer},
		// Quest reads a budget but the tensor is rebuilt whole.
		{"quest", 1000, 2 * 1000 * perTokenLayer},
	} {
		g := concatStep(t, m, tc.spec, decodeAt(tc.cached, 2))
		c := one(t, g, models.OpKVConcat)
		if !near(c.KVReadBytes, tc.want) || !near(c.KVWriteBytes, tc.want) {
			t.Errorf("%s: kv_concat moves %v / %v, want %v each way", tc.spec, c.KVReadBytes, c.KVWriteBytes, tc.want)
		}
		if c.Repeat != 32 || c.FLOPs != 0 {
			t.Errorf("%s: kv_concat ×%d with %v FLOPs", tc.spec, c.Repeat, c.FLOPs)
		}
	}
}

// LongGen's layer groups at 8000 cached tokens: 11 full layers (0.34 of
// 32, largest remainder) copy 8000 tokens, the other 21 their 64 sink +
// 4032 window tokens; the one op's 32 repeats carry the average.
func TestConcatLayerGroups(t *testing.T) {
	m := load(t, "llama3-8b")
	c := one(t, concatStep(t, m, "longgen:full=0.34,sink=64,recent=4032", decodeAt(8000, 1)), models.OpKVConcat)
	want := (11*8000.0 + 21*4096) / 32 * perTokenLayer
	if !near(c.KVReadBytes, want) {
		t.Errorf("longgen kv_concat %v, want %v", c.KVReadBytes, want)
	}
}

// Rewriting a step with kv_concat allocates nothing either.
func TestConcatRewriteDoesNotAllocate(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{Cached: 3000, New: 1}, {Cached: 0, New: 300}}
	opts := models.Options{ConcatKVCache: true}
	s := parse(t, "duo+kivi")
	var g models.Graph
	m.GraphInto(&g, seqs, bf16, opts)
	s.Rewrite(&g, m, seqs, bf16)
	if allocs := testing.AllocsPerRun(20, func() {
		m.GraphInto(&g, seqs, bf16, opts)
		s.Rewrite(&g, m, seqs, bf16)
	}); allocs != 0 {
		t.Errorf("%v allocations per step", allocs)
	}
}
