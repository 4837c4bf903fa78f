package roofline

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// opByName is the first op of g named name.
func opByName(t *testing.T, g *models.Graph, name string) *models.Op {
	t.Helper()
	for i := range g.Ops {
		if g.Ops[i].Name == name {
			return &g.Ops[i]
		}
	}
	t.Fatalf("no %s op", name)
	return nil
}

func graphWeightBytes(g *models.Graph) float64 {
	var w float64
	for _, op := range g.Ops {
		w += float64(op.Repeat) * op.WeightBytes
	}
	return w
}

// Mamba-2.8B (Mamba-1, no MLP) splits whole over 2 GPUs: in_proj's 2·5120
// outputs and x_proj's 5120 inputs halve, the scan's 5120 × 16 state per
// layer halves, but every GPU reads all of B and C (2·16 per token). A
// decode step's weights per GPU are half the model's but for the
// replicated norms and embedding row: within 0.1%.
func TestShardMambaHalvesWeights(t *testing.T) {
	m := load(t, "mamba-2.8b")
	p := models.Precision{Weights: dtype.BF16}
	seqs := []models.Seq{{Cached: 1000, New: 1}}
	full := m.Graph(seqs, p, models.Options{})
	g := m.Graph(seqs, p, models.Options{})
	ShardGraph(g, m, p, 2)
	if r := graphWeightBytes(g) / graphWeightBytes(full); r < 0.5 || r > 0.5005 {
		t.Errorf("per-GPU weight bytes %.5f of the step's", r)
	}
	if in := opByName(t, g, models.OpSSMInProj); in.N != 5120 {
		t.Errorf("in_proj N %d, want 5120", in.N)
	}
	if x := opByName(t, g, models.OpSSMXProj); x.K != 2560 || x.N != 160+32 {
		t.Errorf("x_proj K %d N %d, want 2560 and 192", x.K, x.N)
	}
	scan, was := opByName(t, g, models.OpSSMScan), opByName(t, full, models.OpSSMScan)
	// One token: state 5120·16·2 B read and written, split in two.
	if scan.KVReadBytes != 5120*16*2/2 || scan.KVWriteBytes != was.KVWriteBytes/2 {
		t.Errorf("scan state %g read, %g written", scan.KVReadBytes, scan.KVWriteBytes)
	}
	// x, Δ, z halve; B and C (32 elements) stay whole: (3·2560 + 32)·2 B.
	if scan.ActivationReadBytes != (3*2560+32)*2 {
		t.Errorf("scan reads %g B, want %d", scan.ActivationReadBytes, (3*2560+32)*2)
	}
	par := NewParallel(m, p, 2, 1, "", nvlink4())
	if got, want := par.WeightBytesPerGPU(m, dtype.BF16), m.WeightBytes(dtype.BF16)/2; got != want {
		t.Errorf("WeightBytesPerGPU %g, want %g", got, want)
	}
	if s := m.StateBytes(dtype.BF16); par.KVBytesPerGPU(0, s) != s/2 {
		t.Errorf("state per GPU %g of %g", par.KVBytesPerGPU(0, s), s)
	}
}

