package kv

import (
	"math"
	"testing"
)

func TestBlocksCountAndUtilisation(t *testing.T) {
	b := NewBlocks(10, 16)
	if b.For(0) != 0 || b.For(1) != 1 || b.For(16) != 1 || b.For(17) != 2 {
		t.Fatal("For rounds tokens up to whole blocks")
	}
	if !b.Alloc(0, 4) || b.Alloc(0, 7) || b.Free() != 6 {
		t.Fatal("alloc beyond capacity must fail without side effects")
	}
	if !b.Alloc(100, 6) || b.Free() != 0 || b.Peak() != 10 {
		t.Fatal("fill")
	}
	b.Release(200, 10)
	// 4 blocks for 100 ns, 10 for 100 ns, 0 for 200 ns: 1400 / (400 × 10).
	if got := b.MeanUsedFraction(400); math.Abs(got-0.35) > 1e-12 {
		t.Fatalf("mean used %g, want 0.35", got)
	}
}

func TestBudgetArithmetic(t *testing.T) {
	// 80 GB × 0.9 = 72 GB; − 16 GB weights − 1 GB activations − 1 GB
	// reserve = 54 GB; 16-token blocks of 131072 B/token are 2 MiB each:
	// 54e9 / 2097152 = 25749.2 → 25749 blocks.
	b := Budget{CapacityBytes: 80e9, Utilization: 0.9, WeightsBytes: 16e9, ActivationBytes: 1e9,
		ReservedBytes: 1e9, BytesPerToken: 131072, BlockTokens: 16}
	n, err := b.Blocks()
	if err != nil || n != 25749 {
		t.Fatalf("blocks %d err %v", n, err)
	}
	b.WeightsBytes = 80e9
	if _, err := b.Blocks(); err == nil {
		t.Fatal("weights bigger than memory must be an error")
	}
}
