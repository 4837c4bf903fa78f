package reproduce

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim/replica"
)

// Result is the outcome of one scenario.
type Result struct {
	Scenario string `json:"scenario"`
	// Check names one of an offload scenario's several checks; empty for
	// a KV-cache scenario (one claim each).
	Check         string  `json:"check,omitempty"`
	Paper         string  `json:"paper"`
	Claim         string  `json:"claim"`
	Metric        string  `json:"metric"`
	Compare       string  `json:"compare"`
	Claimed       float64 `json:"claimed"`
	Simulated     float64 `json:"simulated"`
	RelativeError float64 `json:"relative_error"` // simulated / claimed − 1
	Tolerance     float64 `json:"tolerance"`
	// AbsoluteTolerance, when set, is the tolerance that decides pass
	// (claims printed to few digits); Tolerance is then its relative size.
	AbsoluteTolerance float64 `json:"absolute_tolerance,omitempty"`
	Pass              bool    `json:"pass"`
	Expect            string  `json:"expect"` // pass, or miss for a known unreproduced claim
	// Calibrated marks a claim used to fit a constant of the simulator
	// (consistency, not prediction).
	Calibrated bool   `json:"calibrated,omitempty"`
	Setup      string `json:"setup"`
	Baseline   string `json:"baseline"` // canonical specs
	Scheme     string `json:"scheme"`
	Gap        string `json:"gap"`
	Source     string `json:"source"`
}

// config is one side of a comparison: a costing target with a KV scheme.
type config struct {
	dev     *hw.Device
	m       *models.Model
	prec    models.Precision
	opts    models.Options
	profile *replica.Profile
	scheme  kvcache.Scheme
	// par, when set, prices one GPU's shard under tensor parallelism plus
	// its all-reduces (roofline.Parallel, as llmsim estimate --tp).
	par  *roofline.Parallel
	g    models.Graph
	seqs []models.Seq
}

