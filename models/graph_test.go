package models

import (
	"os"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
)

var bf16 = Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}

func decodeBatch(n, cached int) []Seq {
	seqs := make([]Seq, n)
	for i := range seqs {
		seqs[i] = Seq{Cached: cached, New: 1}
	}
	return seqs
}

// findOps returns the ops named name, in order.
func findOps(g *Graph, name string) []Op {
	var out []Op
	for _, o := range g.Ops {
		if o.Name == name {
			out = append(out, o)
		}
	}
	return out
}

func opNames(g *Graph) string {
	names := make([]string, len(g.Ops))
	for i, o := range g.Ops {
		names[i] = o.Name
	}
	return strings.Join(names, " ")
}

func TestGraphOrder(t *testing.T) {
	g := mustLoad(t, "llama3-8b").Graph([]Seq{{New: 16}}, bf16, Options{})
	want := "embed attn_norm qkv rope attn o_proj residual mlp_norm gate_up act down residual final_norm lm_head sample"
	if got := opNames(g); got != want {
		t.Errorf("ops = %s\nwant  %s", got, want)
	}
	for _, o := range g.Ops {
		layered := o.Name != OpEmbed && o.Name != OpFinalNorm && o.Name != OpLMHead && o.Name != OpSample
		if o.Layered != layered || (layered && o.Repeat != 32) || (!layered && o.Repeat != 1) {
			t.Errorf("%s: layered %v repeat %d", o.Name, o.Layered, o.Repeat)
		}
	}
	g = mustLoad(t, "gpt2").Graph([]Seq{{New: 16}}, bf16, Options{})
	if got := opNames(g); !strings.Contains(got, "qkv attn o_proj residual mlp_norm up act down") {
		t.Errorf("gpt2 ops = %s", got)
	}
	g = mustLoad(t, "gpt-j-6b").Graph([]Seq{{New: 16}}, bf16, Options{})
	if got := opNames(g); !strings.Contains(got, "attn o_proj up act down residual final_norm") || strings.Contains(got, "mlp_norm") {
		t.Errorf("gpt-j (parallel block) ops = %s", got)
	}
}

// Hand check: a decode step of 32 sequences runs the qkv GEMM as
// 32 × 4096 → 6144 (4096 q + 2 × 1024 kv).
func TestDecodeQKV(t *testing.T) {
	g := mustLoad(t, "llama3-8b").Graph(decodeBatch(32, 500), bf16, Options{})
	q := findOps(g, OpQKV)[0]
	if q.M != 32 || q.N != 6144 || q.K != 4096 {
		t.Errorf("qkv shape %d×%d×%d", q.M, q.N, q.K)
	}
	if want := 2.0 * 32 * 4096 * 6144; q.FLOPs != want {
		t.Errorf("qkv FLOPs = %v, want %v", q.FLOPs, want)
	}
	if want := 6144.0 * 4096 * 2; q.WeightBytes != want {
		t.Errorf("qkv weights = %v, want %v", q.WeightBytes, want)
	}
	if want := 32.0 * (4096 + 6144) * 2; q.ActivationReadBytes+q.ActivationWriteBytes != want {
		t.Errorf("qkv activations = %v, want %v", q.ActivationReadBytes+q.ActivationWriteBytes, want)
	}
	lm := findOps(g, OpLMHead)[0]
	if lm.M != 32 || lm.N != 128256 || lm.K != 4096 || g.OutputTokens != 32 || g.Tokens != 32 {
		t.Errorf("lm_head %d×%d×%d, outputs %d", lm.M, lm.N, lm.K, g.OutputTokens)
	}
}

// Worked example: Llama-3-8B prefill of 1024 tokens, empty cache, one layer.
// Causal pairs = 1024 × (0 + 1025/2) = 524,800. Scores and values:
// 4 × 32 heads × 128 × 524,800 = 8,598,323,200 FLOPs; softmax
// 5 × 32 × 524,800 = 83,968,000. K and V of 1024 tokens × 8 kv heads × 128 ×
// 2 bytes = 4 MiB read and written.
func TestPrefillAttentionWorkedExample(t *testing.T) {
	if got := AttentionPairs(0, 1024, 0); got != 524800 {
		t.Fatalf("pairs = %v", got)
	}
	g := mustLoad(t, "llama3-8b").Graph([]Seq{{Cached: 0, New: 1024}}, bf16, Options{})
	a := findOps(g, OpAttn)[0]
	if want := 8_598_323_200.0 + 83_968_000; a.FLOPs != want {
		t.Errorf("attn FLOPs = %v, want %v", a.FLOPs, want)
	}
	if want := 1024.0 * 2 * 1024 * 2; a.KVReadBytes != want || a.KVWriteBytes != want {
		t.Errorf("KV read %v write %v, want %v", a.KVReadBytes, a.KVWriteBytes, want)
	}
	if a.Repeat != 32 || a.Kind != KindAttention {
		t.Errorf("repeat %d kind %s", a.Repeat, a.Kind)
	}
	// Decode after 1000 cached tokens scores 1001 keys and reads their K/V.
	g = mustLoad(t, "llama3-8b").Graph([]Seq{{Cached: 1000, New: 1}}, bf16, Options{})
	a = findOps(g, OpAttn)[0]
	if want := 517.0 * 32 * 1001; a.FLOPs != want {
		t.Errorf("decode attn FLOPs = %v, want %v", a.FLOPs, want)
	}
	if want := 1001.0 * 2 * 1024 * 2; a.KVReadBytes != want {
		t.Errorf("decode KV read = %v, want %v", a.KVReadBytes, want)
	}
}

