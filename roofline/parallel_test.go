package roofline

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// nvlink4 is the DGX H100 link: 450 GB/s per direction at 0.8, 2 µs.
func nvlink4() *hw.Link {
	return &hw.Link{Name: "nvlink4", BytesPerSecond: 450e9, LatencySeconds: 2e-6,
		SizeCurve: hw.Curve{Points: [][2]float64{{1, 0.8}}}}
}

var bf16 = models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}

func load(t *testing.T, name string) *models.Model {
	t.Helper()
	m, err := models.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Hand checks at 360 GB/s effective and 2 µs per step.
//   - 8 KiB over 2 GPUs: ring 2·(1/2)·8192/360e9 + 2·1·2 µs = 4.0228 µs;
//     tree 2·8192/360e9 + 2·⌈log2 2⌉·2 µs = 4.0455 µs → auto = ring.
//   - 16 KiB over 8 GPUs: ring 2·(7/8)·16384/360e9 + 14·2 µs = 28.080 µs;
//     tree 2·16384/360e9 + 2·3·2 µs = 12.091 µs → auto = tree.
//   - all-gather of 256 KiB logits over 4 GPUs: (3/4)·262144/360e9 + 3·2 µs.
func TestCollectiveWorkedExamples(t *testing.T) {
	l := nvlink4()
	for _, c := range []struct {
		algo  string
		n     int
		bytes float64
		want  float64
	}{
		{CollectiveRing, 2, 8192, 8192/360e9 + 4e-6},
		{CollectiveTree, 2, 8192, 2*8192/360e9 + 4e-6},
		{CollectiveAuto, 2, 8192, 8192/360e9 + 4e-6},
		{CollectiveRing, 8, 16384, 2*7.0/8*16384/360e9 + 28e-6},
		{CollectiveTree, 8, 16384, 2*16384/360e9 + 12e-6},
		{CollectiveAuto, 8, 16384, 2*16384/360e9 + 12e-6},
		{CollectiveAuto, 1, 16384, 0},
	} {
		if got := AllReduceSeconds(l, c.algo, c.n, c.bytes); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s all-reduce of %g B over %d: %g s, want %g", c.algo, c.bytes, c.n, got, c.want)
		}
	}
	if got, want := AllGatherSeconds(l, 4, 262144), 0.75*262144/360e9+6e-6; math.Abs(got-want) > 1e-15 {
		t.Errorf("all-gather %g, want %g", got, want)
	}
	if got, want := SendSeconds(l, 1e6), 1e6/360e9+2e-6; math.Abs(got-want) > 1e-15 {
		t.Errorf("send %g, want %g", got, want)
	}
}

// Sharding a decode step of Llama-3-8B over 2 GPUs halves every sharded
// weight and the attention's KV reads, and keeps norms whole; over 16 GPUs
// the 8 K/V heads replicate, so each GPU reads 1/8 of the KV, not 1/16.
func TestShardGraph(t *testing.T) {
	m := load(t, "llama3-8b")
	seqs := []models.Seq{{Cached: 1000, New: 1}}
	full := m.Graph(seqs, bf16, models.Options{})
	for _, tp := range []int{2, 16} {
		g := m.Graph(seqs, bf16, models.Options{})
		ShardGraph(g, m, bf16, tp)
		for i, op := range g.Ops {
			was := full.Ops[i]
			switch {
			case op.Name == models.OpQKV || op.Name == models.OpGateUp || op.Name == models.OpLMHead:
				if op.WeightBytes != was.WeightBytes/float64(tp) || op.N != was.N/tp {
					t.Errorf("tp %d %s: %g of %g weight bytes, N %d of %d", tp, op.Name, op.WeightBytes, was.WeightBytes, op.N, was.N)
				}
			case op.Name == models.OpOProj || op.Name == models.OpDown:
				if op.WeightBytes != was.WeightBytes/float64(tp) || op.K != was.K/tp {
					t.Errorf("tp %d %s: K %d of %d", tp, op.Name, op.K, was.K)
				}
			case op.Kind == models.KindAttention:
				if want := was.KVReadBytes / float64(min(tp, 8)); op.KVReadBytes != want {
					t.Errorf("tp %d attention: %g KV bytes read, want %g", tp, op.KVReadBytes, want)
				}
				// One sequence × 8 KV heads = 8 work items, split like the
				// KV heads: 4 per GPU at TP 2, 1 at TP 16 (heads replicated).
				if want := 8 / float64(min(tp, 8)); was.Items != 8 || op.Items != want {
					t.Errorf("tp %d attention: %g work items of %g, want %g of 8", tp, op.Items, was.Items, want)
				}
				if op.QueryTiles != 0 {
					t.Errorf("tp %d decode attention: %g query tiles", tp, op.QueryTiles)
				}
			case op.Name == models.OpAttnNorm || op.Name == models.OpEmbed || op.Name == models.OpSample:
				if op.Bytes() != was.Bytes() || op.FLOPs != was.FLOPs {
					t.Errorf("tp %d %s must be replicated", tp, op.Name)
				}
			}
		}
	}
}

