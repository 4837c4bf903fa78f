package engine

import (
	"time"

	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// testArchs are small models covering every supported feature.
func testArchs() []models.Arch {
	llama := models.Arch{Name: "gqa", Layers: 2, Hidden: 48, Heads: 4, KVHeads: 2, Intermediate: 80, Vocab: 97,
		Norm: "rmsnorm", Activation: "swiglu", Position: "rope"}
	mha := llama
	mha.Name, mha.KVHeads, mha.TiedEmbeddings = "mha-tied", 4, true
	mqa := llama
	mqa.Name, mqa.KVHeads, mqa.HeadDim, mqa.QKVBias = "mqa-headdim-qkvbias", 1, 20, true
	opt := models.Arch{Name: "opt", Layers: 2, Hidden: 40, Heads: 5, KVHeads: 5, Intermediate: 72, Vocab: 61,
		MaxContext: 32, Norm: "layernorm", Activation: "gelu", Position: "learned", LinearBias: true, TiedEmbeddings: true}
	relu := opt
	relu.Name, relu.Activation, relu.Position = "relu-nopos", "relu", "none"
	moe := llama
	moe.Name = "moe"
	moe.MoE = &models.MoE{Experts: 4, TopK: 2, ExpertIntermediate: 24, SharedExperts: 2, SharedIntermediate: 16, Every: 2}
	swa := llama
	swa.Name, swa.Layers, swa.SlidingWindow, swa.GlobalEvery = "sliding", 3, 3, 3
	par := llama
	par.Name, par.ParallelBlock, par.Activation, par.Norm = "parallel-geglu", true, "geglu", "layernorm"
	return []models.Arch{llama, mha, mqa, opt, relu, moe, swa, par}
}

var formats = []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8}

