package metrics

import (
	"math"
	"math/bits"
)

// Histogram counts non-negative integer values (nanoseconds) in buckets
// whose width is 1/128 of their lower edge (values below 256 are exact), in
// the manner of HdrHistogram: a value's bucket is its top 8 significant
// bits. Reading a bucket back as its midpoint is within 1/256 = 0.39% of
// any value in it, so percentiles carry at most 0.39% relative error (plus
// the choice of rank). Mean, min and max are exact. Recording is a few
// integer instructions, no logarithm and no allocation.
type Histogram struct {
	counts   [bucketCount]uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	significantBits = 8
	halfBuckets     = 1 << (significantBits - 1) // 128
	bucketCount     = (64-significantBits+1)*halfBuckets + halfBuckets
)

// bucketOf returns the bucket of v ≥ 0.
func bucketOf(v int64) int {
	u := uint64(v)
	shift := bits.Len64(u) - significantBits
	if shift <= 0 {
		return int(u)
	}
	return shift*halfBuckets + int(u>>uint(shift))
}

// bucketMid is the midpoint of bucket i (exact for values below 256).
func bucketMid(i int) float64 {
	if i < 2*halfBuckets {
		return float64(i)
	}
	shift := i/halfBuckets - 1
	top := i - shift*halfBuckets // in [128, 255]
	low := float64(uint64(top) << uint(shift))
	return low + float64(uint64(1)<<uint(shift))/2
}

// Record adds one value. Negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Mean is the exact mean of the recorded values (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) by the nearest-rank rule:
// the smallest recorded value with at least ⌈q·n⌉ values at or below it,
// read as its bucket's midpoint and clamped to the exact min and max.
func (h *Histogram) Quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i]
		if seen >= rank {
			return min(max(bucketMid(i), float64(h.min)), float64(h.max))
		}
	}
	return float64(h.max)
}

// Merge adds the values of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Summary is a distribution of durations in seconds.
type Summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// Seconds summarises a histogram of nanoseconds in seconds.
func (h *Histogram) Seconds() Summary {
	// Dividing (rather than multiplying by 1e-9, which is inexact) reads
	// whole nanoseconds back as the shortest decimal.
	const ns = 1e9
	if h.n == 0 {
		return Summary{}
	}
	return Summary{
		Count: h.n,
		Mean:  h.Mean() / ns,
		P50:   h.Quantile(0.50) / ns,
		P90:   h.Quantile(0.90) / ns,
		P99:   h.Quantile(0.99) / ns,
		Min:   float64(h.min) / ns,
		Max:   float64(h.max) / ns,
	}
}