func TestAttentionPairsWindow(t *testing.T) {
	for _, c := range []struct {
		cached, q, window int
		want              float64
	}{
		{0, 5, 0, 15},    // 1+2+3+4+5
		{0, 5, 3, 12},    // 1+2+3+3+3
		{2, 4, 4, 15},    // 3+4+4+4
		{10, 1, 4, 4},    // decode past the window
		{10, 3, 100, 36}, // 11+12+13, window not reached
	} {
		if got := AttentionPairs(c.cached, c.q, c.window); got != c.want {
			t.Errorf("AttentionPairs(%d, %d, %d) = %v, want %v", c.cached, c.q, c.window, got, c.want)
		}
	}
	m := mustLoad(t, "mistral-7b")
	a := findOps(m.Graph([]Seq{{Cached: 10000, New: 1}}, bf16, Options{}), OpAttn)[0]
	if want := 4096.0 * 2 * 1024 * 2; a.KVReadBytes != want {
		t.Errorf("mistral decode reads %v, want the 4096-token window %v", a.KVReadBytes, want)
	}
}

// Gemma 2 alternates local and global layers: two attention entries.
func TestAlternatingWindow(t *testing.T) {
	data, _ := os.ReadFile("testdata/hf/gemma-2-9b.json")
	m, err := FromHF(data, "gemma-2-9b.json")
	if err != nil {
		t.Fatal(err)
	}
	attn := findOps(m.Graph([]Seq{{Cached: 8000, New: 1}}, bf16, Options{}), OpAttn)
	if len(attn) != 2 || attn[0].Repeat != 21 || attn[1].Repeat != 21 {
		t.Fatalf("attention ops %+v", attn)
	}
	if attn[0].KVReadBytes != 4096*2*2048*2 || attn[1].KVReadBytes != 8001*2*2048*2 {
		t.Errorf("local reads %v, global reads %v", attn[0].KVReadBytes, attn[1].KVReadBytes)
	}
}

func TestMixedBatch(t *testing.T) {
	m := mustLoad(t, "llama3-8b")
	prefill, decode := Seq{Cached: 0, New: 512}, Seq{Cached: 100, New: 1}
	g := m.Graph([]Seq{prefill, decode, decode}, bf16, Options{})
	if len(findOps(g, OpAttn)) != 0 || len(findOps(g, OpAttnPrefill)) != 1 || len(findOps(g, OpAttnDecode)) != 1 {
		t.Fatalf("mixed batch ops: %s", opNames(g))
	}
	if g.Tokens != 514 || g.Seqs != 3 || findOps(g, OpQKV)[0].M != 514 || findOps(g, OpLMHead)[0].M != 3 {
		t.Errorf("tokens %d seqs %d", g.Tokens, g.Seqs)
	}
	alone := findOps(m.Graph([]Seq{prefill}, bf16, Options{}), OpAttn)[0]
	if got := findOps(g, OpAttnPrefill)[0]; got.FLOPs != alone.FLOPs || got.KVReadBytes != alone.KVReadBytes {
		t.Errorf("attn_prefill %v FLOPs, alone %v", got.FLOPs, alone.FLOPs)
	}
	// Work items of the fused kernels: the decode op has 2 sequences × 8 KV
	// heads; the prefill op 4 tiles of 128 queries (512 tokens) × 32 query
	// heads, and no decode items.
	if d, p := findOps(g, OpAttnDecode)[0], findOps(g, OpAttnPrefill)[0]; d.Items != 16 || d.QueryTiles != 0 || p.QueryTiles != 128 || p.Items != 0 {
		t.Errorf("decode items %v / tiles %v, prefill items %v / tiles %v; want 16/0, 0/128", d.Items, d.QueryTiles, p.Items, p.QueryTiles)
	}
	// A chunk after a cached prefix is prefill, not decode: 1 tile of 64
	// queries and 1 of a 1-token prompt, × 32 heads.
	g = m.Graph([]Seq{{Cached: 512, New: 64}, {Cached: 0, New: 1}}, bf16, Options{})
	if len(findOps(g, OpAttn)) != 1 {
		t.Errorf("all-prefill batch ops: %s", opNames(g))
	}
	if a := findOps(g, OpAttn)[0]; a.QueryTiles != 64 || a.Items != 0 {
		t.Errorf("prefill chunk tiles %v items %v, want 64 and 0", a.QueryTiles, a.Items)
	}
	// Eager attention runs GEMMs: no fused work items.
	if a := findOps(m.Graph([]Seq{prefill}, bf16, Options{MaterialisedAttention: true}), OpAttn)[0]; a.QueryTiles != 0 {
		t.Errorf("eager attention has %v query tiles", a.QueryTiles)
	}
}

