package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/llmsim/llmsim/validate"
)

// runPublished compares published figures with predictions.
func runPublished(path, format string, stdout io.Writer) error {
	rows, err := validate.ReadPublished(path)
	if err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	results := make([]validate.PublishedResult, len(rows))
	var rel, rel1, relN []float64
	for i, p := range rows {
		results[i] = validate.PredictPublished(p)
		if results[i].Skipped == "" {
			rel = append(rel, results[i].Error)
			if p.TP == 1 {
				rel1 = append(rel1, results[i].Error)
			} else {
				relN = append(relN, results[i].Error)
			}
		}
	}
	mape, worst := validate.Errors(rel)
	type summary struct {
		Compared int     `json:"compared"`
		MAPE     float64 `json:"mape"`
		Worst    float64 `json:"worst"`
	}
	sum := func(rel []float64) summary {
		m, w := validate.Errors(rel)
		return summary{len(rel), m, w}
	}
	one, many := sum(rel1), sum(relN)
	if format == "json" {
		type row struct {
			Source    string  `json:"source"`
			HW        string  `json:"hw"`
			Model     string  `json:"model"`
			TP        int     `json:"tp"`
			Batch     int     `json:"batch"`
			Prompt    int     `json:"prompt"`
			Output    int     `json:"output"`
			Metric    string  `json:"metric"`
			Published float64 `json:"published"`
			Predicted float64 `json:"predicted,omitempty"`
			Error     float64 `json:"error,omitempty"`
			Skipped   string  `json:"skipped,omitempty"`
		}
		out := struct {
			Points []row   `json:"points"`
			MAPE   float64 `json:"mape"`
			Worst  float64 `json:"worst"`
			TP1    summary `json:"tp1"`    // rows on one GPU
			TPN    summary `json:"tp_gt1"` // tensor-parallel rows
		}{MAPE: mape, Worst: worst, TP1: one, TPN: many}
		for _, r := range results {
			out.Points = append(out.Points, row{r.Source, r.HW, r.Model, r.TP, r.Batch, r.Prompt, r.Output, r.Metric, r.Value, r.Predicted, r.Error, r.Skipped})
		}
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "hw\tmodel\ttp\tdtype\tbatch\tin/out\tmetric\tpublished\tpredicted\terror")
	for _, r := range results {
		pred, e := "-", r.Skipped
		if r.Skipped == "" {
			pred, e = fmt.Sprintf("%.4g", r.Predicted), fmt.Sprintf("%+.1f%%", 100*r.Error)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d/%d\t%s\t%.4g\t%s\t%s\n", r.HW, r.Model, r.TP, r.Weights, r.Batch, r.Prompt, r.Output, r.Metric, r.Value, pred, e)
	}
	fmt.Fprintf(tw, "\n%d compared\tMAPE %.1f%%\tworst %+.1f%%\n", len(rel), mape, worst)
	fmt.Fprintf(tw, "TP=1: %d\tMAPE %.1f%%\tworst %+.1f%%\n", one.Compared, one.MAPE, one.Worst)
	fmt.Fprintf(tw, "TP>1: %d\tMAPE %.1f%%\tworst %+.1f%%\n", many.Compared, many.MAPE, many.Worst)
	return tw.Flush()
}
