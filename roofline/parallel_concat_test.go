package roofline

import (
	"testing"

	"github.com/llmsim/llmsim/models"
)

// Tensor parallelism splits a concatenating cache's copy by K/V heads, as
// the attention's KV traffic: Llama-3-8B's 8 K/V heads over 2 GPUs halve
// it (1000 tokens × 4096 bytes per layer each way → 2,048,000); over 16
// GPUs each holds one of the 8 heads (K/V heads are replicated beyond
// kv_heads, as vLLM does), so 1/8.
func TestShardSplitsConcatByKVHeads(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{Cached: 1000, New: 1}}
	for _, tc := range []struct {
		tp   int
		want float64
	}{{2, 1000 * 4096.0 / 2}, {16, 1000 * 4096.0 / 8}} {
		g := m.Graph(seqs, bf16, models.Options{ConcatKVCache: true})
		ShardGraph(g, m, bf16, tc.tp)
		c := opByName(t, g, models.OpKVConcat)
		if c.KVReadBytes != tc.want || c.KVWriteBytes != tc.want {
			t.Errorf("tp %d: kv_concat moves %v / %v per GPU, want %v", tc.tp, c.KVReadBytes, c.KVWriteBytes, tc.want)
		}
	}
}
