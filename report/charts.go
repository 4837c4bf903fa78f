package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Series is one named line or point set.
type Series struct {
	Name string
	XY   plotter.XYs
}

// Axes describes a chart's axes.
type Axes struct {
	Title, X, Y string
	LogX, LogY  bool
	Lines       bool // lines only, no point markers (dense series)
}

// SVG renders p as an SVG document fit for inlining in HTML: the legend
// sits beside the plot (or below it when wide) instead of over the data;
// the XML prologue is dropped; fonts are not embedded (the browser
// substitutes its own), so the page needs no external asset.
func SVG(p *plot.Plot, width, height vg.Length) ([]byte, error) {
	c := vgsvg.New(width, height)
	dc := draw.New(c)
	leg := p.Legend
	r := leg.Rectangle(dc)
	lw, lh := r.Max.X-r.Min.X, r.Max.Y-r.Min.Y
	const pad = vg.Length(8)
	switch {
	case lw <= 0:
		p.Draw(dc)
	case lw < width*0.4:
		p.Legend = plot.NewLegend()
		p.Draw(draw.Crop(dc, 0, -(lw + 2*pad), 0, 0))
		leg.Top, leg.Left = true, true
		leg.Draw(draw.Crop(dc, width-lw-pad, 0, 0, -3*pad))
		p.Legend = leg
	default:
		p.Legend = plot.NewLegend()
		p.Draw(draw.Crop(dc, 0, 0, lh+2*pad, 0))
		leg.Top, leg.Left = true, true
		leg.Draw(draw.Crop(dc, 6*pad, 0, 0, -(height - lh - pad)))
		p.Legend = leg
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		b = b[i:]
	}
	return b, nil
}

