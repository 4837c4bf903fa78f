package kvcache

import (
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

func TestForSimulator(t *testing.T) {
	m, err := models.Load("llama3-8b")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec          string
		alloc         string
		block, max    int
		prefix        int
		unshareable   string
		sizingIsFull  bool
		storedAt1000B float64 // StoredBytes of the sizing scheme at 1000 tokens
	}{
		// 1000 tokens × 131,072 B (Llama-3-8B, bf16).
		{spec: "full", sizingIsFull: true, storedAt1000B: 131072000},
		// 32 blocks of 32 tokens: 1024 tokens' worth.
		{spec: "paged:block=32", alloc: AllocPaged, block: 32, storedAt1000B: 1024 * 131072},
		// The reservation is the simulator's: sizing is the plain cache.
		{spec: "contiguous:max=4096", alloc: AllocContiguous, max: 4096, unshareable: "allocation", sizingIsFull: true, storedAt1000B: 131072000},
		// The shared-prefix discount (share=4) is left to the simulator.
		{spec: "hydragen:prefix=512,share=4", prefix: 512, sizingIsFull: true, storedAt1000B: 131072000},
		// 200 of 1000 tokens kept; ThinK drops 40% of the key channels
		// (20% of K+V); vAttention: each layer's K and V (2,048,000 B)
		// in one 2 MiB page.
		{spec: "h2o", unshareable: "evicts", storedAt1000B: 200 * 131072},
		{spec: "think", unshareable: "prunes channels", storedAt1000B: 0.8 * 131072000},
		{spec: "vattention", alloc: AllocVAttention, unshareable: "allocation", storedAt1000B: 2 * 32 * (2 << 20)},
	} {
		s, err := Parse(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		k := ForSimulator(s)
		_, full := k.Sizing.(Full)
		if k.Alloc != tc.alloc || k.BlockTokens != tc.block || k.ReserveTokens != tc.max || k.SharedPrefix != tc.prefix ||
			full != tc.sizingIsFull || (tc.unshareable == "") != (k.Unshareable == "") || !strings.Contains(k.Unshareable, tc.unshareable) {
			t.Errorf("%s: %+v", tc.spec, k)
		}
		if got := k.Sizing.StoredBytes(m, 1000, dtype.BF16); got != tc.storedAt1000B {
			t.Errorf("%s: sizing stores %g B at 1000 tokens, want %g", tc.spec, got, tc.storedAt1000B)
		}
	}
}
