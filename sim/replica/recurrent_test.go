package replica

import (
	"testing"
)

// Mamba-2.8B in bf16 on one H100 SXM with the vllm-like engine (8192-token
// chunks): no attention layers, so a block is one sequence's state.
//
//	memory            80 GiB × 0.9                       = 77,309,411,328 B
//	− weights         2,768,345,600 × 2                  =  5,536,691,200 B
//	− activations     residual 8192 × 2560 × 2           =     41,943,040 B
//	                  + ssm_scan of 8192 tokens: reads x, dt, z
//	                  (3 × 8192 × 5120 × 2) and B, C (2 × 8192 × 16 × 2),
//	                  writes y (8192 × 5120 × 2)          =    336,068,608 B
//	= KV                                                  = 71,394,708,480 B
//	state             64 layers × (conv 5120 × 4 + SSM 5120 × 16) × 2 B
//	                                                      =     13,107,200 B
//	sequences         71,394,708,480 / 13,107,200 = 5446.98 → 5446
func TestRecurrentCapacityWorkedExample(t *testing.T) {
	c := config(t, "h100-sxm", "mamba-2.8b", "vllm-like", nil)
	b := c.Budget(NewExecutor(&c))
	if b.WeightsBytes != 5_536_691_200 || b.ActivationBytes != 41_943_040+336_068_608 || b.BytesPerToken != 0 || b.StateBytes != 13_107_200 {
		t.Fatalf("%+v", b)
	}
	if b.KVBytes() != 71_394_708_480 {
		t.Fatalf("KV bytes %.0f", b.KVBytes())
	}
	r, _ := drive(t, &c, nil)
	if r.KV().Total() != 5446 {
		t.Fatalf("%d sequences' states", r.KV().Total())
	}
	for _, n := range []int{1, 16, 1000, 500_000} {
		if got := r.size.blocks(n); got != 1 {
			t.Fatalf("a %d-token sequence holds %d blocks, want its one state", n, got)
		}
	}
}

// The most sequences that run at once is ⌊KV budget / state⌋, capped by
// max_num_seqs; states are taken at admission, never grow (no watermark,
// no preemption) and are all given back.
//
// At gpu_memory_utilization 0.08: 85,899,345,920 × 0.08 = 6,871,947,673.6
// − 5,536,691,200 − 378,011,648 = 957,244,825.6 B = 73.03 states → 73.
// At 0.9 the 5446 states exceed vllm-like's 256 sequences.
func TestRecurrentConcurrency(t *testing.T) {
	for _, tc := range []struct {
		util     float64
		requests int
		want     int
	}{
		{0.08, 200, 73},
		{0.9, 300, 256},
	} {
		c := config(t, "h100-sxm", "mamba-2.8b", "vllm-like", func(c *Config) { c.KV.Utilization = tc.util })
		var reqs []*Request
		for i := 0; i < tc.requests; i++ {
			reqs = append(reqs, req(int64(i), 0, 100, 50))
		}
		r, rec := drive(t, &c, reqs)
		most := 0
		for _, it := range rec.iterations {
			most = max(most, it.Seqs)
		}
		if most != tc.want || r.KV().Peak() != tc.want {
			t.Fatalf("utilization %g: at most %d sequences per iteration, %d states held at the peak; want %d",
				tc.util, most, r.KV().Peak(), tc.want)
		}
		if len(rec.finished) != tc.requests || rec.tokens != 50*tc.requests || r.KV().Used() != 0 || r.Stats().Preemptions != 0 {
			t.Fatalf("%d finished, %d tokens, %d states left, %d preemptions", len(rec.finished), rec.tokens, r.KV().Used(), r.Stats().Preemptions)
		}
	}
}

// RWKV-6 keeps its state in fp32: 32 layers × (token shifts 2 × 4096 +
// WKV 4096 × 64) × 4 B = 34,603,008 B per sequence, whatever the cache
// format.
func TestRecurrentStateFormat(t *testing.T) {
	c := config(t, "h100-sxm", "rwkv6-7b", "vllm-like", nil)
	b := c.Budget(NewExecutor(&c))
	if b.StateBytes != 34_603_008 || b.BlockBytes() != 34_603_008 {
		t.Fatalf("%+v", b)
	}
	r, _ := drive(t, &c, nil)
	if want := int(b.KVBytes() / 34_603_008); r.KV().Total() != want {
		t.Fatalf("%d states, want %d", r.KV().Total(), want)
	}
}

// A hybrid holds ⌈(attention K/V + state) / block⌉ blocks, counted on one
// GPU's shares when tensor parallelism splits them differently. Jamba
// with its K/V heads cut to 2 (to make the shares differ) on TP 4:
//
//	attention   4 layers × 2 × 2 heads × 128 × 2 B = 4,096 B/token, of
//	            which a GPU holds half (2 heads over at most 2 GPUs)
//	block       16 tokens: 65,536 B, 32,768 B per GPU
//	state       28 Mamba layers × (8192 × 4 + 8192 × 16) × 2 B
//	            = 9,175,040 B, of which a GPU holds a quarter: 2,293,760 B
//	1 token     (2,048 + 2,293,760) / 32,768 = 70.06 → 71 blocks
//	            (on the whole model's bytes it would be 141: wrong, since
//	            the state splits four ways and the K/V only two)
//	1000 tokens (2,048,000 + 2,293,760) / 32,768 = 132.5 → 133 blocks
func TestHybridBlocksPerGPU(t *testing.T) {
	c := config(t, "dgx-h100", "jamba-v0.1", "vllm-like", func(c *Config) {
		m := *c.Model
		m.KVHeads = 2
		c.Model = &m
		c.TP = 4
	})
	x := NewExecutor(&c)
	b := c.Budget(x)
	if b.BytesPerToken != 2048 || b.StateBytes != 2_293_760 || b.BlockBytes() != 32_768 {
		t.Fatalf("%+v", b)
	}
	r, _ := drive(t, &c, nil)
	for _, tc := range []struct{ tokens, blocks int }{{1, 71}, {1000, 133}} {
		if got := r.size.blocks(tc.tokens); got != tc.blocks {
			t.Errorf("%d tokens: %d blocks, want %d", tc.tokens, got, tc.blocks)
		}
	}
	// Without parallelism the shares are equal and the count is the
	// whole model's: (4,096 + 9,175,040) / 65,536 = 140.06 → 141.
	one := config(t, "h100-sxm", "jamba-v0.1", "vllm-like", func(c *Config) {
		m := *c.Model
		m.KVHeads = 2
		c.Model = &m
	})
	z := newSizer(&one, one.KV.Scheme, &NewExecutor(&one).par.Parallel)
	if got := z.blocks(1); got != 141 {
		t.Fatalf("TP 1: %d blocks", got)
	}
}
