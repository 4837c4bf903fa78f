package replica

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// The memo returns exactly what pricing the graph afresh gives, whatever
// the order of the sequences.
func TestMemoMatchesFreshPricing(t *testing.T) {
	c := config(t, "h100-sxm", "llama3-8b", "device", nil)
	x := NewExecutor(&c)
	r := rand.New(rand.NewPCG(1, 1))
	var batches [][]models.Seq
	for i := 0; i < 200; i++ {
		n := r.IntN(6) + 1
		b := make([]models.Seq, n)
		for j := range b {
			b[j] = models.Seq{Cached: r.IntN(3) * 100, New: 1 + r.IntN(2)*r.IntN(200)}
		}
		batches = append(batches, b)
	}
	for round := 0; round < 2; round++ {
		for _, b := range batches {
			r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
			got := x.Price(b).Seconds()
			want := roofline.StepSeconds(c.Model.Graph(b, c.Precision, c.Options), c.Device)
			if got != want {
				t.Fatalf("round %d %v: %g, fresh %g", round, b, got, want)
			}
		}
	}
	if x.memo.hits == 0 {
		t.Fatal("repeated shapes never hit the memo")
	}
}

func TestPriceDoesNotAllocate(t *testing.T) {
	c := config(t, "dgx-h100", "llama3-8b", "vllm-like", func(c *Config) { c.TP, c.PP = 2, 2 })
	x := NewExecutor(&c)
	seqs := []models.Seq{{Cached: 100, New: 1}, {Cached: 0, New: 300}}
	x.Price(seqs)
	n := 0
	if a := testing.AllocsPerRun(100, func() {
		n++
		seqs[0].Cached = 100 + n // a new shape every time: no memo hits
		x.Price(seqs)
	}); a != 0 {
		t.Fatalf("%v allocations per priced step", a)
	}
}

// Tensor parallelism: every GPU reads half of each sharded weight; the
// step pays two all-reduces per layer. Hand check for one decode token of
// Llama-3-8B on two NVLink-4 H100s: the message is 4096 × 2 B = 8 KiB; at
// 450 GB/s × 0.8 a ring takes 2·(1/2)·8192/360e9 + 2·2 µs = 4.023 µs and a
// tree 2·8192/360e9 + 2·1·2 µs = 4.046 µs, so auto picks the ring:
// 64 × 4.023 µs = 257.5 µs per step.
func TestTensorParallelShardsAndCommunicates(t *testing.T) {
	c1 := config(t, "dgx-h100", "llama3-8b", "device", nil)
	c2 := config(t, "dgx-h100", "llama3-8b", "device", func(c *Config) { c.TP = 2 })
	seqs := []models.Seq{{Cached: 1000, New: 1}}
	x1, x2 := NewExecutor(&c1), NewExecutor(&c2)
	one, two := *x1.Price(seqs), *x2.Price(seqs)
	var g models.Graph
	c2.Model.GraphInto(&g, seqs, c2.Precision, c2.Options)
	full := g
	full.Ops = append([]models.Op(nil), g.Ops...)
	x2.par.shard(&g)
	for i := range g.Ops {
		switch g.Ops[i].Name {
		case models.OpQKV, models.OpGateUp, models.OpDown, models.OpOProj, models.OpLMHead:
			if g.Ops[i].WeightBytes != full.Ops[i].WeightBytes/2 {
				t.Fatalf("%s: %g of %g weight bytes", g.Ops[i].Name, g.Ops[i].WeightBytes, full.Ops[i].WeightBytes)
			}
		case models.OpAttnNorm:
			if g.Ops[i].Bytes() != full.Ops[i].Bytes() {
				t.Fatal("norms are replicated")
			}
		}
	}
	comm := x2.par.commSeconds(&g, 32, false)
	if math.Abs(comm-64*(8192/360e9+4e-6)) > 1e-12 {
		t.Fatalf("all-reduce time %g", comm)
	}
	if two.Seconds() >= one.Seconds() || two.FLOPs > one.FLOPs*1.01 {
		t.Fatalf("TP2 step %g s vs TP1 %g s; FLOPs %g vs %g", two.Seconds(), one.Seconds(), two.FLOPs, one.FLOPs)
	}
}

// Pipeline stages split every layered op's repeats and keep the rest on
// the first (embedding) or last (head) stage.
func TestPipelineStagesPartitionTheGraph(t *testing.T) {
	c := config(t, "dgx-h100", "llama3-8b", "device", func(c *Config) { c.PP = 3 })
	x := NewExecutor(&c)
	var g, st models.Graph
	c.Model.GraphInto(&g, []models.Seq{{Cached: 0, New: 64}}, c.Precision, c.Options)
	sum := map[string]int{}
	for s := 0; s < 3; s++ {
		x.par.stageGraph(&g, &st, s)
		for _, op := range st.Ops {
			sum[op.Name] += op.Repeat
		}
	}
	for _, op := range g.Ops {
		if sum[op.Name] != countRepeat(g.Ops, op.Name) {
			t.Fatalf("%s: stages hold %d of %d repeats", op.Name, sum[op.Name], countRepeat(g.Ops, op.Name))
		}
	}
	if x.par.stageLayers(0)+x.par.stageLayers(1)+x.par.stageLayers(2) != 32 || x.par.stageLayers(0) != 10 {
		t.Fatal("32 layers over 3 stages: 10, 11, 11")
	}
}

func countRepeat(ops []models.Op, name string) int {
	n := 0
	for _, op := range ops {
		if op.Name == name {
			n += op.Repeat
		}
	}
	return n
}
