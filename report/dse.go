package report

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"
)

// objectiveCol is one objective of a DSE output (its objectives column
// reads name=metric:min;...).
type objectiveCol struct {
	name, metric string
	minimize     bool
}

func parseObjectives(text string) []objectiveCol {
	var out []objectiveCol
	for _, part := range strings.Split(text, ";") {
		name, rest, ok := strings.Cut(part, "=")
		metric, dir, ok2 := strings.Cut(rest, ":")
		if ok && ok2 {
			out = append(out, objectiveCol{name, metric, dir == "min"})
		}
	}
	return out
}

// dseSection draws the Pareto front of a DSE output: every pair of
// objectives as a scatter with the front marked, how the best first
// objective moves with each knob, and the front as a table.
func dseSection(d *Data, name string) *Section {
	rows := okRows(d, nil)
	s := &Section{Title: fmt.Sprintf("%s: design-space exploration (%d points)", name, len(rows))}
	if len(rows) == 0 {
		s.Note("No point succeeded.")
		return s
	}
	objs := parseObjectives(d.Str(rows[0], "objectives"))
	var front []int
	for _, r := range rows {
		if d.Str(r, "pareto") == "true" {
			front = append(front, r)
		}
	}
	s.Note("Objectives: %s. %d points are on the Pareto front (feasible points that no other beats in every objective).", d.Str(rows[0], "objectives"), len(front))
	pairs := 0
	for i := 0; i < len(objs) && pairs < 3; i++ {
		for j := i + 1; j < len(objs) && pairs < 3; j++ {
			all, fr := xyOf(d, rows, objs[i].metric, objs[j].metric), xyOf(d, front, objs[i].metric, objs[j].metric)
			a := Axes{Title: objs[i].name + " vs " + objs[j].name, X: objs[i].metric, Y: objs[j].metric, LogX: wide(d, rows, objs[i].metric), LogY: wide(d, rows, objs[j].metric)}
			p, err := ParetoChart(a, all, fr, len(objs) == 2)
			s.AddPlot(a.Title+" (front marked)", p, err)
			pairs++
		}
	}
	if len(objs) == 1 {
		a := Axes{Title: objs[0].name + " by point", X: "point index", Y: objs[0].metric}
		p, err := ParetoChart(a, xyOf(d, rows, "index", objs[0].metric), xyOf(d, front, "index", objs[0].metric), false)
		s.AddPlot(a.Title, p, err)
	}
	knobs := dseKnobs(d)
	if len(objs) > 0 {
		o := objs[0]
		for _, k := range knobs {
			best := map[string]float64{}
			for _, r := range rows {
				v, ok := d.Num(r, o.metric)
				if !ok || d.Str(r, "fits") == "false" {
					continue
				}
				kv := d.Str(r, k)
				if b, seen := best[kv]; !seen || (o.minimize && v < b) || (!o.minimize && v > b) {
					best[kv] = v
				}
			}
			var xy plotter.XYs
			for kv, v := range best {
				x, _ := strconv.ParseFloat(kv, 64)
				xy = append(xy, plotter.XY{X: x, Y: v})
			}
			a := Axes{Title: fmt.Sprintf("best %s vs %s", o.name, k), X: k, Y: o.metric, LogX: wide(d, rows, k)}
			p, err := LineChart(a, []Series{{Name: "best over the other knobs", XY: xy}})
			s.AddPlot(a.Title, p, err)
		}
	}
	vary := d.Varying(d.Params())
	t := Table{Caption: "Pareto front", Header: append([]string{}, vary...)}
	for _, o := range objs {
		t.Header = append(t.Header, o.metric)
	}
	for i, r := range front {
		if i == 50 {
			s.Note("The table shows 50 of the %d front points.", len(front))
			break
		}
		var row []string
		for _, c := range vary {
			row = append(row, shortNum(d.Str(r, c)))
		}
		for _, o := range objs {
			v, _ := d.Num(r, o.metric)
			row = append(row, human(v))
		}
		t.Rows = append(t.Rows, row)
	}
	s.Tables = append(s.Tables, t)
	return s
}

// dseKnobs lists the varying knob columns: the parameters before hw.
func dseKnobs(d *Data) []string {
	var out []string
	for _, p := range d.Params() {
		if p == "hw" {
			break
		}
		out = append(out, p)
	}
	return d.Varying(out)
}

func shortNum(s string) string {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return human(v)
	}
	return s
}

func xyOf(d *Data, rows []int, x, y string) plotter.XYs {
	var out plotter.XYs
	for _, r := range rows {
		xv, ok1 := d.Num(r, x)
		yv, ok2 := d.Num(r, y)
		if ok1 && ok2 {
			out = append(out, plotter.XY{X: xv, Y: yv})
		}
	}
	return out
}

// planSection shows a plan: the chosen deployment and every candidate.
func planSection(data []byte, name string) (*Section, error) {
	var doc struct {
		Plan       map[string]any   `json:"plan"`
		Candidates []map[string]any `json:"candidates"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	s := &Section{Title: name + ": deployment plan"}
	search := Table{Caption: "search", Header: []string{"setting", "value"}}
	for _, k := range sortedKeys(doc.Plan) {
		search.Rows = append(search.Rows, []string{k, fmt.Sprint(doc.Plan[k])})
	}
	s.Tables = append(s.Tables, search)
	if len(doc.Candidates) == 0 {
		return s, nil
	}
	cols := planColumns(doc.Candidates[0])
	d := newData(cols)
	for _, c := range doc.Candidates {
		row := make([]string, len(cols))
		for i, k := range cols {
			switch v := c[k].(type) {
			case float64:
				row[i] = strconv.FormatFloat(v, 'g', -1, 64)
			case nil:
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		d.Rows = append(d.Rows, row)
	}
	t := Table{Caption: "candidates, cheapest first", Header: cols}
	for r := range d.Rows {
		if r == 40 {
			break
		}
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = shortNum(d.Str(r, c))
		}
		t.Rows = append(t.Rows, row)
	}
	s.Tables = append(s.Tables, t)
	var all, ok plotter.XYs
	for r := range d.Rows {
		x, ok1 := d.Num(r, "usd_per_hour")
		y, ok2 := d.Num(r, "ttft_quantile_seconds")
		if ok1 && ok2 {
			all = append(all, plotter.XY{X: x, Y: y})
			if d.Str(r, "meets_slo") == "true" {
				ok = append(ok, plotter.XY{X: x, Y: y})
			}
		}
	}
	p, err := MarkedScatter(Axes{Title: "price vs TTFT at the SLO quantile", X: "USD per hour", Y: "TTFT (s)", LogY: true}, all, ok, "meet the SLOs", false)
	s.AddPlot("candidates: price against TTFT (marked: meet the SLOs)", p, err)
	return s, nil
}

// planColumns orders a candidate's keys: the deployment first, then the
// predictions.
func planColumns(c map[string]any) []string {
	first := []string{"rank", "hw", "tp", "max_num_seqs", "split", "replicas", "gpus", "usd_per_hour", "meets_slo",
		"ttft_quantile_seconds", "tpot_quantile_seconds", "output_tokens_per_second", "usd_per_million_output_tokens", "joules_per_output_token", "reason"}
	var out []string
	for _, k := range first {
		if _, ok := c[k]; ok {
			out = append(out, k)
		}
	}
	for _, k := range sortedKeys(c) {
		if !contains(first, k) {
			out = append(out, k)
		}
	}
	return out
}
