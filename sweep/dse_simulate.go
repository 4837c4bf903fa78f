package sweep

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/llmsim/llmsim/hw"
)

// DSESimulator is `llmsim simulate` as a simulate-mode DSE runs it. The
// llmsim command provides it, since this package cannot import the command.
type DSESimulator struct {
	// Params are simulate's flags (names, kinds, defaults), the keys a
	// [simulate] table may hold; the target flags (hw, model, dtype, ...)
	// among them are set from the file's top level instead.
	Params []Param
	// Metrics name the values Run writes, in order. Objectives are found
	// here by their metric; "completed" and "rejected", when present,
	// decide feasibility.
	Metrics []string
	// Run simulates with args (simulate's flags, --name=value) on sys in
	// place of the system --hw names, and fills out (one value per
	// metric). It is called from several goroutines at once and must not
	// modify sys.
	Run func(sys *hw.System, args []string, out []Value) error
}

// SimulateObjectives are the objectives of a simulate-mode DSE file:
// serving metrics of llmsim simulate (latency quantiles over the completed
// requests, goodput within the SLOs, rates over the simulated duration).
var SimulateObjectives = map[string]Objective{
	"ttft_mean":  {"ttft_mean", "ttft_mean_seconds", true},
	"ttft_p99":   {"ttft_p99", "ttft_p99_seconds", true},
	"tpot_mean":  {"tpot_mean", "tpot_mean_seconds", true},
	"tpot_p99":   {"tpot_p99", "tpot_p99_seconds", true},
	"e2e_mean":   {"e2e_mean", "e2e_mean_seconds", true},
	"e2e_p99":    {"e2e_p99", "e2e_p99_seconds", true},
	"goodput":    {"goodput", "goodput_requests_per_second", false},
	"attainment": {"attainment", "attainment", false},
	"throughput": {"throughput", "output_tokens_per_second", false},
	"energy":     {"energy", "joules_per_output_token", true},
	"cost":       {"cost", "usd_per_million_output_tokens", true},
	"price":      {"price", "usd_per_hour", true},
}

func simulateObjectiveNames() string {
	return "ttft_mean, ttft_p99, tpot_mean, tpot_p99, e2e_mean, e2e_p99, goodput, attainment, throughput, energy, cost, price"
}

func (s *DSESpec) simulates() bool { return s.Mode == "simulate" }

// checkSpec checks the mode, its work table and its objectives: an
// objective or a table of the other mode is an error that says so.
func checkSpec(spec *DSESpec) error {
	objs, names, other, otherNames := Objectives, objectiveNames(), SimulateObjectives, simulateObjectiveNames()
	mode, otherMode := "estimate", "simulate"
	switch spec.Mode {
	case "", "estimate":
		if spec.Simulate != nil {
			return fmt.Errorf(`[simulate]: llmsim simulate flags need mode = "simulate" (estimate mode takes [workload])`)
		}
	case "simulate":
		if spec.Workload != nil {
			return fmt.Errorf("[workload]: estimate mode's work; in simulate mode the work is the [simulate] table of llmsim simulate flags (rate, num-requests, prompt-tokens, ...)")
		}
		objs, names, other, otherNames = other, otherNames, objs, names
		mode, otherMode = otherMode, mode
	default:
		return fmt.Errorf("mode: unknown mode %q (want estimate or simulate)", spec.Mode)
	}
	if len(spec.Objectives) == 0 {
		return fmt.Errorf("objectives: name at least one of %s", names)
	}
	for _, o := range spec.Objectives {
		if _, ok := objs[o]; ok {
			continue
		}
		if _, ok := other[o]; ok {
			return fmt.Errorf("objectives: %s is an objective of %s mode, not of %s mode (%s mode takes %s; %s mode %s)",
				o, otherMode, mode, mode, names, otherMode, otherNames)
		}
		return fmt.Errorf("objectives: unknown objective %q (want %s)", o, names)
	}
	return nil
}

// topLevelSimulate are simulate flags a DSE file gives at its top level, as
// in estimate mode; in simulate mode they pass through to every point.
var topLevelSimulate = []string{"tp", "pp", "collective", "offload"}

