package sweep

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"
)

// benchSweep is the analytic sweep of docs/SWEEPS.md: 2 GPUs × 2 models ×
// 2 dtypes × prefill and decode × 8 batches × 7 contexts × 7 prompts =
// 6,272 points.
var benchSweep = map[string]string{
	"hw":      "h100-sxm,a100-80g-sxm",
	"model":   "llama3-8b,mistral-7b",
	"dtype":   "bf16,fp8",
	"phase":   "prefill,decode",
	"batch":   "1..128:x2",
	"context": "64..4k:x2",
	"prompt":  "64..4k:x2",
}

// BenchmarkEstimatePoint prices one decode point per iteration with one
// evaluator: the hot loop without output.
func BenchmarkEstimatePoint(b *testing.B) {
	m, s := estimateSpace(b, benchSweep)
	mk, err := m.Prepare(s)
	if err != nil {
		b.Fatal(err)
	}
	ev := mk()
	idx := make([]int, len(s.Axes))
	out := make([]Value, len(m.Metrics))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Point(i%s.Size(), idx)
		if err := ev.Eval(s, idx, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkSweep runs the whole sweep (pricing and CSV formatting) with 1
// and 2 workers; points/s over the wall clock.
func BenchmarkSweep(b *testing.B) {
	m, s := estimateSpace(b, benchSweep)
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			b.ReportAllocs()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := Run(context.Background(), m, s, io.Discard, Options{Workers: workers, Format: CSV, Header: true}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*s.Size())/time.Since(start).Seconds(), "points/s")
		})
	}
}
