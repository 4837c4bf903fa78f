package validate

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotEngine writes a predicted-versus-measured scatter of c's whole steps
// (log-log, one series per model and phase, with the y = x line and ±10%
// bands) to path; the extension picks the format (.svg, .png, .pdf).
func PlotEngine(c EngineComparison, title, path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg", ".png", ".pdf", ".jpg", ".jpeg":
	default:
		return fmt.Errorf("plot %s: want a .svg, .png or .pdf file", path)
	}
	if len(c.Points) == 0 {
		return fmt.Errorf("plot %s: no points", path)
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = "measured step (s)", "predicted step (s)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{}, plot.LogTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	lo, hi := math.Inf(1), 0.0
	for _, q := range c.Points {
		lo = math.Min(lo, math.Min(q.Seconds, q.Predicted))
		hi = math.Max(hi, math.Max(q.Seconds, q.Predicted))
	}
	lo, hi = lo/1.2, hi*1.2
	for _, band := range []struct {
		f    float64
		dash bool
	}{{1, false}, {1.1, true}, {1 / 1.1, true}} {
		l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo * band.f}, {X: hi, Y: hi * band.f}})
		if err != nil {
			return err
		}
		l.Color = color.Gray{Y: 120}
		if band.dash {
			l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		}
		p.Add(l)
	}
	type key struct{ model, phase string }
	groups := map[key]plotter.XYs{}
	var order []key
	for _, q := range c.Points {
		k := key{q.Model, q.Phase}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], plotter.XY{X: q.Seconds, Y: q.Predicted})
	}
	for i, k := range order {
		s, err := plotter.NewScatter(groups[k])
		if err != nil {
			return err
		}
		s.Color = plotutil.Color(i / 2)
		s.Shape = draw.CircleGlyph{}
		if k.phase == "decode" {
			s.Shape = draw.TriangleGlyph{}
		}
		s.Radius = vg.Points(3)
		p.Add(s)
		p.Legend.Add(k.model+" "+k.phase, s)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, lo, hi
	if err := p.Save(6*vg.Inch, 6*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
