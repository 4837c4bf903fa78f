package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/validate"
)

const calibrateHelp = `llmsim calibrate — fit a device description to measurements.

  llmsim calibrate gpu --data validate/gpu/data/h100 --hw h100-sxm --calibrate-models llama2-7b
  llmsim calibrate host -o host.toml [--quick] [--threads N]   (llmsim calibrate host --help)

gpu: fits the device's efficiency curves (memory by bytes per kernel; compute
per op class by FLOPs) and per-kernel overhead to the kernel microbenchmarks
(kernels.csv, and any --extra-kernels files) and, when decode attention over
short caches is among them, the time a decode-attention work item holds an
SM (overhead.attention_item_seconds); then the per-step overhead to the whole steps of the
--calibrate-models (steps.csv); every other model's steps validate the fit and
never take part in it. Prints the fitted TOML sections ([efficiency.*],
[overhead], [calibration]) to stdout or --out, and a report to stderr:
  kernels        samples, MAPE and worst error of the fitted kernels
  calibration    MAPE / worst over the calibration steps
  validation     MAPE / worst over the held-out steps, per model and phase
`

func init() {
	register("calibrate", "fit a device description to measurements (gpu datasets, or this host)", runCalibrate)
}

func runCalibrate(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "host" {
		return runCalibrateHost(args[1:], stdout, stderr)
	}
	fs := newFlags("calibrate", calibrateHelp, stderr)
	data := fs.String("data", "validate/gpu/data/h100", "directory with kernels.csv and steps.csv")
	hwName := fs.String("hw", "h100-sxm", "device to fit (built-in name or TOML file)")
	calModels := fs.StringSlice("calibrate-models", []string{"llama2-7b"}, "models whose steps fit the step overhead; the rest validate")
	minPrefill := fs.Int("min-prefill-tokens", 2048, "compare only prefill steps of at least this many tokens (smaller eager prefills time the host's kernel dispatch, not the GPU)")
	mode := fs.String("mode", "cudagraph", "decode launch mode of the steps to use (eager or cudagraph); prefill steps are eager")
	attention := fs.String("attention-backend", "cudnn", "attention kernels to fit: the backend the measured steps ran (see provenance.txt)")
	out := fs.String("out", "", "write the fitted TOML sections to this file instead of stdout")
	extra := fs.StringSlice("extra-kernels", nil, "more kernels.csv files of the same GPU to fit with --data's (e.g. validate/gpu/data/h200-attn-short/kernels.csv)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "gpu" {
		return fmt.Errorf("usage: llmsim calibrate gpu [flags] or llmsim calibrate host [flags]")
	}
	dev, err := hw.LoadDevice(*hwName)
	if err != nil {
		return fmt.Errorf("--hw: %w", err)
	}
	cal, err := validate.CalibrateGPU(dev, *data, *mode, *attention, *minPrefill, validate.ByModels(*calModels...), *extra...)
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	cal.Device.Calibration = &hw.Calibration{
		Method: fmt.Sprintf("llmsim calibrate gpu: coordinate-descent fit of curves, kernel overhead and attention work-item time to the kernels; "+
			"step overhead = median residual of %s steps (%s decode)", strings.Join(*calModels, ","), *mode),
		Date:    time.Now().UTC().Format("2006-01-02"),
		Dataset: strings.Join(append([]string{*data}, *extra...), ", "),
		Machine: "see " + *data + "/provenance.txt",
	}
	writeCalibrationReport(stderr, cal)
	if *out != "" {
		return writeFileAtomic(*out, func(w io.Writer) error { return validate.WriteTOML(w, cal.Device) })
	}
	return validate.WriteTOML(stdout, cal.Device)
}

func writeCalibrationReport(w io.Writer, cal *validate.GPUCalibration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "kernels\t%d samples (%d skipped)\tMAPE %.1f%%\tworst %+.1f%%\n", cal.Kernels.Samples, cal.Skipped, cal.Kernels.MAPE, cal.Kernels.WorstError)
	fmt.Fprintf(tw, "calibration\t%d steps\tMAPE %.1f%%\tworst %+.1f%%\n", len(cal.Calibration.Points), cal.Calibration.MAPE, cal.Calibration.Worst)
	fmt.Fprintf(tw, "validation\t%d steps\tMAPE %.1f%%\tworst %+.1f%%\n", len(cal.Validation.Points), cal.Validation.MAPE, cal.Validation.Worst)
	tw.Flush()
	writeGroupErrors(w, cal.Validation)
}

// writeGroupErrors breaks a comparison down by model and phase.
func writeGroupErrors(w io.Writer, c validate.Comparison) {
	type key struct{ model, phase string }
	groups := map[key][]float64{}
	var order []key
	for _, p := range c.Points {
		k := key{p.Model, p.Phase}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  model\tphase\tpoints\tMAPE\tworst")
	for _, k := range order {
		mape, worst := validate.Errors(groups[k])
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%.1f%%\t%+.1f%%\n", k.model, k.phase, len(groups[k]), mape, worst)
	}
	tw.Flush()
}