// Mamba-2 2.7B has one B/C group: over 2 GPUs its 2·128 B/C columns stay
// whole on both. in_proj: (2·5120 + 80)/2 + 256 = 5416 of 10576 outputs;
// conv1d: 2560 + 256 = 2816 of 5376 channels.
func TestShardMamba2ReplicatesGroups(t *testing.T) {
	m := load(t, "mamba2-2.7b")
	seqs := []models.Seq{{New: 512}}
	full := m.Graph(seqs, bf16, models.Options{})
	g := m.Graph(seqs, bf16, models.Options{})
	ShardGraph(g, m, bf16, 2)
	in, was := opByName(t, g, models.OpSSMInProj), opByName(t, full, models.OpSSMInProj)
	if in.N != 5416 || !near(in.WeightBytes, was.WeightBytes*5416/10576) {
		t.Errorf("in_proj N %d, weights %g of %g", in.N, in.WeightBytes, was.WeightBytes)
	}
	conv, wasConv := opByName(t, g, models.OpSSMConv), opByName(t, full, models.OpSSMConv)
	if !near(conv.FLOPs, wasConv.FLOPs*2816/5376) || !near(conv.KVWriteBytes, wasConv.KVWriteBytes*2816/5376) {
		t.Errorf("conv FLOPs %g of %g", conv.FLOPs, wasConv.FLOPs)
	}
	// 64 layers × (2·128·(2560 + 4 + 1)) B/C weights stay whole.
	par := NewParallel(m, bf16, 2, 1, "", nvlink4())
	bc := 64 * 256 * (2560 + 4 + 1) * 2.0
	if got, want := par.WeightBytesPerGPU(m, dtype.BF16), m.WeightBytes(dtype.BF16)/2+bc/2; !near(got, want) {
		t.Errorf("WeightBytesPerGPU %g, want %g", got, want)
	}
	// State per layer: conv 5376·4, SSM 5120·128; the B/C window 256·4
	// stays whole.
	total := 5376*4 + 5120*128.0
	mine := total/2 + 256*4/2.0
	if s := m.StateBytes(dtype.BF16); !near(par.KVBytesPerGPU(0, s), s*mine/total) {
		t.Errorf("state per GPU %g, want %g", par.KVBytesPerGPU(0, s), s*mine/total)
	}
}

// RWKV-6 7B over 2 GPUs: the channel mix's key (14336) splits, its
// receptance (4096) does not: cmix_kr keeps 7168 + 4096 outputs. The
// token-shift mixes stay whole: per layer 10·64·4096 + 2·128·4096 + 8·4096
// LoRA and mix weights and the 4096² receptance, 20,480,000 parameters,
// so each GPU holds W/2 + 32·20,480,000·2 B/2. Of the per-layer state
// (2·4096 shift + 64·64² WKV, fp32) the shift vectors stay whole.
func TestShardRWKV(t *testing.T) {
	m := load(t, "rwkv6-7b")
	seqs := []models.Seq{{Cached: 100, New: 1}}
	full := m.Graph(seqs, bf16, models.Options{})
	g := m.Graph(seqs, bf16, models.Options{})
	ShardGraph(g, m, bf16, 2)
	kr, was := opByName(t, g, models.OpCMixKR), opByName(t, full, models.OpCMixKR)
	if kr.N != 7168+4096 || was.WeightBytes-kr.WeightBytes != 7168*4096*2 {
		t.Errorf("cmix_kr N %d, weights %g of %g", kr.N, kr.WeightBytes, was.WeightBytes)
	}
	if mix := opByName(t, g, models.OpRWKVMix); mix.Bytes() != opByName(t, full, models.OpRWKVMix).Bytes() {
		t.Error("rwkv_mix must be replicated")
	}
	wkv, wasWKV := opByName(t, g, models.OpRWKVWKV), opByName(t, full, models.OpRWKVWKV)
	if wkv.KVReadBytes != wasWKV.KVReadBytes/2 || wkv.FLOPs != wasWKV.FLOPs/2 {
		t.Errorf("wkv state %g of %g", wkv.KVReadBytes, wasWKV.KVReadBytes)
	}
	par := NewParallel(m, bf16, 2, 1, "", nvlink4())
	if got, want := par.WeightBytesPerGPU(m, dtype.BF16), m.WeightBytes(dtype.BF16)/2+32*20480000*2/2.0; !near(got, want) {
		t.Errorf("WeightBytesPerGPU %g, want %g", got, want)
	}
	// 32 × (8192 + 262144) fp32 elements; per GPU 32 × (8192 + 131072).
	s := m.StateBytes(dtype.BF16)
	if s != 32*270336*4 || par.KVBytesPerGPU(0, s) != 32*139264*4 {
		t.Errorf("state %g, per GPU %g", s, par.KVBytesPerGPU(0, s))
	}
}

