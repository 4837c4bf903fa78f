package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/report"
	"github.com/llmsim/llmsim/roofline"
)

const rooflineHelp = `llmsim roofline — place every op of a step on the device's roofline.

  llmsim roofline --hw h100-sxm --model llama3-8b --phase decode --batch 32 --context 4096 --plot ops.svg

Takes the same flags as estimate (with --tp, one GPU's shard of each op; the
link's collectives are left out). Output fields, per op (summed over layers):
  op                 canonical op name (qkv, attn, gate_up, ...)
  step               prefill or decode
  intensity          arithmetic intensity, FLOPs per byte of main-memory traffic
  attained_flops     FLOPs / predicted seconds: where the op sits on the chart
  roof_flops         the roofline at that intensity, min(peak, bandwidth × intensity)
  seconds            predicted time; bound: compute, memory or overhead
The header gives the device's peak FLOP/s for the compute dtype, its main-memory
bandwidth and the ridge point (the intensity where the two roofs meet).
--plot FILE writes the chart (.png, .svg or .pdf, by extension).
`

func init() {
	register("roofline", "per-op roofline table and chart of a step", runRoofline)
}

func runRoofline(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("roofline", rooflineHelp, stderr)
	f := addEstimateFlags(fs)
	addParallelFlags(fs, f.target)
	plotPath := fs.String("plot", "", "write the roofline chart to this file (.png, .svg, .pdf)")
	fs.StringVarP(&f.format, "output-format", "o", "table", "table or json")
	if err := parseFlags(fs, args, &f.format, "table", "json"); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	t, err := f.target.resolve()
	if err != nil {
		return err
	}
	e, err := computeEstimate(t, *f)
	if err != nil {
		return err
	}
	dev := t.device
	peak := roofline.Peak(dev, hw.ClassGEMM, t.prec.Activations)
	bw := dev.MainMemory().BytesPerSecond
	rows := make([]rooflineRow, 0, len(e.Ops))
	points := make([]report.RooflinePoint, 0, len(e.Ops))
	for _, o := range e.Ops {
		if o.Bound == string(roofline.LinkBound) {
			continue // TP/PP communication has no place on the device's roofline
		}
		r := rooflineRow{Op: o.Name, Step: o.Step, Intensity: o.Intensity, Seconds: o.Seconds, Bound: o.Bound,
			RoofFLOPs: min(peak, bw*o.Intensity)}
		if o.Seconds > 0 {
			r.AttainedFLOPs = o.FLOPs / o.Seconds
		}
		rows = append(rows, r)
		points = append(points, report.RooflinePoint{Name: o.Step + " " + o.Name, Intensity: o.Intensity, FLOPsPerSecond: r.AttainedFLOPs})
	}
	if *plotPath != "" {
		chart, err := report.RooflineChart(fmt.Sprintf("%s on %s (%s)", t.model.Name, dev.Name, f.phase),
			[]report.Roof{{Label: fmt.Sprintf("%s %s peak", dev.Name, t.prec.Activations), FLOPsPerSecond: peak, BytesPerSecond: bw}}, points)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*plotPath, func(w io.Writer) error { return report.Save(chart, *plotPath, w) }); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	out := rooflineResult{Device: dev.Name, DType: string(t.prec.Activations), PeakFLOPs: peak, BytesPerSecond: bw,
		Ridge: roofline.Ridge(dev, t.prec.Activations), Ops: rows}
	if f.format == "json" {
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "device %s: peak %.4g FLOP/s (%s), memory %.4g B/s, ridge %.1f FLOP/byte\n\n",
		out.Device, out.PeakFLOPs, out.DType, out.BytesPerSecond, out.Ridge)
	fmt.Fprintln(tw, "step\top\tintensity\tattained_flops\troof_flops\tseconds\tbound")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.3g\t%.3g\t%s\t%s\n", r.Step, r.Op, r.Intensity, r.AttainedFLOPs, r.RoofFLOPs, seconds(r.Seconds), r.Bound)
	}
	return tw.Flush()
}

type rooflineRow struct {
	Op            string  `json:"op"`
	Step          string  `json:"step"`
	Intensity     float64 `json:"intensity"`
	AttainedFLOPs float64 `json:"attained_flops"`
	RoofFLOPs     float64 `json:"roof_flops"`
	Seconds       float64 `json:"seconds"`
	Bound         string  `json:"bound"`
}

type rooflineResult struct {
	Device         string        `json:"device"`
	DType          string        `json:"dtype"`
	PeakFLOPs      float64       `json:"peak_flops"`
	BytesPerSecond float64       `json:"bytes_per_second"`
	Ridge          float64       `json:"ridge"`
	Ops            []rooflineRow `json:"ops"`
}
