package validate

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/validate/engine"
)

// EngineModel is a model shape the CPU engine runs with random weights.
type EngineModel struct {
	Name string
	Arch models.Arch
}

// EngineGridPoint is one point of an engine grid: a prefill of Batch
// prompts of Tokens tokens each, then decode steps of the Batch sequences
// after those Tokens cached ones. Decode points reuse the prefill's cache,
// so a grid of (batch, tokens) pairs covers both phases without paying for
// a second prefill.
type EngineGridPoint struct{ Batch, Tokens int }

// EnginePlan is what to run: models × grid points, how often, on how many
// threads.
type EnginePlan struct {
	Models []EngineModel
	Grid   []EngineGridPoint
	// Repeats is how many times each prefill runs (its fastest run counts);
	// DecodeSteps how many decode steps follow each prefill (the fastest
	// counts, labelled with the middle context). Taking the best of several
	// repetitions is what makes timings on a shared machine reproducible.
	Repeats, DecodeSteps int
	// Threads is the engine's thread count (0: all CPUs). With one thread
	// (on Linux) steps are timed by the engine thread's CPU time, which
	// other processes on a shared machine do not inflate; with more, by the
	// wall clock.
	Threads int
	Weights dtype.DType // weight storage format (fp32 when empty)
	Seed    uint64
	// WaitIdle is the longest the runner waits, before each prefill, for
	// the CPU to be free of other processes (0: never waits).
	WaitIdle time.Duration
}

// EngineStep is one measured step: the fastest of its repetitions, with
// that run's op times.
type EngineStep struct {
	Model   string
	Arch    models.Arch
	Phase   string // prefill or decode
	Batch   int
	Tokens  int // prompt tokens per sequence (prefill) or cached tokens (decode)
	Seconds float64
	Ops     map[string]float64 // seconds per canonical op name, summed over layers
	// SecondSeconds is the second-fastest repetition: how far apart two
	// runs of the same step land says how noisy the machine was.
	SecondSeconds float64 `json:",omitempty"`
}

// Spread is (second-fastest / fastest − 1), 0 with a single run.
func (s EngineStep) Spread() float64 {
	if s.SecondSeconds <= 0 || s.Seconds <= 0 {
		return 0
	}
	return s.SecondSeconds/s.Seconds - 1
}

// Key identifies a measured point; calibration and validation keys must
// not meet.
func (s EngineStep) Key() string {
	return fmt.Sprintf("%s/%s/b%d/t%d", s.Model, s.Phase, s.Batch, s.Tokens)
}

// Seqs is the batch the step ran, as models.Graph takes it.
func (s EngineStep) Seqs() []models.Seq {
	seqs := make([]models.Seq, s.Batch)
	for i := range seqs {
		if s.Phase == "prefill" {
			seqs[i] = models.Seq{New: s.Tokens}
		} else {
			seqs[i] = models.Seq{Cached: s.Tokens, New: 1}
		}
	}
	return seqs
}

// EnginePrecision is how the engine stores and computes: weights in their
// storage format, activations and the KV cache in fp32 (the engine computes
// in fp32 throughout). Predictions use it so llmsim prices what the engine
// really moves.
func EnginePrecision(weights dtype.DType) models.Precision {
	if weights == "" {
		weights = dtype.FP32
	}
	return models.Precision{Weights: weights, Activations: dtype.FP32, KV: dtype.FP32}
}