func newTestEngine(t testing.TB, a models.Arch, dt dtype.DType, threads int) *Engine {
	t.Helper()
	e, err := New(Config{Arch: a, Weights: dt, Seed: 42, Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func prompts(vocab int) [][]int {
	a := []int{1, 5, 9, 2, 7}
	b := []int{3, 3, 8, 0, 4, 6, 11, 12, 2}
	for i := range b {
		b[i] %= vocab
	}
	return [][]int{a, b}
}

func logitErr(got []float32, want []float64) float64 {
	w := make([]float32, len(want))
	for i, v := range want {
		w[i] = float32(v)
	}
	return relErr(got, w)
}

// TestForwardMatchesReference checks the logits of a prefill of two prompts
// of different lengths and of three decode steps after it against the
// float64 reference recomputing each whole sequence: this covers every op,
// the batching of sequences with different cached lengths, and the KV cache.
func TestForwardMatchesReference(t *testing.T) {
	for _, a := range testArchs() {
		for _, dt := range formats {
			t.Run(a.Name+"/"+string(dt), func(t *testing.T) {
				e := newTestEngine(t, a, dt, 0)
				ref := newReference(e)
				hist := prompts(a.Vocab)
				next, _, err := e.Prefill(hist)
				if err != nil {
					t.Fatal(err)
				}
				for stepNo := 0; ; stepNo++ {
					for i := range hist {
						want := ref.logits(hist[i])
						if err := logitErr(e.Logits(i), want); err > 1e-5 {
							t.Fatalf("step %d, sequence %d: logits relative error %.2g > 1e-5", stepNo, i, err)
						}
						if next[i] != argmax(e.Logits(i)) {
							t.Fatalf("step %d, sequence %d: next token %d is not the argmax", stepNo, i, next[i])
						}
					}
					if stepNo == 3 {
						break
					}
					for i := range hist {
						hist[i] = append(hist[i], next[i])
					}
					if next, _, err = e.Decode(next); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// TestDecodeEqualsLongerPrefill: prefill then decode (or a chunked Extend)
// must give what one prefill of the whole sequence gives.
func TestDecodeEqualsLongerPrefill(t *testing.T) {
	for _, a := range testArchs() {
		t.Run(a.Name, func(t *testing.T) {
			full := []int{4, 8, 15, 16, 23, 42 % a.Vocab, 7, 1, 9, 3}
			one := newTestEngine(t, a, dtype.FP32, 0)
			if _, _, err := one.Prefill([][]int{full}); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), one.Logits(0)...)

			inc := newTestEngine(t, a, dtype.FP32, 0)
			if _, _, err := inc.Prefill([][]int{full[:4]}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := inc.Extend([]int{0}, [][]int{full[4:7]}); err != nil {
				t.Fatal(err)
			}
			for _, tok := range full[7:] {
				if _, _, err := inc.Decode([]int{tok}); err != nil {
					t.Fatal(err)
				}
			}
			if err := relErr(inc.Logits(0), want); err > 1e-5 {
				t.Fatalf("incremental vs one prefill: relative error %.2g", err)
			}
			if inc.SeqLen(0) != len(full) {
				t.Fatalf("cached length %d, want %d", inc.SeqLen(0), len(full))
			}
		})
	}
}

// TestDeterministic: same seed, same logits bit for bit, whatever the
// thread count; int8 and bf16 hold the fp32 weights up to rounding.
func TestDeterministic(t *testing.T) {
	a := testArchs()[0]
	var runs [][]float32
	for _, threads := range []int{1, 2, 3} {
		e := newTestEngine(t, a, dtype.FP32, threads)
		if _, _, err := e.Prefill(prompts(a.Vocab)); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, append([]float32(nil), e.Logits(1)...))
	}
	for i := 1; i < len(runs); i++ {
		for j := range runs[0] {
			if runs[i][j] != runs[0][j] {
				t.Fatalf("run %d differs at logit %d: %v vs %v", i, j, runs[i][j], runs[0][j])
			}
		}
	}
	for _, dt := range []dtype.DType{dtype.BF16, dtype.INT8} {
		e := newTestEngine(t, a, dt, 0)
		e.Prefill(prompts(a.Vocab))
		if err := relErr(e.Logits(1), runs[0]); err > 0.1 || err == 0 {
			t.Errorf("%s vs fp32 weights: relative logit difference %.2g, want small but nonzero", dt, err)
		}
	}
}

func TestTimingAndBytes(t *testing.T) {
	for _, a := range testArchs() {
		e := newTestEngine(t, a, dtype.BF16, 0)
		_, pre, err := e.Prefill(prompts(a.Vocab))
		if err != nil {
			t.Fatal(err)
		}
		_, dec, err := e.Decode([]int{1, 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range []Timing{pre, dec} {
			var sum float64
			for _, d := range tm.Ops {
				sum += d.Seconds()
			}
			if sum > tm.Step.Seconds()*1.0001 || sum < 0.5*tm.Step.Seconds() {
				t.Errorf("%s: ops sum to %v of a %v step", a.Name, sum, tm.Step)
			}
			want := []string{models.OpEmbed, models.OpAttnNorm, models.OpQKV, models.OpAttn, models.OpOProj,
				models.OpResidual, models.OpFinalNorm, models.OpLMHead, models.OpSample}
			if a.MoE != nil {
				want = append(want, models.OpRouter, models.OpExperts, models.OpSharedExpert)
			}
			for _, op := range want {
				if _, ok := tm.Ops[op]; !ok {
					t.Errorf("%s: op %q not timed (have %v)", a.Name, op, tm.Ops)
				}
			}
		}
		if dec.Tokens != 2 || dec.Seqs != 2 || pre.Tokens != 14 {
			t.Errorf("%s: tokens %d/%d, seqs %d", a.Name, pre.Tokens, dec.Tokens, dec.Seqs)
		}
		if a.MoE == nil {
			// A dense decode step reads every layer matrix and the LM head
			// once, and one embedding (and position) row per token.
			want := e.w.lmHead.Bytes() + 2*e.w.embed.Bytes()/int64(a.Vocab)
			if e.w.pos != nil {
				want += 2 * e.w.pos.Bytes() / int64(a.MaxContext)
			}
			for _, ly := range e.w.layers {
				want += ly.qkv.Bytes() + ly.o.Bytes() + ly.dense.up.Bytes() + ly.dense.down.Bytes()
			}
			if dec.WeightBytes != want {
				t.Errorf("%s: decode read %d weight bytes, want %d", a.Name, dec.WeightBytes, want)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	a := testArchs()[3] // learned positions, max_context 32
	e := newTestEngine(t, a, dtype.FP32, 0)
	cases := []struct {
		name string
		run  func() error
	}{
		{"empty prompt", func() error { _, _, err := e.Prefill([][]int{{}}); return err }},
		{"token out of vocab", func() error { _, _, err := e.Prefill([][]int{{1, 999}}); return err }},
		{"too long", func() error { _, _, err := e.Prefill([][]int{make([]int, 33)}); return err }},
		{"decode count", func() error { _, _, err := e.Decode([]int{1, 2}); return err }},
		{"unknown sequence", func() error { _, _, err := e.Extend([]int{5}, [][]int{{1}}); return err }},
	}
	for _, c := range cases {
		if err := c.run(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if e.NumSeqs() != 0 {
		t.Errorf("failed calls left %d sequences", e.NumSeqs())
	}
	bad := []models.Arch{
		{Name: "kv", Layers: 1, Hidden: 8, Heads: 3, KVHeads: 2, Intermediate: 8, Vocab: 4},
		{Name: "alibi", Layers: 1, Hidden: 8, Heads: 2, Intermediate: 8, Vocab: 4, Position: "alibi"},
		{Name: "act", Layers: 1, Hidden: 8, Heads: 2, Intermediate: 8, Vocab: 4, Activation: "tanh"},
	}
	for _, a := range bad {
		if _, err := New(Config{Arch: a}); err == nil {
			t.Errorf("arch %s: no error", a.Name)
		}
	}
	if _, err := New(Config{Arch: testArchs()[0], Weights: dtype.INT4}); err == nil {
		t.Error("int4 storage: no error")
	}
}

func TestBF16Rounding(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {0, 0},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
	}
	for _, c := range cases {
		if got := BF16FromFloat32(c.in); got != c.want {
			t.Errorf("BF16FromFloat32(%v) = %#x, want %#x", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x0001, 1.0 / (1 << 24)}, {0x7bff, 65504}} {
		if got := float32FromF16(c.h); got != c.want {
			t.Errorf("float32FromF16(%#x) = %v, want %v", c.h, got, c.want)
		}
	}
}

// TestContinuousBatching: a sequence prefilled while another is decoding,
// then both decoded together, match the reference.
func TestContinuousBatching(t *testing.T) {
	a := testArchs()[5] // moe
	e := newTestEngine(t, a, dtype.FP32, 0)
	ref := newReference(e)
	hist := [][]int{{5, 6, 7}}
	next, _, err := e.Prefill(hist)
	if err != nil {
		t.Fatal(err)
	}
	hist[0] = append(hist[0], next[0])
	if _, _, err = e.Decode(next); err != nil {
		t.Fatal(err)
	}
	first := argmax(e.Logits(0))
	hist = append(hist, []int{9, 8, 1, 2})
	nb, _, err := e.Prefill(hist[1:])
	if err != nil {
		t.Fatal(err)
	}
	if e.NumSeqs() != 2 {
		t.Fatalf("%d sequences, want 2", e.NumSeqs())
	}
	hist[0] = append(hist[0], first)
	hist[1] = append(hist[1], nb[0])
	if _, _, err = e.Decode([]int{first, nb[0]}); err != nil {
		t.Fatal(err)
	}
	for i := range hist {
		if err := logitErr(e.Logits(i), ref.logits(hist[i])); err > 1e-5 {
			t.Errorf("sequence %d: relative error %.2g", i, err)
		}
	}
}

// TestKVReserve: a sequence whose cache outgrows its reserved block (moved
// into a larger buffer) and one that reuses the buffers of sequences a
// Reset dropped compute what a fresh engine computes.
func TestKVReserve(t *testing.T) {
	a := testArchs()[0]
	a.MaxContext = 2 * kvBlockTokens
	full := make([]int, kvBlockTokens+6)
	for i := range full {
		full[i] = (i*31 + 7) % a.Vocab
	}
	fresh := newTestEngine(t, a, dtype.FP32, 1)
	if _, _, err := fresh.Prefill([][]int{full}); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), fresh.Logits(0)...)

	e := newTestEngine(t, a, dtype.FP32, 1)
	if _, _, err := e.Prefill([][]int{full[:8], full[:kvBlockTokens]}); err != nil {
		t.Fatal(err)
	}
	e.Reset()
	if _, _, err := e.Prefill([][]int{full[:kvBlockTokens-2]}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range full[kvBlockTokens-2:] {
		if _, _, err := e.Decode([]int{tok}); err != nil {
			t.Fatal(err)
		}
	}
	if err := relErr(e.Logits(0), want); err > 1e-5 {
		t.Fatalf("reused and grown cache vs a fresh prefill: relative error %.2g", err)
	}
	if got := cap(e.seqs[0].k[0]); got != 2*kvBlockTokens*e.s.headDim {
		t.Fatalf("cache capacity %d floats, want two blocks (%d)", got, 2*kvBlockTokens*e.s.headDim)
	}
}

// TestClock: with Config.Clock the step and its ops are timed by it. A
// clock that advances 1 µs per reading charges each op 1 µs per lap and
// the step one more reading than its ops.
func TestClock(t *testing.T) {
	var readings time.Duration
	e, err := New(Config{Arch: testArchs()[0], Seed: 1, Threads: 1, Clock: func() time.Duration { readings += time.Microsecond; return readings }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, tm, err := e.Prefill([][]int{{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	var ops time.Duration
	for _, d := range tm.Ops {
		if d <= 0 || d%time.Microsecond != 0 {
			t.Errorf("op time %v, want a positive whole number of µs", d)
		}
		ops += d
	}
	if tm.Step != ops+time.Microsecond {
		t.Errorf("step %v, ops %v: want the step one reading (1 µs) past the ops", tm.Step, ops)
	}
}
