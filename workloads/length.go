package workloads

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Length is a distribution of token counts (prompt or output). Samples are
// whole numbers ≥ 1.
type Length interface {
	Sample(r *rand.Rand) int
	// Mean is the expected sample, clamping included, rounding ignored.
	Mean() float64
	// String returns the spec text that ParseLength reads back.
	String() string
}

// maxTokens bounds every length: far beyond any context window, small
// enough that sums of lengths never overflow int.
const maxTokens = 1 << 30

// Fixed is the same length every time.
type Fixed struct{ Tokens int }

// Sample returns Tokens.
func (f Fixed) Sample(*rand.Rand) int { return f.Tokens }

// Mean is Tokens.
func (f Fixed) Mean() float64 { return float64(f.Tokens) }

func (f Fixed) String() string { return "fixed:" + strconv.Itoa(f.Tokens) }

// Validate reports a length outside [1, 2³⁰].
func (f Fixed) Validate() error { return checkTokens("tokens", f.Tokens) }

// Uniform is uniform over the integers Min..Max, both included.
type Uniform struct{ Min, Max int }

// Sample draws uniformly from Min..Max.
func (u Uniform) Sample(r *rand.Rand) int { return u.Min + r.IntN(u.Max-u.Min+1) }

// Mean is (Min+Max)/2.
func (u Uniform) Mean() float64 { return (float64(u.Min) + float64(u.Max)) / 2 }

func (u Uniform) String() string {
	return "uniform:" + strconv.Itoa(u.Min) + ".." + strconv.Itoa(u.Max)
}

// Validate reports bounds outside [1, 2³⁰] or Min > Max.
func (u Uniform) Validate() error {
	if err := checkTokens("min", u.Min); err != nil {
		return err
	}
	if err := checkTokens("max", u.Max); err != nil {
		return err
	}
	if u.Min > u.Max {
		return fmt.Errorf("min: %d is above max %d", u.Min, u.Max)
	}
	return nil
}

// Normal is a normal distribution rounded and clamped to [1, Max]; Max 0
// means no upper clamp.
type Normal struct {
	MeanTokens, StdTokens float64
	Max                   int
}

// Sample draws a clamped, rounded normal.
func (n Normal) Sample(r *rand.Rand) int {
	return clampRound(n.MeanTokens+n.StdTokens*r.NormFloat64(), n.Max)
}

// Mean is E[clamp(X, 1, Max)] for X ~ N(MeanTokens, StdTokens²).
func (n Normal) Mean() float64 {
	lo, hi := 1.0, upper(n.Max)
	if n.StdTokens == 0 {
		return math.Min(math.Max(n.MeanTokens, lo), hi)
	}
	a := (lo - n.MeanTokens) / n.StdTokens
	b := (hi - n.MeanTokens) / n.StdTokens
	return lo*normCDF(a) + n.MeanTokens*(normCDF(b)-normCDF(a)) +
		n.StdTokens*(normPDF(a)-normPDF(b)) + hi*(1-normCDF(b))
}

func (n Normal) String() string {
	return "normal:mean=" + formatFloat(n.MeanTokens) + ",std=" + formatFloat(n.StdTokens) + maxSuffix(n.Max)
}

// Validate reports a mean outside [1, 2³⁰], a negative std or a bad Max.
func (n Normal) Validate() error {
	if !(n.MeanTokens >= 1 && n.MeanTokens <= maxTokens) {
		return fmt.Errorf("mean: must be in [1, %d] tokens, got %g", maxTokens, n.MeanTokens)
	}
	if !(n.StdTokens >= 0 && n.StdTokens <= maxTokens) {
		return fmt.Errorf("std: must be in [0, %d] tokens, got %g", maxTokens, n.StdTokens)
	}
	return checkMax(n.Max)
}

// LogNormal is exp(N(Mu, Sigma²)) rounded and clamped to [1, Max]; Max 0
// means no upper clamp. LogNormalOf builds one from the mean and std of the
// token counts.
type LogNormal struct {
	Mu, Sigma float64
	Max       int
}

// LogNormalOf returns the lognormal whose (unclamped) mean and standard
// deviation are meanTokens and stdTokens: σ² = ln(1 + std²/mean²) and
// μ = ln(mean) − σ²/2.
func LogNormalOf(meanTokens, stdTokens float64, max int) LogNormal {
	variance := math.Log1p(stdTokens * stdTokens / (meanTokens * meanTokens))
	return LogNormal{Mu: math.Log(meanTokens) - variance/2, Sigma: math.Sqrt(variance), Max: max}
}

// Sample draws a clamped, rounded lognormal.
func (l LogNormal) Sample(r *rand.Rand) int {
	return clampRound(math.Exp(l.Mu+l.Sigma*r.NormFloat64()), l.Max)
}

// Mean is E[clamp(X, 1, Max)] for X = exp(N(Mu, Sigma²)).
func (l LogNormal) Mean() float64 {
	lo, hi := 1.0, upper(l.Max)
	if l.Sigma == 0 {
		return math.Min(math.Max(math.Exp(l.Mu), lo), hi)
	}
	s2 := l.Sigma * l.Sigma
	// Partial expectation of a lognormal between lo and hi.
	inner := math.Exp(l.Mu+s2/2) *
		(normCDF((math.Log(hi)-l.Mu-s2)/l.Sigma) - normCDF((math.Log(lo)-l.Mu-s2)/l.Sigma))
	return lo*normCDF((math.Log(lo)-l.Mu)/l.Sigma) + inner +
		hi*(1-normCDF((math.Log(hi)-l.Mu)/l.Sigma))
}

func (l LogNormal) String() string {
	return "lognormal:mu=" + formatFloat(l.Mu) + ",sigma=" + formatFloat(l.Sigma) + maxSuffix(l.Max)
}

// Validate reports a Mu outside [−50, ln 2³⁰], a Sigma outside [0, 10] or
// a bad Max.
func (l LogNormal) Validate() error {
	if !(l.Mu >= -50 && l.Mu <= math.Log(maxTokens)) {
		return fmt.Errorf("mu: must be in [-50, %.4g] (ln of the median in tokens), got %g", math.Log(maxTokens), l.Mu)
	}
	if !(l.Sigma >= 0 && l.Sigma <= 10) {
		return fmt.Errorf("sigma: must be in [0, 10], got %g", l.Sigma)
	}
	return checkMax(l.Max)
}

// clampRound clamps x to [1, max] (max 0: [1, 2³⁰]) and rounds it.
func clampRound(x float64, max int) int {
	hi := upper(max)
	if !(x >= 1) { // also NaN
		return 1
	}
	if x > hi {
		return int(hi)
	}
	return int(math.Round(x))
}

func upper(max int) float64 {
	if max > 0 {
		return float64(max)
	}
	return maxTokens
}

func maxSuffix(max int) string {
	if max == 0 {
		return ""
	}
	return ",max=" + strconv.Itoa(max)
}

func checkTokens(name string, tokens int) error {
	if tokens < 1 || tokens > maxTokens {
		return fmt.Errorf("%s: must be in [1, %d] tokens, got %d", name, maxTokens, tokens)
	}
	return nil
}

func checkMax(max int) error {
	if max == 0 {
		return nil
	}
	return checkTokens("max", max)
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

func normPDF(z float64) float64 { return math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) }
