package bench

import (
	"sync"
	"sync/atomic"
)

// Memory measures read, copy and triad bandwidth over buffers four times
// the last-level cache (at least 64 MiB each) for every thread count.
func Memory(o Options) []Result {
	bufBytes := max(4*LastLevelCacheBytes(), 64<<20)
	reps := 5
	if o.Quick {
		reps = 2
	}
	n := int(bufBytes / 8)
	a, b := make([]uint64, n), make([]uint64, n)
	for i := range a {
		a[i], b[i] = uint64(i), uint64(i)
	}
	nf := int(bufBytes / 4)
	fa, fb, fc := make([]float32, nf), make([]float32, nf), make([]float32, nf)
	for i := range fa {
		fa[i], fb[i], fc[i] = 1, 2, 3
	}
	var out []Result
	add := func(kind string, threads int, bytes int64, fn func(lo, hi int), items int) {
		sec, n := measure(reps, 0, func() { parallel(threads, items, fn) })
		out = append(out, Result{Kind: kind, Threads: threads, Bytes: bytes, Seconds: sec,
			BytesPerSecond: float64(bytes) / sec, Reps: n})
	}
	for _, t := range threadCounts(o.threads()) {
		var sink atomic.Uint64 // keeps the sums alive
		add("read", t, int64(n)*8, func(lo, hi int) { sink.Add(sumUint64(a[lo:hi])) }, n)
		add("copy", t, 2*int64(n)*8, func(lo, hi int) { copy(b[lo:hi], a[lo:hi]) }, n)
		add("triad", t, 3*int64(nf)*4, func(lo, hi int) { triad(fa[lo:hi], fb[lo:hi], fc[lo:hi], 1.5) }, nf)
	}
	return out
}

// parallel runs fn over [0, items) split into threads contiguous chunks.
func parallel(threads, items int, fn func(lo, hi int)) {
	if threads == 1 {
		fn(0, items)
		return
	}
	var wg sync.WaitGroup
	chunk := (items + threads - 1) / threads
	for lo := 0; lo < items; lo += chunk {
		wg.Add(1)
		go func(lo int) {
			defer wg.Done()
			fn(lo, min(items, lo+chunk))
		}(lo)
	}
	wg.Wait()
}

// sumUint64 reads v with four independent integer chains: integer adds keep
// up with memory where float adds' latency would not.
func sumUint64(v []uint64) uint64 {
	var s0, s1, s2, s3 uint64
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := v[i : i+8 : i+8]
		s0 += x[0] + x[4]
		s1 += x[1] + x[5]
		s2 += x[2] + x[6]
		s3 += x[3] + x[7]
	}
	for ; i < len(v); i++ {
		s0 += v[i]
	}
	return s0 + s1 + s2 + s3
}

// triad is STREAM's a = b + s·c.
func triad(a, b, c []float32, s float32) {
	b, c = b[:len(a)], c[:len(a)]
	for i := range a {
		a[i] = b[i] + s*c[i]
	}
}
