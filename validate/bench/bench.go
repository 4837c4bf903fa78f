package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/llmsim/llmsim/dtype"
)

// Result is one measurement. Rates are computed from the best repetition.
type Result struct {
	// Kind is read, copy or triad (memory bandwidth), gemm or gemv (the
	// engine's kernels), or gemm_gonum (gonum's blas32 Sgemm, for reference).
	Kind    string
	Threads int
	// DType is the weight storage format of gemm and gemv; empty for memory.
	DType dtype.DType
	// M, N, K: x is M×K, W is N×K, the output M×N. Zero for memory.
	M, N, K int
	// Bytes is what one repetition moves: for read, the buffer; for copy,
	// read plus written (2×); for triad, two reads and a write (3×, STREAM
	// convention, write-allocate not counted); for gemm and gemv, the weight
	// matrix once.
	Bytes int64
	// FLOPs of one repetition (2·M·N·K); zero for memory.
	FLOPs          float64
	Seconds        float64
	BytesPerSecond float64
	FLOPsPerSecond float64
	Reps           int
}

func (r Result) String() string {
	if r.FLOPs == 0 {
		return fmt.Sprintf("%-10s threads=%-3d %8.1f MiB  %7.2f GB/s", r.Kind, r.Threads, float64(r.Bytes)/(1<<20), r.BytesPerSecond/1e9)
	}
	return fmt.Sprintf("%-10s threads=%-3d %-4s M=%-5d N=%-6d K=%-6d %7.2f GFLOP/s  %7.2f GB/s of weights",
		r.Kind, r.Threads, r.DType, r.M, r.N, r.K, r.FLOPsPerSecond/1e9, r.BytesPerSecond/1e9)
}

// Options choose how much to measure.
type Options struct {
	// Quick measures a handful of points (under 3 s on a 2-core host)
	// instead of the full suite (under 20 s).
	Quick bool
	// Threads caps the thread counts tried; 0 means runtime.NumCPU().
	Threads int
}

func (o Options) threads() int {
	if o.Threads > 0 {
		return o.Threads
	}
	return runtime.NumCPU()
}

// Run measures memory bandwidth, then GEMM and GEMV throughput.
func Run(o Options) ([]Result, error) {
	res := Memory(o)
	g, err := GEMM(o)
	if err != nil {
		return nil, err
	}
	res = append(res, g...)
	v, err := GEMV(o)
	if err != nil {
		return nil, err
	}
	return append(res, v...), nil
}

// Best is the result of kind with the highest rate (FLOP/s for gemm kinds,
// bytes/s otherwise), or false if there is none.
func Best(results []Result, kind string) (Result, bool) {
	var best Result
	found := false
	for _, r := range results {
		if r.Kind != kind {
			continue
		}
		if !found || r.FLOPsPerSecond > best.FLOPsPerSecond ||
			(r.FLOPs == 0 && r.BytesPerSecond > best.BytesPerSecond) {
			best, found = r, true
		}
	}
	return best, found
}

// measure runs fn reps times (at least once and until minSeconds have
// passed, at most maxReps) and returns the best time.
func measure(reps int, minSeconds float64, fn func()) (best float64, n int) {
	best = 1e300
	start := time.Now()
	for n = 0; n < reps || (time.Since(start).Seconds() < minSeconds && n < 50); n++ {
		t0 := time.Now()
		fn()
		best = min(best, time.Since(t0).Seconds())
	}
	return best, n
}

// threadCounts is every count up to 8, then powers of two, then max.
func threadCounts(maxThreads int) []int {
	var out []int
	for t := 1; t <= maxThreads; t++ {
		if t <= 8 || t&(t-1) == 0 || t == maxThreads {
			out = append(out, t)
		}
	}
	return out
}

// LastLevelCacheBytes reads the size of the largest CPU cache from sysfs
// (Linux), or returns 32 MiB when it cannot.
func LastLevelCacheBytes() int64 {
	var best int64
	for i := 0; i < 8; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/size", i))
		if err != nil {
			break
		}
		s := strings.TrimSpace(string(b))
		mult := int64(1)
		switch {
		case strings.HasSuffix(s, "K"):
			mult, s = 1<<10, strings.TrimSuffix(s, "K")
		case strings.HasSuffix(s, "M"):
			mult, s = 1<<20, strings.TrimSuffix(s, "M")
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			best = max(best, n*mult)
		}
	}
	if best == 0 {
		return 32 << 20
	}
	return best
}

// CPUModel is the "model name" of /proc/cpuinfo, or runtime.GOARCH.
func CPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
