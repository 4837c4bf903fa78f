package workloads

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func samples(l Length, n int) []float64 {
	r := stream(42, streamPrompt)
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(l.Sample(r))
	}
	return out
}

func TestUniformBounds(t *testing.T) {
	u := Uniform{Min: 128, Max: 131}
	seen := map[int]int{}
	for _, x := range samples(u, 40_000) {
		seen[int(x)]++
	}
	if len(seen) != 4 {
		t.Fatalf("saw values %v, want exactly 128..131", seen)
	}
	for v, n := range seen {
		if v < 128 || v > 131 {
			t.Errorf("value %d outside 128..131", v)
		}
		within(t, fmt.Sprintf("share of %d", v), float64(n)/40_000, 0.25, 0.05)
	}
	if u.Mean() != 129.5 {
		t.Errorf("mean %g, want 129.5", u.Mean())
	}
}

func TestLogNormalOf(t *testing.T) {
	// mean 512, std 256: σ² = ln(1 + 0.25) = 0.22314, μ = ln 512 − σ²/2 = 6.12675.
	l := LogNormalOf(512, 256, 0)
	if math.Abs(l.Sigma*l.Sigma-0.22314) > 1e-5 || math.Abs(l.Mu-6.12675) > 1e-5 {
		t.Errorf("LogNormalOf(512, 256) = %+v, want μ 6.12675, σ² 0.22314", l)
	}
	mean, std := meanStd(samples(l, 200_000))
	within(t, "sample mean", mean, 512, 0.01)
	within(t, "sample std", std, 256, 0.03)
	within(t, "Mean()", l.Mean(), 512, 1e-6)
}

func TestNormalClampedAtOne(t *testing.T) {
	// N(1, 1) clamped at 1: E = 1·½ + E[X; X > 1] = ½ + (½ + φ(0)) = 1 + 0.39894.
	n := Normal{MeanTokens: 1, StdTokens: 1}
	within(t, "Mean()", n.Mean(), 1.39894, 1e-4)
	for _, x := range samples(n, 1000) {
		if x < 1 {
			t.Fatalf("sample %g below 1", x)
		}
	}
}

// TestMeanMatchesSamples checks every distribution's Mean against its
// sample mean, clamps included (rounding adds at most ~0.5 token of bias).
func TestMeanMatchesSamples(t *testing.T) {
	hist, err := NewEmpirical([]int{10, 20, 40}, []float64{1, 0, 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Length{
		Fixed{512},
		Uniform{1, 1000},
		Normal{MeanTokens: 512, StdTokens: 128},
		Normal{MeanTokens: 100, StdTokens: 200, Max: 300},
		LogNormalOf(161, 242, 2048),
		LogNormal{Mu: 7, Sigma: 1.5, Max: 4096},
		hist,
	} {
		mean, _ := meanStd(samples(l, 200_000))
		if math.Abs(mean-l.Mean()) > 0.015*l.Mean()+0.5 {
			t.Errorf("%s: sample mean %.2f, Mean() %.2f", l, mean, l.Mean())
		}
	}
}

func TestEmpiricalProportions(t *testing.T) {
	e, err := ReadHistogram(strings.NewReader("tokens,count\n100,1\n200,2\n300,7\n400,0\n"), "h.csv")
	if err != nil {
		t.Fatal(err)
	}
	within(t, "Mean()", e.Mean(), (100*1+200*2+300*7)/10.0, 1e-12)
	counts := map[int]float64{}
	const n = 100_000
	for _, x := range samples(e, n) {
		counts[int(x)]++
	}
	for v, share := range map[int]float64{100: 0.1, 200: 0.2, 300: 0.7} {
		if got := counts[v] / n; math.Abs(got-share) > 0.01 {
			t.Errorf("share of %d = %.3f, want %.1f", v, got, share)
		}
	}
	if counts[400] != 0 {
		t.Errorf("zero-weight bin drawn %v times", counts[400])
	}
}

func TestHistogramFormats(t *testing.T) {
	for _, text := range []string{
		"100,1\n200,3\n",
		"tokens,weight\n100,0.25\n200,0.75\n",
		"# from a tokenizer run\nweight, tokens\n0.25, 100\n0.75, 200\n",
	} {
		e, err := ReadHistogram(strings.NewReader(text), "h.csv")
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if e.Mean() != 175 {
			t.Errorf("%q: mean %g, want 175", text, e.Mean())
		}
	}
}

func TestHistogramErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"tokens,weight\n100,1\n2x0,1\n", "h.csv:3: tokens"},
		{"100,1\n200,-1\n", "h.csv:2: weight"},
		{"100,1\n200,abc\n", "h.csv:2: weight"},
		{"100,1\n0,1\n", "h.csv:2: tokens"},
		{"100,1,5\n", "h.csv:1: want 2 fields"},
		{"tokens,prob\n100,1\n", "h.csv:1: header: unknown column \"prob\""},
		{"tokens,weight\n", "h.csv: histogram has no rows"},
		{"100,0\n200,0\n", "positive"},
		{"100,\"1\n", "h.csv:1:"},
	} {
		_, err := ReadHistogram(strings.NewReader(c.text), "h.csv")
		wantError(t, err, c.want)
	}
}
