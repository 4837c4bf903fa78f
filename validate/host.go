package validate

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/validate/bench"
)

// HostCeilings are the measured ceilings a host description starts from:
// what the microbenchmarks of validate/bench reached at best.
type HostCeilings struct {
	Threads        int
	BytesPerSecond float64      // best aggregate memory rate (read, copy or triad, all threads)
	Memory         bench.Result // the run that set it
	// FLOPSPerSecond is the best engine GEMM per weight format (fp32 always;
	// bf16 and int8 when measured); GEMM holds the runs that set them.
	FLOPSPerSecond map[dtype.DType]float64
	GEMM           map[dtype.DType]bench.Result
	CPUModel       string
	LLCBytes       int64
	MemoryBytes    float64 // installed memory (0 when unknown)
}

// Ceilings picks the host's measured ceilings out of microbenchmark
// results. Copy and triad count read plus written bytes (STREAM), which is
// the aggregate rate a device description's bandwidth means; the largest of
// the three is the ceiling and the efficiency curves say how much of it
// each op reaches.
func Ceilings(results []bench.Result, threads int) (HostCeilings, error) {
	c := HostCeilings{Threads: threads, FLOPSPerSecond: map[dtype.DType]float64{}, GEMM: map[dtype.DType]bench.Result{},
		CPUModel: bench.CPUModel(), LLCBytes: bench.LastLevelCacheBytes(), MemoryBytes: memTotalBytes()}
	for _, r := range results {
		switch r.Kind {
		case "read", "copy", "triad":
			if r.Threads == threads && r.BytesPerSecond > c.BytesPerSecond {
				c.BytesPerSecond, c.Memory = r.BytesPerSecond, r
			}
		case "gemm":
			if r.Threads == threads && r.FLOPsPerSecond > c.FLOPSPerSecond[r.DType] {
				c.FLOPSPerSecond[r.DType], c.GEMM[r.DType] = r.FLOPsPerSecond, r
			}
		}
	}
	if c.BytesPerSecond <= 0 {
		return c, fmt.Errorf("calibrate host: no memory bandwidth measured at %d threads", threads)
	}
	if c.FLOPSPerSecond[dtype.FP32] <= 0 {
		return c, fmt.Errorf("calibrate host: no fp32 GEMM measured at %d threads", threads)
	}
	return c, nil
}

// Device is the uncalibrated host description: measured ceilings, no
// efficiency curves, no overheads.
func (c HostCeilings) Device(name string) *hw.Device {
	dev := &hw.Device{
		Name: name, Kind: hw.CPU,
		Description: fmt.Sprintf("%s, %s, running llmsim's CPU engine (measured)", c.CPUModel, threadsText(c.Threads)),
		Source:      "measured: llmsim calibrate host (validate/bench microbenchmarks, validate/engine op timings)",
		Compute:     hw.Compute{FLOPSPerSecond: map[string]float64{}, Units: c.Threads},
		Memory:      []hw.MemoryTier{{Name: "dram", CapacityBytes: c.MemoryBytes, BytesPerSecond: c.BytesPerSecond}},
		Buffers:     []hw.Buffer{{Name: "llc", Bytes: float64(c.LLCBytes)}},
	}
	if dev.Memory[0].CapacityBytes <= 0 {
		dev.Memory[0].CapacityBytes = 1 << 30 // unknown: loading needs a positive capacity
	}
	for dt, f := range c.FLOPSPerSecond {
		dev.Compute.FLOPSPerSecond[string(dt)] = f
	}
	return dev
}

// memTotalBytes is MemTotal of /proc/meminfo, or 0.
func memTotalBytes() float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if v, err := strconv.ParseFloat(f[0], 64); err == nil {
					return v * 1024
				}
			}
		}
	}
	return 0
}

// HostFit says how well the fitted description reproduces the engine op
// timings it was fitted to.
type HostFit struct {
	Samples    int     // (step, op name) pairs fitted
	MAPE       float64 // percent, over samples
	Worst      float64 // percent, signed
	Parameters int
	Sweeps     int
	// Idle names the curves ("compute.KEY", "memory_by_class.KEY") that
	// bound no fitted op: their ops were always limited by the other roof,
	// so their knots change no prediction on the calibration points.
	Idle []string
}

// hostSample is the measured time of all ops of one name in one step.
type hostSample struct {
	key     string // efficiency curve key that prices these ops
	ops     []models.Op
	seconds float64
}