// RunEngine measures every model of plan at every grid point. log, when not
// nil, receives one line per repetition round.
func RunEngine(plan EnginePlan, log io.Writer) ([]EngineStep, error) {
	out, err := RunEngines([]EnginePlan{plan}, log)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// modelRun is one model of a plan being measured.
type modelRun struct {
	plan            *EnginePlan
	model           EngineModel
	e               *engine.Engine
	prefill, decode []*EngineStep
}

// RunEngines measures several plans at once, interleaved: every
// repetition round visits every model of every plan, so calibration and
// validation points measured together see the same load on a shared
// machine, and a burst of another process's work spoils one run of several
// points rather than every run of one point. It returns the steps of each
// plan in plan order.
func RunEngines(plans []EnginePlan, log io.Writer) ([][]EngineStep, error) {
	var runs []*modelRun
	defer func() {
		for _, r := range runs {
			r.e.Close()
		}
	}()
	rounds := 0
	for i := range plans {
		p := &plans[i]
		if p.Repeats < 1 || p.DecodeSteps < 1 {
			return nil, fmt.Errorf("engine plan: repeats and decode steps must be at least 1")
		}
		rounds = max(rounds, p.Repeats)
		for _, m := range p.Models {
			r, err := newModelRun(p, m)
			if err != nil {
				return nil, fmt.Errorf("engine model %q: %w", m.Name, err)
			}
			runs = append(runs, r)
		}
	}
	for round := 0; round < rounds; round++ {
		t0 := time.Now()
		for _, r := range runs {
			if round >= r.plan.Repeats {
				continue
			}
			if err := r.measure(round); err != nil {
				return nil, fmt.Errorf("engine model %q: %w", r.model.Name, err)
			}
		}
		if log != nil {
			fmt.Fprintf(log, "engine: round %d of %d, %d models, %.1fs\n", round+1, rounds, len(runs), time.Since(t0).Seconds())
		}
	}
	out := make([][]EngineStep, len(plans))
	for _, r := range runs {
		i := 0
		for &plans[i] != r.plan {
			i++
		}
		for g := range r.prefill {
			out[i] = append(out[i], *r.prefill[g], *r.decode[g])
		}
		r.e.Reset()
	}
	return out, nil
}

func newModelRun(plan *EnginePlan, m EngineModel) (*modelRun, error) {
	r := &modelRun{plan: plan, model: m}
	for i, g := range plan.Grid {
		if g.Batch < 1 || g.Tokens < 1 {
			return nil, fmt.Errorf("grid point %d: batch %d and tokens %d must be positive", i, g.Batch, g.Tokens)
		}
		if g.Tokens+plan.DecodeSteps > m.Arch.MaxContext {
			return nil, fmt.Errorf("grid point %d: %d tokens + %d decode steps exceed max_context %d", i, g.Tokens, plan.DecodeSteps, m.Arch.MaxContext)
		}
		r.prefill = append(r.prefill, &EngineStep{Model: m.Name, Arch: m.Arch, Phase: "prefill", Batch: g.Batch, Tokens: g.Tokens})
		r.decode = append(r.decode, &EngineStep{Model: m.Name, Arch: m.Arch, Phase: "decode", Batch: g.Batch, Tokens: g.Tokens + (plan.DecodeSteps-1)/2})
	}
	var err error
	cfg := engine.Config{Arch: m.Arch, Weights: plan.Weights, Seed: plan.Seed, Threads: plan.Threads}
	if plan.Threads == 1 {
		cfg.Clock = threadClock()
	}
	if r.e, err = engine.New(cfg); err != nil {
		return nil, err
	}
	// One untimed step first: page faults of fresh buffers are not the
	// model's cost.
	if _, _, err := r.e.Prefill([][]int{prompt(m.Arch.Vocab, 0, 8)}); err != nil {
		r.e.Close()
		return nil, err
	}
	r.e.Reset()
	return r, nil
}

// measure runs every grid point once: a prefill, then the decode steps.
// A one-thread engine runs every op on the calling goroutine; locked to its
// OS thread, its steps and ops are timed by that thread's CPU time (see
// threadClock).
func (r *modelRun) measure(round int) error {
	if r.plan.Threads == 1 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	for i, g := range r.plan.Grid {
		waitIdle(r.plan.WaitIdle)
		prompts := make([][]int, g.Batch)
		for b := range prompts {
			prompts[b] = prompt(r.model.Arch.Vocab, b+round, g.Tokens)
		}
		r.e.Reset()
		next, tm, err := r.e.Prefill(prompts)
		if err != nil {
			return err
		}
		keepBest(r.prefill[i], tm)
		for d := 0; d < r.plan.DecodeSteps; d++ {
			if next, tm, err = r.e.Decode(next); err != nil {
				return err
			}
			keepBest(r.decode[i], tm)
		}
	}
	return nil
}

// threadClock is the CPU time of the calling OS thread, for a one-thread
// engine (engine.Config.Clock), or nil where the system has no thread CPU
// clock. On a machine shared with other processes the wall clock also
// counts the time the thread waited for a core, which says nothing about
// the engine, while CPU time does not (memory stalls still count: they are
// the engine's). Timing every op by it, not only the step, keeps a wait
// in one op from being spread over the others.
func threadClock() func() time.Duration {
	if _, ok := threadCPUSeconds(); !ok {
		return nil
	}
	return func() time.Duration {
		s, _ := threadCPUSeconds()
		return time.Duration(s * 1e9)
	}
}

// prompt is a deterministic token sequence; seq varies it between
// sequences.
func prompt(vocab, seq, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = (i*7919 + seq*104729 + 13) % vocab
	}
	return p
}

// keepBest keeps the fastest step with its own op times. The ops of one
// run add up to its step; taking each op's best over different runs
// instead would leave the steps slower than the sum of their ops.
func keepBest(s *EngineStep, tm engine.Timing) {
	sec := tm.Step.Seconds()
	if s.Seconds != 0 && sec >= s.Seconds {
		if s.SecondSeconds == 0 || sec < s.SecondSeconds {
			s.SecondSeconds = sec
		}
		return
	}
	s.SecondSeconds, s.Seconds = s.Seconds, sec
	s.Ops = make(map[string]float64, len(tm.Ops))
	for name, d := range tm.Ops {
		s.Ops[name] = d.Seconds()
	}
}