// A step costs about 2 FLOPs per parameter per token: the embedding gather
// is not a GEMM, and lm_head runs once per sequence (also when tied).
func TestTotalsNearTwoParamsPerToken(t *testing.T) {
	for _, name := range []string{"llama2-7b", "llama3-8b", "qwen2.5-7b", "opt-6.7b", "mistral-7b", "gpt2"} {
		m := mustLoad(t, name)
		head := float64(m.Vocab) * float64(m.EmbedDim)
		gemmParams := m.Params() - m.embeddingParams() // a GEMM per token each
		if m.TiedEmbeddings {
			gemmParams += head
		}
		// Decode: every token reaches lm_head.
		g := m.Graph(decodeBatch(16, 16), bf16, Options{})
		flops, _ := g.Totals()
		if want := 2 * gemmParams * 16; !within(flops, want, 0.01) {
			t.Errorf("%s decode: %.4g FLOPs, want %.4g", name, flops, want)
		}
		// Prefill of 128 tokens: lm_head on the last one only.
		g = m.Graph([]Seq{{New: 128}}, bf16, Options{})
		flops, _ = g.Totals()
		if want := 2 * (gemmParams - head) * 128; !within(flops, want, 0.03) {
			t.Errorf("%s prefill: %.4g FLOPs, want %.4g", name, flops, want)
		}
	}
	// With a small vocabulary the plain rule holds within a few percent.
	for _, name := range []string{"llama2-7b", "mistral-7b", "llama2-70b"} {
		m := mustLoad(t, name)
		flops, _ := m.Graph(decodeBatch(16, 16), bf16, Options{}).Totals()
		if !within(flops, 2*m.Params()*16, 0.03) {
			t.Errorf("%s decode: %.4g FLOPs, not within 3%% of 2·params·tokens", name, flops)
		}
	}
}

// Decode at batch 1 reads each weight once.
func TestDecodeReadsWeightsOnce(t *testing.T) {
	m := mustLoad(t, "llama2-7b")
	g := m.Graph(decodeBatch(1, 10), bf16, Options{})
	var w float64
	for _, o := range g.Ops {
		w += float64(o.Repeat) * o.WeightBytes
	}
	// Only one row of the token table is read.
	want := m.WeightBytes(dtype.BF16) - float64(m.Vocab-1)*float64(m.Hidden)*2
	if !within(w, want, 1e-9) {
		t.Errorf("weight bytes %v, want %v", w, want)
	}
}

func TestMoEGraph(t *testing.T) {
	m := mustLoad(t, "mixtral-8x7b")
	expert := 3.0 * 4096 * 14336 * 2 // bytes of one bf16 expert
	g := m.Graph(decodeBatch(1, 100), bf16, Options{})
	if !strings.Contains(opNames(g), "mlp_norm router experts residual") {
		t.Fatalf("ops %s", opNames(g))
	}
	e := findOps(g, OpExperts)[0]
	if !within(e.WeightBytes, 2*expert, 1e-12) || e.FLOPs != 2*(2*3*4096*14336+5*14336) {
		t.Errorf("one token: %v expert bytes (want %v), %v FLOPs", e.WeightBytes, 2*expert, e.FLOPs)
	}
	e = findOps(m.Graph(decodeBatch(64, 100), bf16, Options{}), OpExperts)[0]
	if !within(e.WeightBytes, 8*expert, 1e-6) || e.M != 16 {
		t.Errorf("64 tokens touch %v experts, M %d", e.WeightBytes/expert, e.M)
	}
	if got := UniqueExperts(8, 2, 2); !within(got, 8*(1-0.75*0.75), 1e-12) {
		t.Errorf("UniqueExperts(8,2,2) = %v", got)
	}
	data, _ := os.ReadFile("testdata/hf/qwen1.5-moe-a2.7b.json")
	q, _ := FromHF(data, "q.json")
	if got := opNames(q.Graph(decodeBatch(4, 9), bf16, Options{})); !strings.Contains(got, "router experts shared_experts residual") {
		t.Errorf("qwen2-moe ops %s", got)
	}
}