// simulateParams lists the parameters that follow the target axes in
// simulate mode (simulate's flags but the target ones) and puts the values
// of the [simulate] table and of tp, pp, collective and offload into given.
func (d *DSE) simulateParams(given map[string][]string) ([]Param, error) {
	spec := d.Spec
	isTarget := map[string]bool{}
	for _, n := range targetAxes {
		isTarget[n] = true
	}
	var params []Param
	kinds := map[string]Kind{}
	for _, p := range d.sim.Params {
		if !isTarget[p.Name] {
			p.Column = false // a column when set, as in llmsim sweep --mode simulate
			params, kinds[p.Name] = append(params, p), p.Kind
		}
	}
	top := map[string]string{"collective": spec.Collective, "offload": spec.Offload}
	if spec.TP > 0 {
		top["tp"] = strconv.Itoa(spec.TP)
	}
	if spec.PP > 0 {
		top["pp"] = strconv.Itoa(spec.PP)
	}
	for _, k := range topLevelSimulate {
		if top[k] != "" {
			given[k] = []string{top[k]}
		}
	}
	keys := make([]string, 0, len(spec.Simulate))
	for k := range spec.Simulate {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad key is the same every run
	for _, k := range keys {
		kind, ok := kinds[k]
		switch {
		case isTarget[k]:
			return nil, fmt.Errorf("[simulate] %s: give it at the top level of the file (%s = ...), where it names the base", k, k)
		case !ok:
			return nil, fmt.Errorf("[simulate] %s: unknown key (want a flag of llmsim simulate: %s)", k, paramList(params))
		case top[k] != "":
			return nil, fmt.Errorf("[simulate] %s: also given at the top level of the file; give it once", k)
		}
		vals, err := FileValues(k, kind, spec.Simulate[k])
		if err != nil {
			return nil, fmt.Errorf("[simulate] %w", err)
		}
		given[k] = vals
	}
	return params, nil
}

func paramList(params []Param) string {
	return strings.Join(paramNames(params), ", ")
}

// prepareSimulate builds every hardware variant once; the workers share
// them (read only).
func (d *DSE) prepareSimulate(s *Space) (func() Evaluator, error) {
	if err := checkEstimateValues(s, d.loader); err != nil {
		return nil, err
	}
	systems := make([]*hw.System, d.variants(s))
	for v := range systems {
		systems[v], _ = d.variant(s, v)
	}
	return func() Evaluator { return &dseSimEval{d: d, systems: systems} }, nil
}

// dseSimEval runs one simulation per point in phase 1 and replays its
// values with the front in phase 2.
type dseSimEval struct {
	d       *DSE
	systems []*hw.System
	args    []string
}

func (e *dseSimEval) Eval(s *Space, idx []int, out []Value) error {
	d := e.d
	point := s.Index(idx)
	n := len(out)
	if d.front != nil {
		if err := d.simErr[point]; err != nil {
			return err
		}
		copy(out, d.simOut[point])
		out[n-1] = Flag(d.front[point])
		return nil
	}
	e.args = e.args[:0]
	for a := len(d.knobAxes); a < len(s.Axes); a++ {
		if ax := &s.Axes[a]; ax.Column || ax.Set {
			e.args = append(e.args, "--"+ax.Name+"="+s.Value(a, idx))
		}
	}
	if err := d.sim.Run(e.systems[d.variantOf(s, idx)], e.args, out[:n-2]); err != nil {
		d.simErr[point] = err
		return d.record(point, nil, err)
	}
	out[n-2] = Text(d.objectiveText())
	d.simOut[point] = append([]Value(nil), out...)
	score := make([]float64, len(d.objCols))
	feasible := d.simFeasible(out)
	for i, c := range d.objCols {
		score[i] = out[c].Num
		if !feasible {
			score[i] = math.NaN()
		}
	}
	return d.record(point, score, nil)
}

// simFeasible keeps off the front a simulation that completed no request,
// or that rejected some (a request that cannot fit the variant's memory or
// context) unless allow_overflow is set: latency quantiles over the
// requests it kept would flatter it.
func (d *DSE) simFeasible(out []Value) bool {
	if d.completedCol >= 0 && out[d.completedCol].Num <= 0 {
		return false
	}
	return d.rejectedCol < 0 || out[d.rejectedCol].Num == 0 || d.Spec.AllowOverflow
}

// simColumns finds the metrics that decide feasibility (-1 when absent).
func simColumns(metrics []string) (completed, rejected int) {
	completed, rejected = -1, -1
	for i, m := range metrics {
		switch m {
		case "completed":
			completed = i
		case "rejected":
			rejected = i
		}
	}
	return completed, rejected
}
