package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/llmsim/llmsim/report"
)

const reportHelp = `llmsim report — a self-contained HTML report (every chart inline as SVG, no
external files or scripts) and a Markdown summary from llmsim result files.

  llmsim report decode.csv --out report.html            (also writes report.md)
  llmsim report est.json sim.json requests.csv trace.json dse.csv --out all.html

Inputs, recognised by content:
  llmsim estimate -o json       summary, roofline chart with every op placed,
                                time per op, memory breakdown against capacity
  llmsim sweep (estimate mode)  per phase: latency and throughput vs batch and vs
                                context (decode) or prompt (prefill, request),
                                memory vs context, throughput-latency Pareto
                                scatter, best configuration per series
  llmsim sweep (simulate mode)  throughput-latency curves (p99 TTFT, p99 TPOT,
                                median E2E vs achieved tokens/s), goodput and
                                cost vs rate, Pareto scatter
  llmsim simulate -o json       latency, throughput, energy and replica tables,
                                TTFT/TPOT distributions from the percentiles
  simulate --requests-csv       exact TTFT, TPOT, E2E and queueing CDFs; requests
                                in the system over time
  simulate --trace              per-replica utilisation and batch-size timelines
  llmsim dse                    Pareto scatter of every pair of objectives, best
                                objective vs each knob, the front as a table
  llmsim plan -o json           the candidates, cheapest first, price vs TTFT

Charts hold series of the parameters that vary, other lengths held at their
middle value (the chart title says which); at most 10 series per chart. The
output is deterministic: the same inputs give the same bytes.
`

func init() {
	register("report", "HTML report (inline SVG charts) and Markdown summary from result files", runReport)
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", reportHelp, stderr)
	out := fs.String("out", "report.html", "HTML file to write")
	md := fs.String("markdown", "", "Markdown summary to write (default: --out with .md; \"-\" for stdout, \"none\" to skip)")
	title := fs.String("title", "llmsim report", "report title")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("no result files (llmsim report FILE... [--out report.html])")
	}
	doc, err := report.FromFiles(*title, fs.Args())
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, doc.HTML); err != nil {
		return err
	}
	mdPath := *md
	if mdPath == "" {
		mdPath = strings.TrimSuffix(*out, filepath.Ext(*out)) + ".md"
	}
	writeMD := func(w io.Writer) error { return doc.Markdown(w, filepath.Base(*out)) }
	switch mdPath {
	case "none":
	case "-":
		err = writeMD(stdout)
	default:
		err = writeFileAtomic(mdPath, writeMD)
	}
	if err != nil {
		return err
	}
	figures := 0
	for _, s := range doc.Sections {
		figures += len(s.Figures)
	}
	fmt.Fprintf(stderr, "report: %d sections, %d charts → %s\n", len(doc.Sections), figures, *out)
	return nil
}
