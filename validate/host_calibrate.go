package validate

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/validate/bench"
)

// HostOptions choose how llmsim calibrate host measures.
type HostOptions struct {
	Name    string // device name written to the description
	Quick   bool   // quick microbenchmarks and the small engine grid (CI)
	Threads int    // 0: all CPUs
	// Plan overrides the calibration grid (nil: CalibrationPlan(Quick)).
	Plan *EnginePlan
	// Validation, when not nil, is measured together with the calibration
	// grid (interleaved, see RunEngines) and returned as Validation steps;
	// it takes no part in the fit.
	Validation *EnginePlan
	// WaitIdle: see EnginePlan.
	WaitIdle time.Duration
	Log      io.Writer // progress lines; nil for none
}

// HostCalibration is a calibrated host description with the measurements
// it came from.
type HostCalibration struct {
	Device   *hw.Device
	Ceilings HostCeilings
	Bench    []bench.Result
	Plan     EnginePlan
	Steps    []EngineStep // the calibration points
	// ValidationSteps are the points of HostOptions.Validation (nil without).
	ValidationSteps []EngineStep
	Fit             HostFit
	// Calibration is the fitted description's error on its own points.
	Calibration EngineComparison
	Date        time.Time
	GoVersion   string
	Seconds     float64 // wall time of the whole calibration
}

