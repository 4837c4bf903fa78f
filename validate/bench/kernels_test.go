package bench

import (
	"fmt"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/validate/engine"
)

// Go benchmarks of the engine's kernels and steps, for `go test -bench`.
// Custom metrics: GFLOP/s, weightGB/s (weight bytes read per second),
// tokens/s.

func BenchmarkGEMM(b *testing.B) {
	p := engine.NewPool(0)
	defer p.Close()
	const n, k = 2048, 2048
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		w, err := randomMatrix(p, n, k, dt)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []int{1, 4, 16, 64, 256, 1024} {
			b.Run(fmt.Sprintf("%s/M=%d", dt, m), func(b *testing.B) {
				x := make([]float32, m*k)
				fill(x, 0.5)
				dst := make([]float32, m*n)
				for b.Loop() {
					engine.MatMul(p, dst, x, m, w, nil)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(2*float64(m*n*k)/sec/1e9, "GFLOP/s")
				b.ReportMetric(float64(w.Bytes())/sec/1e9, "weightGB/s")
			})
		}
	}
}

func BenchmarkGEMV(b *testing.B) {
	p := engine.NewPool(0)
	defer p.Close()
	const k = 4096
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		n := int(4*LastLevelCacheBytes()/int64(dt.Bytes()*k)) &^ 63
		w, err := randomMatrix(p, n, k, dt)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(dt), func(b *testing.B) {
			x := make([]float32, k)
			fill(x, 1)
			dst := make([]float32, n)
			for b.Loop() {
				engine.MatMul(p, dst, x, 1, w, nil)
			}
			b.ReportMetric(float64(w.Bytes())*float64(b.N)/b.Elapsed().Seconds()/1e9, "weightGB/s")
		})
	}
}

// benchArch is a Llama-style model of about 92M parameters (368 MB in fp32,
// beyond the last-level cache): big enough for a decode step to be bound by
// memory or by dequantisation, small enough to build in a second.
var benchArch = models.Arch{Name: "bench-92m", Layers: 4, Hidden: 1024, Heads: 16, KVHeads: 4,
	Intermediate: 4096, Vocab: 32000, Norm: "rmsnorm", Activation: "swiglu", Position: "rope", TiedEmbeddings: true}

// BenchmarkDecodeStep times one decode step of one sequence with 64 to
// about 1000 tokens of context.
func BenchmarkDecodeStep(b *testing.B) {
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		b.Run(string(dt), func(b *testing.B) {
			e, err := engine.New(engine.Config{Arch: benchArch, Weights: dt, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			prompt := make([]int, 64)
			next, _, err := e.Prefill([][]int{prompt})
			if err != nil {
				b.Fatal(err)
			}
			var bytes int64
			for b.Loop() {
				if e.SeqLen(0) > 1000 {
					e.Reset()
					next, _, _ = e.Prefill([][]int{prompt})
				}
				var tm engine.Timing
				next, tm, _ = e.Decode(next)
				bytes = tm.WeightBytes
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(bytes)/sec/1e9, "weightGB/s")
			b.ReportMetric(1/sec, "tokens/s")
		})
	}
}

// BenchmarkPrefill times a 128-token prompt on the same model (fp32).
func BenchmarkPrefill(b *testing.B) {
	e, err := engine.New(engine.Config{Arch: benchArch, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	prompt := make([]int, 128)
	for b.Loop() {
		e.Reset()
		if _, _, err := e.Prefill([][]int{prompt}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkMemoryRead reads a buffer four times the last-level cache on
// every core.
func BenchmarkMemoryRead(b *testing.B) {
	v := make([]uint64, 4*LastLevelCacheBytes()/8)
	threads := Options{}.threads()
	for b.Loop() {
		parallel(threads, len(v), func(lo, hi int) { sumUint64(v[lo:hi]) })
	}
	b.ReportMetric(float64(8*len(v))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