func (s *Scenario) config(spec string) (*config, error) {
	sys, err := hw.Load(s.Hardware)
	if err != nil {
		return nil, fmt.Errorf("hardware: %w", err)
	}
	m, err := models.Load(s.Model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	prec, err := precision(s.Weights, s.Act, s.KV)
	if err != nil {
		return nil, err
	}
	scheme, err := kvcache.Parse(spec)
	if err != nil {
		return nil, err
	}
	c := &config{dev: sys.Primary().Device, m: m, prec: prec, scheme: scheme}
	if s.TP > 1 {
		if errs := roofline.CheckParallel(m, sys, s.TP, 1); len(errs) > 0 {
			return nil, fmt.Errorf("tp: %w", errors.Join(errs...))
		}
		p := roofline.NewParallel(m, prec, s.TP, 1, roofline.CollectiveAuto, roofline.GroupLink(sys))
		c.par = &p
	}
	if s.Engine != "" {
		p, err := replica.LookupProfile(s.Engine)
		if err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		c.profile = &p
		c.opts.MaterialisedAttention = p.EagerAttention
		c.opts.ConcatKVCache = p.ConcatKVCache
	}
	if s.ConcatKVCache != nil {
		c.opts.ConcatKVCache = *s.ConcatKVCache
	}
	switch s.Attention {
	case "eager":
		c.opts.MaterialisedAttention = true
	case "flash":
		c.opts.MaterialisedAttention = false
	}
	return c, nil
}

// precision follows llmsim estimate: activations in the weight format when
// it has 8 bits or more, else bf16; KV in the activation format.
func precision(weights, act, kv string) (models.Precision, error) {
	var p models.Precision
	var err error
	if p.Weights, err = dtype.Parse(weights); err != nil {
		return p, fmt.Errorf("dtype: %w", err)
	}
	p.Activations = dtype.BF16
	if p.Weights.Bits() >= 8 {
		p.Activations = p.Weights
	}
	if act != "" {
		if p.Activations, err = dtype.Parse(act); err != nil {
			return p, fmt.Errorf("act_dtype: %w", err)
		}
	}
	p.KV = p.Activations
	if kv != "" {
		if p.KV, err = dtype.Parse(kv); err != nil {
			return p, fmt.Errorf("kv_dtype: %w", err)
		}
	}
	return p, nil
}

// batchOf fills c.seqs with n copies of seq.
func (c *config) batchOf(n int, seq models.Seq) []models.Seq {
	c.seqs = c.seqs[:0]
	for range n {
		c.seqs = append(c.seqs, seq)
	}
	return c.seqs
}

func (c *config) build(seqs []models.Seq) *models.Graph {
	c.m.GraphInto(&c.g, seqs, c.prec, c.opts)
	c.scheme.Rewrite(&c.g, c.m, seqs, c.prec)
	if c.par != nil {
		c.par.Shard(&c.g)
	}
	return &c.g
}

// stepSeconds prices one step as the simulator's executor does: the
// roofline step plus the engine's host overhead.
func (c *config) stepSeconds(seqs []models.Seq) float64 {
	g := c.build(seqs)
	sec := roofline.StepSeconds(g, c.dev)
	if c.par != nil {
		sec += c.par.CommSeconds(g, c.m.Layers, true)
	}
	if p := c.profile; p != nil {
		if p.ReplacesDeviceStep {
			sec -= c.dev.Overhead.StepSeconds
		}
		sec += p.IterationSeconds(seqs, c.m.Layers)
	}
	return sec
}

// prefillSeconds prefills batch prompts of prompt tokens, chunk tokens per
// step (0: at once).
func (c *config) prefillSeconds(batch, prompt, chunk int) float64 {
	if chunk <= 0 {
		chunk = prompt
	}
	var sec float64
	for done := 0; done < prompt; done += chunk {
		sec += c.stepSeconds(c.batchOf(batch, models.Seq{Cached: done, New: min(chunk, prompt-done)}))
	}
	return sec
}

// decodeSeconds runs steps decode steps from context cached tokens.
func (c *config) decodeSeconds(batch, context, steps int) float64 {
	var sec float64
	for i := range steps {
		sec += c.stepSeconds(c.batchOf(batch, models.Seq{Cached: context + i, New: 1}))
	}
	return sec
}

// throughput is generated tokens per second over batch requests: whole
// requests (prefill, then output-1 decode steps), or with decodeOnly the
// decode steps alone.
func (c *config) throughput(batch, prompt, output, chunk int, decodeOnly bool) float64 {
	if decodeOnly {
		return float64(batch*output) / c.decodeSeconds(batch, prompt, output)
	}
	sec := c.prefillSeconds(batch, prompt, chunk) + c.decodeSeconds(batch, prompt, output-1)
	return float64(batch*output) / sec
}

// attentionSeconds is the time of the attention and KV-scheme ops of a
// decode step at context, or with chunk > 0 of a prefill chunk of chunk
// tokens after context cached ones.
func (c *config) attentionSeconds(batch, context, chunk int) float64 {
	g := c.build(c.batchOf(batch, models.Seq{Cached: context, New: max(1, chunk)}))
	var sec float64
	for i := range g.Ops {
		op := &g.Ops[i]
		if op.Kind == models.KindAttention || strings.HasPrefix(op.Name, "kv_") || op.Name == kvcache.OpCombine {
			sec += roofline.Cost(op, c.dev).Seconds
		}
	}
	return sec
}

// footprint is the device memory of batch sequences at context tokens:
// weights, KV and the peak activations of a decode step (and of the last
// prefill chunk when chunk > 0).
type footprint struct {
	weights, kv, act, reserved, capacity float64
}

func (f footprint) used() float64  { return f.weights + f.kv + f.act }
func (f footprint) total() float64 { return f.used() + f.reserved }
func (f footprint) fits() bool     { return f.total() <= f.capacity }

func (c *config) footprint(batch, context, chunk int) footprint {
	mem := c.dev.MainMemory()
	f := footprint{
		weights:  c.m.WeightBytes(c.prec.Weights),
		kv:       float64(batch) * c.scheme.StoredBytes(c.m, context, c.prec.KV),
		reserved: mem.ReservedBytes,
		capacity: mem.CapacityBytes,
	}
	f.act = roofline.PeakActivationBytes(c.m, c.build(c.batchOf(batch, models.Seq{Cached: context, New: 1})), c.prec)
	if chunk > 0 {
		n := min(chunk, context)
		g := c.build(c.batchOf(batch, models.Seq{Cached: context - n, New: n}))
		f.act = max(f.act, roofline.PeakActivationBytes(c.m, g, c.prec))
	}
	return f
}

// maxBatch is the largest batch that fits at context (0: none).
func (c *config) maxBatch(context, chunk int) int {
	return roofline.LargestFitting(1<<20, func(b int) bool { return c.footprint(b, context, chunk).fits() })
}

// maxContextLimit bounds the search for the longest context.
const maxContextLimit = 1 << 30

// maxContext is the longest context batch sequences fit (0: none).
func (c *config) maxContext(batch, chunk int) int {
	return roofline.LargestFitting(maxContextLimit, func(n int) bool { return c.footprint(batch, n, chunk).fits() })
}

// Run prices the scenario and compares the result with the claim.
func Run(s *Scenario) (Result, error) {
	r := Result{
		Scenario: s.Name, Paper: s.Paper, Claim: s.Claim, Metric: s.Metric, Compare: s.Compare,
		Claimed: s.Value, Tolerance: s.Tolerance, Gap: s.Gap, Source: s.Source, Expect: s.Expect,
	}
	v, setup, err := s.simulate(&r)
	if err != nil {
		return r, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	r.Simulated, r.Setup = v, setup
	r.RelativeError = v/s.Value - 1
	switch s.Compare {
	case "at_least":
		r.Pass = v >= s.Value*(1-s.Tolerance)
	case "at_most":
		r.Pass = v <= s.Value*(1+s.Tolerance)
	default:
		r.Pass = math.Abs(r.RelativeError) <= s.Tolerance
	}
	return r, nil
}

// RunAll runs every built-in scenario in name order.
func RunAll() ([]Result, error) {
	var out []Result
	for _, n := range Builtins() {
		s, err := Load(n)
		if err != nil {
			return out, err
		}
		r, err := Run(s)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
