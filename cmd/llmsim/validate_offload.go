package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/validate"
)

const validateOffloadHelp = `
--offload DIR compares llmsim's offload executor with measured weight
streaming (validate/gpu/offload.py output: offload_steps.csv,
offload_link.csv, and offload_steps_cw.csv when present: the same steps with
FlexGen's 4-bit weights, priced in fp16 with cw=1): every step — prefill of batch × prompt tokens or decode
of batch sequences at a context — is priced on --hw (default h200-node, the
machine of the committed data) with --model (default llama3-8b) under the
measured policy, flexgen:w=0/100/0,c=100/0/0,a=100/0/0,gbs=BATCH,ngb=1,
overlap=0|1, exactly as llmsim estimate --offload prices it. The host copy
rates of offload_link.csv calibrated the system's link; the steps validate.
The model's bf16 weight bytes must equal the data's weight_bytes. JSON
fields: hardware, model, weight_bytes, points (phase, batch, prompt,
context, overlap, compressed, scheme, bound link|device, measured_seconds,
predicted_seconds, error = predicted/measured - 1), mape_percent,
worst_percent (signed; negative = predicted faster), the same of each set
(mape_plain_percent, worst_plain_percent, mape_compressed_percent,
worst_compressed_percent), copies (bytes, pinned,
h2d_bytes_per_second, d2h_bytes_per_second: the measured copy rates).

  llmsim validate --offload validate/gpu/data/h200-offload --hw h200-node --model llama3-8b
`

// offloadConflicts are validate's flags of other modes, refused with
// --offload.
var offloadConflicts = []string{"serving", "engine", "data", "calibration-level", "quick", "plot", "threads",
	"wait-idle", "save-steps", "load-steps", "refit", "mode", "min-prefill-tokens"}

func addOffloadFlag(fs *pflag.FlagSet) *string {
	return fs.String("offload", "", "measured offloaded steps to compare with llmsim estimate --offload (validate/gpu/offload.py output directory); --hw defaults to h200-node, --model to llama3-8b")
}

// runOffloadValidation is validate's --offload mode. hwName is "" when
// --hw was not given.
func runOffloadValidation(fs *pflag.FlagSet, dir, model, hwName, format string, stdout io.Writer) error {
	for _, f := range offloadConflicts {
		if fs.Changed(f) {
			return fmt.Errorf("--offload and --%s: --offload compares measured offloaded steps, give it alone with --hw and --model", f)
		}
	}
	if dir == "" {
		return fmt.Errorf("--offload: give the directory of offload_steps.csv and offload_link.csv")
	}
	if hwName == "" {
		hwName = "h200-node"
	}
	sys, m, err := loadMeasured(hwName, model)
	if err != nil {
		return err
	}
	c, err := validate.CompareOffload(dir, sys, m)
	if err != nil {
		return fmt.Errorf("--offload %s: %w", dir, err)
	}
	if format == "json" {
		return writeJSON(stdout, c)
	}
	fmt.Fprintf(stdout, "%s on %s: weights (%.2f GB) streamed from pinned host memory every step\n\n", c.Model, c.Hardware, c.WeightBytes/1e9)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tbatch\tprompt\tcontext\toverlap\t4-bit\tbound\tmeasured\tpredicted\terror")
	compressed := 0
	for _, p := range c.Points {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%v\t%v\t%s\t%s\t%s\t%+.1f%%\n", p.Phase, p.Batch, p.Prompt, p.Context, p.Overlap, p.Compressed, p.Bound,
			seconds(p.Measured), seconds(p.Predicted), 100*p.Error)
		if p.Compressed {
			compressed++
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d points\nMAPE  %.1f%%\nworst %+.1f%%\n", len(c.Points), c.MAPE, c.Worst)
	if compressed > 0 {
		fmt.Fprintf(stdout, "fp16 weights: MAPE %.1f%%, worst %+.1f%% (%d points); 4-bit weights: MAPE %.1f%%, worst %+.1f%% (%d points)\n",
			c.MAPEPlain, c.WorstPlain, len(c.Points)-compressed, c.MAPECompressed, c.WorstCompressed, compressed)
	}
	return nil
}