func newPlot(a Axes) *plot.Plot {
	p := plot.New()
	p.Title.Text = a.Title
	p.X.Label.Text, p.Y.Label.Text = a.X, a.Y
	if a.LogX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	if a.LogY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// positive drops points a log axis cannot show.
func positive(xy plotter.XYs, logX, logY bool) plotter.XYs {
	out := make(plotter.XYs, 0, len(xy))
	for _, v := range xy {
		if (logX && v.X <= 0) || (logY && v.Y <= 0) || math.IsNaN(v.X) || math.IsNaN(v.Y) || math.IsInf(v.Y, 0) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// LineChart draws each series as a line with point markers, sorted by x.
func LineChart(a Axes, series []Series) (*plot.Plot, error) {
	p := newPlot(a)
	n := 0
	for i, s := range series {
		xy := positive(s.XY, a.LogX, a.LogY)
		if len(xy) == 0 {
			continue
		}
		sort.SliceStable(xy, func(i, j int) bool { return xy[i].X < xy[j].X })
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = plotutil.Color(i), vg.Points(1.5)
		pts.Shape, pts.Color, pts.Radius = plotutil.Shape(i), plotutil.Color(i), vg.Points(2.5)
		if a.Lines {
			p.Add(l)
			p.Legend.Add(s.Name, l)
		} else {
			p.Add(l, pts)
			p.Legend.Add(s.Name, l, pts)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no points to draw", a.Title)
	}
	if !a.LogY {
		padFlat(p, series)
	}
	return p, nil
}

// padFlat widens a linear y axis whose values (nearly) coincide, which
// gonum would otherwise stretch over rounding noise or centre on zero.
func padFlat(p *plot.Plot, series []Series) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, v := range s.XY {
			lo, hi = math.Min(lo, v.Y), math.Max(hi, v.Y)
		}
	}
	if mid := (lo + hi) / 2; hi-lo <= 1e-3*math.Abs(mid) && mid != 0 {
		p.Y.Min, p.Y.Max = mid-0.1*math.Abs(mid), mid+0.1*math.Abs(mid)
		if mid > 0 {
			p.Y.Min = 0
		}
	}
}

// CDFChart draws the empirical distribution function of each sample set.
func CDFChart(a Axes, samples map[string][]float64, order []string) (*plot.Plot, error) {
	var series []Series
	for _, name := range order {
		v := append([]float64(nil), samples[name]...)
		if len(v) == 0 {
			continue
		}
		sort.Float64s(v)
		xy := make(plotter.XYs, 0, 2*len(v))
		step := max(1, len(v)/400) // enough points for a smooth curve
		for i := 0; i < len(v); i += step {
			xy = append(xy, plotter.XY{X: v[i], Y: float64(i+1) / float64(len(v))})
		}
		xy = append(xy, plotter.XY{X: v[len(v)-1], Y: 1})
		series = append(series, Series{Name: name, XY: xy})
	}
	a.Y = "fraction of requests ≤ x"
	p := newPlot(a)
	for i, s := range series {
		xy := positive(s.XY, a.LogX, false)
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.StepStyle = plotter.PostStep
		l.Color, l.Width = plotutil.Color(i), vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(s.Name, l)
	}
	if len(series) == 0 {
		return nil, fmt.Errorf("%s: no samples", a.Title)
	}
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = false, false
	return p, nil
}

// ParetoChart scatters all points and marks the front on top, joined by a
// line when connect (a two-objective front is a staircase; a projection
// of a higher-dimensional one is not).
func ParetoChart(a Axes, all, front plotter.XYs, connect bool) (*plot.Plot, error) {
	return MarkedScatter(a, all, front, "Pareto front", connect)
}

// MarkedScatter scatters all points in grey and the marked ones on top in
// colour, named marked in the legend.
func MarkedScatter(a Axes, all, front plotter.XYs, marked string, connect bool) (*plot.Plot, error) {
	p := newPlot(a)
	all = positive(all, a.LogX, a.LogY)
	if len(all) == 0 {
		return nil, fmt.Errorf("%s: no points", a.Title)
	}
	s, err := plotter.NewScatter(all)
	if err != nil {
		return nil, err
	}
	s.Color, s.Radius, s.Shape = color.RGBA{R: 140, G: 140, B: 140, A: 255}, vg.Points(2), draw.CircleGlyph{}
	p.Add(s)
	p.Legend.Add(fmt.Sprintf("all points (%d)", len(all)), s)
	front = positive(front, a.LogX, a.LogY)
	if len(front) > 0 {
		sort.Slice(front, func(i, j int) bool { return front[i].X < front[j].X })
		l, pts, err := plotter.NewLinePoints(front)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = plotutil.Color(0), vg.Points(1.5)
		pts.Color, pts.Radius, pts.Shape = plotutil.Color(0), vg.Points(3.5), draw.CircleGlyph{}
		label := fmt.Sprintf("%s (%d)", marked, len(front))
		if connect {
			p.Add(l, pts)
			p.Legend.Add(label, l, pts)
		} else {
			p.Add(pts)
			p.Legend.Add(label, pts)
		}
	}
	return p, nil
}

// Stack is one component of a stacked bar chart.
type Stack struct {
	Name   string
	Values []float64 // one per category
}

// StackedBars draws categories as bars stacked from components, with an
// optional horizontal limit line (e.g. memory capacity).
func StackedBars(a Axes, categories []string, stacks []Stack, limit float64, limitName string) (*plot.Plot, error) {
	p := newPlot(a)
	width := vg.Points(max(8, min(40, 360/float64(len(categories)+1))))
	var below *plotter.BarChart
	for i, s := range stacks {
		b, err := plotter.NewBarChart(plotter.Values(s.Values), width)
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width = plotutil.Color(i), 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(s.Name, b)
	}
	top := limit
	for k := range categories {
		sum := 0.0
		for _, st := range stacks {
			sum += st.Values[k]
		}
		top = max(top, sum)
	}
	p.Y.Min, p.Y.Max = 0, top*1.08
	if limit > 0 {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: limit}, {X: float64(len(categories)) - 0.5, Y: limit}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = color.Black, vg.Points(1.2), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(limitName, l)
	}
	p.NominalX(categories...)
	if len(categories) > 8 {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	}
	p.Legend.Left = true
	return p, nil
}

// Bars draws one bar per category (e.g. time per op), horizontally when
// labels are long.
func Bars(a Axes, categories []string, values []float64) (*plot.Plot, error) {
	p := newPlot(a)
	b, err := plotter.NewBarChart(plotter.Values(values), vg.Points(max(4, min(20, 180/float64(len(values)+1)))))
	if err != nil {
		return nil, err
	}
	b.Color, b.LineStyle.Width = plotutil.Color(0), 0
	b.Horizontal = true
	p.Add(b)
	p.NominalY(categories...)
	return p, nil
}

// logTicks labels powers of ten on wide log axes and 1, 2, 5 × 10^k on
// narrow ones, which plot.LogTicks would leave with one label or none.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi/lo >= 1000 {
		return plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
				if v >= 1e-4 && v < 1e6 {
					t.Label = strconv.FormatFloat(v, 'f', -1, 64)
				}
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
