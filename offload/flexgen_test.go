package offload

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
)

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b)) }

// toySystem has round numbers and no overheads or efficiency curves: a GPU
// of 100 TFLOP/s and 1 TB/s with 40 GB, a CPU of 1 TFLOP/s and 100 GB/s
// with 1 TB, a disk of 2 GB/s read and 1 GB/s write, PCIe at 10 GB/s.
func toySystem() *hw.System {
	gpu := &hw.Device{Name: "toy-gpu", Kind: hw.GPU,
		Compute: hw.Compute{FLOPSPerSecond: map[string]float64{"fp16": 100e12, "fp32": 100e12}},
		Memory:  []hw.MemoryTier{{Name: "hbm", CapacityBytes: 40e9, BytesPerSecond: 1e12}},
		Power:   hw.Power{IdleWatts: 10, ActiveWatts: 70}, Price: hw.Price{USDPerHour: 3.6}}
	cpu := &hw.Device{Name: "toy-cpu", Kind: hw.CPU,
		Compute: hw.Compute{FLOPSPerSecond: map[string]float64{"fp16": 1e12, "fp32": 1e12}},
		Memory:  []hw.MemoryTier{{Name: "dram", CapacityBytes: 1e12, BytesPerSecond: 100e9}},
		Power:   hw.Power{IdleWatts: 50, ActiveWatts: 150}}
	disk := &hw.Device{Name: "toy-disk", Kind: hw.SSD,
		Memory: []hw.MemoryTier{{Name: "nand", CapacityBytes: 1e13, BytesPerSecond: 2e9}},
		Flash:  &hw.FlashMedia{WriteBytesPerSecond: 1e9}}
	return &hw.System{Name: "toy", Host: "cpu", Accelerator: "gpu",
		Groups: []hw.Group{{Name: "gpu", Count: 1, Device: gpu}, {Name: "cpu", Count: 1, Device: cpu}, {Name: "disk", Count: 1, Device: disk}},
		Links: []hw.Link{{Name: "pcie", Between: [2]string{"gpu", "cpu"}, BytesPerSecond: 10e9},
			{Name: "nvme", Between: [2]string{"disk", "cpu"}, BytesPerSecond: 16e9}}}
}

