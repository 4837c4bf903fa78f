package sweep

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// Work is what an estimate prices, as the flags of `llmsim estimate`.
type Work struct {
	Phase                          string // prefill, decode or request
	Batch, Prompt, Context, Output int
}

// Check validates work as `llmsim estimate` does.
func (w Work) Check() error {
	switch w.Phase {
	case "prefill", "decode", "request":
	default:
		return fmt.Errorf("--phase: unknown phase %q (want prefill, decode or request)", w.Phase)
	}
	for _, c := range []struct {
		name       string
		value, min int
	}{{"--batch", w.Batch, 1}, {"--prompt", w.Prompt, 1}, {"--context", w.Context, 0}, {"--output", w.Output, 1}} {
		if c.value < c.min {
			return fmt.Errorf("%s: must be at least %d, got %d", c.name, c.min, c.value)
		}
	}
	return nil
}

// Result is an analytic estimate; the fields are those of `llmsim
// estimate -o json` without the per-op table.
type Result struct {
	Seconds, TTFTSeconds, TPOTSeconds float64
	TokensPerSecond                   float64
	FLOPs, Bytes                      float64
	Bound                             roofline.Bound
	Memory                            roofline.Footprint
	Energy                            roofline.Energy
	JoulesPerToken                    float64
	USDPerMillionTokens               float64
}

// Estimator prices work on targets, reusing its graph and sequence buffers:
// after warming up it does not allocate. One per goroutine.
type Estimator struct {
	g    models.Graph
	seqs []models.Seq
}

// Estimate prices w on t exactly as `llmsim estimate` does (same builders,
// same roofline costs, same summation order).
func (e *Estimator) Estimate(t *Target, w Work) (Result, error) {
	var r Result
	m, dev := t.Model, t.Device
	if cap(e.seqs) < w.Batch {
		e.seqs = make([]models.Seq, w.Batch)
	}
	seqs := e.seqs[:w.Batch]
	var tokens float64
	switch w.Phase {
	case "prefill":
		if err := contextLimit(m, w.Prompt, "--prompt"); err != nil {
			return r, err
		}
		fill(seqs, models.Seq{New: w.Prompt})
		t.Build(&e.g, seqs)
		r.Seconds, r.FLOPs, r.Bytes, r.Bound = step(&e.g, dev)
		tokens = float64(w.Batch * w.Prompt)
		r.TokensPerSecond = tokens / r.Seconds
		r.Memory = roofline.MemoryWith(m, dev, &e.g, m.WeightBytes(t.Prec.Weights), t.KVBytes(w.Batch, w.Prompt), t.Prec)
	case "decode":
		if err := contextLimit(m, w.Context+1, "--context"); err != nil {
			return r, err
		}
		fill(seqs, models.Seq{Cached: w.Context, New: 1})
		t.Build(&e.g, seqs)
		r.Seconds, r.FLOPs, r.Bytes, r.Bound = step(&e.g, dev)
		tokens = float64(w.Batch)
		r.TokensPerSecond = tokens / r.Seconds
		r.Memory = roofline.MemoryWith(m, dev, &e.g, m.WeightBytes(t.Prec.Weights), t.KVBytes(w.Batch, w.Context+1), t.Prec)
	case "request":
		if err := contextLimit(m, w.Prompt+w.Output, "--prompt + --output"); err != nil {
			return r, err
		}
		e.request(t, w, &r)
		tokens = float64(w.Batch * w.Output)
		r.TokensPerSecond = tokens / r.Seconds
		fill(seqs, models.Seq{New: w.Prompt})
		t.Build(&e.g, seqs)
		r.Memory = roofline.MemoryWith(m, dev, &e.g, m.WeightBytes(t.Prec.Weights), t.KVBytes(w.Batch, w.Prompt+w.Output), t.Prec)
	default:
		return r, fmt.Errorf("--phase: unknown phase %q", w.Phase)
	}
	r.Energy = roofline.EnergyOf(dev, r.Seconds, r.FLOPs, r.Bytes, roofline.Peak(dev, hw.ClassGEMM, t.Prec.Activations))
	if tokens > 0 {
		r.JoulesPerToken = r.Energy.Joules / tokens
		r.USDPerMillionTokens = r.Energy.USD / tokens * 1e6
	}
	return r, nil
}

// request mirrors roofline.RequestWith: a prefill step, then every decode
// step (attention grows with the context), in the same order of additions.
func (e *Estimator) request(t *Target, w Work, r *Result) {
	seqs := e.seqs[:w.Batch]
	fill(seqs, models.Seq{New: w.Prompt})
	t.Build(&e.g, seqs)
	var prefillBound, decodeBound roofline.Bound
	r.TTFTSeconds, r.FLOPs, r.Bytes, prefillBound = step(&e.g, t.Device)
	r.Seconds = r.TTFTSeconds
	for k := 0; k < w.Output-1; k++ {
		fill(seqs, models.Seq{Cached: w.Prompt + k, New: 1})
		t.Build(&e.g, seqs)
		if k == 0 {
			_, _, _, decodeBound = step(&e.g, t.Device)
		}
		r.Seconds += roofline.StepSeconds(&e.g, t.Device)
		flops, bytes := e.g.Totals()
		r.FLOPs += flops
		r.Bytes += bytes
	}
	if w.Output > 1 {
		r.TPOTSeconds = (r.Seconds - r.TTFTSeconds) / float64(w.Output-1)
	}
	r.Bound = prefillBound
	if r.Seconds-r.TTFTSeconds > r.TTFTSeconds {
		r.Bound = decodeBound
	}
}

// step is roofline.Step without the per-op table (and its allocations).
func step(g *models.Graph, dev *hw.Device) (seconds, flops, bytes float64, bound roofline.Bound) {
	var compute, memory, overhead float64
	for i := range g.Ops {
		c := roofline.Cost(&g.Ops[i], dev)
		seconds += c.Seconds
		flops += c.FLOPs
		bytes += c.Bytes
		switch c.Bound {
		case roofline.ComputeBound:
			compute += c.Seconds
		case roofline.OverheadBound:
			overhead += c.Seconds
		default:
			memory += c.Seconds
		}
	}
	seconds += dev.Overhead.StepSeconds
	bound = roofline.MemoryBound
	best := memory
	if compute > best {
		bound, best = roofline.ComputeBound, compute
	}
	if overhead > best {
		bound = roofline.OverheadBound
	}
	return seconds, flops, bytes, bound
}

func fill(seqs []models.Seq, s models.Seq) {
	for i := range seqs {
		seqs[i] = s
	}
}

// contextLimit rejects work longer than the model's context window.
func contextLimit(m *models.Model, tokens int, what string) error {
	if m.MaxContext > 0 && tokens > m.MaxContext {
		return fmt.Errorf("%s: %d tokens exceed %s's context limit of %d", what, tokens, m.Name, m.MaxContext)
	}
	return nil
}