// The all-reduces follow the layer kinds: one after each mixer's output
// projection and one after each MLP (or channel mix). Jamba's 32 layers
// (4 attention, 28 Mamba, all with an MLP or MoE) take 64, plus 28 small
// ones after the Mamba x_projs; Mamba-2.8B has no MLP: 64 layers, 64
// all-reduces, plus 64 small ones.
func TestAllReducesFollowLayerKinds(t *testing.T) {
	for _, c := range []struct {
		model         string
		hidden, small int
	}{
		{"llama3-8b", 64, 0},
		{"jamba-v0.1", 64, 28},
		{"mamba-2.8b", 64, 64},
		{"mamba2-2.7b", 64, 0},
		{"rwkv6-7b", 64, 0},
		{"based-1.3b", 72, 0},
	} {
		m := load(t, c.model)
		g := m.Graph([]models.Seq{{Cached: 100, New: 1}}, bf16, models.Options{})
		if h, s, _ := collectives(g, 2); h != c.hidden || s != c.small {
			t.Errorf("%s: %d + %d all-reduces, want %d + %d", c.model, h, s, c.hidden, c.small)
		}
	}
}

// Jamba decode over 2 GPUs on the 360 GB/s (effective), 2 µs link: 64 ring
// all-reduces of 4096·2 B and 28 of x_proj's (256 + 2·16)·2 = 576 B, each
// 2·(1/2)·bytes/360e9 + 2 µs; the step's rows list both.
func TestJambaCollectives(t *testing.T) {
	m := load(t, "jamba-v0.1")
	p := NewParallel(m, bf16, 2, 1, CollectiveAuto, nvlink4())
	g := m.Graph([]models.Seq{{Cached: 1000, New: 1}}, bf16, models.Options{})
	p.Shard(g)
	want := 64*(8192/360e9+2e-6*2) + 28*(576/360e9+2e-6*2)
	if got := p.CommSeconds(g, 32, false); math.Abs(got-want) > 1e-12 {
		t.Errorf("all-reduces %g s, want %g", got, want)
	}
	rows := map[string]int{}
	for _, op := range p.commOps(g) {
		rows[op.Name] = op.Repeat
	}
	if rows[OpAllReduce] != 64 || rows[OpAllReduceSSM] != 28 || rows[OpAllGather] != 1 {
		t.Errorf("collective rows %v", rows)
	}
	// Over 2 stages the stage graphs hold the same all-reduces between them.
	pp := NewParallel(m, bf16, 2, 2, CollectiveAuto, nvlink4())
	var st models.Graph
	var hidden, small int
	for s := 0; s < 2; s++ {
		pp.StageGraph(g, &st, s)
		h, x, _ := collectives(&st, 2)
		hidden, small = hidden+h, small+x
	}
	if hidden != 64 || small != 28 {
		t.Errorf("stages: %d + %d all-reduces", hidden, small)
	}
	// K/V: 8 heads split 2 ways; the Mamba state splits whole.
	if got := p.KVBytesPerGPU(1e9, 1e6); got != 0.5e9+0.5e6 {
		t.Errorf("KV per GPU %g", got)
	}
}

// TP must divide the recurrent heads: RWKV-6 7B's 64 heads do not split 3
// ways, BASED's 28 linear-attention heads not 8 ways (its 16 attention
// heads would), Mamba-2 2.7B's 80 heads not 3 ways.
func TestCheckParallelRecurrent(t *testing.T) {
	dgx, err := hw.Load("dgx-h100")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model string
		tp    int
		errs  int
	}{
		{"rwkv6-7b", 2, 0}, {"rwkv6-7b", 3, 1}, {"based-1.3b", 4, 0}, {"based-1.3b", 8, 1},
		{"mamba2-2.7b", 8, 0}, {"mamba2-2.7b", 3, 1}, {"jamba-v0.1", 8, 0},
	} {
		m := load(t, c.model)
		if errs := CheckParallel(m, dgx, c.tp, 1); len(errs) != c.errs {
			t.Errorf("%s TP %d: %v, want %d errors", c.model, c.tp, errs, c.errs)
		}
	}
}