// toyModel: 4 layers, hidden 1024, 8 heads, relu MLP of 4096, vocab 1000,
// fp16, no biases, RMSNorm, RoPE.
func toyModel(t *testing.T) *models.Model {
	m, err := models.New(models.Arch{Name: "toy", Family: "llama", Layers: 4, Hidden: 1024, Heads: 8, KVHeads: 8,
		Intermediate: 4096, Vocab: 1000, MaxContext: 4096, Norm: "rmsnorm", Activation: "relu", Position: "rope", DType: "fp16"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSizesOPT30B(t *testing.T) {
	m, err := models.Load("opt-30b")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTarget(toySystem(), m, models.Precision{}).sizes()
	h := 7168.0
	// Attention: q, k, v, out (4h² + 4h biases) and a LayerNorm (2h), fp16.
	if want := 2 * (4*h*h + 4*h + 2*h); s.AttnWeights != want {
		t.Errorf("attention block %g B, want %g", s.AttnWeights, want)
	}
	// MLP: fc1 h×4h + 4h bias, fc2 4h×h + h bias, LayerNorm 2h.
	if want := 2 * (8*h*h + 5*h + 2*h); s.MLPWeights != want {
		t.Errorf("MLP block %g B, want %g", s.MLPWeights, want)
	}
	// Everything adds up to the model's weight bytes.
	sum := float64(s.Layers)*s.LayerWeights() + s.EmbedWeights + s.HeadWeights
	if !near(sum, m.WeightBytes(dtype.FP16), 1e-12) {
		t.Errorf("blocks sum to %g, model %g", sum, m.WeightBytes(dtype.FP16))
	}
	// KV: 2 × h × 2 B per token per layer.
	if s.KVPerTokenLayer != 4*h {
		t.Errorf("KV per token per layer %g, want %g", s.KVPerTokenLayer, 4*h)
	}
}

func toyTarget(t *testing.T) *Target {
	return NewTarget(toySystem(), toyModel(t), models.Precision{})
}

// stepGraph builds one FlexGen step graph for checks by hand.
func stepGraph(t *testing.T, f *FlexGen, tg *Target, cached, newTokens int) (*fgStep, *Graph) {
	n, err := locate(tg.System)
	if err != nil {
		t.Fatal(err)
	}
	st := &fgStep{f: f, t: tg, n: n, gbs: f.GPUBatch, ngb: f.NumBatches, sz: tg.sizes()}
	g := &Graph{}
	st.r = n.resources(g)
	st.build(g, cached, newTokens)
	return st, g
}

func TestWeightStreamingNoOverlapIsTheSum(t *testing.T) {
	// All weights on the CPU, streamed over 10 GB/s, no overlap: a decode
	// step takes every unit's transfer plus every unit's compute.
	tg := toyTarget(t)
	f := &FlexGen{W: [3]float64{0, 1, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0}, GPUBatch: 4, NumBatches: 1, PinWeights: true}
	st, g := stepGraph(t, f, tg, 100, 1)
	r := Execute(g, false)
	transfer := st.sz.Total / 10e9
	compute := st.embed.Seconds + st.head.Seconds + float64(st.sz.Layers)*(st.attnGPU.Seconds+st.mlp.Seconds)
	if got := sim.Seconds(r.MakespanNanos); !near(got, transfer+compute, 1e-6) {
		t.Errorf("sequential step %g s, want transfer %g + compute %g", got, transfer, compute)
	}
	// The host link moved exactly the model's weights once.
	if !near(r.Bytes[st.r.h2d], st.sz.Total-st.sz.HeadWeights+st.sz.HeadStream, 1e-12) {
		t.Errorf("h2d moved %g B, want %g", r.Bytes[st.r.h2d], st.sz.Total)
	}
	// A layer's transfer by hand: attention block (4h² q,k,v,o + norm) of
	// fp16 over 10 GB/s.
	h := 1024.0
	if want := 2 * (4*h*h + h) / 10e9; !near(st.sz.AttnWeights/10e9, want, 1e-12) {
		t.Errorf("attention block transfer %g s, want %g", st.sz.AttnWeights/10e9, want)
	}
}

func TestWeightStreamingOverlapIsTheMax(t *testing.T) {
	// Same policy with overlap and a GPU batch large enough to make
	// compute dominate: each unit's compute hides the next unit's load,
	// except that nothing hides the embedding's load (the prologue) and the
	// tiny embedding compute cannot hide the first layer's.
	tg := toyTarget(t)
	f := &FlexGen{W: [3]float64{0, 1, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0}, GPUBatch: 4096, NumBatches: 1,
		PinWeights: true, Overlap: true}
	st, g := stepGraph(t, f, tg, 0, 16)
	r := Execute(g, false)
	compute := st.embed.Seconds + st.head.Seconds + float64(st.sz.Layers)*(st.attnGPU.Seconds+st.mlp.Seconds)
	load := st.sz.AttnWeights / 10e9
	if compute < 10*load {
		t.Fatalf("test setup: compute %g s should dominate loads of %g s", compute, load)
	}
	want := st.sz.EmbedWeights/10e9 + max(st.embed.Seconds, load) + compute - st.embed.Seconds
	if got := sim.Seconds(r.MakespanNanos); !near(got, want, 1e-6) {
		t.Errorf("overlapped step %g s, want %g (compute %g)", got, want, compute)
	}
	// Without overlap the same step pays every load.
	f.Overlap = false
	_, g = stepGraph(t, f, tg, 0, 16)
	seq := sim.Seconds(Execute(g, false).MakespanNanos)
	if !near(seq, compute+st.sz.Total/10e9, 1e-6) {
		t.Errorf("sequential %g, want %g", seq, compute+st.sz.Total/10e9)
	}
}

func TestFlexGenMemoryTiers(t *testing.T) {
	// OPT-30B at 20/80/0 weights, cache 0/100/0, activations 0/100/0,
	// 48 × 3, 512 + 32 tokens: weights 20 % and 80 % of 59.95 GB; the KV
	// cache of 144 sequences × 544 tokens × 48 layers × 4h bytes on the CPU.
	sys, err := hw.Load("t4-flexgen-paper")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := models.Load("opt-30b")
	tg := NewTarget(sys, m, models.Precision{})
	f := &FlexGen{W: [3]float64{0.2, 0.8, 0}, C: [3]float64{0, 1, 0}, A: [3]float64{0, 1, 0}, GPUBatch: 48, NumBatches: 3, CPUAttention: true, GPUReserveBytes: defaultGPUReserve}
	n, _ := locate(sys)
	tiers := f.memory(tg, n, tg.sizes(), 48, 3, Workload{Prompt: 512, Output: 32})
	total := m.WeightBytes(dtype.FP16)
	if !near(tiers[0].WeightsBytes, 0.2*total, 1e-12) || !near(tiers[1].WeightsBytes, 0.8*total, 1e-12) || tiers[2].WeightsBytes != 0 {
		t.Errorf("weights per tier %g/%g/%g, want 20/80/0 %% of %g", tiers[0].WeightsBytes, tiers[1].WeightsBytes, tiers[2].WeightsBytes, total)
	}
	if want := 144.0 * 544 * 48 * 4 * 7168; tiers[1].KVBytes != want || tiers[0].KVBytes != 0 {
		t.Errorf("KV on CPU %g, want %g", tiers[1].KVBytes, want)
	}
	// Hidden states of the block (144 × 512 × h × 2 B) live on the CPU.
	if want := 144.0 * 512 * 7168 * 2; tiers[1].ActivationBytes != want {
		t.Errorf("CPU activations %g, want %g", tiers[1].ActivationBytes, want)
	}
	for _, tu := range tiers {
		if !tu.Fits {
			t.Errorf("%s does not fit: %g of %g", tu.Group, tu.TotalBytes, tu.CapacityBytes)
		}
	}
}

func TestEnergyIsPowerTimesTime(t *testing.T) {
	// 10 s with the toy GPU busy 5 s: (10 + 60 × 0.5) W × 10 s = 400 J;
	// the CPU idles: 50 W × 10 s = 500 J; the disk has no power figures.
	// Rent: $3.6/h × 10 s = $0.01. 100 tokens: 9 J/token, $100 per million.
	sys := toySystem()
	res := []Resource{{Name: "gpu", Kind: Serial, Group: "gpu"}}
	u := newUsage(res)
	u.busyNanos[0] = 5e9
	e := systemEnergy(sys, u, map[string]float64{"gpu": 5}, 10, 100)
	if !near(e.Joules, 900, 1e-12) || !near(e.USD, 0.01, 1e-12) || !near(e.JoulesPerToken, 9, 1e-12) ||
		!near(e.USDPerMillionTokens, 100, 1e-12) || !near(e.AverageWatts, 90, 1e-12) {
		t.Errorf("energy %+v", e)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	tg := toyTarget(t)
	s, err := Parse("flexgen:w=30/40/30,c=0/50/50,a=0/100/0,gbs=8,ngb=2,cpuattn=1")
	if err != nil {
		t.Fatal(err)
	}
	w := Workload{Prompt: 64, Output: 8}
	a, err := s.Run(tg, w)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Run(tg, w)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs differ")
	}
	if a.Batch != 16 || a.TokensPerSecond <= 0 || !a.Fits {
		t.Errorf("batch %d, %g token/s, fits %v", a.Batch, a.TokensPerSecond, a.Fits)
	}
	// Tokens per second is generated tokens over the run.
	if !near(a.TokensPerSecond*a.Seconds, 16*8, 1e-12) {
		t.Errorf("tokens/s × seconds = %g, want 128", a.TokensPerSecond*a.Seconds)
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{
		"flexgen:w=50/50",               // two parts
		"flexgen:w=50/40/0",             // does not sum to 100
		"flexgen:c=50/50/0,cpuattn=1",   // cpu attention with cache on GPU
		"flexgen:gbs=0",                 // out of range
		"flexgen:bogus=1",               // unknown key
		"flexgen:w=100/0/0,w=0/100/0",   // twice
		"zero:tier=gpu", "nosuchscheme", // unknown tier, scheme
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	s, err := Parse("flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(s.String())
	if err != nil || !reflect.DeepEqual(s, again) {
		t.Errorf("String %q does not parse back: %v", s, err)
	}
	if !strings.Contains(s.String(), "gbs=48") {
		t.Errorf("String %q", s)
	}
}

func TestSearchFindsAtLeastThePaperPolicy(t *testing.T) {
	sys, err := hw.Load("t4-flexgen-paper")
	if err != nil {
		t.Fatal(err)
	}
	w := Workload{Prompt: 512, Output: 32}
	for _, c := range []struct {
		model, paper string
		disk         bool // the model (fp16, 350 GB) cannot fit in 208 GiB of DRAM
	}{
		{"opt-30b", "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1", false},
		{"opt-175b", "flexgen:w=0/50/50,c=0/0/100,a=0/100/0,gbs=32,ngb=8,cpuattn=1,pin=0", true},
	} {
		m, _ := models.Load(c.model)
		tg := NewTarget(sys, m, models.Precision{})
		best, err := Search(tg, w, SearchSpace{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := best.Run(tg, w)
		p, _ := Parse(c.paper)
		paper, _ := p.Run(tg, w)
		if !got.Fits || got.TokensPerSecond < paper.TokensPerSecond*0.98 {
			t.Errorf("%s: search %s gives %.3f token/s (fits %v), paper policy %.3f", c.model, best, got.TokensPerSecond, got.Fits, paper.TokensPerSecond)
		}
		if usesDisk := best.W[2]+best.C[2] > 0; c.disk && !usesDisk {
			t.Errorf("%s: search %s does not use the disk", c.model, best)
		}
	}
}
