package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/validate"
)

// engineFlags are validate's flags for --engine cpu.
type engineFlags struct {
	engine, model, plot   string
	saveSteps, loadSteps  string
	quick, refit          bool
	threads               int
	waitIdle              time.Duration
	hw                    string
	hwGiven, threadsGiven bool
}

func addEngineFlags(fs *pflag.FlagSet) *engineFlags {
	e := &engineFlags{}
	fs.StringVar(&e.engine, "engine", "", "run a real engine here instead of reading --data: cpu (llmsim's CPU engine)")
	fs.StringVar(&e.model, "model", "", "with --engine: validate on this model (built-in name, TOML or config.json) instead of the built-in validation shapes (random fp32 weights, so keep it small); with --serving: the served model (default llama3-8b)")
	fs.BoolVar(&e.quick, "quick", false, "with --engine: the tiny CI grid (and a quick calibration when --hw is absent); under a minute on 2 cores")
	fs.StringVar(&e.plot, "plot", "", "with --engine: write a predicted-vs-measured plot of the steps (.svg, .png or .pdf)")
	fs.IntVar(&e.threads, "threads", 0, "with --engine: engine threads (default: the --hw file's compute.units, else all CPUs); 1 times steps by the thread's CPU time, robust on a shared machine")
	fs.StringVar(&e.saveSteps, "save-steps", "", "with --engine: write every measured step with its op times (JSON: calibration and validation steps) to this file, for refitting or analysis without re-running the engine")
	fs.StringVar(&e.loadSteps, "load-steps", "", "with --engine: run nothing; take the calibration and validation steps from a --save-steps file and validate on its validation steps (needs --hw)")
	fs.BoolVar(&e.refit, "refit", false, "with --load-steps: keep only the --hw file's ceilings and fit its curves and overheads to the file's calibration steps (the fit of llmsim calibrate host), so a change to the cost model is re-validated in seconds")
	fs.DurationVar(&e.waitIdle, "wait-idle", 300*time.Millisecond, "with --engine: before each prefill, wait up to this long for the CPU to be idle (0: never)")
	return e
}

// gpuModeOnly rejects engine flags without --engine.
func (e *engineFlags) gpuModeOnly(fs *pflag.FlagSet) error {
	for _, f := range []string{"model", "quick", "plot", "threads", "wait-idle", "save-steps", "load-steps", "refit"} {
		if fs.Changed(f) {
			return fmt.Errorf("--%s needs --engine cpu", f)
		}
	}
	return nil
}

// enginePricer prices a step as llmsim estimate does: the target's graph
// builder (model graph + KV-cache scheme) and roofline.Step on the device.
func enginePricer(dev *hw.Device, prec models.Precision) (validate.StepPricer, error) {
	kv, err := kvcache.Parse("full")
	if err != nil {
		return nil, err
	}
	return func(m *models.Model, seqs []models.Seq) roofline.StepCost {
		t := &target{device: dev, model: m, prec: prec, kv: kv}
		var g models.Graph
		t.build(&g, seqs)
		return roofline.Step(&g, t.device)
	}, nil
}