// CalibrateHost measures this host (microbenchmarks, then the engine over
// the calibration grid) and fits a CPU description to it.
func CalibrateHost(o HostOptions) (*HostCalibration, error) {
	start := time.Now()
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if o.Name == "" {
		o.Name = "host"
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	results, err := bench.Run(bench.Options{Quick: o.Quick, Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("calibrate host: microbenchmarks: %w", err)
	}
	ceil, err := Ceilings(results, threads)
	if err != nil {
		return nil, err
	}
	logf("microbenchmarks: %.1f GB/s (%s), fp32 GEMM %.1f GFLOP/s, %.1fs", ceil.BytesPerSecond/1e9, ceil.Memory.Kind,
		ceil.FLOPSPerSecond[dtype.FP32]/1e9, time.Since(start).Seconds())
	plan := CalibrationPlan(o.Quick)
	if o.Plan != nil {
		plan = *o.Plan
	}
	plan.Threads = threads
	if o.WaitIdle > 0 {
		plan.WaitIdle = o.WaitIdle
	}
	plans := []EnginePlan{plan}
	if o.Validation != nil {
		v := *o.Validation
		v.Threads = threads
		if o.WaitIdle > 0 {
			v.WaitIdle = o.WaitIdle
		}
		plans = append(plans, v)
	}
	measured, err := RunEngines(plans, o.Log)
	if err != nil {
		return nil, fmt.Errorf("calibrate host: %w", err)
	}
	steps := measured[0]
	if o.Validation != nil {
		if err := Disjoint(steps, measured[1]); err != nil {
			return nil, err
		}
	}
	prec := EnginePrecision(plan.Weights)
	dev, fit, err := FitHost(ceil.Device(o.Name), steps, prec)
	if err != nil {
		return nil, err
	}
	cal := &HostCalibration{Device: dev, Ceilings: ceil, Bench: results, Plan: plan, Steps: steps, Fit: fit,
		Date: time.Now().UTC(), GoVersion: runtime.Version()}
	if o.Validation != nil {
		cal.ValidationSteps = measured[1]
	}
	if cal.Calibration, err = CompareEngine(steps, GraphPricer(dev, prec)); err != nil {
		return nil, err
	}
	cal.Seconds = time.Since(start).Seconds()
	dev.Calibration = &hw.Calibration{
		Method: fmt.Sprintf("llmsim calibrate host%s: ceilings = best microbenchmarks; curves and per-op overhead = "+
			"coordinate-descent fit (mean squared log error) of %d engine op times; per-step overhead = median of step time - sum of op times",
			map[bool]string{true: " --quick", false: ""}[o.Quick], fit.Samples),
		Date:    cal.Date.Format("2006-01-02"),
		Dataset: "validate/engine steps: " + PlanSummary(plan),
		Machine: fmt.Sprintf("%s, %s, LLC %d MiB, %s %s/%s", ceil.CPUModel, threadsText(threads), ceil.LLCBytes>>20,
			cal.GoVersion, runtime.GOOS, runtime.GOARCH),
	}
	return cal, nil
}

func threadsText(n int) string {
	if n == 1 {
		return "1 thread"
	}
	return fmt.Sprintf("%d threads", n)
}

// PlanSummary describes a plan in one line: models with their shapes, the
// grid, weights and repetitions.
func PlanSummary(p EnginePlan) string {
	var ms []string
	for _, m := range p.Models {
		ms = append(ms, m.Name+" ("+ShapeSummary(m.Arch)+")")
	}
	var grid []string
	for _, g := range p.Grid {
		grid = append(grid, fmt.Sprintf("%dx%d", g.Batch, g.Tokens))
	}
	w := p.Weights
	if w == "" {
		w = dtype.FP32
	}
	clock := "wall clock"
	if p.Threads == 1 {
		clock = "engine thread's CPU time"
	}
	return fmt.Sprintf("models %s; batch x tokens %s (prefill of the prompts, then %d decode steps); %s weights; best of %d by %s",
		strings.Join(ms, ", "), strings.Join(grid, " "), p.DecodeSteps, w, p.Repeats, clock)
}

// ShapeSummary is a compact description of an architecture.
func ShapeSummary(a models.Arch) string {
	kv := a.KVHeads
	if kv == 0 {
		kv = a.Heads
	}
	s := fmt.Sprintf("L%d h%d heads %d/%d ffn %d vocab %d", a.Layers, a.Hidden, a.Heads, kv, a.Intermediate, a.Vocab)
	if e := a.MoE; e != nil {
		s += fmt.Sprintf(" moe %d top-%d x%d", e.Experts, e.TopK, e.ExpertIntermediate)
		if e.SharedExperts > 0 {
			s += fmt.Sprintf(" +%d shared", e.SharedExperts)
		}
	}
	return s
}

// WriteHostTOML writes a complete, loadable device file for a calibrated
// host, with its provenance: date, CPU, threads, Go version, the
// microbenchmarks and the calibration points.
func WriteHostTOML(w io.Writer, cal *HostCalibration) error {
	dev, c := cal.Device, cal.Ceilings
	var b strings.Builder
	fmt.Fprintf(&b, "# Host description calibrated by `llmsim calibrate host` on %s UTC.\n", cal.Date.Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "# Machine: %s, %s, last-level cache %d MiB, %.1f GiB memory; %s %s/%s.\n",
		c.CPUModel, threadsText(c.Threads), c.LLCBytes>>20, c.MemoryBytes/(1<<30), cal.GoVersion, runtime.GOOS, runtime.GOARCH)
	b.WriteString("# Every number was measured on that machine. It describes llmsim's CPU engine\n" +
		"# (validate/engine: scalar Go kernels, fp32 compute) on it, not the CPU's datasheet peaks.\n")
	fmt.Fprintf(&b, "# Calibration took %.0f s; the fit reproduces its %d op times with MAPE %.1f%% and its\n"+
		"# %d steps with MAPE %.1f%% (worst %+.1f%%).\n\n",
		cal.Seconds, cal.Fit.Samples, cal.Fit.MAPE, len(cal.Calibration.Points), cal.Calibration.StepMAPE, cal.Calibration.StepWorst)
	fmt.Fprintf(&b, "name = %q\nkind = \"cpu\"\ndescription = %q\nsource = %q\n\n", dev.Name, dev.Description, dev.Source)
	fmt.Fprintf(&b, "[compute]\nunits = %d  # threads the engine and the benchmarks used\n\n[compute.flops_per_second]\n", c.Threads)
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		if r, ok := c.GEMM[dt]; ok {
			fmt.Fprintf(&b, "%s = %.4g  # measured: best engine GEMM with %s weights (M=%d N=%d K=%d), fp32 arithmetic\n",
				dt, r.FLOPsPerSecond, dt, r.M, r.N, r.K)
		}
	}
	fmt.Fprintf(&b, "\n[[memory]]\nname = \"dram\"\ncapacity_bytes = %.0f  # measured: /proc/meminfo MemTotal\n", dev.Memory[0].CapacityBytes)
	fmt.Fprintf(&b, "bytes_per_second = %.4g  # measured: best %s at %s (%d MiB buffers)\n\n",
		c.BytesPerSecond, c.Memory.Kind, threadsText(c.Threads), c.Memory.Bytes>>20)
	fmt.Fprintf(&b, "[[buffer]]\nname = \"llc\"\nbytes = %d  # sysfs cache size\n\n", c.LLCBytes)
	b.WriteString("# Microbenchmarks (validate/bench, best repetition):\n")
	for _, r := range cal.Bench {
		fmt.Fprintf(&b, "#   %s\n", r.String())
	}
	b.WriteString("\n")
	idle := map[string]bool{}
	for _, c := range cal.Fit.Idle {
		idle["efficiency."+c] = true
	}
	writeCurve := func(name string, cv hw.Curve, what string) {
		if idle[name] {
			what = "not binding: every calibration op of this kind was limited by the other roof, so these knots (left where the fit put them) change no prediction on the calibration points"
		} else {
			what = "fitted: " + what
		}
		fmt.Fprintf(&b, "[%s]\npoints = [", name)
		for i, p := range cv.Points {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "[%.4g, %.4g]", p[0], p[1])
		}
		fmt.Fprintf(&b, "]  # %s\n\n", what)
	}
	eff := dev.Efficiency
	if len(eff.Memory.Points) > 0 {
		writeCurve("efficiency.memory", eff.Memory, "bytes per op -> fraction of bandwidth (gemm's)")
	}
	for _, k := range sortedCurveKeys(eff.MemoryByClass) {
		writeCurve("efficiency.memory_by_class."+k, eff.MemoryByClass[k], "bytes per op -> fraction of bandwidth")
	}
	for _, k := range sortedCurveKeys(eff.Compute) {
		writeCurve("efficiency.compute."+k, eff.Compute[k], "FLOPs per op -> fraction of the fp32 ceiling")
	}
	for _, k := range sortedCurveKeys(eff.ComputeByIntensity) {
		writeCurve("efficiency.compute_by_intensity."+k, eff.ComputeByIntensity[k], "FLOPs per byte -> factor on the compute fraction")
	}
	fmt.Fprintf(&b, "[overhead]\nkernel_seconds = %.4g  # fitted: per-op cost (thread-pool dispatch, timing)\n"+
		"step_seconds = %.4g  # measured: median over the calibration steps of step time − Σ op times\n\n", dev.Overhead.KernelSeconds, dev.Overhead.StepSeconds)
	b.WriteString("# Calibration points (best of the repetitions; seconds):\n")
	steps := append([]EngineStep(nil), cal.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Model < steps[j].Model })
	for _, s := range steps {
		fmt.Fprintf(&b, "#   %-14s %-7s batch %3d tokens %4d  %.6f\n", s.Model, s.Phase, s.Batch, s.Tokens, s.Seconds)
	}
	if cl := dev.Calibration; cl != nil {
		fmt.Fprintf(&b, "\n[calibration]\nmethod = %q\ndate = %q\ndataset = %q\nmachine = %q\n", cl.Method, cl.Date, cl.Dataset, cl.Machine)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
