package validate

import (
	"fmt"
	"math"
	"sort"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// KernelSample is one measured op: its work (an op executed once) and the
// median time it took.
type KernelSample struct {
	Op      models.Op
	Seconds float64
}

// FitReport says how well a fit reproduces the samples it was fitted to.
type FitReport struct {
	Samples     int
	MAPE        float64 // percent
	WorstError  float64 // percent, signed relative error of the worst sample
	Parameters  int
	Iterations  int
	KernelFixed float64 // fitted per-kernel overhead, seconds
}

// knotsPerDecade sets the resolution of fitted curves: two knots a decade
// follow the ramp of real kernels (launch-bound → bandwidth-bound) without
// chasing noise of single shapes.
const knotsPerDecade = 2

// FitKernels fits, for every op class that appears in samples, a memory
// curve over bytes per kernel and a compute curve over FLOPs, plus the
// per-kernel overhead, so that roofline.Cost reproduces the samples. The fit
// minimises the mean squared log error, plus a small penalty on jumps
// between neighbouring knots (efficiency changes smoothly with size), by
// coordinate descent over knot values: each knot moves only samples near its
// size, so the descent converges in a few sweeps. Knots are placed only
// where samples are, so a curve never claims what was not measured. It
// returns a copy of dev; dev is not changed.
func FitKernels(dev *hw.Device, samples []KernelSample) (*hw.Device, FitReport, error) {
	if len(samples) == 0 {
		return nil, FitReport{}, fmt.Errorf("fit: no samples")
	}
	out := *dev
	out.Efficiency = hw.Efficiency{Compute: map[string]hw.Curve{}, MemoryByClass: map[string]hw.Curve{}}
	bytesByClass := map[string][]float64{}
	flopsByClass := map[string][]float64{}
	for _, s := range samples {
		if s.Seconds <= 0 || math.IsNaN(s.Seconds) || math.IsInf(s.Seconds, 0) {
			return nil, FitReport{}, fmt.Errorf("fit: sample %s has non-positive or non-finite time %v", s.Op.Name, s.Seconds)
		}
		c := fitClass(s.Op.Kind)
		if b := s.Op.Bytes(); b > 0 {
			bytesByClass[c] = append(bytesByClass[c], b)
		}
		if s.Op.FLOPs > 0 {
			flopsByClass[c] = append(flopsByClass[c], s.Op.FLOPs)
		}
	}
	var curves []fitCurve // every fitted curve, in a fixed order
	n := float64(len(samples))
	for _, c := range sortedKeys(bytesByClass) {
		out.Efficiency.MemoryByClass[c] = hw.Curve{Points: knots(bytesByClass[c])}
		curves = append(curves, fitCurve{out.Efficiency.MemoryByClass[c].Points, float64(len(bytesByClass[c])) / n})
	}
	for _, c := range sortedKeys(flopsByClass) {
		out.Efficiency.Compute[c] = hw.Curve{Points: knots(flopsByClass[c])}
		curves = append(curves, fitCurve{out.Efficiency.Compute[c].Points, float64(len(flopsByClass[c])) / n})
	}
	loss := func() float64 { return meanSquaredLogError(&out, samples) + smoothness(curves) }
	report := FitReport{Samples: len(samples), Parameters: 1}
	for _, c := range curves {
		report.Parameters += len(c.points)
	}
	prev := math.Inf(1)
	// The work-item and query-tile times are fitted only when some kernel
	// could be bound by them (a nominal 1 µs per item reaching a quarter of
	// its measured time: decode attention over caches of tens of tokens, or
	// prefill of many short prompts, at large batch); kernels over long
	// caches cannot tell them, and dev's values stay (transferred ones, or
	// none).
	items, tiles := false, false
	for _, s := range samples {
		if u := float64(dev.Compute.Units); u > 0 {
			items = items || s.Op.Items*1e-6/u >= s.Seconds/4
			tiles = tiles || s.Op.QueryTiles*1e-6/u >= s.Seconds/4
		}
	}
	if items {
		report.Parameters++
	}
	if tiles {
		report.Parameters++
	}
	for sweep := 0; sweep < 40; sweep++ {
		report.Iterations++
		searchOverhead(&out, loss)
		if items {
			searchItemSeconds(&out.Overhead.AttentionItemSeconds, loss)
		}
		if tiles {
			searchItemSeconds(&out.Overhead.AttentionTileSeconds, loss)
		}
		for _, c := range curves {
			for i := range c.points {
				searchFraction(&c.points[i][1], loss)
			}
		}
		cur := loss()
		if prev-cur < 1e-6 {
			break
		}
		prev = cur
	}
	// The default memory curve is the GEMM one: weight streaming is most
	// of the bytes of a step.
	if g, ok := out.Efficiency.MemoryByClass[hw.ClassGEMM]; ok {
		out.Efficiency.Memory = hw.Curve{Points: append([][2]float64(nil), g.Points...)}
	}
	report.KernelFixed = out.Overhead.KernelSeconds
	report.MAPE, report.WorstError = kernelErrors(&out, samples)
	out.Calibration = nil
	return &out, report, nil
}

// fitClass is the curve key a sample is fitted under: GEMMs and attention
// under their general class (what every device describes), vector ops under
// their own kind, since a multi-pass norm and a streaming add reach very
// different fractions of the same bandwidth.
func fitClass(k models.OpKind) string {
	if c := roofline.Class(k); c != hw.ClassVector {
		return c
	}
	return string(k)
}

// fitCurve is a curve being fitted and the share of samples it prices.
type fitCurve struct {
	points [][2]float64
	share  float64
}

// smoothnessWeight trades fit against jumps between neighbouring knots; at
// 0.01 a factor-2 jump costs as much as a 7% error on every sample the curve
// prices. Weighting each curve's penalty by its share of the samples keeps a
// sparsely measured class from being flattened by it.
const smoothnessWeight = 0.01

func smoothness(curves []fitCurve) float64 {
	var sum float64
	for _, c := range curves {
		for i := 1; i < len(c.points); i++ {
			d := math.Log(c.points[i][1] / c.points[i-1][1])
			sum += c.share * d * d
		}
	}
	return smoothnessWeight * sum
}

func sortedKeys(m map[string][]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// knots places curve points every 1/knotsPerDecade decade across the range
// of sizes, keeping only knots with a sample within one step, each starting
// at fraction 0.5.
func knots(sizes []float64) [][2]float64 {
	if len(sizes) == 0 {
		return nil
	}
	lo, hi := sizes[0], sizes[0]
	for _, s := range sizes {
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	step := 1.0 / knotsPerDecade
	a := math.Floor(math.Log10(lo)/step) * step
	b := math.Ceil(math.Log10(hi)/step) * step
	var pts [][2]float64
	for e := a; e <= b+1e-9; e += step {
		for _, s := range sizes {
			if math.Abs(math.Log10(s)-e) <= step+1e-9 {
				pts = append(pts, [2]float64{math.Pow(10, e), 0.5})
				break
			}
		}
	}
	if len(pts) == 1 {
		pts = append(pts, [2]float64{pts[0][0] * 10, 0.5})
	}
	return pts
}

// searchFraction sets *p to the value in (0, 1] that minimises loss, by a
// coarse grid in log space refined twice around the best point.
func searchFraction(p *float64, loss func() float64) {
	best, bestLoss := *p, loss()
	lo, hi := math.Log(0.005), 0.0
	for round := 0; round < 3; round++ {
		const n = 16
		for i := 0; i <= n; i++ {
			v := math.Exp(lo + (hi-lo)*float64(i)/n)
			*p = v
			if l := loss(); l < bestLoss {
				best, bestLoss = v, l
			}
		}
		width := (hi - lo) / n
		lo, hi = math.Log(best)-width, math.Min(0, math.Log(best)+width)
	}
	*p = best
}

// searchOverhead picks the per-kernel overhead in [0, 50 µs].
func searchOverhead(dev *hw.Device, loss func() float64) {
	best, bestLoss := dev.Overhead.KernelSeconds, loss()
	for _, v := range []float64{0, 0.5e-6, 1e-6, 1.5e-6, 2e-6, 3e-6, 4e-6, 5e-6, 6e-6, 8e-6, 10e-6, 15e-6, 20e-6, 30e-6, 50e-6} {
		dev.Overhead.KernelSeconds = v
		if l := loss(); l < bestLoss {
			best, bestLoss = v, l
		}
	}
	dev.Overhead.KernelSeconds = best
}

// searchItemSeconds picks the time a fused attention work item or query
// tile holds a compute unit (hw.Overhead.AttentionItemSeconds,
// AttentionTileSeconds) in [0, 10 µs]: a coarse logarithmic scan, then a
// finer one around the best value.
func searchItemSeconds(p *float64, loss func() float64) {
	best, bestLoss := *p, loss()
	try := func(v float64) {
		*p = v
		if l := loss(); l < bestLoss {
			best, bestLoss = v, l
		}
	}
	try(0)
	for v := 0.05e-6; v <= 10e-6; v *= 1.25 {
		try(v)
	}
	for f := 0.9; f <= 1.1; f += 0.01 {
		try(best * f)
	}
	*p = best
}

func meanSquaredLogError(dev *hw.Device, samples []KernelSample) float64 {
	var sum float64
	for i := range samples {
		pred := roofline.Cost(&samples[i].Op, dev).Seconds
		r := math.Log(pred / samples[i].Seconds)
		sum += r * r
	}
	return sum / float64(len(samples))
}

// kernelErrors returns the MAPE (percent) and the signed relative error of
// the worst sample (percent).
func kernelErrors(dev *hw.Device, samples []KernelSample) (mape, worst float64) {
	errs := make([]float64, len(samples))
	for i := range samples {
		errs[i] = roofline.Cost(&samples[i].Op, dev).Seconds/samples[i].Seconds - 1
	}
	return Errors(errs)
}

// Errors summarises signed relative errors (predicted/measured - 1) as MAPE
// and worst case, both in percent (worst keeps its sign).
func Errors(rel []float64) (mape, worst float64) {
	if len(rel) == 0 {
		return 0, 0
	}
	for _, e := range rel {
		mape += math.Abs(e)
		if math.Abs(e) > math.Abs(worst) {
			worst = e
		}
	}
	return 100 * mape / float64(len(rel)), 100 * worst
}
