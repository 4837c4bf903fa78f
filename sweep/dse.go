package sweep

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/roofline"
)

// DSESpec is a design-space exploration file (TOML):
//
//	hw = "h100-sxm"                  # base hardware; model, dtype, act-dtype,
//	model = "llama3-8b"              # kv-dtype, kv-scheme as in estimate
//	tp = 4                           # tp, pp, collective, offload: as in
//	offload = ""                     # estimate (links and tiers then count)
//	objectives = ["latency", "cost"] # see Objectives
//	[workload]                       # estimate's work flags; lists allowed
//	phase = "decode"
//	batch = [8, 64]
//	context = 4096
//	[[knob]]
//	name = "memory.bandwidth"        # see KnobHelp
//	scale = "0.5..4:x2"              # multipliers of the base, or values = [...]
//	price_exponent = 0.5             # price × scale^0.5 (the part's cost)
//
// With mode = "simulate" a [simulate] table of llmsim simulate flags takes
// the place of [workload], each point is one simulation on the variant, and
// the objectives are serving metrics (SimulateObjectives).
type DSESpec struct {
	Mode           string         `toml:"mode"` // "estimate" (also when empty) or "simulate"
	HW             string         `toml:"hw"`
	Model          string         `toml:"model"`
	DType          string         `toml:"dtype"`
	ActDType       string         `toml:"act-dtype"`
	KVDType        string         `toml:"kv-dtype"`
	KVScheme       string         `toml:"kv-scheme"`
	EagerAttention bool           `toml:"eager-attention"`
	ConcatKVCache  bool           `toml:"concat-kv-cache"`
	TP             int            `toml:"tp"`
	PP             int            `toml:"pp"`
	Collective     string         `toml:"collective"`
	Offload        string         `toml:"offload"`
	Objectives     []string       `toml:"objectives"`
	AllowOverflow  bool           `toml:"allow_overflow"` // keep points that do not fit in memory on the front
	Workload       map[string]any `toml:"workload"`
	Simulate       map[string]any `toml:"simulate"` // simulate mode: llmsim simulate flags; lists allowed
	Knobs          []KnobSpec     `toml:"knob"`
}

// KnobSpec is one varied hardware parameter.
type KnobSpec struct {
	Name          string  `toml:"name"`
	Scale         any     `toml:"scale"`
	Values        any     `toml:"values"`
	PriceExponent float64 `toml:"price_exponent"`
	PowerExponent float64 `toml:"power_exponent"`
}

// Objective is a quantity DSE optimises: a metric column and a direction.
type Objective struct {
	Name, Metric string
	Minimize     bool
}

// Objectives are the objectives an estimate-mode DSE file may name.
var Objectives = map[string]Objective{
	"latency":    {"latency", "seconds", true},
	"ttft":       {"ttft", "ttft_seconds", true},
	"tpot":       {"tpot", "tpot_seconds", true},
	"throughput": {"throughput", "tokens_per_second", false},
	"cost":       {"cost", "usd_per_million_tokens", true},
	"energy":     {"energy", "joules_per_token", true},
	"memory":     {"memory", "total_bytes", true},
	"price":      {"price", "usd_per_hour", true},
}

