package sim

import "math"

// NanosPerSecond converts seconds to the simulator's time unit.
const NanosPerSecond = 1e9

// Nanos rounds seconds to the nearest nanosecond. Negative or NaN inputs
// give 0; values beyond the int64 range saturate.
func Nanos(seconds float64) int64 {
	ns := math.Round(seconds * NanosPerSecond)
	switch {
	case !(ns > 0):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(ns)
}

// Seconds converts nanoseconds to seconds.
func Seconds(nanos int64) float64 { return float64(nanos) / NanosPerSecond }

// Rounder turns a stream of float durations into integer nanoseconds
// without drift: it carries each rounding residual into the next duration
// (error diffusion), so the sum of the returned nanoseconds stays within
// half a nanosecond of the exact sum of the seconds, however many steps a
// run takes. The zero value is ready to use.
type Rounder struct{ residualNanos float64 }

// Nanos returns the duration of seconds in whole nanoseconds, corrected by
// the residual of earlier calls.
func (r *Rounder) Nanos(seconds float64) int64 {
	exact := seconds*NanosPerSecond + r.residualNanos
	ns := math.Round(exact)
	if ns < 0 {
		ns = 0
	}
	r.residualNanos = exact - ns
	return int64(ns)
}
