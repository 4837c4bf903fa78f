package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/llmsim/llmsim/sweep"
)

// loadAxes are the parameters of a simulate sweep that set the offered
// load; the others name the series of throughput-latency curves.
var loadAxes = []string{"rate", "arrival", "num-requests", "seed"}

// simulateSweepSection charts a simulate sweep: latency against achieved
// throughput as the load grows, goodput and cost.
func simulateSweepSection(d *Data, name string) *Section {
	rows := okRows(d, nil)
	s := &Section{Title: fmt.Sprintf("%s: serving sweep (%d points)", name, len(rows))}
	if failed := len(d.Rows) - len(rows); failed > 0 {
		s.Note("%d of %d points failed (their error column says why) and are not drawn.", failed, len(d.Rows))
	}
	group := without(d.Varying(d.Params()), loadAxes...)
	for _, y := range []struct{ col, label string }{
		{"ttft_p99_seconds", "p99 TTFT (s)"}, {"tpot_p99_seconds", "p99 TPOT (s)"}, {"e2e_p50_seconds", "median end-to-end latency (s)"},
	} {
		series, dropped := curves(d, rows, "output_tokens_per_second", y.col, group)
		a := Axes{Title: "throughput-latency: " + y.label, X: "achieved output tokens/s", Y: y.label, LogY: wide(d, rows, y.col)}
		p, err := LineChart(a, series)
		s.AddPlot(a.Title+more(dropped), p, err)
	}
	if len(distinct(d, rows, "rate")) > 1 {
		for _, y := range []struct{ col, label string }{
			{"goodput_requests_per_second", "goodput (requests/s within the SLO)"}, {"usd_per_million_output_tokens", "$ per million output tokens"},
		} {
			series, dropped := curves(d, rows, "rate", y.col, group)
			a := Axes{Title: y.label + " vs offered rate", X: "offered rate (requests/s)", Y: y.label}
			p, err := LineChart(a, series)
			s.AddPlot(a.Title+more(dropped), p, err)
		}
	}
	var all, front plotter.XYs
	var objs [][]float64
	for _, r := range rows {
		x, ok1 := d.Num(r, "ttft_p99_seconds")
		y, ok2 := d.Num(r, "output_tokens_per_second")
		if ok1 && ok2 {
			all = append(all, plotter.XY{X: x, Y: y})
			objs = append(objs, []float64{x, y})
		}
	}
	for i, f := range sweep.Pareto(objs, []bool{true, false}) {
		if f {
			front = append(front, all[i])
		}
	}
	a := Axes{Title: "throughput vs p99 TTFT, all points", X: "p99 TTFT (s)", Y: "output tokens/s", LogX: true}
	p, err := ParetoChart(a, all, front, true)
	s.AddPlot(a.Title, p, err)
	t := Table{Caption: "points", Header: append(append([]string{}, d.Varying(d.Params())...), "out tok/s", "p99 TTFT", "p99 TPOT", "attainment", "$/M out tokens")}
	for i, r := range rows {
		if i == 40 {
			s.Note("The table shows the first 40 of %d points.", len(rows))
			break
		}
		var row []string
		for _, c := range d.Varying(d.Params()) {
			row = append(row, d.Str(r, c))
		}
		n := func(c string) float64 { v, _ := d.Num(r, c); return v }
		row = append(row, human(n("output_tokens_per_second")), FormatSeconds(n("ttft_p99_seconds")), FormatSeconds(n("tpot_p99_seconds")),
			human(n("attainment")), human(n("usd_per_million_output_tokens")))
		t.Rows = append(t.Rows, row)
	}
	s.Tables = append(s.Tables, t)
	return s
}

// simResult is the part of `llmsim simulate -o json` a report reads.
type simResult struct {
	Config          map[string]any `json:"config"`
	DurationSeconds float64        `json:"duration_seconds"`
	Requests        struct {
		Arrived, Completed, Rejected uint64
		Preemptions                  int64
	} `json:"requests"`
	TTFT       summary `json:"ttft_seconds"`
	TPOT       summary `json:"tpot_seconds"`
	ITL        summary `json:"itl_seconds"`
	E2E        summary `json:"e2e_seconds"`
	Queue      summary `json:"queue_seconds"`
	Throughput struct {
		RequestsPerSecond     float64 `json:"requests_per_second"`
		OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
	} `json:"throughput"`
	Goodput struct {
		RequestsPerSecond float64 `json:"requests_per_second"`
		Attainment        float64 `json:"attainment"`
	} `json:"goodput"`
	Energy struct {
		JoulesPerOutputToken float64 `json:"joules_per_output_token"`
		AverageWatts         float64 `json:"average_watts"`
	} `json:"energy"`
	Cost struct {
		USDPerMillionOutputTokens float64 `json:"usd_per_million_output_tokens"`
	} `json:"cost"`
	Replicas []map[string]any `json:"replicas"`
}

type summary struct {
	Count                         uint64
	Mean, P50, P90, P99, Min, Max float64
}

