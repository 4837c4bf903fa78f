package report

import (
	"fmt"
	"sort"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/llmsim/llmsim/sweep"
)

// lengthAxes are the work-size parameters of an estimate sweep; the other
// varying parameters (hardware, model, dtypes, schemes) name the series.
var lengthAxes = []string{"phase", "batch", "prompt", "context", "output"}

var phaseLatency = map[string]string{
	"prefill": "prefill step latency (s)",
	"decode":  "decode step latency = TPOT (s)",
	"request": "request latency, end to end (s)",
}

// phaseAxes are the length parameters that matter to each phase; the
// others do not change its cost, so a sweep over them repeats points.
var phaseAxes = map[string][]string{
	"prefill": {"batch", "prompt"},
	"decode":  {"batch", "context"},
	"request": {"batch", "prompt", "output"},
}

// estimateSweepSections charts an estimate sweep, one section per phase.
func estimateSweepSections(d *Data, name string) []*Section {
	params := d.Params()
	group := without(d.Varying(params), lengthAxes...)
	var out []*Section
	failed := len(d.Rows) - len(okRows(d, nil))
	for _, phase := range distinct(d, okRows(d, nil), "phase") {
		rows := okRows(d, map[string]string{"phase": phase})
		axes := phaseAxes[phase]
		// Hold every length at its middle value; lengths the phase ignores
		// keep one value so no point is drawn twice.
		ref := map[string]string{}
		for _, a := range []string{"batch", "prompt", "context", "output"} {
			ref[a] = reference(d, rows, a)
		}
		rows = filterRows(d, rows, ref, axes...)
		s := &Section{Title: fmt.Sprintf("%s: %s sweep (%d points)", name, phase, len(rows))}
		if failed > 0 && len(out) == 0 {
			s.Note("%d of %d points failed (their error column says why) and are not drawn.", failed, len(d.Rows))
		}
		held := func(free string) string {
			var parts []string
			for _, a := range axes {
				if a != free && len(distinct(d, rows, a)) > 1 {
					parts = append(parts, a+" "+ref[a])
				}
			}
			if len(parts) == 0 {
				return ""
			}
			return " at " + strings.Join(parts, ", ")
		}
		for _, x := range axes {
			if len(distinct(d, rows, x)) < 2 {
				continue
			}
			sl := filterRows(d, rows, ref, x)
			for _, y := range []struct{ col, label string }{{"seconds", phaseLatency[phase]}, {"tokens_per_second", "throughput (tokens/s)"}} {
				series, dropped := curves(d, sl, x, y.col, group)
				a := Axes{Title: fmt.Sprintf("%s %s vs %s%s", phase, y.col, x, held(x)), X: x, Y: y.label, LogX: wide(d, sl, x), LogY: wide(d, sl, y.col)}
				p, err := LineChart(a, series)
				s.AddPlot(a.Title+more(dropped), p, err)
			}
		}
		memoryChart(s, d, rows, ref, group, axes)
		paretoSection(s, d, rows, phase)
		s.Tables = append(s.Tables, bestTable(d, filterRows(d, rows, ref, "batch"), group, axes, held("batch")))
		out = append(out, s)
	}
	return out
}

