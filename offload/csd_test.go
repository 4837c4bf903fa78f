package offload

import (
	"math"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// SparF at 1/8 on one KV head of OPT-13B / Llama-2-13B (d = 128, fp16,
// 4,096-byte pages): r = 16 channels, k = S/16 tokens. A channel-major page
// holds 2,048 tokens of one channel; a token-major page holds 16 tokens of
// one head (256 B each).
func TestSparFHeadReads(t *testing.T) {
	sp := &SparF{Ratio: 0.125, PageBytes: 4096}
	cases := []struct {
		name          string
		tokens        float64
		channel, toks float64 // bytes
		attended      float64
	}{
		// 16 channels × 1 full page; 128 tokens = 8 page groups of K and of V.
		// 131,072 B = 1/8 of the dense 2 × 2,048 × 128 × 2 = 1,048,576 B.
		{"full pages", 2048, 16 * 4096, 2 * 8 * 4096, 128},
		// Half-filled channel pages still cost a page each: 65,536 B where
		// 32,768 B hold data; 64 tokens = 4 groups. 98,304 B = 0.1875 of the
		// dense 524,288 B.
		{"half pages", 1024, 16 * 4096, 2 * 4 * 4096, 64},
		// One token past a page: 2 pages per channel; k = ⌈128.06⌉ = 129
		// tokens → 9 groups, 144 tokens attended.
		{"one past", 2049, 16 * 2 * 4096, 2 * 9 * 4096, 144},
	}
	for _, c := range cases {
		r := sp.head(c.tokens, 128, 2)
		if r.Channels != 16 || r.ChannelBytes != c.channel || r.TokenBytes != c.toks || r.Attended != c.attended {
			t.Errorf("%s: r %g, channel %g B, token %g B, attended %g; want 16, %g, %g, %g",
				c.name, r.Channels, r.ChannelBytes, r.TokenBytes, r.Attended, c.channel, c.toks, c.attended)
		}
	}
	// SparQ's token-wise selection on flash: 128 scattered tokens touch 128
	// distinct pages (there are 2,048 / 16 = 128), so the K and V reads cost
	// the whole dense cache, 1,048,576 B, sixteen times the page groups'.
	tok := (&SparF{Ratio: 0.125, PageBytes: 4096, Tokens: true}).head(2048, 128, 2)
	if tok.TokenBytes != 2*128*4096 || tok.Attended != 128 {
		t.Errorf("token-wise: %g B over %g tokens, want %d over 128", tok.TokenBytes, tok.Attended, 2*128*4096)
	}
	// Engine work per query head at S = 2,048: scores 2 × 2,048 × 16 =
	// 65,536, top-k 2,048 × log2 128 = 14,336, attention 4 × 128 × 128 =
	// 65,536.
	if got := sp.head(2048, 128, 2).flops(2048, 128); got != 145408 {
		t.Errorf("engine FLOPs %g, want 145408", got)
	}
}

// Page reads on a drive with a host-style read curve (SmartSSD: 0.63 at
// 4 KiB) take 1/0.63 of their time at the rated rate; without a curve 1.
func TestSparFStretch(t *testing.T) {
	r := (&SparF{Ratio: 0.125, PageBytes: 4096}).head(2048, 128, 2)
	curve := hw.Curve{Points: [][2]float64{{4096, 0.63}, {131072, 1}}}
	if got := r.stretch(curve); math.Abs(got-1/0.63) > 1e-12 {
		t.Errorf("stretch %g, want %g", got, 1/0.63)
	}
	if got := r.stretch(hw.Curve{}); got != 1 {
		t.Errorf("stretch without a curve %g, want 1", got)
	}
}

// One decode step of OPT-13B (40 layers, 40 heads of 128, fp16: 819,200 B
// of K+V per token) on one InstInfer-class drive, 2 sequences at context
// 2,048. Dense reads 2 × 2,048 × 819,200 = 3,355,443,200 B; SparF at 1/8
// reads 2 seqs × 40 layers × 40 heads × 131,072 B = 419,430,400 B, exactly
// 1/8. SparF stores and writes K twice: 1.5 × the dense bytes.
func TestInstInferSparseStep(t *testing.T) {
	tg := NewTarget(mustSystem(t, "a6000-instinfer"), mustModel(t, "opt-13b"), models.Precision{})
	w := Workload{Prompt: 2048, Output: 2}
	const perToken = 819200.0
	for _, c := range []struct {
		spec         string
		read, stored float64
	}{
		{"instinfer:gbs=2,ngb=1", 2 * 2048 * perToken, 1},
		{"instinfer:gbs=2,ngb=1,sparse=0.125", 419430400, 1.5},
	} {
		s, err := Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Run(tg, w)
		if err != nil {
			t.Fatal(err)
		}
		var read, written float64
		for _, ru := range r.Resources {
			switch {
			case strings.HasSuffix(ru.Name, "nand read"):
				read = ru.Bytes
			case strings.HasSuffix(ru.Name, "nand write"):
				written = ru.Bytes
			}
		}
		// Prefill writes 2,048 tokens, the decode step one more.
		if read != c.read || written != c.stored*2*2049*perToken {
			t.Errorf("%s: read %g B, wrote %g B; want %g, %g", c.spec, read, written, c.read, c.stored*2*2049*perToken)
		}
		if got, want := r.Memory[1].KVBytes, c.stored*2*2050*perToken; got != want {
			t.Errorf("%s: CSD holds %g B of KV, want %g", c.spec, got, want)
		}
	}
}

// sparse=1 (the default) is dense attention: no SparF plan, the old name.
func TestInstInferDenseDefault(t *testing.T) {
	for spec, want := range map[string]string{
		"instinfer:gbs=16,ngb=4":              "instinfer:ngb=4,eff=0.8,gbs=16",
		"instinfer:gbs=16,ngb=4,sparse=1":     "instinfer:ngb=4,eff=0.8,gbs=16",
		"instinfer:gbs=16,ngb=4,sparse=0.125": "instinfer:ngb=4,eff=0.8,sparse=0.125,page=4096,gbs=16",
	} {
		s, err := Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != want {
			t.Errorf("%s: %s, want %s", spec, got, want)
		}
		if ii := s.(*InstInfer); (ii.Sparse != nil) != strings.Contains(want, "sparse") {
			t.Errorf("%s: sparse plan %+v", spec, ii.Sparse)
		}
	}
	if _, err := Parse("instinfer:sparse=0"); err == nil {
		t.Error("sparse=0 accepted")
	}
}