// ReadDSE reads and checks a DSE file.
func ReadDSE(path string) (*DSESpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	spec := DSESpec{HW: "h100-sxm", Model: "llama3-8b", DType: "bf16", KVScheme: "full"}
	md, err := toml.Decode(string(data), &spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		if len(k) < 2 || (k[0] != "workload" && k[0] != "simulate") {
			return nil, fmt.Errorf("%s: unknown key %s", path, k)
		}
	}
	if err := checkSpec(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(spec.Knobs) == 0 {
		return nil, fmt.Errorf("%s: no [[knob]] to vary", path)
	}
	return &spec, nil
}

func objectiveNames() string {
	return "latency, ttft, tpot, throughput, cost, energy, memory, price"
}

// DSE is a prepared exploration: a Mode whose points are (hardware
// variant, work) pairs, evaluated by the analytic estimate or, in simulate
// mode, by a simulation each.
type DSE struct {
	Spec  *DSESpec
	Mode  *Mode
	Space *Space

	loader   *Loader
	knobAxes []int
	knobs    []knob
	base     []float64 // base value of each knob
	objs     []Objective
	objCols  []int // metric positions of the objectives
	// split and offload price every point as estimate --tp/--pp or
	// --offload does (the system's links and tiers, which knobs may vary).
	split   Split
	offload offload.Scheme
	// sim runs simulate-mode points; simOut and simErr keep phase 1's
	// results, so each simulation runs once.
	sim                       *DSESimulator
	simOut                    [][]Value
	simErr                    []error
	completedCol, rejectedCol int

	score [][]float64 // objectives per point, phase 1 (each worker writes its own points)
	front []bool      // phase 2
}

// NewDSE builds the exploration of an estimate-mode spec.
func NewDSE(spec *DSESpec, loader *Loader) (*DSE, error) { return NewDSEWith(spec, loader, nil) }

// NewDSEWith builds the exploration of spec. sim runs the points of a
// simulate-mode spec (the llmsim command provides it: this package cannot
// run llmsim simulate); estimate mode does not use it.
func NewDSEWith(spec *DSESpec, loader *Loader, sim *DSESimulator) (*DSE, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	if spec.simulates() && sim == nil {
		return nil, fmt.Errorf(`mode = "simulate" needs a simulator (llmsim dse provides it)`)
	}
	d := &DSE{Spec: spec, loader: loader, split: Split{TP: max(spec.TP, 1), PP: max(spec.PP, 1), Collective: spec.Collective}}
	if spec.TP < 0 || spec.PP < 0 {
		return nil, fmt.Errorf("tp %d, pp %d: must be at least 1", spec.TP, spec.PP)
	}
	switch spec.Collective {
	case "", roofline.CollectiveAuto, roofline.CollectiveRing, roofline.CollectiveTree:
	default:
		return nil, fmt.Errorf("collective: unknown algorithm %q (want ring, tree or auto)", spec.Collective)
	}
	if spec.Offload != "" {
		if d.split.On() {
			return nil, fmt.Errorf("offload with tp %d, pp %d: offloading schemes run on one accelerator", d.split.TP, d.split.PP)
		}
		sc, err := offload.Parse(spec.Offload)
		if err != nil {
			return nil, fmt.Errorf("offload: %w", err)
		}
		d.offload = sc
	}
	base, err := loader.Hardware(spec.HW)
	if err != nil {
		return nil, fmt.Errorf("hw: %w", err)
	}
	baseDev := base.Primary().Device
	var params []Param
	given := map[string][]string{}
	for i, ks := range spec.Knobs {
		k, err := lookupKnob(ks.Name)
		if err != nil {
			return nil, fmt.Errorf("knob %d: %w", i+1, err)
		}
		b, err := k.get(base, baseDev)
		if err != nil {
			return nil, fmt.Errorf("knob %s: %w", ks.Name, err)
		}
		vals, err := knobValues(ks, b)
		if err != nil {
			return nil, fmt.Errorf("knob %s: %w", ks.Name, err)
		}
		if _, dup := given[ks.Name]; dup {
			return nil, fmt.Errorf("knob %s: given twice", ks.Name)
		}
		d.knobs, d.base = append(d.knobs, k), append(d.base, b)
		params = append(params, Param{Name: ks.Name, Kind: Float, Column: true})
		given[ks.Name] = vals
	}
	fixed := map[string]string{"hw": spec.HW, "model": spec.Model, "dtype": spec.DType, "act-dtype": spec.ActDType,
		"kv-dtype": spec.KVDType, "kv-scheme": spec.KVScheme, "eager-attention": strconv.FormatBool(spec.EagerAttention),
		"concat-kv-cache": strconv.FormatBool(spec.ConcatKVCache)}
	for _, n := range targetAxes {
		params = append(params, Param{Name: n, Kind: kindOf(n), Default: fixed[n], Column: true})
	}
	var metrics []string
	if spec.simulates() {
		d.sim = sim
		sp, err := d.simulateParams(given)
		if err != nil {
			return nil, err
		}
		params, metrics = append(params, sp...), sim.Metrics
		d.completedCol, d.rejectedCol = simColumns(metrics)
	} else {
		if params, err = workParams(spec, params, given); err != nil {
			return nil, err
		}
		metrics = append([]string{"usd_per_hour"}, EstimateMetrics...)
	}
	if d.Space, err = NewSpace(params, given); err != nil {
		return nil, err
	}
	for i := range spec.Knobs {
		d.knobAxes = append(d.knobAxes, i)
	}
	objs := Objectives
	if spec.simulates() {
		objs = SimulateObjectives
	}
	for _, o := range spec.Objectives {
		obj := objs[o]
		d.objs = append(d.objs, obj)
		col := -1
		for i, m := range metrics {
			if m == obj.Metric {
				col = i
			}
		}
		if col < 0 {
			return nil, fmt.Errorf("objectives: %s: no metric %s", o, obj.Metric)
		}
		d.objCols = append(d.objCols, col)
	}
	metrics = append(append([]string(nil), metrics...), "objectives", "pareto")
	d.Mode = &Mode{Name: "dse", Params: params, Metrics: metrics, Prepare: d.prepare}
	return d, nil
}

// workParams appends estimate's work parameters to params and puts the
// [workload] values into given.
func workParams(spec *DSESpec, params []Param, given map[string][]string) ([]Param, error) {
	work := map[string]string{"phase": "decode", "batch": "1", "prompt": "512", "context": "1024", "output": "128"}
	for _, n := range workAxes {
		params = append(params, Param{Name: n, Kind: kindOf(n), Default: work[n], Column: true})
	}
	for k, v := range spec.Workload {
		if _, ok := work[k]; !ok {
			return nil, fmt.Errorf("workload: %s is not a work parameter (want %s)", k, strings.Join(workAxes, ", "))
		}
		vals, err := FileValues(k, kindOf(k), v)
		if err != nil {
			return nil, fmt.Errorf("workload: %w", err)
		}
		given[k] = vals
	}
	return params, nil
}

func kindOf(name string) Kind {
	switch name {
	case "batch", "prompt", "context", "output":
		return Int
	case "eager-attention", "concat-kv-cache":
		return Bool
	}
	return String
}

// Run evaluates every point (twice: once to find the Pareto front over
// all of them, once to write them with it) and writes one line per point.
func (d *DSE) Run(ctx context.Context, w io.Writer, opt Options) (Stats, error) {
	d.score, d.front = make([][]float64, d.Space.Size()), nil
	quiet := opt
	quiet.Progress, quiet.Header, quiet.Done = nil, false, nil
	if d.sim != nil {
		d.simOut, d.simErr = make([][]Value, d.Space.Size()), make([]error, d.Space.Size())
		quiet.BatchPoints = 1 // each point is a whole simulation
	}
	if _, err := Run(ctx, d.Mode, d.Space, io.Discard, quiet); err != nil {
		return Stats{}, err
	}
	minimize := make([]bool, len(d.objs))
	for i, o := range d.objs {
		minimize[i] = o.Minimize
	}
	d.front = Pareto(d.score, minimize)
	return Run(ctx, d.Mode, d.Space, w, opt)
}

// FrontSize counts the points on the front (after Run).
func (d *DSE) FrontSize() int {
	n := 0
	for _, f := range d.front {
		if f {
			n++
		}
	}
	return n
}

func (d *DSE) objectiveText() string {
	parts := make([]string, len(d.objs))
	for i, o := range d.objs {
		dir := "max"
		if o.Minimize {
			dir = "min"
		}
		parts[i] = o.Name + "=" + o.Metric + ":" + dir
	}
	return strings.Join(parts, ";")
}

func (d *DSE) prepare(s *Space) (func() Evaluator, error) {
	if d.sim != nil {
		return d.prepareSimulate(s)
	}
	targets := make([]resolved, d.variants(s))
	spec := d.Spec
	for v := range targets {
		vs, dev := d.variant(s, v)
		t, err := d.loader.Resolve(TargetSpec{HW: spec.HW, Model: spec.Model, Weights: spec.DType, Activations: spec.ActDType,
			KV: spec.KVDType, KVScheme: spec.KVScheme, EagerAttention: spec.EagerAttention, ConcatKVCache: spec.ConcatKVCache})
		if err == nil {
			t.System, t.Device = vs, dev
		}
		targets[v] = resolved{t, err}
	}
	if err := checkEstimateValues(s, d.loader); err != nil {
		return nil, err
	}
	work := make([]int, len(workAxes))
	for i, n := range workAxes {
		work[i] = mustAxis(s, n)
	}
	return func() Evaluator { return &dseEval{d: d, targets: targets, work: work} }, nil
}

type dseEval struct {
	d       *DSE
	targets []resolved
	work    []int
	est     Estimator
}

func (e *dseEval) Eval(s *Space, idx []int, out []Value) error {
	d := e.d
	tr := e.targets[d.variantOf(s, idx)]
	point := s.Index(idx)
	if tr.err != nil {
		return d.record(point, nil, tr.err)
	}
	w := Work{Phase: s.Value(e.work[0], idx), Batch: int(s.Num(e.work[1], idx)), Prompt: int(s.Num(e.work[2], idx)),
		Context: int(s.Num(e.work[3], idx)), Output: int(s.Num(e.work[4], idx))}
	var r Result
	var err error
	switch {
	case d.offload != nil:
		r, err = OffloadEstimate(tr.t, d.offload, w)
	case d.split.On():
		r, err = ParallelEstimate(tr.t, d.split, w)
	default:
		r, err = e.est.Estimate(tr.t, w)
	}
	if err != nil {
		return d.record(point, nil, err)
	}
	out[0] = Number(tr.t.Device.Price.USDPerHour * float64(d.split.TP*d.split.PP))
	r.values(tr.t, out[1:])
	n := len(out)
	out[n-2] = Text(d.objectiveText())
	feasible := r.Memory.Fits || d.Spec.AllowOverflow
	if d.front == nil {
		score := make([]float64, len(d.objCols))
		for i, c := range d.objCols {
			score[i] = out[c].Num
			if !feasible {
				score[i] = math.NaN()
			}
		}
		return d.record(point, score, nil)
	}
	out[n-1] = Flag(d.front[point])
	return nil
}

// record keeps a point's objectives for the front (NaN when it failed).
func (d *DSE) record(point int, score []float64, err error) error {
	if d.front != nil {
		return err
	}
	if score == nil {
		score = make([]float64, len(d.objs))
		for i := range score {
			score[i] = math.NaN()
		}
	}
	d.score[point] = score
	return err
}

// FrontPoint is a point of the Pareto front.
type FrontPoint struct {
	Index      int
	Idx        []int     // value index per axis of Space
	Objectives []float64 // in the order of Spec.Objectives
}

// Front lists the front's points in index order (after Run).
func (d *DSE) Front() []FrontPoint {
	var out []FrontPoint
	for i, f := range d.front {
		if f {
			idx := make([]int, len(d.Space.Axes))
			d.Space.Point(i, idx)
			out = append(out, FrontPoint{Index: i, Idx: idx, Objectives: d.score[i]})
		}
	}
	return out
}
