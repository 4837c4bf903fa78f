package validate

import (
	"fmt"
	"math"
	"sort"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// StepPoint is one measured whole forward step.
type StepPoint struct {
	Model   string
	Phase   string // prefill or decode
	Mode    string // e.g. eager, cudagraph (how the measurement launched kernels)
	Batch   int
	Prompt  int // prefill tokens per sequence
	Context int // cached tokens per sequence before a decode step
	Seconds float64
	File    string
	Line    int
}

// Seqs is the batch the step ran.
func (p StepPoint) Seqs() []models.Seq {
	seqs := make([]models.Seq, p.Batch)
	for i := range seqs {
		if p.Phase == "prefill" {
			seqs[i] = models.Seq{Cached: p.Context, New: p.Prompt}
		} else {
			seqs[i] = models.Seq{Cached: p.Context, New: 1}
		}
	}
	return seqs
}

// ReadSteps reads a steps.csv (model, phase, batch, prompt, context, mode,
// seconds).
func ReadSteps(path string) ([]StepPoint, error) {
	t, err := readTable(path)
	if err != nil {
		return nil, err
	}
	if err := t.need("model", "phase", "batch", "prompt", "context", "seconds"); err != nil {
		return nil, err
	}
	var out []StepPoint
	for i := range t.rows {
		p := StepPoint{Model: t.str(i, "model"), Phase: t.str(i, "phase"), Mode: t.str(i, "mode"), File: t.file, Line: t.line[i]}
		if p.Phase != "prefill" && p.Phase != "decode" {
			return nil, fmt.Errorf("%s:%d: phase: want prefill or decode, got %q", t.file, t.line[i], p.Phase)
		}
		if p.Batch, err = t.int(i, "batch"); err != nil {
			return nil, err
		}
		if p.Prompt, err = t.int(i, "prompt"); err != nil {
			return nil, err
		}
		if p.Context, err = t.int(i, "context"); err != nil {
			return nil, err
		}
		if p.Seconds, err = t.num(i, "seconds"); err != nil {
			return nil, err
		}
		if p.Batch < 1 || p.Seconds <= 0 || (p.Phase == "prefill" && p.Prompt < 1) {
			return nil, fmt.Errorf("%s:%d: batch, seconds (and prompt for prefill) must be positive", t.file, t.line[i])
		}
		out = append(out, p)
	}
	return out, nil
}

// bf16 is the precision of the committed GPU step measurements.
var bf16 = models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}

// Predictor prices measured steps on a device, loading each model once.
type Predictor struct {
	Device    *hw.Device
	Precision models.Precision
	models    map[string]*models.Model
}

// NewPredictor prices steps on dev in bf16.
func NewPredictor(dev *hw.Device) *Predictor {
	return &Predictor{Device: dev, Precision: bf16, models: map[string]*models.Model{}}
}

// Step is the predicted step cost of p.
func (pr *Predictor) Step(p StepPoint) (roofline.StepCost, error) {
	m, ok := pr.models[p.Model]
	if !ok {
		var err error
		if m, err = models.Load(p.Model); err != nil {
			return roofline.StepCost{}, fmt.Errorf("%s:%d: model: %w", p.File, p.Line, err)
		}
		pr.models[p.Model] = m
	}
	g := m.Graph(p.Seqs(), pr.Precision, models.Options{})
	return roofline.Step(g, pr.Device), nil
}

// PointError is one compared point.
type PointError struct {
	StepPoint
	Predicted float64
	Error     float64 // predicted/measured - 1
}

// Comparison summarises predicted against measured steps.
type Comparison struct {
	Points []PointError
	MAPE   float64 // percent
	Worst  float64 // percent, signed
}

// CompareSteps predicts every point and summarises the errors.
func (pr *Predictor) CompareSteps(points []StepPoint) (Comparison, error) {
	var c Comparison
	rel := make([]float64, 0, len(points))
	for _, p := range points {
		s, err := pr.Step(p)
		if err != nil {
			return c, err
		}
		e := s.Seconds/p.Seconds - 1
		c.Points = append(c.Points, PointError{StepPoint: p, Predicted: s.Seconds, Error: e})
		rel = append(rel, e)
	}
	c.MAPE, c.Worst = Errors(rel)
	return c, nil
}

// FitStepOverhead sets dev's per-step overhead to the median of (measured −
// predicted without step overhead) over the calibration points, floored at
// zero. The median keeps one outlying shape from moving every prediction.
func FitStepOverhead(dev *hw.Device, points []StepPoint) error {
	if len(points) == 0 {
		return fmt.Errorf("fit step overhead: no calibration points")
	}
	dev.Overhead.StepSeconds = 0
	pr := NewPredictor(dev)
	residuals := make([]float64, 0, len(points))
	for _, p := range points {
		s, err := pr.Step(p)
		if err != nil {
			return err
		}
		residuals = append(residuals, p.Seconds-s.Seconds)
	}
	sort.Float64s(residuals)
	med := residuals[len(residuals)/2]
	if len(residuals)%2 == 0 {
		med = (residuals[len(residuals)/2-1] + med) / 2
	}
	dev.Overhead.StepSeconds = math.Max(0, med)
	return nil
}