// filterRows keeps the rows whose length parameters equal ref, except the
// free ones.
func filterRows(d *Data, rows []int, ref map[string]string, free ...string) []int {
	var keep []int
	for _, r := range rows {
		ok := true
		for a, v := range ref {
			if d.Str(r, a) != v && !contains(free, a) {
				ok = false
				break
			}
		}
		if ok {
			keep = append(keep, r)
		}
	}
	return keep
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func more(dropped int) string {
	if dropped == 0 {
		return ""
	}
	return fmt.Sprintf("; %d more series not drawn", dropped)
}

// memoryChart stacks weights, KV, activations and reserve against the
// device capacity along the length axis (or batch) of the first series.
func memoryChart(s *Section, d *Data, rows []int, ref map[string]string, group []string, axes []string) {
	x := axes[len(axes)-1]
	for _, a := range axes[1:] {
		if len(distinct(d, rows, a)) > 1 {
			x = a
			break
		}
	}
	if len(distinct(d, rows, x)) < 2 {
		x = "batch"
	}
	var sel []int
	first := ""
	for _, r := range rows {
		g := groupName(d, r, group)
		if first == "" {
			first = g
		}
		ok := g == first
		for a, v := range ref {
			if a != x && d.Str(r, a) != v {
				ok = false
			}
		}
		if ok {
			sel = append(sel, r)
		}
	}
	if len(sel) == 0 || !d.Has("weights_bytes", "kv_bytes", "capacity_bytes") {
		return
	}
	sort.SliceStable(sel, func(i, j int) bool {
		a, _ := d.Num(sel[i], x)
		b, _ := d.Num(sel[j], x)
		return a < b
	})
	cats := make([]string, len(sel))
	stacks := []Stack{{Name: "weights"}, {Name: "KV cache"}, {Name: "activations"}, {Name: "reserved"}}
	cols := []string{"weights_bytes", "kv_bytes", "activation_bytes", "reserved_bytes"}
	for i, r := range sel {
		cats[i] = d.Str(r, x)
		for k, c := range cols {
			v, _ := d.Num(r, c)
			stacks[k].Values = append(stacks[k].Values, v/(1<<30))
		}
	}
	capacity, _ := d.Num(sel[0], "capacity_bytes")
	a := Axes{Title: fmt.Sprintf("memory vs %s (%s)", x, first), X: x, Y: "GiB"}
	p, err := StackedBars(a, cats, stacks, capacity/(1<<30), "device capacity")
	s.AddPlot(a.Title, p, err)
}

// paretoSection scatters latency against throughput for the points that
// fit in memory and marks the front.
func paretoSection(s *Section, d *Data, rows []int, phase string) {
	var all plotter.XYs
	var objs [][]float64
	for _, r := range rows {
		if d.Str(r, "fits") == "false" {
			continue
		}
		x, ok1 := d.Num(r, "seconds")
		y, ok2 := d.Num(r, "tokens_per_second")
		if ok1 && ok2 {
			all = append(all, plotter.XY{X: x, Y: y})
			objs = append(objs, []float64{x, y})
		}
	}
	if len(all) < 2 {
		return
	}
	var front plotter.XYs
	for i, f := range sweep.Pareto(objs, []bool{true, false}) {
		if f {
			front = append(front, all[i])
		}
	}
	a := Axes{Title: fmt.Sprintf("%s: throughput vs latency (points that fit in memory)", phase), X: phaseLatency[phase], Y: "throughput (tokens/s)",
		LogX: wide(d, rows, "seconds"), LogY: wide(d, rows, "tokens_per_second")}
	p, err := ParetoChart(a, all, front, true)
	s.AddPlot(a.Title+"; the front holds the points no other point beats on both", p, err)
}

// bestTable lists, per series, the batch with the highest throughput that
// fits, the other lengths held.
func bestTable(d *Data, rows []int, group, axes []string, held string) Table {
	t := Table{Caption: "best batch (highest throughput that fits in memory) per configuration" + held,
		Header: append(append([]string{"configuration"}, axes...), "latency", "tokens/s", "bound", "memory GiB", "$/M tokens", "J/token")}
	best := map[string]int{}
	var order []string
	for _, r := range rows {
		if d.Str(r, "fits") == "false" {
			continue
		}
		g := groupName(d, r, group)
		b, seen := best[g]
		if !seen {
			order = append(order, g)
		}
		v, _ := d.Num(r, "tokens_per_second")
		if bv, _ := d.Num(b, "tokens_per_second"); !seen || v > bv {
			best[g] = r
		}
	}
	for _, g := range order {
		r := best[g]
		num := func(c string) float64 { v, _ := d.Num(r, c); return v }
		row := []string{g}
		for _, a := range axes {
			row = append(row, d.Str(r, a))
		}
		row = append(row, FormatSeconds(num("seconds")), human(num("tokens_per_second")), d.Str(r, "bound"),
			human(num("total_bytes")/(1<<30)), human(num("usd_per_million_tokens")), human(num("joules_per_token")))
		t.Rows = append(t.Rows, row)
	}
	return t
}
