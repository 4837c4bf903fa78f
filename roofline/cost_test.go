package roofline

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// toyDevice has round numbers so every expectation can be checked by hand:
// 1000 TFLOP/s bf16, 50 TFLOP/s fp32, 2 TB/s, no overheads, ideal curves.
func toyDevice() *hw.Device {
	return &hw.Device{
		Name:    "toy",
		Kind:    hw.GPU,
		Compute: hw.Compute{FLOPSPerSecond: map[string]float64{"bf16": 1e15, "fp32": 50e12}},
		Memory:  []hw.MemoryTier{{Name: "hbm", CapacityBytes: 80e9, BytesPerSecond: 2e12}},
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

func TestCostWorkedExamples(t *testing.T) {
	dev := toyDevice()
	// Decode GEMV: 1 token through a 4096×4096 bf16 projection.
	// FLOPs 2·1·4096·4096 = 33,554,432; weights 2·4096·4096 = 33,554,432 B.
	// Compute 33.55e6/1e15 = 33.6 ns; memory 33.55e6/2e12 = 16.78 µs → memory-bound.
	gemv := models.Op{Name: "o_proj", Kind: models.KindGEMM, Repeat: 1, M: 1, N: 4096, K: 4096,
		FLOPs: 33554432, WeightBytes: 33554432, Compute: dtype.BF16}
	c := Cost(&gemv, dev)
	if !near(c.Seconds, 33554432/2e12) || c.Bound != MemoryBound {
		t.Errorf("gemv: got %v s %s, want %v s memory", c.Seconds, c.Bound, 33554432/2e12)
	}
	if !near(c.Intensity(), 1) {
		t.Errorf("gemv intensity = %v, want 1", c.Intensity())
	}
	// Prefill GEMM, 4096 tokens: FLOPs 2·4096³ = 1.374e11 → 137.4 µs of
	// compute; bytes 3·2·4096² = 100.7 MB → 50.3 µs. Compute-bound, 32
	// layers multiply everything by 32.
	n := 4096.0
	gemm := models.Op{Name: "qkv", Kind: models.KindGEMM, Repeat: 32, M: 4096, N: 4096, K: 4096,
		FLOPs: 2 * n * n * n, WeightBytes: 2 * n * n, ActivationReadBytes: 2 * n * n, ActivationWriteBytes: 2 * n * n,
		Compute: dtype.BF16}
	c = Cost(&gemm, dev)
	if want := 32 * 2 * n * n * n / 1e15; !near(c.Seconds, want) || c.Bound != ComputeBound {
		t.Errorf("gemm: got %v s %s, want %v s compute", c.Seconds, c.Bound, want)
	}
	if want := 2 * n * n * n / (6 * n * n); !near(c.Intensity(), want) {
		t.Errorf("gemm intensity = %v, want %v", c.Intensity(), want)
	}
	// Vector ops use the fp32 (CUDA-core) peak: 1e9 FLOPs at 50 TFLOP/s = 20 µs.
	vec := models.Op{Name: "act", Kind: models.KindElemwise, Repeat: 1, FLOPs: 1e9, ActivationReadBytes: 1e6, Compute: dtype.BF16}
	if c = Cost(&vec, dev); !near(c.Seconds, 1e9/50e12) {
		t.Errorf("vector: got %v s, want %v", c.Seconds, 1e9/50e12)
	}
}

// The attention work-item floor by hand: 4,096 decoding sequences × 8 KV
// heads = 32,768 items of 1 µs on 100 units is 327.68 µs; over 16-token
// caches their K and V are 4,096 × 16 × 2 × 1,024 × 2 B = 268 MB, 134.2 µs at
// 2 TB/s. The two join as √(327.68² + 134.2²) = 354.1 µs, bound by the
// items. Without units or an item time there is no floor.
func TestCostAttentionItemFloor(t *testing.T) {
	dev := toyDevice()
	dev.Compute.Units = 100
	dev.Overhead.AttentionItemSeconds = 1e-6
	kv := 4096.0 * 16 * 2 * 1024 * 2
	op := models.Op{Name: "attn", Kind: models.KindAttention, Repeat: 1, KVReadBytes: kv, Items: 4096 * 8, Compute: dtype.BF16}
	floor, roof := 32768*1e-6/100, kv/2e12
	if got := ItemSeconds(&op, dev); !near(got, floor) {
		t.Errorf("floor %v, want %v", got, floor)
	}
	c := Cost(&op, dev)
	if want := math.Sqrt(floor*floor + roof*roof); !near(c.Seconds, want) || c.Bound != OverheadBound {
		t.Errorf("got %v s %s, want %v s overhead", c.Seconds, c.Bound, want)
	}
	if !near(c.MemorySeconds, roof) {
		t.Errorf("memory seconds %v, want the roof %v alone", c.MemorySeconds, roof)
	}
	// Long caches: the same items under 256× the bytes barely move the price.
	op.KVReadBytes = 256 * kv
	if c = Cost(&op, dev); c.Bound != MemoryBound || c.Seconds/(256*roof)-1 > 0.001 {
		t.Errorf("long caches: %v s %s, want ~%v s memory", c.Seconds, c.Bound, 256*roof)
	}
	// Prefill: 256 prompts × 8 heads × 1 tile at 3 µs each on 100 units is
	// 61.44 µs; the two floors of one op add.
	dev.Overhead.AttentionTileSeconds = 3e-6
	pre := models.Op{Name: "attn", Kind: models.KindAttention, Repeat: 1, QueryTiles: 256 * 8, Items: 100}
	if got, want := ItemSeconds(&pre, dev), (256*8*3e-6+100*1e-6)/100; !near(got, want) {
		t.Errorf("tile floor %v, want %v", got, want)
	}
	dev.Compute.Units = 0
	if ItemSeconds(&op, dev) != 0 {
		t.Error("a floor without compute units")
	}
}

func TestCostAppliesEfficiencyAndOverhead(t *testing.T) {
	dev := toyDevice()
	dev.Efficiency.Memory = hw.Curve{Points: [][2]float64{{1e3, 0.1}, {1e9, 0.8}}}
	dev.Overhead.KernelSeconds = 5e-6
	// 1e6 bytes sits halfway between 1e3 and 1e9 in log space → 0.45 of 2 TB/s.
	op := models.Op{Name: "x", Kind: models.KindNorm, Repeat: 2, ActivationReadBytes: 1e6, Compute: dtype.BF16}
	c := Cost(&op, dev)
	if want := 2 * (1e6/(2e12*0.45) + 5e-6); !near(c.Seconds, want) {
		t.Errorf("got %v s, want %v", c.Seconds, want)
	}
	if c.Bound != OverheadBound {
		t.Errorf("bound = %s, want overhead (1.1 µs of memory < 5 µs launch)", c.Bound)
	}
}

func TestRidge(t *testing.T) {
	// 1e15 FLOP/s / 2e12 B/s = 500 FLOP/byte.
	if r := Ridge(toyDevice(), dtype.BF16); !near(r, 500) {
		t.Errorf("ridge = %v, want 500", r)
	}
	// fp8 is not listed: falls back to the bf16 peak.
	if p := Peak(toyDevice(), hw.ClassGEMM, dtype.FP8); p != 1e15 {
		t.Errorf("fp8 fallback peak = %v, want 1e15", p)
	}
}

func TestEnergyUtilisation(t *testing.T) {
	dev := toyDevice()
	dev.Power = hw.Power{IdleWatts: 100, ActiveWatts: 700}
	dev.Price = hw.Price{USDPerHour: 3.6}
	// 1 s moving 1e12 bytes on a 2e12 B/s device: half busy → 100 + 600·0.5 = 400 W.
	e := EnergyOf(dev, 1, 0, 1e12, 1e15)
	if !near(e.Joules, 400) || !near(e.USD, 0.001) {
		t.Errorf("energy = %+v, want 400 J and $0.001", e)
	}
}

// TestCostComputeByIntensity: the intensity factor multiplies the compute
// fraction, only for the kinds it names. A bf16 GEMM of M = 8 tokens over a
// 4096×4096 weight: 2·8·4096² = 268.4 MFLOP over 2·4096² + 2·2·8·4096 =
// 33.69 MB, intensity 7.969 FLOP/B; the curve [[1, 0.2], [100, 1]] gives
// 0.2 + 0.8·log(7.969)/log(100) = 0.5606 there. On a device whose memory is
// fast enough not to bind, compute = 268.4e6 / (1e15 · 0.5606).
func TestCostComputeByIntensity(t *testing.T) {
	dev := toyDevice()
	dev.Memory[0].BytesPerSecond = 1e18
	n := 4096.0
	op := models.Op{Name: "o_proj", Kind: models.KindGEMM, Repeat: 1, M: 8, N: 4096, K: 4096,
		FLOPs: 2 * 8 * n * n, WeightBytes: 2 * n * n, ActivationReadBytes: 2 * 8 * n, ActivationWriteBytes: 2 * 8 * n, Compute: dtype.BF16}
	plain := Cost(&op, dev)
	dev.Efficiency.ComputeByIntensity = map[string]hw.Curve{hw.ClassGEMM: {Points: [][2]float64{{1, 0.2}, {100, 1}}}}
	c := Cost(&op, dev)
	i := op.FLOPs / op.Bytes()
	f := 0.2 + 0.8*math.Log(i)/math.Log(100)
	if math.Abs(f-0.5606) > 1e-4 {
		t.Fatalf("factor at intensity %.3f = %.4f, want 0.5606", i, f)
	}
	if want := op.FLOPs / (1e15 * f); !near(c.Seconds, want) || !near(plain.Seconds, op.FLOPs/1e15) {
		t.Errorf("got %v s (without the curve %v s), want %v s (%v s)", c.Seconds, plain.Seconds, want, op.FLOPs/1e15)
	}
	vec := models.Op{Name: "act", Kind: models.KindElemwise, Repeat: 1, FLOPs: 1e9, ActivationReadBytes: 1e6, Compute: dtype.BF16}
	if c = Cost(&vec, dev); !near(c.Seconds, 1e9/50e12) {
		t.Errorf("vector op under a gemm intensity curve: got %v s, want %v", c.Seconds, 1e9/50e12)
	}
}
