package workloads

import (
	"math"
	"testing"
)

// gaps draws n inter-arrival gaps in seconds.
func gaps(p Process, n int) []float64 {
	r := stream(42, streamArrival)
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(p.GapNanos(r)) / 1e9
	}
	return out
}

func TestPoissonGaps(t *testing.T) {
	// Exponential gaps: mean 1/rate = 50 ms and CV 1. With 100k samples the
	// standard error of the mean is 0.3%.
	mean, std := meanStd(gaps(Poisson{RatePerSecond: 20}, 100_000))
	within(t, "mean gap (s)", mean, 0.05, 0.02)
	within(t, "CV", std/mean, 1, 0.02)
}

func TestGammaGaps(t *testing.T) {
	for _, cv := range []float64{0.25, 0.5, 1, 2, 4} {
		g := Gamma{RatePerSecond: 20, CV: cv}
		mean, std := meanStd(gaps(g, 200_000))
		within(t, g.String()+" mean gap (s)", mean, 0.05, 0.03)
		within(t, g.String()+" CV", std/mean, cv, 0.05)
	}
}

func TestConstantGapsExact(t *testing.T) {
	src, err := New(Spec{Arrival: Constant{RatePerSecond: 4}, Prompt: Fixed{1}, Output: Fixed{1}, NumRequests: 5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range drain(t, src) {
		if want := int64(i) * 250_000_000; r.ArrivalNanos != want {
			t.Errorf("request %d arrives at %d ns, want %d", i, r.ArrivalNanos, want)
		}
	}
	// 1/3 s rounds to 333,333,333 ns.
	if got := (Constant{RatePerSecond: 3}).GapNanos(nil); got != 333_333_333 {
		t.Errorf("gap at 3/s = %d ns, want 333333333", got)
	}
}

func TestMeanGapSeconds(t *testing.T) {
	for _, p := range []Process{Poisson{8}, Gamma{8, 3}, Constant{8}} {
		if got := p.MeanGapSeconds(); got != 0.125 {
			t.Errorf("%s: mean gap %g s, want 0.125", p, got)
		}
	}
}

func TestGammaShapeBelowOneIsFinite(t *testing.T) {
	// CV 10 is shape 0.01: the boost U^(1/shape) underflows to 0 often,
	// which must give zero gaps, never NaN or negative ones.
	r := stream(7, streamArrival)
	g := Gamma{RatePerSecond: 1, CV: 10}
	for range 10_000 {
		if gap := g.GapNanos(r); gap < 0 || gap > math.MaxInt64/4 {
			t.Fatalf("gap %d ns out of range", gap)
		}
	}
}
