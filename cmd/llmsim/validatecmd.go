package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/validate"
)

const validateHelp = `llmsim validate — compare llmsim's predictions with measurements.

  llmsim validate --data validate/gpu/data/h100 --hw h100-sxm
  llmsim validate --data validate/data/published.csv
  llmsim validate --engine cpu [--hw host.toml] [--model NAME|FILE] [--quick] [--plot FILE.svg]
  llmsim validate --serving validate/gpu/data/h200-serving --hw h200
  llmsim validate --offload validate/gpu/data/h200-offload --hw h200-node --model llama3-8b

--data DIR (or DIR/steps.csv) compares whole measured forward steps
(validate/gpu/measure.py output) with estimate's prediction for the same
model, batch, prompt and context on --hw. --data FILE.csv with a "metric"
column compares published figures (TTFT, TPOT, tokens/s per GPU), each on the
hardware its row names.

Output fields:
  points       compared points; per point: model, phase, batch, prompt,
               context, measured_seconds, predicted_seconds, error
  step_mape    mean absolute percentage error over the points (percent)
  step_worst   the largest error, signed (percent; negative = predicted faster)
  groups       MAPE and worst per model and phase

--engine cpu runs llmsim's CPU engine (validate/engine) on this machine over
the validation grid: random-weight decoders (GQA, MHA, MoE with a shared
expert; or --model) at batch × prompt prefills, each followed by decode
steps at that context (each point the fastest of several repetitions; with
--threads 1 timed by the engine thread's CPU time, which a busy machine does
not inflate, else by the wall clock). It predicts every point with the host
description (--hw FILE from llmsim calibrate host; without --hw it
calibrates first, in-process, measuring both grids together) through the
cost path of llmsim estimate (model graph, KV-cache scheme "full",
roofline), with fp32 activations and KV cache as the engine computes.
Calibration and validation never share a model shape or a point. The table
lists every point, then per op its share of measured time, MAPE and worst.
JSON (-o json) fields:
  points             validation points: model, phase, batch, tokens (prompt
                     per sequence for prefill, cached context for decode),
                     measured_s, predicted_s, error (predicted/measured - 1)
  step_mape          whole-step MAPE over the validation points (percent)
  step_worst         the largest whole-step error, signed (percent)
  op_mape, op_worst  per op name: MAPE and worst error of the op's time
                     (summed over layers) over the points (percent)
  op_share           per op name: its share of all measured time
  calibration_points points the description was fitted to (model, phase,
                     batch, tokens, measured_s); empty when --hw was given
                     (see its [calibration] section)
  calibration_step_mape  whole-step MAPE on them (in-process calibration)
  validation_points  the points of "points" without the measurements
  split              how calibration and validation points differ
  hw, threads, weights, seconds  description used, engine threads, weight
                     format, wall time of the whole run
`

func init() {
	register("validate", "compare predictions with measured datasets", runValidate)
}

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", validateHelp+validateServingHelp+validateOffloadHelp, stderr)
	data := fs.String("data", "validate/gpu/data/h100", "measured dataset: a directory with steps.csv, a steps.csv, or a published-figures CSV")
	hwName := fs.String("hw", "h100-sxm", "device the steps were measured on (built-in name or TOML)")
	minPrefill := fs.Int("min-prefill-tokens", 2048, "compare only prefill steps of at least this many tokens (smaller eager prefills time the host's kernel dispatch, not the GPU)")
	mode := fs.String("mode", "cudagraph", "decode launch mode to compare (eager, cudagraph, or empty for all); prefill steps are eager")
	format := fs.StringP("output-format", "o", "table", "table or json")
	eng := addEngineFlags(fs)
	serving := addServingFlags(fs)
	offloadDir := addOffloadFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkFormat(*format, "table", "json"); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if fs.Changed("offload") {
		system := "" // the data's own machine unless --hw names another
		if fs.Changed("hw") {
			system = *hwName
		}
		return runOffloadValidation(fs, *offloadDir, eng.model, system, *format, stdout)
	}
	if serving.dir != "" {
		for _, f := range []string{"data", "engine", "quick", "plot", "threads", "wait-idle", "mode", "min-prefill-tokens"} {
			if fs.Changed(f) {
				return fmt.Errorf("--serving and --%s: --serving compares a serving run, give it alone with --hw and --model", f)
			}
		}
		return runServingValidation(serving, eng.model, *hwName, *format, stdout)
	}
	if fs.Changed("calibration-level") {
		return fmt.Errorf("--calibration-level needs --serving")
	}
	if eng.engine != "" {
		if fs.Changed("data") {
			return fmt.Errorf("--data and --engine: choose one (a measured dataset, or the CPU engine run here)")
		}
		eng.hw, eng.hwGiven, eng.threadsGiven = *hwName, fs.Changed("hw"), fs.Changed("threads")
		return runEngineValidation(eng, *format, stdout, stderr)
	}
	if err := eng.gpuModeOnly(fs); err != nil {
		return err
	}
	path := *data
	if st, err := os.Stat(path); err != nil {
		return fmt.Errorf("--data: %w", err)
	} else if st.IsDir() {
		path = filepath.Join(path, "steps.csv")
	}
	if validate.IsPublished(path) {
		return runPublished(path, *format, stdout)
	}
	dev, err := hw.LoadDevice(*hwName)
	if err != nil {
		return fmt.Errorf("--hw: %w", err)
	}
	steps, err := validate.ReadSteps(path)
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	steps = validate.SelectMode(steps, *mode, *minPrefill)
	c, err := validate.NewPredictor(dev).CompareSteps(steps)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(stdout, comparisonJSON(c))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tphase\tmode\tbatch\tprompt\tcontext\tmeasured\tpredicted\terror")
	for _, p := range c.Points {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%+.1f%%\n", p.Model, p.Phase, p.Mode, p.Batch, p.Prompt, p.Context,
			seconds(p.Seconds), seconds(p.Predicted), 100*p.Error)
	}
	fmt.Fprintf(tw, "\n%d points\tMAPE %.1f%%\tworst %+.1f%%\n", len(c.Points), c.MAPE, c.Worst)
	tw.Flush()
	writeGroupErrors(stdout, c)
	return nil
}

type pointJSON struct {
	Model            string  `json:"model"`
	Phase            string  `json:"phase"`
	Mode             string  `json:"mode"`
	Batch            int     `json:"batch"`
	Prompt           int     `json:"prompt"`
	Context          int     `json:"context"`
	MeasuredSeconds  float64 `json:"measured_seconds"`
	PredictedSeconds float64 `json:"predicted_seconds"`
	Error            float64 `json:"error"`
}

func comparisonJSON(c validate.Comparison) any {
	pts := make([]pointJSON, len(c.Points))
	for i, p := range c.Points {
		pts[i] = pointJSON{p.Model, p.Phase, p.Mode, p.Batch, p.Prompt, p.Context, p.Seconds, p.Predicted, p.Error}
	}
	return struct {
		Points    []pointJSON `json:"points"`
		StepMAPE  float64     `json:"step_mape"`
		StepWorst float64     `json:"step_worst"`
	}{pts, c.MAPE, c.Worst}
}
