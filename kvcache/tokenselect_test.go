package kvcache

import (
	"testing"

	"github.com/llmsim/llmsim/models"
)

// A TokenSelect prefill chunk after a cached past, by hand (Llama-3-8B,
// bf16: 32 query heads, 8 KV heads of 128; K and V of one token in one
// layer take perTokenLayer = 4096 bytes, K alone 2048): 512 new tokens after
// 100,000 cached ones attend to the 2,688 selected tokens plus themselves,
// and the selection reads every cached key once and scores it once per
// query head with the chunk's mean query.
func TestTokenSelectPrefillChunk(t *testing.T) {
	m := load(t, "llama3-8b")
	chunk := []models.Seq{{Cached: 100000, New: 512}}
	g := step(t, m, "tokenselect:tokens=2688", chunk)
	attn := one(t, g, models.OpAttn)
	if want := (2688.0 + 512) * perTokenLayer; !near(attn.KVReadBytes, want) {
		t.Errorf("chunk attention reads %v, want %v (selected + the chunk)", attn.KVReadBytes, want)
	}
	full := one(t, step(t, m, "full", chunk), models.OpAttn)
	pairs := 512.0*2688 + 512.0*513/2
	fullPairs := 512.0*100000 + 512.0*513/2
	if want := full.FLOPs * pairs / fullPairs; !near(attn.FLOPs, want) {
		t.Errorf("chunk attention %v FLOPs, want %v (pairs %v of %v)", attn.FLOPs, want, pairs, fullPairs)
	}
	sel := one(t, g, OpSelect)
	if want := 100000.0 * 2048; !near(sel.KVReadBytes, want) {
		t.Errorf("selection reads %v of keys, want every cached key once: %v", sel.KVReadBytes, want)
	}
	if want := 32.0 * 100000 * (2*128 + 2); !near(sel.FLOPs, want) {
		t.Errorf("selection %v FLOPs, want 32 heads × 100,000 keys × (2·128 + 2) = %v", sel.FLOPs, want)
	}
	if want := 32.0 * 100000 * 8; !near(sel.ActivationWriteBytes, want) {
		t.Errorf("selection writes %v of fp32 scores, want %v", sel.ActivationWriteBytes, want)
	}
	// The first chunk (nothing cached) attends densely and selects nothing.
	g = step(t, m, "tokenselect:tokens=2688", []models.Seq{{New: 512}})
	if o := ops(g, OpSelect); len(o) != 0 {
		t.Errorf("a first chunk selected: %d kv_select ops", len(o))
	}
}