func runEngineValidation(e *engineFlags, format string, stdout, stderr io.Writer) error {
	start := time.Now()
	if e.engine != "cpu" {
		return fmt.Errorf("--engine: unknown engine %q (want cpu)", e.engine)
	}
	if e.threads < 0 {
		return fmt.Errorf("--threads: must be 0 (all CPUs) or positive, got %d", e.threads)
	}
	if e.waitIdle < 0 {
		return fmt.Errorf("--wait-idle: must not be negative, got %v", e.waitIdle)
	}
	if e.loadSteps != "" {
		return runLoadedValidation(e, format, stdout, stderr, start)
	}
	if e.refit {
		return fmt.Errorf("--refit needs --load-steps")
	}
	plan := validate.ValidationPlan(e.quick)
	if e.model != "" {
		m, err := models.Load(e.model)
		if err != nil {
			return fmt.Errorf("--model: %w", err)
		}
		plan.Models = []validate.EngineModel{{Name: m.Name, Arch: m.Arch}}
		plan.Grid = validate.ModelGrid(e.quick)
	}
	if err := checkSplit(plan); err != nil {
		return err
	}
	var (
		dev      *hw.Device
		cal      *validate.HostCalibration
		hwSource string
	)
	if e.hwGiven {
		d, err := hw.LoadDevice(e.hw)
		if err != nil {
			return fmt.Errorf("--hw: %w", err)
		}
		if d.Kind != hw.CPU {
			return fmt.Errorf("--hw: %s is a %s; --engine cpu needs a CPU description of this host (llmsim calibrate host -o FILE.toml)", e.hw, d.Kind)
		}
		dev, hwSource = d, e.hw
		if !e.threadsGiven && d.Compute.Units > 0 {
			e.threads = d.Compute.Units
		}
	} else {
		fmt.Fprintln(stderr, "no --hw: calibrating this host first (llmsim calibrate host)")
		var err error
		// The validation grid is measured with the calibration grid,
		// interleaved, so both see the same load on a shared machine.
		cal, err = validate.CalibrateHost(validate.HostOptions{Name: "host", Quick: e.quick, Threads: e.threads, WaitIdle: e.waitIdle,
			Validation: &plan, Log: stderr})
		if err != nil {
			if e.model != "" {
				return fmt.Errorf("--model %s: %w", e.model, err)
			}
			return err
		}
		writeHostReport(stderr, cal)
		dev, hwSource = cal.Device, "calibrated in-process"
	}
	if e.threads == 0 {
		e.threads = runtime.NumCPU()
	}
	plan.Threads, plan.WaitIdle = e.threads, e.waitIdle
	var steps []validate.EngineStep
	if cal != nil {
		steps = cal.ValidationSteps
	} else {
		var err error
		if steps, err = validate.RunEngine(plan, stderr); err != nil {
			if e.model != "" {
				return fmt.Errorf("--model %s: %w", e.model, err)
			}
			return err
		}
	}
	if e.saveSteps != "" {
		saved := savedSteps{Validation: steps}
		if cal != nil {
			saved.Calibration = cal.Steps
		}
		if err := writeFileAtomic(e.saveSteps, func(w io.Writer) error { return writeJSON(w, saved) }); err != nil {
			return fmt.Errorf("--save-steps: %w", err)
		}
	}
	return reportEngine(e, format, stdout, engineResult{cal: cal, plan: plan, hw: hwSource}, dev, steps, start)
}

