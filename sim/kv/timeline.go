package kv

// timeline keeps a pool's use over time in a fixed number of equal
// intervals: when time runs past the last one, neighbours merge pairwise
// and the interval doubles, so a run of any length ends with between
// timelineIntervals/2 and timelineIntervals of them, in constant memory.
type timeline struct {
	widthNanos int64
	area       [timelineIntervals]float64 // ∫ used dt over each interval, block·ns
	peak       [timelineIntervals]int32   // most blocks used at once in each
}

const (
	timelineIntervals  = 64
	timelineStartNanos = 1_000_000 // 1 ms, doubling as the run grows
)

// interval returns the index of the interval holding atNanos, folding
// until there is one.
func (t *timeline) interval(atNanos int64) int {
	if t.widthNanos == 0 {
		t.widthNanos = timelineStartNanos
	}
	k := atNanos / t.widthNanos
	for k >= timelineIntervals {
		t.fold()
		k = atNanos / t.widthNanos
	}
	return int(k)
}

func (t *timeline) fold() {
	for i := 0; i < timelineIntervals/2; i++ {
		t.area[i] = t.area[2*i] + t.area[2*i+1]
		t.peak[i] = max(t.peak[2*i], t.peak[2*i+1])
	}
	clear(t.area[timelineIntervals/2:])
	clear(t.peak[timelineIntervals/2:])
	t.widthNanos *= 2
}

// add records used blocks from fromNanos to toNanos.
func (t *timeline) add(fromNanos, toNanos int64, used int) {
	for fromNanos < toNanos {
		k := t.interval(fromNanos)
		end := min(toNanos, int64(k+1)*t.widthNanos)
		t.area[k] += float64(used) * float64(end-fromNanos)
		t.peak[k] = max(t.peak[k], int32(used))
		fromNanos = end
	}
}

// mark records that used blocks are in use at atNanos.
func (t *timeline) mark(atNanos int64, used int) {
	k := t.interval(atNanos)
	t.peak[k] = max(t.peak[k], int32(used))
}

// Timeline is a pool's use over a run in equal intervals: the mean and the
// peak fraction of its blocks in use in each (the last interval may be
// partial and is averaged over its elapsed part).
type Timeline struct {
	IntervalSeconds float64   `json:"interval_seconds"`
	MeanUsed        []float64 `json:"mean_used"`
	PeakUsed        []float64 `json:"peak_used"`
}

// Timeline reports the pool's use from time 0 to nowNanos.
func (b *Blocks) Timeline(nowNanos int64) Timeline {
	b.advance(nowNanos)
	t := &b.timeline
	out := Timeline{IntervalSeconds: float64(t.widthNanos) / 1e9}
	if b.total == 0 || nowNanos <= 0 {
		return out
	}
	n := t.interval(max(nowNanos-1, 0)) + 1
	for k := 0; k < n; k++ {
		span := min(t.widthNanos, nowNanos-int64(k)*t.widthNanos)
		out.MeanUsed = append(out.MeanUsed, t.area[k]/float64(span)/float64(b.total))
		out.PeakUsed = append(out.PeakUsed, float64(t.peak[k])/float64(b.total))
	}
	return out
}
