package kv

import (
	"math"
	"strings"
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

// Without attention layers a block is one sequence's recurrent state:
// 54 GB / 13,107,200 B (Mamba-2.8B's state in bf16) = 4119.87 → 4119.
func TestBudgetStateBlocks(t *testing.T) {
	b := Budget{CapacityBytes: 80e9, Utilization: 0.9, WeightsBytes: 16e9, ActivationBytes: 1e9,
		ReservedBytes: 1e9, StateBytes: 13_107_200, BlockTokens: 16}
	if b.BlockBytes() != 13_107_200 {
		t.Fatalf("block %g B", b.BlockBytes())
	}
	n, err := b.Blocks()
	if err != nil || n != 4119 {
		t.Fatalf("blocks %d err %v", n, err)
	}
	// With attention layers the state does not change the block.
	b.BytesPerToken = 131072
	if b.BlockBytes() != 16*131072 {
		t.Fatalf("hybrid block %g B", b.BlockBytes())
	}
	b.BytesPerToken, b.WeightsBytes = 0, 72e9-2e9
	if _, err := b.Blocks(); err == nil || !strings.Contains(err.Error(), "recurrent state") {
		t.Fatalf("no room for one state: %v", err)
	}
}

// The timeline by hand: 10 blocks, 4 used from 0 to 1.5 ms, 10 from 1.5 ms
// to 2 ms, none after, read at 2.5 ms with 1 ms intervals: interval 0 has
// a mean of 4 and a peak of 4 blocks, interval 1 (4 × 0.5 + 10 × 0.5) / 1
// = 7 and 10, interval 2 (half elapsed) 0.
func TestTimelineIntervals(t *testing.T) {
	b := NewBlocks(10, 16)
	b.Alloc(0, 4)
	b.Alloc(1_500_000, 6)
	b.Release(2_000_000, 10)
	tl := b.Timeline(2_500_000)
	want := Timeline{IntervalSeconds: 0.001, MeanUsed: []float64{0.4, 0.7, 0}, PeakUsed: []float64{0.4, 1, 0}}
	if tl.IntervalSeconds != want.IntervalSeconds || len(tl.MeanUsed) != 3 {
		t.Fatalf("%+v", tl)
	}
	for i := range want.MeanUsed {
		if math.Abs(tl.MeanUsed[i]-want.MeanUsed[i]) > 1e-12 || tl.PeakUsed[i] != want.PeakUsed[i] {
			t.Fatalf("%+v, want %+v", tl, want)
		}
	}
	// 100 ms later 103 intervals of 1 ms would be needed: the 64 fold into
	// 2 ms ones (52 of them); the first holds the whole busy part, mean
	// (4 × 1.5 + 10 × 0.5) / 2 = 5.5 blocks.
	tl = b.Timeline(102_500_000)
	if tl.IntervalSeconds != 0.002 || len(tl.MeanUsed) != 52 || math.Abs(tl.MeanUsed[0]-0.55) > 1e-12 || tl.PeakUsed[0] != 1 {
		t.Fatalf("%+v", tl)
	}
}