// 32 layers over 3 stages: 10, 11, 11; the stage graphs hold every repeat
// once, the embedding on the first stage and the head on the last.
func TestStageSplit(t *testing.T) {
	m := load(t, "llama3-8b")
	p := NewParallel(m, bf16, 1, 3, "", nvlink4())
	if p.StageLayers(0) != 10 || p.StageLayers(1) != 11 || p.StageLayers(2) != 11 {
		t.Fatalf("stages %d %d %d", p.StageLayers(0), p.StageLayers(1), p.StageLayers(2))
	}
	g := m.Graph([]models.Seq{{New: 64}}, bf16, models.Options{})
	sum := map[string]int{}
	var st models.Graph
	for s := 0; s < 3; s++ {
		p.StageGraph(g, &st, s)
		for _, op := range st.Ops {
			sum[op.Name] += op.Repeat
			if (op.Name == models.OpEmbed && s != 0) || (op.Name == models.OpLMHead && s != 2) {
				t.Errorf("%s on stage %d", op.Name, s)
			}
		}
	}
	for name, n := range sum {
		want := 0
		for _, op := range g.Ops {
			if op.Name == name {
				want += op.Repeat
			}
		}
		if n != want {
			t.Errorf("%s: %d of %d repeats", name, n, want)
		}
	}
}

