package kvcache

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

var bf16 = models.Precision{Weights: dtype.BF16}

// step builds and rewrites one step.
func step(t *testing.T, m *models.Model, spec string, seqs []models.Seq) *models.Graph {
	t.Helper()
	g := m.Graph(seqs, bf16, models.Options{})
	parse(t, spec).Rewrite(g, m, seqs, bf16)
	return g
}

// ops returns the ops of g with that name.
func ops(g *models.Graph, name string) []models.Op {
	var out []models.Op
	for _, o := range g.Ops {
		if o.Name == name {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, g *models.Graph, name string) models.Op {
	t.Helper()
	o := ops(g, name)
	if len(o) != 1 {
		t.Fatalf("%d ops named %s, want 1", len(o), name)
	}
	return o[0]
}

// Per layer, one Llama-3-8B token's K and V take 2·1024·2 = 4096 bytes.
const perTokenLayer = 4096

func decodeAt(c, batch int) []models.Seq {
	seqs := make([]models.Seq, batch)
	for i := range seqs {
		seqs[i] = models.Seq{Cached: c, New: 1}
	}
	return seqs
}

func TestDecodeReadsByHand(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := decodeAt(1000, 2)
	full := one(t, step(t, m, "full", seqs), models.OpAttn)
	if want := 2.0 * 1001 * perTokenLayer; !near(full.KVReadBytes, want) {
		t.Fatalf("full reads %v, want %v", full.KVReadBytes, want)
	}

	// H2O 20%: 200 kept + the new token.
	g := step(t, m, "h2o", seqs)
	attn := one(t, g, models.OpAttn)
	if want := 2.0 * 201 * perTokenLayer; !near(attn.KVReadBytes, want) {
		t.Errorf("h2o reads %v, want %v", attn.KVReadBytes, want)
	}
	if want := full.FLOPs * 201 / 1001; !near(attn.FLOPs, want) {
		t.Errorf("h2o FLOPs %v, want %v", attn.FLOPs, want)
	}
	score := one(t, g, OpScore)
	// 32 heads × 2 × 201 probabilities × 2 FLOPs.
	if want := 32.0 * 2 * 201 * h2oScoreFLOPs; !near(score.FLOPs, want) || score.Repeat != 32 {
		t.Errorf("kv_score FLOPs %v ×%d, want %v ×32", score.FLOPs, score.Repeat, want)
	}

	// Window: min(1001, 1024) now, 1024 once the context is longer.
	attn = one(t, step(t, m, "window", decodeAt(5000, 1)), models.OpAttn)
	if want := 1024.0 * perTokenLayer; !near(attn.KVReadBytes, want) {
		t.Errorf("window reads %v, want %v", attn.KVReadBytes, want)
	}

	// DuoAttention 50%: the retrieval half reads everything, the
	// streaming half 384 tokens.
	g = step(t, m, "duo:retrieval=0.5,sink=128,recent=256", decodeAt(5000, 1))
	ret, str := one(t, g, models.OpAttn), one(t, g, "attn_stream")
	if want := 0.5 * 5001 * perTokenLayer; !near(ret.KVReadBytes, want) {
		t.Errorf("retrieval heads read %v, want %v", ret.KVReadBytes, want)
	}
	if want := 0.5 * 384 * perTokenLayer; !near(str.KVReadBytes, want) {
		t.Errorf("streaming heads read %v, want %v", str.KVReadBytes, want)
	}
	if ret.Repeat != 32 || str.Repeat != 32 {
		t.Errorf("repeats %d, %d, want 32 each", ret.Repeat, str.Repeat)
	}

	// KIVI 2-bit g32 without residual: 0.375 of 2 bytes per element.
	attn = one(t, step(t, m, "kivi:bits=2,group=32,residual=0", seqs), models.OpAttn)
	if want := 2.0 * 1001 * 2048 * 0.375; !near(attn.KVReadBytes, want) {
		t.Errorf("kivi reads %v, want %v", attn.KVReadBytes, want)
	}
}

func TestSparseReadsByHand(t *testing.T) {
	m := load(t, "llama3-8b")
	g := step(t, m, "quest:tokens=4096,page=16,dense=2", decodeAt(32000, 1))
	dense, sparse := one(t, g, "attn_dense"), one(t, g, models.OpAttn)
	if dense.Repeat != 2 || sparse.Repeat != 30 {
		t.Fatalf("repeats dense %d sparse %d, want 2 and 30", dense.Repeat, sparse.Repeat)
	}
	if want := 32001.0 * perTokenLayer; !near(dense.KVReadBytes, want) {
		t.Errorf("dense layers read %v, want %v", dense.KVReadBytes, want)
	}
	if want := 4097.0 * perTokenLayer; !near(sparse.KVReadBytes, want) {
		t.Errorf("sparse layers read %v, want %v", sparse.KVReadBytes, want)
	}
	sel := one(t, g, OpSelect)
	// Page summaries: 2000 pages × min and max keys (2·1024 bf16).
	if want := 2000.0 * 2 * 1024 * 2; !near(sel.KVReadBytes, want) || sel.Repeat != 30 {
		t.Errorf("kv_select reads %v ×%d, want %v ×30", sel.KVReadBytes, sel.Repeat, want)
	}
	// Prefill is dense.
	g = step(t, m, "quest", []models.Seq{{New: 8000}})
	if o := ops(g, OpSelect); len(o) != 0 {
		t.Errorf("prefill should not select, got %d kv_select ops", len(o))
	}
}

func TestHydragenReadsPrefixOnce(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := decodeAt(2048+10, 4)
	g := step(t, m, "hydragen:prefix=2048", seqs)
	suffix, prefix := one(t, g, models.OpAttn), one(t, g, "attn_prefix")
	if want := 4.0 * 11 * perTokenLayer; !near(suffix.KVReadBytes, want) {
		t.Errorf("suffix attention reads %v, want %v", suffix.KVReadBytes, want)
	}
	if want := 2048.0 * perTokenLayer; !near(prefix.KVReadBytes, want) {
		t.Errorf("prefix attention reads %v, want %v (once)", prefix.KVReadBytes, want)
	}
	full := one(t, step(t, m, "full", seqs), models.OpAttn)
	if got := suffix.FLOPs + prefix.FLOPs; !near(got, full.FLOPs) {
		t.Errorf("attention FLOPs %v, want the full %v (exact attention)", got, full.FLOPs)
	}
	one(t, g, OpCombine)
}

func TestPrefillChanges(t *testing.T) {
	m := load(t, "llama3-8b")
	prompt := []models.Seq{{New: 32768}}
	full := one(t, step(t, m, "full", prompt), models.OpAttn)
	// Streaming heads prefill through their window.
	g := step(t, m, "duo:retrieval=0.5,sink=128,recent=256", prompt)
	ret, str := one(t, g, models.OpAttn), one(t, g, "attn_stream")
	if !near(ret.FLOPs, full.FLOPs/2) {
		t.Errorf("retrieval heads prefill %v FLOPs, want half of %v", ret.FLOPs, full.FLOPs)
	}
	want := full.FLOPs / 2 * models.AttentionPairs(0, 32768, 384) / models.AttentionPairs(0, 32768, 0)
	if !near(str.FLOPs, want) {
		t.Errorf("streaming heads prefill %v FLOPs, want %v", str.FLOPs, want)
	}
	// Eviction attends the whole prompt before cutting it.
	if got := one(t, step(t, m, "snapkv", prompt), models.OpAttn); !near(got.FLOPs, full.FLOPs) {
		t.Errorf("snapkv prefill %v FLOPs, want the full %v", got.FLOPs, full.FLOPs)
	}
	// A chunk after eviction sees the budget, not the whole context.
	chunk := []models.Seq{{Cached: 20000, New: 1000}}
	got := one(t, step(t, m, "locret:tokens=6000", chunk), models.OpAttn)
	if want := 7000.0 * perTokenLayer; !near(got.KVReadBytes, want) {
		t.Errorf("locret chunk reads %v, want %v", got.KVReadBytes, want)
	}
	// LongGen: 11 full layers, 21 through the window.
	g = step(t, m, "longgen", prompt)
	if one(t, g, models.OpAttn).Repeat != 11 || one(t, g, "attn_local").Repeat != 21 {
		t.Errorf("longgen layer split wrong")
	}
}

func TestMixedBatchSplitsBothPhases(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{Cached: 9000, New: 1}, {New: 512}}
	g := step(t, m, "duo", seqs)
	for _, n := range []string{"attn_prefill", "attn_prefill_stream", "attn_decode", "attn_decode_stream"} {
		one(t, g, n)
	}
}

// Schemes that keep and read everything must leave the step as it was.
func TestIdentitiesMatchFull(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{Cached: 3000, New: 1}, {Cached: 500, New: 1}}
	base := m.Graph(seqs, bf16, models.Options{})
	wantF, wantB := base.Totals()
	for _, spec := range []string{"full", "duo:retrieval=1", "h2o:heavy=0.5,recent=0.5", "window:sink=0,recent=100000", "longgen:full=1", "paged", "contiguous"} {
		g := step(t, m, spec, seqs)
		f, b := g.Totals()
		if spec != "h2o:heavy=0.5,recent=0.5" && (!near(f, wantF) || !near(b, wantB)) {
			t.Errorf("%s: totals %v FLOPs %v B, want %v and %v", spec, f, b, wantF, wantB)
		}
		if got := one(t, g, models.OpAttn); !near(got.KVReadBytes, one(t, base, models.OpAttn).KVReadBytes) {
			t.Errorf("%s: attention reads %v", spec, got.KVReadBytes)
		}
	}
}

func TestRewriteDoesNotAllocate(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{Cached: 3000, New: 1}, {Cached: 2048 + 7, New: 1}, {Cached: 0, New: 300}}
	for _, spec := range []string{"duo+kivi", "quest", "longgen", "d2o", "lserve+quant:bits=4,group=128,fused=false", "hydragen:prefix=2048", "gear", "snapkv+think"} {
		s := parse(t, spec)
		var g models.Graph
		m.GraphInto(&g, seqs, bf16, models.Options{})
		s.Rewrite(&g, m, seqs, bf16)
		allocs := testing.AllocsPerRun(20, func() {
			m.GraphInto(&g, seqs, bf16, models.Options{})
			s.Rewrite(&g, m, seqs, bf16)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per step", spec, allocs)
		}
	}
}
