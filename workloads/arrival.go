package workloads

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Arrival says when requests arrive: an open-loop Process or a ClosedLoop.
type Arrival interface {
	// String returns the spec text that ParseArrival reads back.
	String() string
}

// Process is an open-loop arrival process: arrivals do not depend on how
// fast the system serves them. The first request arrives at time 0 and
// each next one a gap later.
type Process interface {
	Arrival
	// GapNanos draws the time from one arrival to the next.
	GapNanos(r *rand.Rand) int64
	// MeanGapSeconds is the expected gap, 1/rate.
	MeanGapSeconds() float64
}

// Poisson arrivals: exponential gaps, coefficient of variation 1.
type Poisson struct{ RatePerSecond float64 }

// GapNanos draws an exponential gap.
func (p Poisson) GapNanos(r *rand.Rand) int64 {
	return secondsToNanos(r.ExpFloat64() / p.RatePerSecond)
}

// MeanGapSeconds is 1/rate.
func (p Poisson) MeanGapSeconds() float64 { return 1 / p.RatePerSecond }

func (p Poisson) String() string { return "poisson:rate=" + formatFloat(p.RatePerSecond) }

// Validate reports a rate that is not positive and finite.
func (p Poisson) Validate() error { return checkRate(p.RatePerSecond) }

// Gamma arrivals: gamma-distributed gaps with mean 1/rate and coefficient
// of variation CV (std/mean of the gaps). CV 1 is Poisson; CV > 1 is
// burstier, CV < 1 more regular.
type Gamma struct{ RatePerSecond, CV float64 }

// GapNanos draws a gamma gap of shape 1/CV² and mean 1/rate.
func (g Gamma) GapNanos(r *rand.Rand) int64 {
	shape := 1 / (g.CV * g.CV)
	return secondsToNanos(gammaUnitScale(r, shape) / (shape * g.RatePerSecond))
}

// MeanGapSeconds is 1/rate.
func (g Gamma) MeanGapSeconds() float64 { return 1 / g.RatePerSecond }

func (g Gamma) String() string {
	return "gamma:rate=" + formatFloat(g.RatePerSecond) + ",cv=" + formatFloat(g.CV)
}

// Validate reports a rate or CV that is not positive and finite.
func (g Gamma) Validate() error {
	if err := checkRate(g.RatePerSecond); err != nil {
		return err
	}
	// A shape 1/CV² that underflows or overflows float64 gives no gap at all.
	if !(g.CV >= 1e-6 && g.CV <= 1e6) {
		return fmt.Errorf("cv: must be in [1e-6, 1e6], got %g", g.CV)
	}
	return nil
}

// Constant arrivals: one request every 1/rate seconds exactly.
type Constant struct{ RatePerSecond float64 }

// GapNanos is 1/rate, rounded to the nanosecond.
func (c Constant) GapNanos(*rand.Rand) int64 { return secondsToNanos(1 / c.RatePerSecond) }

// MeanGapSeconds is 1/rate.
func (c Constant) MeanGapSeconds() float64 { return 1 / c.RatePerSecond }

func (c Constant) String() string { return "constant:rate=" + formatFloat(c.RatePerSecond) }

// Validate reports a rate that is not positive and finite.
func (c Constant) Validate() error { return checkRate(c.RatePerSecond) }

// ClosedLoop is a fixed population of Clients, each with one request
// outstanding at a time: all start at time 0, and a client issues its next
// request ThinkSeconds after its previous one completes.
type ClosedLoop struct {
	Clients      int
	ThinkSeconds float64
}

func (c ClosedLoop) String() string {
	return "closed:clients=" + strconv.Itoa(c.Clients) + ",think=" + formatFloat(c.ThinkSeconds)
}

// Validate reports a client count outside [1, 2²⁰] or a bad think time.
func (c ClosedLoop) Validate() error {
	if c.Clients < 1 || c.Clients > maxClients {
		return fmt.Errorf("clients: must be in [1, %d], got %d", maxClients, c.Clients)
	}
	if !(c.ThinkSeconds >= 0 && c.ThinkSeconds <= maxSeconds) {
		return fmt.Errorf("think: must be in [0, %g] seconds, got %g", float64(maxSeconds), c.ThinkSeconds)
	}
	return nil
}

// maxSeconds bounds a gap or think time (11.6 days), so that even a
// million of them stay well inside int64 nanoseconds (292 years).
const maxSeconds = 1e6

// minRatePerSecond keeps a gap (1/rate) inside maxSeconds.
const minRatePerSecond = 1 / maxSeconds

func checkRate(ratePerSecond float64) error {
	if !(ratePerSecond >= minRatePerSecond && ratePerSecond <= 1e12) {
		return fmt.Errorf("rate: must be in [%g, 1e12] requests per second, got %g", minRatePerSecond, ratePerSecond)
	}
	return nil
}

// maxNanos caps a single gap at a quarter of the int64 range.
const maxNanos = math.MaxInt64 / 4

func secondsToNanos(seconds float64) int64 {
	ns := math.Round(seconds * 1e9)
	if ns >= maxNanos { // a vanishingly unlikely draw; keep sums from overflowing
		return maxNanos
	}
	return int64(ns)
}

// gammaUnitScale draws from Gamma(shape, 1) by Marsaglia and Tsang, "A simple
// method for generating gamma variables", ACM TOMS 26(3), 2000; shape < 1
// uses their boost Gamma(shape) = Gamma(shape+1)·U^(1/shape).
func gammaUnitScale(r *rand.Rand, shape float64) float64 {
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(r.Float64(), 1/shape)
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return boost * d * v
		}
	}
}

// formatFloat prints the shortest text that parses back to f.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