// A TP step is the shard's StepSeconds plus the collectives, which the
// allreduce and allgather rows itemise: for a Llama-3-8B decode token on 2
// GPUs, 64 all-reduces of 8 KiB (ring, 4.0228 µs each) and one all-gather
// of 128256 × 2 B of logits.
func TestParallelStepTP(t *testing.T) {
	m := load(t, "llama3-8b")
	dev, err := hw.LoadDevice("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	p := NewParallel(m, bf16, 2, 1, CollectiveAuto, nvlink4())
	g := m.Graph([]models.Seq{{Cached: 1000, New: 1}}, bf16, models.Options{})
	one := Step(g, dev)
	p.Shard(g)
	s := p.Step(g, dev)
	allReduce := 64 * (8192/360e9 + 4e-6)
	allGather := 0.5*128256*2/(450e9*0.8) + 2e-6
	if math.Abs(s.CollectiveSeconds-(allReduce+allGather)) > 1e-12 {
		t.Errorf("collectives %g s, want %g", s.CollectiveSeconds, allReduce+allGather)
	}
	if s.Seconds != StepSeconds(g, dev)+s.CollectiveSeconds {
		t.Errorf("step %g ≠ shard %g + collectives %g", s.Seconds, StepSeconds(g, dev), s.CollectiveSeconds)
	}
	rows := 0.0
	for _, c := range s.Ops {
		if c.Bound == LinkBound {
			rows += c.Seconds
		}
	}
	if math.Abs(rows-s.CollectiveSeconds) > 1e-15 {
		t.Errorf("link rows %g s, collectives %g s", rows, s.CollectiveSeconds)
	}
	// Both GPUs together do the work of one (to the replicated norms).
	if s.FLOPs < one.FLOPs || s.FLOPs > one.FLOPs*1.001 || s.Seconds >= one.Seconds {
		t.Errorf("TP2: %g FLOPs in %g s; one GPU: %g FLOPs in %g s", s.FLOPs, s.Seconds, one.FLOPs, one.Seconds)
	}
}

// A PP step passes the stages in turn: latency = Σ stages + (PP−1)·send,
// each GPU idles while the others work, and with PP micro-batches in flight
// one completes every max(slowest stage, latency/PP).
func TestParallelStepPP(t *testing.T) {
	m := load(t, "llama3-8b")
	dev, err := hw.LoadDevice("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	p := NewParallel(m, bf16, 1, 4, CollectiveAuto, nvlink4())
	g := m.Graph([]models.Seq{{Cached: 1000, New: 1}}, bf16, models.Options{})
	s := p.Step(g, dev)
	// One token's activations: 4096 × 2 B = 8 KiB at 360 GB/s + 2 µs.
	if want := 8192/360e9 + 2e-6; math.Abs(s.SendSeconds-want) > 1e-15 {
		t.Errorf("send %g, want %g", s.SendSeconds, want)
	}
	sum, slowest := 0.0, 0.0
	var st models.Graph
	for i, x := range s.StageSeconds {
		p.StageGraph(g, &st, i)
		if x != StepSeconds(&st, dev) {
			t.Errorf("stage %d: %g s, want its graph's %g s", i, x, StepSeconds(&st, dev))
		}
		sum += x
		slowest = max(slowest, x)
	}
	if math.Abs(s.Seconds-(sum+3*s.SendSeconds)) > 1e-15 || s.CollectiveSeconds != 0 {
		t.Errorf("latency %g, want %g", s.Seconds, sum+3*s.SendSeconds)
	}
	if s.IntervalSeconds != max(slowest, s.Seconds/4) {
		t.Errorf("interval %g", s.IntervalSeconds)
	}
	// Each of the 4 stages pays the device's step overhead.
	one := Step(m.Graph([]models.Seq{{Cached: 1000, New: 1}}, bf16, models.Options{}), dev)
	if d := s.Seconds - one.Seconds - 3*dev.Overhead.StepSeconds - 3*s.SendSeconds; math.Abs(d) > 1e-9 {
		t.Errorf("PP4 latency %g vs one GPU %g: %g s unexplained", s.Seconds, one.Seconds, d)
	}
}

// One GPU's memory: Llama-3-8B has 32 layers × 4096 × 2·1024 K/V
// projection weights = 536,870,912 B in bf16. Over 16 GPUs those split only
// 8 ways (its K/V heads), so each GPU holds W/16 + 536,870,912·(1/8 − 1/16);
// over 2 stages of 2 GPUs, W·(16/32)/2. The KV cache splits like the heads.
func TestMemoryPerGPU(t *testing.T) {
	m := load(t, "llama3-8b")
	w := m.WeightBytes(dtype.BF16)
	for _, c := range []struct {
		tp, pp  int
		weights float64
		kv      float64
	}{
		{1, 1, w, 1e9},
		{2, 1, w / 2, 0.5e9},
		{16, 1, w/16 + 536870912.0/16, 1e9 / 8},
		{2, 2, w * 0.5 / 2, 1e9 * 0.5 / 2},
		{1, 3, w * 11 / 32, 1e9 * 11 / 32},
	} {
		p := NewParallel(m, bf16, c.tp, c.pp, "", nvlink4())
		if got := p.WeightBytesPerGPU(m, dtype.BF16); math.Abs(got-c.weights) > 1 {
			t.Errorf("tp %d pp %d: %g weight bytes, want %g", c.tp, c.pp, got, c.weights)
		}
		if got := p.KVBytesPerGPU(1e9, 0); math.Abs(got-c.kv) > 1e-6 {
			t.Errorf("tp %d pp %d: %g KV bytes, want %g", c.tp, c.pp, got, c.kv)
		}
	}
}

// A TP request equals walking its steps by hand; with TP = PP = 1 the
// parallel path and RequestWith agree (to the order of a float sum).
func TestRequestParallel(t *testing.T) {
	m := load(t, "llama3-8b")
	dev, err := hw.LoadDevice("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	build := ModelBuilder(m, bf16, models.Options{})
	p := NewParallel(m, bf16, 2, 1, CollectiveAuto, nvlink4())
	r := RequestParallel(build, dev, &p, 1, 100, 4)
	want := 0.0
	for i, s := range []models.Seq{{New: 100}, {Cached: 100, New: 1}, {Cached: 101, New: 1}, {Cached: 102, New: 1}} {
		g := m.Graph([]models.Seq{s}, bf16, models.Options{})
		p.Shard(g)
		x := p.StepSeconds(g, dev)
		if i == 0 && x != r.TTFTSeconds {
			t.Errorf("TTFT %g, want %g", r.TTFTSeconds, x)
		}
		want += x
	}
	if math.Abs(r.E2ESeconds-want) > 1e-15 {
		t.Errorf("E2E %g, want %g", r.E2ESeconds, want)
	}
	single := NewParallel(m, bf16, 1, 1, "", nil)
	a, b := RequestParallel(build, dev, &single, 2, 100, 5), RequestWith(build, dev, 2, 100, 5)
	if !near(a.E2ESeconds, b.E2ESeconds) || !near(a.TTFTSeconds, b.TTFTSeconds) || a.FLOPs != b.FLOPs || a.Bytes != b.Bytes {
		t.Errorf("TP1 parallel %+v ≠ plain %+v", a, b)
	}
}

// CheckParallel names what does not fit.
func TestCheckParallel(t *testing.T) {
	m := load(t, "llama3-8b")
	dgx, err := hw.Load("dgx-h100")
	if err != nil {
		t.Fatal(err)
	}
	one, err := hw.Load("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	if errs := CheckParallel(m, dgx, 4, 2); errs != nil {
		t.Errorf("TP4×PP2 on a DGX: %v", errs)
	}
	for _, c := range []struct {
		sys    *hw.System
		tp, pp int
		n      int
	}{{dgx, 3, 1, 1}, {dgx, 4, 4, 1}, {dgx, 1, 33, 2}, {one, 2, 1, 2}} {
		if errs := CheckParallel(m, c.sys, c.tp, c.pp); len(errs) != c.n {
			t.Errorf("%s TP %d PP %d: %v, want %d errors", c.sys.Name, c.tp, c.pp, errs, c.n)
		}
	}
}

// Collectives move 16-bit elements even for fp8 activations (8-bit GEMMs
// write 16-bit outputs, which the all-reduce sums), and fp32 ones in fp32.
func TestCollectiveElementBytes(t *testing.T) {
	m := load(t, "llama3-8b")
	for _, c := range []struct {
		act  dtype.DType
		want float64
	}{{dtype.FP8, 2}, {dtype.BF16, 2}, {dtype.FP32, 4}} {
		p := NewParallel(m, models.Precision{Weights: c.act, Activations: c.act, KV: c.act}, 2, 1, "", nvlink4())
		if p.ActivationBytes != c.want {
			t.Errorf("%s activations: %g bytes per element, want %g", c.act, p.ActivationBytes, c.want)
		}
	}
}