// StepPricer prices one step of model over seqs: the cost path of llmsim
// estimate (graph, KV-cache rewrite, roofline) on the device under test.
type StepPricer func(m *models.Model, seqs []models.Seq) roofline.StepCost

// EnginePoint is one measured step beside its prediction.
type EnginePoint struct {
	EngineStep
	Predicted float64
	Error     float64            // predicted/measured - 1
	OpsPred   map[string]float64 // predicted seconds per op name
}

// EngineComparison summarises predictions of measured engine steps: whole
// steps and, per op name, the step's op time (summed over layers).
type EngineComparison struct {
	Points    []EnginePoint
	StepMAPE  float64            // percent
	StepWorst float64            // percent, signed
	OpMAPE    map[string]float64 // percent, per op name
	OpWorst   map[string]float64 // percent, signed
	// OpShare is each op's share of the measured time of all points: what a
	// large per-op error costs the whole step.
	OpShare map[string]float64
	// Spread is the mean over points of Spread (percent): the run-to-run
	// noise of the machine, a floor under what any model can reach.
	Spread float64
}

// CompareEngine prices every step with price and summarises the errors.
func CompareEngine(steps []EngineStep, price StepPricer) (EngineComparison, error) {
	c := EngineComparison{OpMAPE: map[string]float64{}, OpWorst: map[string]float64{}, OpShare: map[string]float64{}}
	built := map[string]*models.Model{}
	var stepErr []float64
	opErr := map[string][]float64{}
	var total float64
	for _, s := range steps {
		m, ok := built[s.Model]
		if !ok {
			var err error
			if m, err = models.New(s.Arch); err != nil {
				return c, fmt.Errorf("model %q: %w", s.Model, err)
			}
			built[s.Model] = m
		}
		cost := price(m, s.Seqs())
		p := EnginePoint{EngineStep: s, Predicted: cost.Seconds, Error: cost.Seconds/s.Seconds - 1, OpsPred: map[string]float64{}}
		for _, oc := range cost.Ops {
			p.OpsPred[oc.Name] += oc.Seconds
		}
		for name, meas := range s.Ops {
			if pred, ok := p.OpsPred[name]; ok && meas > 0 {
				opErr[name] = append(opErr[name], pred/meas-1)
				c.OpShare[name] += meas
				total += meas
			}
		}
		stepErr = append(stepErr, p.Error)
		c.Points = append(c.Points, p)
		c.Spread += 100 * s.Spread() / float64(len(steps))
	}
	c.StepMAPE, c.StepWorst = Errors(stepErr)
	for name, errs := range opErr {
		c.OpMAPE[name], c.OpWorst[name] = Errors(errs)
		c.OpShare[name] /= total
	}
	return c, nil
}

// GraphPricer prices steps on dev straight from models.Graph and
// roofline.Step, which is what estimate does with the full KV cache.
func GraphPricer(dev *hw.Device, prec models.Precision) StepPricer {
	return func(m *models.Model, seqs []models.Seq) roofline.StepCost {
		return roofline.Step(m.Graph(seqs, prec, models.Options{}), dev)
	}
}

// Disjoint returns an error naming the first point measured in both sets.
func Disjoint(calibration, validation []EngineStep) error {
	seen := map[string]bool{}
	for _, s := range calibration {
		seen[s.Key()] = true
	}
	for _, s := range validation {
		if seen[s.Key()] {
			return fmt.Errorf("point %s is both a calibration and a validation point", s.Key())
		}
	}
	calShapes := map[string]string{}
	for _, s := range calibration {
		calShapes[archKey(s.Arch)] = s.Model
	}
	for _, s := range validation {
		if name, ok := calShapes[archKey(s.Arch)]; ok {
			return fmt.Errorf("validation model %q has the shape of calibration model %q", s.Model, name)
		}
	}
	return nil
}

// archKey identifies a model shape regardless of its name.
func archKey(a models.Arch) string {
	a.Name, a.Source, a.Family = "", "", ""
	moe := ""
	if a.MoE != nil {
		moe = fmt.Sprintf("%+v", *a.MoE)
	}
	a.MoE = nil
	return fmt.Sprintf("%+v%s", a, moe)
}

// OpNames lists the op names of a comparison in a stable order: by share of
// the measured time, largest first.
func (c EngineComparison) OpNames() []string {
	names := make([]string, 0, len(c.OpMAPE))
	for n := range c.OpMAPE {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if c.OpShare[names[i]] != c.OpShare[names[j]] {
			return c.OpShare[names[i]] > c.OpShare[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}
