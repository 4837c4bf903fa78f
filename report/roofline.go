package report

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// RooflinePoint is one op placed on a roofline chart.
type RooflinePoint struct {
	Name           string
	Intensity      float64 // FLOPs per byte
	FLOPsPerSecond float64 // achieved (flops / predicted seconds)
}

// Roof is one ceiling of a device: peak compute and memory bandwidth.
type Roof struct {
	Label          string
	FLOPsPerSecond float64
	BytesPerSecond float64
}

// RooflineChart draws roofs and points on log-log axes of intensity against
// attained FLOP/s.
func RooflineChart(title string, roofs []Roof, points []RooflinePoint) (*plot.Plot, error) {
	if len(roofs) == 0 {
		return nil, fmt.Errorf("roofline chart: no roofs")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "arithmetic intensity (FLOP/byte)"
	p.Y.Label.Text = "attainable FLOP/s"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	lo, hi := 0.1, 1e4
	for _, pt := range points {
		if pt.Intensity > 0 {
			lo, hi = math.Min(lo, pt.Intensity/2), math.Max(hi, pt.Intensity*2)
		}
	}
	for i, r := range roofs {
		xy := make(plotter.XYs, 0, 64)
		for k := 0; k <= 63; k++ {
			x := lo * math.Pow(hi/lo, float64(k)/63)
			xy = append(xy, plotter.XY{X: x, Y: math.Min(r.FLOPsPerSecond, r.BytesPerSecond*x)})
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(r.Label, line)
	}
	for i, pt := range points {
		if pt.Intensity <= 0 || pt.FLOPsPerSecond <= 0 {
			continue
		}
		s, err := plotter.NewScatter(plotter.XYs{{X: pt.Intensity, Y: pt.FLOPsPerSecond}})
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Shape = plotutil.Shape(i)
		s.GlyphStyle.Color = plotutil.Color(i + len(roofs))
		s.GlyphStyle.Radius = vg.Points(3.5)
		p.Add(s)
		p.Legend.Add(pt.Name, s)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// Save writes a plot as PNG or SVG, chosen by the file extension, through
// write (so callers can make the write atomic).
func Save(p *plot.Plot, path string, w io.Writer) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	switch format {
	case "png", "svg", "pdf":
	default:
		return fmt.Errorf("%s: unknown plot format %q (want .png, .svg or .pdf)", path, format)
	}
	wt, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
