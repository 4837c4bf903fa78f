package metrics

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestBucketsAreContiguousAndNarrow(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		b := bucketOf(v)
		if b < prev || b >= bucketCount {
			t.Fatalf("bucket of %d = %d (prev %d, count %d)", v, b, prev, bucketCount)
		}
		prev = b
		if mid := bucketMid(b); math.Abs(mid-float64(v)) > float64(v)/256+0.5 {
			t.Fatalf("value %d in bucket %d read back as %g: error over 1/256", v, b, mid)
		}
	}
	// Every bucket index from 0 up is reachable in order.
	for v, want := int64(256), 256; v < 1<<12; v += 1 << (bucketOf(v)/halfBuckets - 1) {
		if got := bucketOf(v); got != want {
			t.Fatalf("bucketOf(%d) = %d, want %d", v, got, want)
		}
		want++
	}
}

func TestQuantilesWithinHalfPercent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h Histogram
	values := make([]float64, 0, 100000)
	for i := 0; i < 100000; i++ {
		v := int64(math.Exp(r.NormFloat64()*2 + 16)) // lognormal around 9 ms
		h.Record(v)
		values = append(values, float64(v))
	}
	sort.Float64s(values)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := values[int(math.Ceil(q*float64(len(values))))-1]
		if got := h.Quantile(q); math.Abs(got-exact) > 0.005*exact {
			t.Errorf("q%g: %g vs exact %g (%.3f%%)", q, got, exact, 100*(got-exact)/exact)
		}
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	if math.Abs(h.Mean()-sum/float64(len(values))) > 1e-6*h.Mean() {
		t.Fatal("mean not exact")
	}
}

func TestHandCheckedSummary(t *testing.T) {
	var h Histogram
	for _, v := range []int64{100, 200, 300, 400} { // exact buckets below 256? 300, 400 are not
		h.Record(v * 1e6) // 0.1 .. 0.4 s
	}
	s := h.Seconds()
	if s.Count != 4 || math.Abs(s.Mean-0.25) > 1e-12 || s.Min != 0.1 || s.Max != 0.4 {
		t.Fatalf("%+v", s)
	}
	if math.Abs(s.P50-0.2) > 0.2/256 || math.Abs(s.P99-0.4) > 0.4/256 {
		t.Fatalf("p50 %g p99 %g", s.P50, s.P99)
	}
	var empty Histogram
	if empty.Seconds() != (Summary{}) {
		t.Fatal("empty summary not zero")
	}
}

func TestMerge(t *testing.T) {
	var a, b Histogram
	a.Record(10)
	b.Record(5)
	b.Record(1000)
	a.Merge(&b)
	if a.Count() != 3 || a.min != 5 || a.max != 1000 {
		t.Fatalf("%d %d %d", a.Count(), a.min, a.max)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(123456789) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	for i := 0; i < b.N; i++ {
		h.Record(int64(i) * 7919)
	}
}

func TestCollectorHandExample(t *testing.T) {
	c := Collector{SLO: SLO{TTFTSeconds: 0.2, TPOTSeconds: 0.02}}
	// Arrives at 0, first token at 0.1 s, 11 tokens by 0.3 s: TPOT 20 ms.
	good := Done{ArrivalNanos: 0, ScheduledNanos: 5e7, FirstTokenNanos: 1e8, LastTokenNanos: 3e8, FinishNanos: 3e8, PromptTokens: 100, OutputTokens: 11}
	// TTFT 0.5 s misses the objective.
	late := Done{ArrivalNanos: 1e9, ScheduledNanos: 1.4e9, FirstTokenNanos: 1.5e9, LastTokenNanos: 1.5e9, FinishNanos: 1.5e9, PromptTokens: 10, OutputTokens: 1}
	c.Finish(&good)
	c.Finish(&late)
	c.Reject("kv")
	if good.TPOTNanos() != 2e7 || !c.SLO.Meets(&good) || c.SLO.Meets(&late) {
		t.Fatal("TPOT or SLO check")
	}
	if c.Completed != 2 || c.Good != 1 || c.GoodOutputTokens != 11 || c.OutputTokens != 12 || c.RejectedTotal() != 1 {
		t.Fatalf("%+v", c)
	}
	if c.TPOT.Count() != 1 || math.Abs(c.E2E.Mean()-4e8) > 1 {
		t.Fatal("single-token requests have no TPOT; E2E mean (0.3+0.5)/2")
	}
}
