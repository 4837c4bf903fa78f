package kvcache

import (
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// Recurrent layers keep a constant state that every scheme stores as is;
// schemes act on the attention layers only.
func TestStoredBytesConstantState(t *testing.T) {
	mamba := load(t, "mamba-2.8b")
	// 64 layers × (conv 5120×4 + SSM 5120×16) in bf16 (the cache format)
	// = 13,107,200 bytes at any context, under any scheme.
	for _, spec := range []string{"full", "kivi:bits=2,group=32,residual=0", "h2o:heavy=0.1,recent=0.1"} {
		s := parse(t, spec)
		for _, n := range []int{4096, 131072} {
			if got := s.StoredBytes(mamba, n, dtype.BF16); got != 13107200 {
				t.Errorf("%s: mamba-2.8b at %d tokens stores %.0f, want 13,107,200", spec, n, got)
			}
		}
	}
	// Jamba at 256K: 4 attention layers × 2 × 1024 × 262144 × 2 bytes =
	// 4 GiB, plus the 9,175,040-byte Mamba state; 2-bit KIVI (0.375 bytes
	// per element with group-32 scales) shrinks only the 4 GiB.
	jamba := load(t, "jamba-v0.1")
	const ctx, kv = 262144, 4 << 30
	if got := parse(t, "full").StoredBytes(jamba, ctx, dtype.BF16); got != kv+9175040 {
		t.Errorf("full Jamba = %.0f, want %d", got, kv+9175040)
	}
	if got := parse(t, "kivi:bits=2,group=32,residual=0").StoredBytes(jamba, ctx, dtype.BF16); !near(got, kv*0.375/2+9175040) {
		t.Errorf("KIVI Jamba = %.0f, want %.0f", got, kv*0.375/2+9175040.0)
	}
}

// A scheme's rewrite of a hybrid splits only the 4 attention layers.
func TestRewriteHybridAttentionLayers(t *testing.T) {
	jamba := load(t, "jamba-v0.1")
	seqs := []models.Seq{{Cached: 8000, New: 1}}
	g := jamba.Graph(seqs, models.Precision{}, models.Options{})
	parse(t, "duo:retrieval=0.5,sink=128,recent=256").Rewrite(g, jamba, seqs, models.Precision{})
	layers := 0
	for _, o := range g.Ops {
		if o.Kind == models.KindAttention {
			layers += o.Repeat
		}
	}
	// Duo splits heads, not layers: two attention ops over 4 layers each.
	if layers != 8 {
		t.Errorf("attention op repeats sum to %d, want 8 (2 head groups × 4 layers)", layers)
	}
}