// curveKey is the efficiency key roofline looks an op up under first: its
// own kind for the vector kinds, the activation, the router and routed
// experts (hw.OpKinds), else its class (gemm, attention). Fitting every
// kind apart matters on a CPU: a norm (two passes and a square root per
// row), a residual add (one add per element) and an activation (an exp per
// element) reach very different fractions of the same ceilings, and the
// engine runs routed experts as one small GEMM per chosen expert.
func curveKey(k models.OpKind) string {
	for _, v := range hw.OpKinds {
		if string(k) == v {
			return v
		}
	}
	return roofline.Class(k)
}

// hostSamples turns measured steps into fit samples: per step, the graph
// ops of each name and the engine's time for that name.
func hostSamples(steps []EngineStep, prec models.Precision) ([]hostSample, error) {
	var out []hostSample
	built := map[string]*models.Model{}
	for _, s := range steps {
		m, ok := built[s.Model]
		if !ok {
			var err error
			if m, err = models.New(s.Arch); err != nil {
				return nil, fmt.Errorf("model %q: %w", s.Model, err)
			}
			built[s.Model] = m
		}
		g := m.Graph(s.Seqs(), prec, models.Options{})
		byName := map[string]*hostSample{}
		var order []string
		for _, op := range g.Ops {
			sm, ok := byName[op.Name]
			if !ok {
				sm = &hostSample{key: curveKey(op.Kind), seconds: s.Ops[op.Name]}
				byName[op.Name] = sm
				order = append(order, op.Name)
			}
			sm.ops = append(sm.ops, op)
		}
		for _, name := range order {
			sm := byName[name]
			if sm.seconds <= 0 {
				continue
			}
			out = append(out, *sm)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fit host: no op timings to fit")
	}
	return out, nil
}

func (s *hostSample) predict(dev *hw.Device) float64 {
	var sec float64
	for i := range s.ops {
		sec += roofline.Cost(&s.ops[i], dev).Seconds
	}
	return sec
}

// FitHost fits base's efficiency curves and overheads to measured engine
// steps, so that llmsim's cost path (models.Graph priced op by op with
// roofline.Cost) reproduces the engine's op times. For every curve key
// (gemm, attention, and each vector kind) it places knots (two a decade,
// only where samples are) on a compute curve over FLOPs and a memory curve
// over bytes, for the matrix keys (gemm, experts, router, attention) also
// a compute factor over arithmetic intensity (a GEMV at M = 1 reuses each
// weight once, a prefill GEMM of the same FLOPs hundreds of times), and
// moves them, together with one per-op overhead, by
// coordinate descent on the mean squared log error of the op times plus a
// smoothness penalty (the same fit as FitKernels, but over the ops of real
// steps). The per-step overhead is then the median of what the steps took
// beyond their priced ops. It returns a copy of base.
func FitHost(base *hw.Device, steps []EngineStep, prec models.Precision) (*hw.Device, HostFit, error) {
	samples, err := hostSamples(steps, prec)
	if err != nil {
		return nil, HostFit{}, err
	}
	out := *base
	out.Efficiency = hw.Efficiency{Compute: map[string]hw.Curve{}, MemoryByClass: map[string]hw.Curve{}, ComputeByIntensity: map[string]hw.Curve{}}
	out.Overhead = hw.Overhead{}
	byKey := map[string][]int{}
	flops, bytes, intensity := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for i, s := range samples {
		byKey[s.key] = append(byKey[s.key], i)
		for _, op := range s.ops {
			if op.FLOPs > 0 {
				flops[s.key] = append(flops[s.key], op.FLOPs)
				if i := roofline.Intensity(op.FLOPs, op.Bytes()); i > 0 {
					intensity[s.key] = append(intensity[s.key], i)
				}
			}
			if b := op.Bytes(); b > 0 {
				bytes[s.key] = append(bytes[s.key], b)
			}
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	curves := map[string][]fitCurve{}
	fit := HostFit{Samples: len(samples), Parameters: 1}
	for _, k := range keys {
		if len(flops[k]) > 0 {
			out.Efficiency.Compute[k] = hw.Curve{Points: knots(flops[k])}
			curves[k] = append(curves[k], fitCurve{out.Efficiency.Compute[k].Points, 1})
		}
		if roofline.Class(models.OpKind(k)) != hw.ClassVector && len(intensity[k]) > 0 {
			pts := knots(intensity[k])
			for i := range pts {
				pts[i][1] = 1
			}
			out.Efficiency.ComputeByIntensity[k] = hw.Curve{Points: pts}
			curves[k] = append(curves[k], fitCurve{pts, 1})
		}
		if len(bytes[k]) > 0 {
			out.Efficiency.MemoryByClass[k] = hw.Curve{Points: knots(bytes[k])}
			curves[k] = append(curves[k], fitCurve{out.Efficiency.MemoryByClass[k].Points, 1})
		}
		for _, c := range curves[k] {
			fit.Parameters += len(c.points)
		}
	}
	keyLoss := func(k string) float64 {
		var sum float64
		for _, i := range byKey[k] {
			r := math.Log(samples[i].predict(&out) / samples[i].seconds)
			sum += r * r
		}
		return sum/float64(len(byKey[k])) + smoothness(curves[k])
	}
	total := func() float64 {
		var sum float64
		for _, k := range keys {
			sum += keyLoss(k) * float64(len(byKey[k]))
		}
		return sum / float64(len(samples))
	}
	prev := math.Inf(1)
	for sweep := 0; sweep < 30; sweep++ {
		fit.Sweeps++
		searchOverhead(&out, total)
		for _, k := range keys {
			loss := func() float64 { return keyLoss(k) }
			for _, c := range curves[k] {
				for i := range c.points {
					searchFraction(&c.points[i][1], loss)
				}
			}
		}
		cur := total()
		if prev-cur < 1e-6 {
			break
		}
		prev = cur
	}
	// Defaults for what the steps did not show: the general memory curve
	// is the GEMM one (weight streaming), the vector class takes the
	// element-wise curves.
	if g, ok := out.Efficiency.MemoryByClass[hw.ClassGEMM]; ok {
		out.Efficiency.Memory = hw.Curve{Points: append([][2]float64(nil), g.Points...)}
	}
	if c, ok := out.Efficiency.Compute[string(models.KindElemwise)]; ok {
		out.Efficiency.Compute[hw.ClassVector] = hw.Curve{Points: append([][2]float64(nil), c.Points...)}
	}
	if c, ok := out.Efficiency.MemoryByClass[string(models.KindElemwise)]; ok {
		out.Efficiency.MemoryByClass[hw.ClassVector] = hw.Curve{Points: append([][2]float64(nil), c.Points...)}
	}
	rel := make([]float64, len(samples))
	binds := map[string]bool{}
	for i := range samples {
		rel[i] = samples[i].predict(&out)/samples[i].seconds - 1
		for j := range samples[i].ops {
			switch roofline.Cost(&samples[i].ops[j], &out).Bound {
			case roofline.ComputeBound:
				binds["compute."+samples[i].key] = true
			case roofline.MemoryBound:
				binds["memory_by_class."+samples[i].key] = true
			}
		}
	}
	for _, k := range keys {
		for _, c := range []string{"compute." + k, "memory_by_class." + k} {
			if !binds[c] && ((c[0] == 'c' && len(flops[k]) > 0) || (c[0] == 'm' && len(bytes[k]) > 0)) {
				fit.Idle = append(fit.Idle, c)
				if _, ok := out.Efficiency.ComputeByIntensity[k]; ok && c[0] == 'c' {
					fit.Idle = append(fit.Idle, "compute_by_intensity."+k)
				}
			}
		}
	}
	fit.MAPE, fit.Worst = Errors(rel)
	fitEngineStepOverhead(&out, steps)
	return &out, fit, nil
}

// fitEngineStepOverhead sets the per-step overhead to the median of what
// the engine spent outside its timed ops (step time − Σ op times) over
// steps: the cost of setting a step up, which no op carries. Taking it from
// the measurement rather than from prediction residuals keeps op-model
// errors out of it.
func fitEngineStepOverhead(dev *hw.Device, steps []EngineStep) {
	residuals := make([]float64, 0, len(steps))
	for _, s := range steps {
		var ops float64
		for _, sec := range s.Ops {
			ops += sec
		}
		residuals = append(residuals, s.Seconds-ops)
	}
	dev.Overhead.StepSeconds = math.Max(0, median(residuals))
}

// median of v (v is reordered); 0 when empty.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[n/2]
}
