package kvcache

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// eagerStep builds a step with materialised (eager) attention and rewrites it.
func eagerStep(t *testing.T, m *models.Model, spec string, seqs []models.Seq) *models.Graph {
	t.Helper()
	g := m.Graph(seqs, bf16, models.Options{MaterialisedAttention: true})
	parse(t, spec).Rewrite(g, m, seqs, bf16)
	return g
}

// Keyformer's tokens= budget is fixed: k tokens from the end of the prompt
// on, whatever the length (Llama-3-8B: 128 KiB per token over 32 layers).
func TestKeyformerFixedBudget(t *testing.T) {
	m := load(t, "llama3-8b")
	s := parse(t, "keyformer:budget=0.5,tokens=2048")
	for _, n := range []int{1000, 2048, 4096, 8192} {
		want := float64(min(n, 2048)) * 32 * perTokenLayer
		if got := s.StoredBytes(m, n, dtype.BF16); !near(got, want) {
			t.Errorf("StoredBytes(%d) = %v, want %v", n, got, want)
		}
	}
	// A decode step at 8000 cached reads the 2048 kept tokens + the new one.
	attn := one(t, step(t, m, "keyformer:tokens=2048", decodeAt(8000, 1)), models.OpAttn)
	if want := 2049.0 * perTokenLayer; !near(attn.KVReadBytes, want) {
		t.Errorf("reads %v, want %v", attn.KVReadBytes, want)
	}
}

// With eager attention the probabilities are in memory: kv_score reads
// them over the rectangle left after eviction, and Keyformer's Gumbel
// softmax moves that tensor 14 more times (7 reads, 7 writes).
func TestEagerScoreByHand(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := decodeAt(1000, 2)
	g := eagerStep(t, m, "keyformer:budget=0.5", seqs)
	// Per sequence 500 kept + 1 new = 501 keys; after the step 501 kept.
	const heads, rect, kept, act = 32.0, 2 * 501.0, 2 * 501.0, 2.0
	score := one(t, g, OpScore)
	if want := heads * rect * keyformerScoreFLOPs; !near(score.FLOPs, want) {
		t.Errorf("kv_score FLOPs %v, want %v", score.FLOPs, want)
	}
	wantRead := heads*rect*act + heads*kept*4 + heads*rect*act*7
	wantWrite := heads*kept*4 + heads*rect*act*7
	if !near(score.ActivationReadBytes, wantRead) || !near(score.ActivationWriteBytes, wantWrite) {
		t.Errorf("kv_score moves %v / %v, want %v / %v", score.ActivationReadBytes, score.ActivationWriteBytes, wantRead, wantWrite)
	}
	if score.KVReadBytes != 0 || score.Kind != models.KindElemwise {
		t.Errorf("kv_score re-reads %v of K as %s, want none as elementwise", score.KVReadBytes, score.Kind)
	}

	// The eager score matrix (written and read twice) shrinks with the
	// keys: 2·32 heads·(2·1001 − 2·501) scores × 2 bytes less each way.
	full := one(t, eagerStep(t, m, "full", seqs), models.OpAttn)
	attn := one(t, g, models.OpAttn)
	less := 2 * heads * (2*1001 - rect) * act
	if got := full.ActivationReadBytes - attn.ActivationReadBytes; !near(got, less) {
		t.Errorf("eager attention reads %v less, want %v", got, less)
	}
	if got := full.ActivationWriteBytes - attn.ActivationWriteBytes; !near(got, less) {
		t.Errorf("eager attention writes %v less, want %v", got, less)
	}
	if want := full.FLOPs * 501 / 1001; !near(attn.FLOPs, want) {
		t.Errorf("eager attention FLOPs %v, want %v", attn.FLOPs, want)
	}

	// H2O in eager mode reads the probabilities once, with no extra passes.
	h := one(t, eagerStep(t, m, "h2o:heavy=0.25,recent=0.25", seqs), OpScore)
	if want := heads*rect*act + heads*kept*4; !near(h.ActivationReadBytes, want) {
		t.Errorf("h2o kv_score reads %v, want %v", h.ActivationReadBytes, want)
	}
}

// An eager prefill keeps its probabilities, so score tracking reads the
// 1000 × 1000 rectangle instead of recomputing QKᵀ and re-reading K; a
// fused prefill recomputes (2·hd + 5 + 2 FLOPs per causal pair).
func TestPrefillScoreEagerVsFused(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{New: 1000}}
	eager := one(t, eagerStep(t, m, "h2o", seqs), OpScore)
	if want := 32.0 * 1000 * 1000 * h2oScoreFLOPs; !near(eager.FLOPs, want) || eager.KVReadBytes != 0 {
		t.Errorf("eager prefill kv_score %v FLOPs, %v K bytes; want %v, 0", eager.FLOPs, eager.KVReadBytes, want)
	}
	fused := one(t, step(t, m, "h2o", seqs), OpScore)
	pairs := 1000.0 * 1001 / 2
	if want := 32 * pairs * (2*128 + softmaxFLOPs + h2oScoreFLOPs); !near(fused.FLOPs, want) {
		t.Errorf("fused prefill kv_score FLOPs %v, want %v", fused.FLOPs, want)
	}
	if want := 1000.0 * 1024 * 2; !near(fused.KVReadBytes, want) {
		t.Errorf("fused prefill re-reads %v of K, want %v", fused.KVReadBytes, want)
	}
}
