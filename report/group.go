package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"
)

// maxSeries bounds the lines of one chart; more would be unreadable.
const maxSeries = 10

// okRows lists the rows without an error whose column filter matches.
func okRows(d *Data, match map[string]string) []int {
	var out []int
	for r := range d.Rows {
		if d.Str(r, "error") != "" {
			continue
		}
		keep := true
		for k, v := range match {
			if d.Str(r, k) != v {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, r)
		}
	}
	return out
}

// distinct lists the values of col among rows, numerically sorted when all
// are numbers, else in order of appearance.
func distinct(d *Data, rows []int, col string) []string {
	seen := map[string]bool{}
	var out []string
	numeric := true
	for _, r := range rows {
		v := d.Str(r, col)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				numeric = false
			}
		}
	}
	if numeric {
		sort.SliceStable(out, func(i, j int) bool {
			a, _ := strconv.ParseFloat(out[i], 64)
			b, _ := strconv.ParseFloat(out[j], 64)
			return a < b
		})
	}
	return out
}

// reference picks the middle of col's values: the slice other charts hold
// it at.
func reference(d *Data, rows []int, col string) string {
	v := distinct(d, rows, col)
	if len(v) == 0 {
		return ""
	}
	return v[(len(v)-1)/2]
}

// groupName labels a series by its values of group columns.
func groupName(d *Data, r int, group []string) string {
	if len(group) == 0 {
		return "all"
	}
	parts := make([]string, len(group))
	for i, g := range group {
		parts[i] = g + "=" + d.Str(r, g)
	}
	return strings.Join(parts, " ")
}

// curves makes one series per combination of group values: x and y of the
// rows, in row order. At most maxSeries series are kept.
func curves(d *Data, rows []int, x, y string, group []string) (series []Series, dropped int) {
	index := map[string]int{}
	for _, r := range rows {
		xv, ok1 := d.Num(r, x)
		yv, ok2 := d.Num(r, y)
		if !ok1 || !ok2 {
			continue
		}
		name := groupName(d, r, group)
		i, ok := index[name]
		if !ok {
			if len(series) == maxSeries {
				dropped++
				continue
			}
			i = len(series)
			index[name] = i
			series = append(series, Series{Name: name})
		}
		series[i].XY = append(series[i].XY, plotter.XY{X: xv, Y: yv})
	}
	return series, dropped
}

// wide reports whether positive values of col span enough for a log axis.
func wide(d *Data, rows []int, col string) bool {
	lo, hi := math.Inf(1), 0.0
	for _, r := range rows {
		if v, ok := d.Num(r, col); ok && v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	return hi > 0 && hi/lo >= 16
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, v := range list {
		skip := false
		for _, d := range drop {
			if v == d {
				skip = true
			}
		}
		if !skip {
			out = append(out, v)
		}
	}
	return out
}

// human formats a number for tables.
func human(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0"
	case a >= 1e4 || a < 1e-3:
		return strconv.FormatFloat(v, 'e', 3, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// FormatSeconds formats seconds with a unit that keeps three significant
// digits (µs, ms or s); the simulate table uses it too.
func FormatSeconds(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 1e-3:
		return fmt.Sprintf("%.1f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	}
	return fmt.Sprintf("%.3f s", s)
}