func TestPrecision(t *testing.T) {
	m := mustLoad(t, "llama3-8b")
	q := func(p Precision) Op { return findOps(m.Graph(decodeBatch(8, 10), p, Options{}), OpQKV)[0] }
	w4 := q(Precision{Weights: dtype.INT4, Activations: dtype.FP16, KV: dtype.FP16})
	if w4.Compute != dtype.FP16 || w4.WeightBytes != 6144*4096*(0.5+2.0/128) {
		t.Errorf("W4A16: compute %s, %v bytes", w4.Compute, w4.WeightBytes)
	}
	if w8 := q(Precision{Weights: dtype.FP8, Activations: dtype.FP8, KV: dtype.FP8}); w8.Compute != dtype.FP8 {
		t.Errorf("W8A8 computes in %s", w8.Compute)
	}
	if w8 := q(Precision{Weights: dtype.INT8, Activations: dtype.BF16}); w8.Compute != dtype.BF16 {
		t.Errorf("W8A16 computes in %s", w8.Compute)
	}
	if d := q(Precision{}); d.Compute != dtype.BF16 || d.WeightBytes != 6144*4096*2 {
		t.Errorf("defaults: %s, %v", d.Compute, d.WeightBytes)
	}
	a := findOps(m.Graph(decodeBatch(1, 999), Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.FP8}, Options{}), OpAttn)[0]
	if a.KVReadBytes != 1000*2*1024 {
		t.Errorf("fp8 KV read %v", a.KVReadBytes)
	}
}

func TestMaterialisedAttention(t *testing.T) {
	m := mustLoad(t, "llama3-8b")
	seqs := []Seq{{New: 100}}
	flash := findOps(m.Graph(seqs, bf16, Options{}), OpAttn)[0]
	eager := findOps(m.Graph(seqs, bf16, Options{MaterialisedAttention: true}), OpAttn)[0]
	scores := 32.0 * 100 * 100 * 2 // heads × q × keys × bf16
	if got := eager.ActivationWriteBytes - flash.ActivationWriteBytes; got != 2*scores {
		t.Errorf("extra writes %v, want %v", got, 2*scores)
	}
	if eager.FLOPs != 517*32*100*100 {
		t.Errorf("eager FLOPs %v", eager.FLOPs)
	}
}

// A concatenating cache copies each sequence's past K and V once more per
// attention layer: Llama-3-8B stores 2 × 1024 × 2 = 4096 bytes per token
// and layer, read and written again; nothing is cached in a first prefill.
func TestConcatKVCache(t *testing.T) {
	m := mustLoad(t, "llama3-8b")
	concat := Options{ConcatKVCache: true}
	g := m.Graph(decodeBatch(2, 1000), bf16, concat)
	if got := opNames(g); !strings.Contains(got, "rope kv_concat attn o_proj") {
		t.Errorf("ops = %s", got)
	}
	c := findOps(g, OpKVConcat)[0]
	if want := 2 * 1000 * 4096.0; c.KVReadBytes != want || c.KVWriteBytes != want || c.Bytes() != 2*want {
		t.Errorf("kv_concat moves %v / %v, want %v each way", c.KVReadBytes, c.KVWriteBytes, want)
	}
	if c.FLOPs != 0 || c.Repeat != 32 || !c.Layered || c.Kind != KindElemwise {
		t.Errorf("kv_concat %+v", c)
	}
	// The attention op itself is unchanged.
	plain := m.Graph(decodeBatch(2, 1000), bf16, Options{})
	if a, b := findOps(g, OpAttn)[0], findOps(plain, OpAttn)[0]; a != b {
		t.Errorf("attention changed: %+v vs %+v", a, b)
	}
	if len(findOps(m.Graph([]Seq{{New: 100}}, bf16, concat), OpKVConcat)) != 0 {
		t.Error("a prefill with nothing cached concatenates")
	}
	// Mixed batch: only the decoding sequence has a past; a chunk after
	// 300 cached tokens copies those too.
	mixed := findOps(m.Graph([]Seq{{New: 100}, {Cached: 500, New: 1}, {Cached: 300, New: 64}}, bf16, concat), OpKVConcat)
	if len(mixed) != 1 || mixed[0].KVReadBytes != 800*4096 {
		t.Errorf("mixed batch kv_concat %+v", mixed)
	}
	// fp8 KV halves it.
	fp8 := Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.FP8}
	if c := findOps(m.Graph(decodeBatch(1, 1000), fp8, concat), OpKVConcat)[0]; c.KVReadBytes != 1000*2048 {
		t.Errorf("fp8 kv_concat %v", c.KVReadBytes)
	}
}

