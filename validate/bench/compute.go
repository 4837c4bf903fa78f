package bench

import (
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/validate/engine"
)

type shape struct{ m, n, k int }

// gemmShapes: an M sweep at N = K = 2048 (a 1B model's square projections)
// for every format, and the wide and deep shapes of a 1B model's MLP and
// fused QKV at a prompt-sized M.
func gemmShapes(quick bool) map[dtype.DType][]shape {
	if quick {
		return map[dtype.DType][]shape{dtype.FP32: {{1, 1024, 1024}, {16, 1024, 1024}, {256, 1024, 1024}}}
	}
	out := map[dtype.DType][]shape{}
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		maxM := 2048
		if dt != dtype.FP32 {
			maxM = 256
		}
		for m := 1; m <= maxM; m *= 2 {
			out[dt] = append(out[dt], shape{m, 2048, 2048})
		}
	}
	out[dtype.FP32] = append(out[dtype.FP32], shape{256, 3072, 2048}, shape{256, 16384, 2048}, shape{256, 2048, 8192})
	return out
}

// GEMM measures the engine's MatMul (all threads) over shapes and formats,
// and gonum's Sgemm at two of them.
func GEMM(o Options) ([]Result, error) {
	threads := o.threads()
	pool := engine.NewPool(threads)
	defer pool.Close()
	var out []Result
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		var w *engine.Matrix
		for _, s := range gemmShapes(o.Quick)[dt] {
			if w == nil || w.Rows != s.n || w.Cols != s.k {
				var err error
				if w, err = randomMatrix(pool, s.n, s.k, dt); err != nil {
					return nil, err
				}
			}
			x := make([]float32, s.m*s.k)
			fill(x, 0.5)
			dst := make([]float32, s.m*s.n)
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			sec, n := measure(2, 0.2, func() { engine.MatMul(pool, dst, x, s.m, w, nil) })
			out = append(out, Result{Kind: "gemm", Threads: threads, DType: dt, M: s.m, N: s.n, K: s.k,
				Bytes: w.Bytes(), FLOPs: flops, Seconds: sec, FLOPsPerSecond: flops / sec,
				BytesPerSecond: float64(w.Bytes()) / sec, Reps: n})
		}
	}
	gonum := []shape{{256, 2048, 2048}, {1024, 2048, 2048}}
	if o.Quick {
		gonum = []shape{{256, 1024, 1024}}
	}
	for _, s := range gonum {
		out = append(out, gonumGEMM(s))
	}
	return out, nil
}

// gonumGEMM times C = A·Bᵀ with blas32 (gonum's own goroutines, up to
// GOMAXPROCS).
func gonumGEMM(s shape) Result {
	a := blas32.General{Rows: s.m, Cols: s.k, Stride: s.k, Data: make([]float32, s.m*s.k)}
	b := blas32.General{Rows: s.n, Cols: s.k, Stride: s.k, Data: make([]float32, s.n*s.k)}
	c := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: make([]float32, s.m*s.n)}
	fill(a.Data, 0.5)
	fill(b.Data, 0.05)
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	sec, n := measure(2, 0.2, func() { blas32.Gemm(blas.NoTrans, blas.Trans, 1, a, b, 0, c) })
	return Result{Kind: "gemm_gonum", Threads: runtime.GOMAXPROCS(0), DType: dtype.FP32, M: s.m, N: s.n, K: s.k,
		Bytes: 4 * int64(s.n) * int64(s.k), FLOPs: flops, Seconds: sec, FLOPsPerSecond: flops / sec,
		BytesPerSecond: 4 * float64(s.n) * float64(s.k) / sec, Reps: n}
}

// GEMV measures single-token matrix-vector products over weights four times
// the last-level cache, per format (fp32 only when quick), for every thread
// count (all threads only when quick): the memory-bound kernel of a decode
// step.
func GEMV(o Options) ([]Result, error) {
	var out []Result
	llc := LastLevelCacheBytes()
	formats := []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8}
	if o.Quick {
		formats = formats[:1]
	}
	for _, dt := range formats {
		const k = 4096
		n := int(max(4*llc, 64<<20)/int64(dt.Bytes()*k)) &^ 63
		pool := engine.NewPool(o.threads())
		w, err := randomMatrix(pool, n, k, dt)
		pool.Close()
		if err != nil {
			return nil, err
		}
		x := make([]float32, k)
		fill(x, 1)
		dst := make([]float32, n)
		counts := threadCounts(o.threads())
		if o.Quick {
			counts = counts[len(counts)-1:]
		}
		for _, t := range counts {
			p := engine.NewPool(t)
			sec, reps := measure(3, 0.1, func() { engine.MatMul(p, dst, x, 1, w, nil) })
			p.Close()
			flops := 2 * float64(n) * k
			out = append(out, Result{Kind: "gemv", Threads: t, DType: dt, M: 1, N: n, K: k, Bytes: w.Bytes(),
				FLOPs: flops, Seconds: sec, FLOPsPerSecond: flops / sec, BytesPerSecond: float64(w.Bytes()) / sec, Reps: reps})
		}
	}
	return out, nil
}

func randomMatrix(p *engine.Pool, n, k int, dt dtype.DType) (*engine.Matrix, error) {
	w, err := engine.NewMatrix(n, k, dt)
	if err != nil {
		return nil, err
	}
	w.Randomize(p, 1, 0.05)
	return w, nil
}

// fill sets v to a deterministic pattern in [-amp, amp].
func fill(v []float32, amp float32) {
	for i := range v {
		v[i] = amp * float32(i%17-8) / 8
	}
}