// reportEngine prices the validation steps on dev and writes the result.
func reportEngine(e *engineFlags, format string, stdout io.Writer, res engineResult, dev *hw.Device, steps []validate.EngineStep, start time.Time) error {
	price, err := enginePricer(dev, validate.EnginePrecision(res.plan.Weights))
	if err != nil {
		return err
	}
	if res.c, err = validate.CompareEngine(steps, price); err != nil {
		return err
	}
	c := res.c
	if e.plot != "" {
		if err := validate.PlotEngine(c, "llmsim vs the CPU engine ("+dev.Name+")", e.plot); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	res.seconds = time.Since(start).Seconds()
	if format == "json" {
		return writeJSON(stdout, res.json())
	}
	res.table(stdout)
	return nil
}

// checkSplit makes sure no validation model has the shape of a model of
// either built-in calibration plan (the in-process calibration, or the one
// a --hw file from llmsim calibrate host was fitted to).
func checkSplit(val validate.EnginePlan) error {
	for _, cp := range []validate.EnginePlan{validate.CalibrationPlan(true), validate.CalibrationPlan(false)} {
		if err := validate.Disjoint(validate.PlanPoints(cp), validate.PlanPoints(val)); err != nil {
			return fmt.Errorf("--model: %w", err)
		}
	}
	return nil
}

type engineResult struct {
	c       validate.EngineComparison
	cal     *validate.HostCalibration
	plan    validate.EnginePlan
	hw      string
	seconds float64
}

const splitNote = "calibration and validation use different model shapes (cal-*: GQA and MoE; val-*: other widths and depths, MQA/MHA, MoE with a shared expert) and different batch x tokens grid points"

type enginePointJSON struct {
	Model      string  `json:"model"`
	Phase      string  `json:"phase"`
	Batch      int     `json:"batch"`
	Tokens     int     `json:"tokens"`
	MeasuredS  float64 `json:"measured_s"`
	PredictedS float64 `json:"predicted_s,omitempty"`
	Error      float64 `json:"error,omitempty"`
	// OpsMeasuredS and OpsPredictedS are per op name (summed over layers).
	OpsMeasuredS  map[string]float64 `json:"ops_measured_s,omitempty"`
	OpsPredictedS map[string]float64 `json:"ops_predicted_s,omitempty"`
}

func pointJSONs(steps []validate.EngineStep, withMeasured bool) []enginePointJSON {
	out := make([]enginePointJSON, len(steps))
	for i, s := range steps {
		out[i] = enginePointJSON{Model: s.Model, Phase: s.Phase, Batch: s.Batch, Tokens: s.Tokens}
		if withMeasured {
			out[i].MeasuredS = s.Seconds
		}
	}
	return out
}

func (r engineResult) json() any {
	pts := make([]enginePointJSON, len(r.c.Points))
	steps := make([]validate.EngineStep, len(r.c.Points))
	for i, p := range r.c.Points {
		pts[i] = enginePointJSON{p.Model, p.Phase, p.Batch, p.Tokens, p.Seconds, p.Predicted, p.Error, p.Ops, p.OpsPred}
		steps[i] = p.EngineStep
	}
	out := struct {
		Points              []enginePointJSON  `json:"points"`
		StepMAPE            float64            `json:"step_mape"`
		StepWorst           float64            `json:"step_worst"`
		OpMAPE              map[string]float64 `json:"op_mape"`
		OpWorst             map[string]float64 `json:"op_worst"`
		OpShare             map[string]float64 `json:"op_share"`
		SpreadPct           float64            `json:"spread_pct"`
		CalibrationPoints   []enginePointJSON  `json:"calibration_points"`
		CalibrationStepMAPE *float64           `json:"calibration_step_mape,omitempty"`
		ValidationPoints    []enginePointJSON  `json:"validation_points"`
		Split               string             `json:"split"`
		HW                  string             `json:"hw"`
		Threads             int                `json:"threads"`
		Weights             string             `json:"weights"`
		Seconds             float64            `json:"seconds"`
	}{Points: pts, StepMAPE: r.c.StepMAPE, StepWorst: r.c.StepWorst, OpMAPE: r.c.OpMAPE, OpWorst: r.c.OpWorst, OpShare: r.c.OpShare,
		SpreadPct: r.c.Spread, CalibrationPoints: []enginePointJSON{}, ValidationPoints: pointJSONs(steps, false), Split: splitNote, HW: r.hw,
		Threads: r.plan.Threads, Weights: string(validate.EnginePrecision(r.plan.Weights).Weights), Seconds: r.seconds}
	if r.cal != nil {
		out.CalibrationPoints = pointJSONs(r.cal.Steps, true)
		m := r.cal.Calibration.StepMAPE
		out.CalibrationStepMAPE = &m
	}
	return out
}

func (r engineResult) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tphase\tbatch\ttokens\tmeasured\tpredicted\terror")
	for _, p := range r.c.Points {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%+.1f%%\n", p.Model, p.Phase, p.Batch, p.Tokens, seconds(p.Seconds), seconds(p.Predicted), 100*p.Error)
	}
	fmt.Fprintf(tw, "\n%d validation steps\tMAPE %.1f%%\tworst %+.1f%%\trun-to-run spread %.1f%%\n", len(r.c.Points), r.c.StepMAPE, r.c.StepWorst, r.c.Spread)
	tw.Flush()
	type group struct {
		model, phase string
		errs         []float64
	}
	var groups []*group
	idx := map[[2]string]*group{}
	for _, p := range r.c.Points {
		k := [2]string{p.Model, p.Phase}
		if idx[k] == nil {
			idx[k] = &group{model: p.Model, phase: p.Phase}
			groups = append(groups, idx[k])
		}
		idx[k].errs = append(idx[k].errs, p.Error)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\n  model\tphase\tsteps\tMAPE\tworst")
	for _, g := range groups {
		mape, worst := validate.Errors(g.errs)
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f%%\t%+.1f%%\n", g.model, g.phase, len(g.errs), mape, worst)
	}
	fmt.Fprintln(tw, "\n  op\tshare of time\tMAPE\tworst")
	for _, n := range r.c.OpNames() {
		fmt.Fprintf(tw, "  %s\t%.1f%%\t%.1f%%\t%+.1f%%\n", n, 100*r.c.OpShare[n], r.c.OpMAPE[n], r.c.OpWorst[n])
	}
	tw.Flush()
	if r.cal != nil {
		fmt.Fprintf(w, "\ncalibration: %d steps (%s), step MAPE %.1f%%\n", len(r.cal.Steps), modelNames(r.cal.Steps), r.cal.Calibration.StepMAPE)
	} else {
		fmt.Fprintf(w, "\ncalibration: from %s (its [calibration] section lists the points)\n", r.hw)
	}
	fmt.Fprintf(w, "split: %s\nthreads %d, took %.0f s\n", splitNote, r.plan.Threads, r.seconds)
}

func modelNames(steps []validate.EngineStep) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range steps {
		if !seen[s.Model] {
			seen[s.Model] = true
			names = append(names, s.Model)
		}
	}
	sort.Strings(names)
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
