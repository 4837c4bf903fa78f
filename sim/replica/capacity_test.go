package replica

import (
	"math"
	"testing"
)

// Worked example: Llama-3-8B in bf16 on one H100 SXM with vLLM's defaults
// (gpu_memory_utilization 0.9, 16-token blocks, an 8192-token chunk).
//
//	memory            80 GiB              = 85,899,345,920 B
//	× 0.9                                   77,309,411,328 B
//	− weights         8,030,261,248 × 2   = 16,060,522,496 B
//	− activations     residual 8192 × 4096 × 2 = 67,108,864 B
//	                  + the SwiGLU act op of 8192 tokens: reads gate and up
//	                  (2 × 8192 × 14336 × 2) and writes 8192 × 14336 × 2
//	                  = 704,643,072 B                 → 771,751,936 B
//	− reserve         0 (h100-sxm lists none)
//	= KV              60,477,136,896 B
//	block             16 tokens × 2 (K,V) × 32 layers × 8 heads × 128 × 2 B
//	                  = 16 × 131,072 = 2,097,152 B
//	blocks            60,477,136,896 / 2,097,152 = 28,837.9 → 28,837
//
// vLLM 0.8.4 itself reports 29,205 blocks for Llama-3.1-8B on an H100
// (BLIS defaults.yaml, inference-sim): within 1.3%.
func TestKVCapacityWorkedExample(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
	b := c.Budget(NewExecutor(&c))
	if b.WeightsBytes != 16_060_522_496 || b.ActivationBytes != 771_751_936 || b.BytesPerToken != 131_072 {
		t.Fatalf("%+v", b)
	}
	if b.KVBytes() != 60_477_136_896 {
		t.Fatalf("KV bytes %.0f", b.KVBytes())
	}
	n, err := b.Blocks()
	if err != nil || n != 28_837 {
		t.Fatalf("blocks %d, %v", n, err)
	}
	if rel := math.Abs(float64(n)-29_205) / 29_205; rel > 0.015 {
		t.Fatalf("%.1f%% from vLLM's block count", 100*rel)
	}
}

func TestKVCapacityUnderParallelism(t *testing.T) {
	one := config(t, "dgx-h100", "llama3-70b", "vllm-like", func(c *Config) { c.TP = 4 })
	b := one.Budget(NewExecutor(&one))
	// 70B: 8 KV heads over 4 GPUs: 2 each, so a token costs a quarter of
	// 2 × 80 layers × 8 × 128 × 2 B = 327,680 B per GPU.
	if b.BytesPerToken != 327_680/4 || math.Abs(b.WeightsBytes-one.Model.WeightBytes("bf16")/4) > 1 {
		t.Fatalf("%+v", b)
	}
	pp := config(t, "dgx-h100", "llama3-70b", "vllm-like", func(c *Config) { c.TP, c.PP = 2, 2 })
	b2 := pp.Budget(NewExecutor(&pp))
	// PP 2 halves the layers per GPU, TP 2 the heads: same per-GPU KV.
	if b2.BytesPerToken != b.BytesPerToken {
		t.Fatalf("TP2×PP2 %g B/token per GPU, TP4 %g", b2.BytesPerToken, b.BytesPerToken)
	}
}

func TestFitsReasons(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
	r, _ := drive(t, &c, nil)
	if got := r.Fits(req(0, 0, 8000, 193)); got != RejectContext {
		t.Fatalf("8193 tokens in an 8192 context: %q", got)
	}
	if got := r.Fits(req(0, 0, 8000, 192)); got != "" {
		t.Fatalf("fits: %q", got)
	}
	tokens := r.KV().Total() * r.KV().BlockTokens()
	if got := r.Fits(req(0, 0, tokens-1, 2)); got != RejectKV && tokens < c.MaxModelLen {
		t.Fatalf("one token over the cache: %q", got)
	}
	contiguous := config(t, "h100-sxm", "llama3-8b", "device", func(c *Config) {
		c.Scheduler.KVAlloc = KVContiguous
		c.KV.Utilization = 0.2 // under 8192 tokens of cache: no max-length reservation fits
	})
	rc, _ := drive(t, &contiguous, nil)
	if got := rc.Fits(req(0, 0, 10, 10)); got != RejectKV {
		t.Fatalf("contiguous reservation larger than the cache: %q (%d blocks)", got, rc.KV().Total())
	}
}

// Under TP and PP the budget uses roofline.Parallel's per-GPU shares, the
// ones `llmsim estimate --tp/--pp` reports, so the two agree:
//   - TinyLlama (4 K/V heads) on TP 8: K/V projections split only 4 ways,
//     so each GPU holds 22 layers × 2 × 2048 × 256 = 23,068,672 parameters
//     × 2 B × (1/4 − 1/8) = 5,767,168 B more than an eighth of the weights;
//     a token's K/V is 2 × 22 × 256 × 2 B = 22,528 B over 4 GPUs: 5,632 B.
//   - Llama-3-70B on TP 2 × PP 3: 80 layers in stages of 26, 27, 27; the
//     biggest holds 27/80 of the weights, halved by TP, and 27/80 of a
//     token's K/V (327,680 B), halved: 55,296 B.
func TestKVBudgetAgreesWithEstimate(t *testing.T) {
	tiny := config(t, "dgx-h100", "tinyllama-1.1b", "vllm-like", func(c *Config) { c.TP = 8 })
	b := tiny.Budget(NewExecutor(&tiny))
	if want := tiny.Model.WeightBytes("bf16")/8 + 5_767_168; math.Abs(b.WeightsBytes-want) > 1e-3 || b.BytesPerToken != 5632 {
		t.Fatalf("TinyLlama TP 8: weights %.0f (want %.0f), %g B/token", b.WeightsBytes, want, b.BytesPerToken)
	}
	big := config(t, "dgx-h100", "llama3-70b", "vllm-like", func(c *Config) { c.TP, c.PP = 2, 3 })
	b = big.Budget(NewExecutor(&big))
	if want := big.Model.WeightBytes("bf16") * 27 / 80 / 2; math.Abs(b.WeightsBytes-want) > 1 || math.Abs(b.BytesPerToken-55_296) > 1e-9 {
		t.Fatalf("70B TP 2 × PP 3: weights %.0f (want %.0f), %g B/token", b.WeightsBytes, want, b.BytesPerToken)
	}
}
