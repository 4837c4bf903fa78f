package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/validate"
)

const validateServingHelp = `
--serving DIR compares llmsim simulate with a measured serving run
(validate/gpu/serve.py output: trace.csv, requests.csv, iterations.csv): the
engine's host overhead and eager prefill dispatch are fitted on one load
level (--calibration-level), every other level's trace is replayed through
the simulator on --hw with --model, and TTFT (mean, p50, p90), TPOT, E2E
(mean, p90) and throughput are compared per level. JSON fields: hardware,
model, engine (the fitted profile: step_seconds, per_seq_seconds,
prefill_per_layer_seconds, prefill_per_seq_layer_seconds,
calibration_level, max_num_seqs, max_num_batched_tokens), levels (level,
rate_per_second, requests, role calibration|validation, measured,
simulated, error_percent per metric), mape_percent and worst_percent (per
metric, over the validation levels only).

  llmsim validate --serving validate/gpu/data/h200-serving --hw h200 --model llama3-8b
`

// servingFlags are validate's --serving mode flags (--model is shared with
// --engine).
type servingFlags struct {
	dir   string
	level int
}

func addServingFlags(fs *pflag.FlagSet) *servingFlags {
	s := &servingFlags{}
	fs.StringVar(&s.dir, "serving", "", "measured serving run to compare with llmsim simulate (validate/gpu/serve.py output directory); --model names the served model (default llama3-8b)")
	fs.IntVar(&s.level, "calibration-level", 0, "with --serving: the load level whose iterations fit the engine's overheads; the others validate")
	return s
}

// loadMeasured loads the system and model a measured data set is compared
// on; the model defaults to llama3-8b, the model of the committed GPU data.
func loadMeasured(hwName, model string) (*hw.System, *models.Model, error) {
	if model == "" {
		model = "llama3-8b"
	}
	sys, err := hw.Load(hwName)
	if err != nil {
		return nil, nil, fmt.Errorf("--hw: %w", err)
	}
	m, err := models.Load(model)
	if err != nil {
		return nil, nil, fmt.Errorf("--model: %w", err)
	}
	return sys, m, nil
}

func runServingValidation(s *servingFlags, model, hwName, format string, stdout io.Writer) error {
	sys, m, err := loadMeasured(hwName, model)
	if err != nil {
		return err
	}
	rep, err := validate.CompareServing(s.dir, sys, m, validate.ServingOptions{CalibrationLevel: s.level})
	if err != nil {
		return fmt.Errorf("--serving: %w", err)
	}
	if format == "json" {
		return writeJSON(stdout, rep)
	}
	e := rep.Engine
	fmt.Fprintf(stdout, "%s on %s; engine fitted on level %d: host %.3f ms + %.4f ms/seq, prefill dispatch %.1f µs + %.1f µs/prompt per layer\n\n",
		rep.Model, rep.Hardware, e.CalibrationLevel, 1e3*e.StepSeconds, 1e3*e.PerSeqSeconds, 1e6*e.PrefillPerLayerSeconds, 1e6*e.PrefillPerSeqLayerSeconds)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "level\treq/s\trole")
	for _, n := range validate.ServingMetricNames {
		fmt.Fprintf(tw, "\t%s", n)
	}
	fmt.Fprintln(tw)
	for _, l := range rep.Levels {
		fmt.Fprintf(tw, "%d\t%.0f\t%s", l.Level, l.RatePerSecond, l.Role)
		for _, n := range validate.ServingMetricNames {
			fmt.Fprintf(tw, "\t%+.1f%%", l.ErrorPercent[n])
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "MAPE\t\tvalidation")
	for _, n := range validate.ServingMetricNames {
		fmt.Fprintf(tw, "\t%.1f%%", rep.MAPEPercent[n])
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}