// simulateSection summarises one simulation.
func simulateSection(data []byte, name string) (*Section, error) {
	var r simResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	s := &Section{Title: name + ": simulation"}
	var cfg []string
	for _, k := range sortedKeys(r.Config) {
		if v, ok := r.Config[k].(string); ok {
			cfg = append(cfg, k+" "+v)
		}
	}
	s.Note("%s. %d requests arrived, %d completed, %d rejected, %d preemptions over %.1f simulated seconds.",
		strings.Join(cfg, "; "), r.Requests.Arrived, r.Requests.Completed, r.Requests.Rejected, r.Requests.Preemptions, r.DurationSeconds)
	lat := Table{Caption: "latency", Header: []string{"metric", "mean", "p50", "p90", "p99", "max"}}
	for _, l := range []struct {
		n string
		v summary
	}{{"TTFT", r.TTFT}, {"TPOT", r.TPOT}, {"ITL", r.ITL}, {"E2E", r.E2E}, {"queue", r.Queue}} {
		lat.Rows = append(lat.Rows, []string{l.n, FormatSeconds(l.v.Mean), FormatSeconds(l.v.P50), FormatSeconds(l.v.P90), FormatSeconds(l.v.P99), FormatSeconds(l.v.Max)})
	}
	tp := Table{Caption: "throughput, energy, cost", Header: []string{"metric", "value"}, Rows: [][]string{
		{"requests/s", human(r.Throughput.RequestsPerSecond)}, {"output tokens/s", human(r.Throughput.OutputTokensPerSecond)},
		{"goodput requests/s", human(r.Goodput.RequestsPerSecond)}, {"SLO attainment", human(r.Goodput.Attainment)},
		{"J per output token", human(r.Energy.JoulesPerOutputToken)}, {"average W", human(r.Energy.AverageWatts)},
		{"$ per million output tokens", human(r.Cost.USDPerMillionOutputTokens)},
	}}
	s.Tables = append(s.Tables, lat, tp)
	if len(r.Replicas) > 0 {
		cols := []string{"index", "pool", "device", "gpus", "kv_mean_used", "kv_peak_used", "busy_fraction", "compute_fraction", "bandwidth_fraction", "iterations"}
		rt := Table{Caption: "replicas (fractions of KV blocks, of time, of peak)", Header: cols}
		for _, rep := range r.Replicas {
			var row []string
			for _, c := range cols {
				switch v := rep[c].(type) {
				case float64:
					row = append(row, human(v))
				default:
					row = append(row, fmt.Sprint(v))
				}
			}
			rt.Rows = append(rt.Rows, row)
		}
		s.Tables = append(s.Tables, rt)
	}
	// Percentile points are all a result file has of the distributions; the
	// per-request CSV (--requests-csv) gives the exact CDFs.
	for _, l := range []struct {
		n string
		v summary
	}{{"TTFT", r.TTFT}, {"TPOT", r.TPOT}} {
		xy := plotter.XYs{{X: l.v.Min, Y: 0}, {X: l.v.P50, Y: 0.5}, {X: l.v.P90, Y: 0.9}, {X: l.v.P99, Y: 0.99}, {X: l.v.Max, Y: 1}}
		a := Axes{Title: l.n + " distribution (from the percentiles)", X: l.n + " (s)", Y: "fraction of requests ≤ x"}
		p, err := LineChart(a, []Series{{Name: l.n, XY: xy}})
		s.AddPlot(a.Title+"; give the --requests-csv file for the exact CDF", p, err)
	}
	return s, nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requestsSection draws CDFs and a load timeline from a per-request CSV.
func requestsSection(d *Data, name string) *Section {
	s := &Section{Title: name + ": requests"}
	samples := map[string][]float64{}
	type span struct{ start, end float64 }
	var spans []span
	for r := range d.Rows {
		if d.Str(r, "status") != "completed" {
			continue
		}
		for _, c := range []string{"ttft_s", "tpot_s", "e2e_s", "queue_s"} {
			if v, ok := d.Num(r, c); ok {
				samples[c] = append(samples[c], v)
			}
		}
		a, ok1 := d.Num(r, "arrival_s")
		f, ok2 := d.Num(r, "finish_s")
		if ok1 && ok2 {
			spans = append(spans, span{a, f})
		}
	}
	s.Note("%d completed requests of %d.", len(samples["e2e_s"]), len(d.Rows))
	for _, c := range []struct {
		cols  []string
		title string
	}{
		{[]string{"ttft_s"}, "TTFT"}, {[]string{"tpot_s"}, "TPOT"}, {[]string{"e2e_s", "queue_s"}, "end-to-end latency and queueing"},
	} {
		p, err := CDFChart(Axes{Title: c.title + " CDF", X: "seconds"}, samples, c.cols)
		s.AddPlot(c.title+" CDF over completed requests", p, err)
	}
	if len(spans) > 1 {
		// Requests in the system over time: +1 at arrival, -1 at finish.
		type ev struct {
			t float64
			d int
		}
		evs := make([]ev, 0, 2*len(spans))
		for _, sp := range spans {
			evs = append(evs, ev{sp.start, 1}, ev{sp.end, -1})
		}
		sort.Slice(evs, func(i, j int) bool { return evs[i].t < evs[j].t || (evs[i].t == evs[j].t && evs[i].d < evs[j].d) })
		xy := make(plotter.XYs, 0, len(evs))
		n := 0
		step := max(1, len(evs)/2000)
		for i, e := range evs {
			n += e.d
			if i%step == 0 || i == len(evs)-1 {
				xy = append(xy, plotter.XY{X: e.t, Y: float64(n)})
			}
		}
		p, err := LineChart(Axes{Title: "requests in the system", X: "time (s)", Y: "requests (queued or running)", Lines: true}, []Series{{Name: "in system", XY: xy}})
		s.AddPlot("requests in the system over time (arrival to finish)", p, err)
	}
	return s
}