// Only attention layers concatenate, and a windowed layer copies the
// window it stores: Gemma-2-9B at 5000 cached tokens, 21 layers with a
// 4096 window and 21 global, 8 × 256 KV channels (8192 bytes per token in
// bf16); Jamba's 4 attention layers of 32.
func TestConcatKVCacheWindowsAndHybrids(t *testing.T) {
	data, err := os.ReadFile("testdata/hf/gemma-2-9b.json")
	if err != nil {
		t.Fatal(err)
	}
	gemma, err := FromHF(data, "gemma-2-9b.json")
	if err != nil {
		t.Fatal(err)
	}
	c := findOps(gemma.Graph(decodeBatch(1, 5000), bf16, Options{ConcatKVCache: true}), OpKVConcat)
	if len(c) != 2 || c[0].Repeat != 21 || c[1].Repeat != 21 {
		t.Fatalf("gemma-2 kv_concat ops %+v", c)
	}
	if c[0].KVReadBytes != 4096*8192 || c[1].KVReadBytes != 5000*8192 {
		t.Errorf("gemma-2 copies %v (windowed), %v (global)", c[0].KVReadBytes, c[1].KVReadBytes)
	}
	j := findOps(mustLoad(t, "jamba-v0.1").Graph(decodeBatch(1, 100), bf16, Options{ConcatKVCache: true}), OpKVConcat)
	if len(j) != 1 || j[0].Repeat != 4 || j[0].KVWriteBytes != 100*4096 {
		t.Errorf("jamba kv_concat %+v", j)
	}
}

func TestEmptyStep(t *testing.T) {
	g := mustLoad(t, "gpt2").Graph([]Seq{{Cached: 5, New: 0}}, bf16, Options{})
	if len(g.Ops) != 0 || g.Tokens != 0 || g.Seqs != 0 {
		t.Errorf("empty step: %+v", g)
	}
}

func TestGraphIntoAllocationFree(t *testing.T) {
	data, _ := os.ReadFile("testdata/hf/gemma-2-9b.json")
	gemma, _ := FromHF(data, "g.json")
	seqs := append(decodeBatch(64, 700), Seq{Cached: 0, New: 300}, Seq{Cached: 128, New: 64})
	for _, m := range []*Model{mustLoad(t, "llama3-8b"), mustLoad(t, "mixtral-8x7b"), gemma} {
		var g Graph
		m.GraphInto(&g, seqs, bf16, Options{})
		allocs := testing.AllocsPerRun(100, func() {
			m.GraphInto(&g, seqs, bf16, Options{MaterialisedAttention: true, ConcatKVCache: true})
			m.GraphInto(&g, seqs[:8], bf16, Options{})
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per GraphInto", m.Name, allocs)
		}
	}
}

func BenchmarkGraphInto(b *testing.B) {
	m := mustLoad(b, "mixtral-8x7b")
	seqs := append(decodeBatch(255, 1500), Seq{Cached: 0, New: 2048})
	var g Graph
	b.ReportAllocs()
	for b.Loop() {
		m.GraphInto(&g, seqs, bf16, Options{})
	}
}

// Scale multiplies all of an op's work: FLOPs, every traffic kind and its
// attention work items (a TP share, a layer fraction).
func TestOpScale(t *testing.T) {
	m := mustLoad(t, "llama3-8b")
	g := m.Graph([]Seq{{Cached: 0, New: 300}, {Cached: 100, New: 1}}, bf16, Options{})
	for _, op := range g.Ops {
		half := op
		half.Scale(0.5)
		if half.FLOPs != op.FLOPs/2 || half.Bytes() != op.Bytes()/2 || half.Items != op.Items/2 || half.QueryTiles != op.QueryTiles/2 {
			t.Errorf("%s scaled by 0.5: FLOPs %g of %g, bytes %g of %g, items %g of %g, tiles %g of %g", op.Name,
				half.FLOPs, op.FLOPs, half.Bytes(), op.Bytes(), half.Items, op.Items, half.QueryTiles, op.QueryTiles)
		}
	}
}
