package sweep

import (
	"fmt"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/roofline"
)

// EstimateMetrics are the columns of an estimate sweep, named as the JSON
// fields of `llmsim estimate` (memory, energy and cost flattened).
var EstimateMetrics = []string{
	"device", "seconds", "ttft_seconds", "tpot_seconds", "tokens_per_second", "flops", "bytes", "bound",
	"weights_bytes", "kv_bytes", "activation_bytes", "reserved_bytes", "total_bytes", "capacity_bytes", "fits",
	"joules", "joules_per_token", "average_watts", "usd", "usd_per_million_tokens",
}

// targetAxes are the parameters that pick a Target; workAxes the Work.
var (
	targetAxes = []string{"hw", "model", "dtype", "act-dtype", "kv-dtype", "kv-scheme", "eager-attention", "concat-kv-cache"}
	workAxes   = []string{"phase", "batch", "prompt", "context", "output"}
)

// EstimateMode is the analytic sweep: each point is one `llmsim estimate`.
// params are the estimate command's flags (every one an output column);
// loader resolves hardware and models.
func EstimateMode(params []Param, loader *Loader) *Mode {
	return &Mode{
		Name: "estimate", Params: params, Metrics: EstimateMetrics,
		Prepare: func(s *Space) (func() Evaluator, error) { return prepareEstimate(s, loader) },
	}
}

// estimatePlan is what every estimate worker shares: axis positions and the
// targets, resolved once per combination of target values.
type estimatePlan struct {
	target  []int // axis positions of targetAxes
	stride  []int
	work    []int // axis positions of workAxes
	targets []resolved
	// offload is the axis of --offload (-1: the mode has none); schemes
	// its values parsed (nil for "", the plain estimate).
	offload int
	schemes []offload.Scheme
	// tp, pp and collective are the axes of --tp, --pp and --collective
	// (-1: not in the mode).
	tp, pp, collective int
}

type resolved struct {
	t   *Target
	err error
}

func prepareEstimate(s *Space, loader *Loader) (func() Evaluator, error) {
	p := &estimatePlan{}
	for _, name := range targetAxes {
		p.target = append(p.target, mustAxis(s, name))
	}
	for _, name := range workAxes {
		p.work = append(p.work, mustAxis(s, name))
	}
	if err := checkEstimateValues(s, loader); err != nil {
		return nil, err
	}
	p.tp, p.pp, p.collective = s.Axis("tp"), s.Axis("pp"), s.Axis("collective")
	p.offload = s.Axis("offload")
	if p.offload >= 0 {
		for _, v := range s.Axes[p.offload].Values {
			var sc offload.Scheme
			if v != "" {
				sc, _ = offload.Parse(v) // checked above
			}
			p.schemes = append(p.schemes, sc)
		}
	}
	n := 1
	p.stride = make([]int, len(p.target))
	for k := len(p.target) - 1; k >= 0; k-- {
		p.stride[k] = n
		n *= len(s.Axes[p.target[k]].Values)
	}
	p.targets = make([]resolved, n)
	idx := make([]int, len(s.Axes))
	for id := range p.targets {
		rest := id
		for k, a := range p.target {
			idx[a] = rest / p.stride[k]
			rest %= p.stride[k]
		}
		v := func(k int) string { return s.Value(p.target[k], idx) }
		t, err := loader.Resolve(TargetSpec{
			HW: v(0), Model: v(1), Weights: v(2), Activations: v(3), KV: v(4), KVScheme: v(5),
			EagerAttention: s.Num(p.target[6], idx) != 0,
			ConcatKVCache:  s.Num(p.target[7], idx) != 0,
		})
		p.targets[id] = resolved{t, err}
	}
	return func() Evaluator { return &estimateEval{plan: p} }, nil
}

func mustAxis(s *Space, name string) int {
	a := s.Axis(name)
	if a < 0 {
		panic("sweep: estimate mode without parameter " + name)
	}
	return a
}

// checkEstimateValues rejects bad values before any work, naming the flag.
func checkEstimateValues(s *Space, loader *Loader) error {
	for _, a := range s.Axes {
		for i, v := range a.Values {
			var err error
			switch a.Name {
			case "hw":
				_, err = loader.Hardware(v)
			case "model":
				_, err = loader.Model(v)
			case "dtype", "act-dtype", "kv-dtype":
				if v != "" {
					_, err = dtype.Parse(v)
				}
			case "kv-scheme":
				_, err = kvcache.Parse(v)
			case "offload":
				if v != "" {
					_, err = offload.Parse(v)
				}
			case "phase":
				err = Work{Phase: v, Batch: 1, Prompt: 1, Output: 1}.Check()
			case "batch", "prompt", "output":
				if a.Nums[i] < 1 {
					err = fmt.Errorf("must be at least 1, got %s", v)
				}
			case "context":
				if a.Nums[i] < 0 {
					err = fmt.Errorf("must be at least 0, got %s", v)
				}
			case "tp", "pp":
				if a.Nums[i] < 1 {
					err = fmt.Errorf("must be at least 1, got %s", v)
				}
			case "collective":
				switch v {
				case "", roofline.CollectiveAuto, roofline.CollectiveRing, roofline.CollectiveTree:
				default:
					err = fmt.Errorf("unknown algorithm %q (want ring, tree or auto)", v)
				}
			}
			if err != nil {
				return fmt.Errorf("--%s %s: %w", a.Name, v, err)
			}
		}
	}
	return nil
}

type estimateEval struct {
	plan *estimatePlan
	est  Estimator
}

func (e *estimateEval) Eval(s *Space, idx []int, out []Value) error {
	p := e.plan
	id := 0
	for k, a := range p.target {
		id += idx[a] * p.stride[k]
	}
	tr := p.targets[id]
	if tr.err != nil {
		return tr.err
	}
	w := Work{
		Phase: s.Value(p.work[0], idx), Batch: int(s.Num(p.work[1], idx)), Prompt: int(s.Num(p.work[2], idx)),
		Context: int(s.Num(p.work[3], idx)), Output: int(s.Num(p.work[4], idx)),
	}
	var r Result
	var err error
	split := Split{TP: 1, PP: 1}
	if p.tp >= 0 {
		split.TP = int(s.Num(p.tp, idx))
	}
	if p.pp >= 0 {
		split.PP = int(s.Num(p.pp, idx))
	}
	if p.collective >= 0 {
		split.Collective = s.Value(p.collective, idx)
	}
	offloaded := p.offload >= 0 && p.schemes[idx[p.offload]] != nil
	switch {
	case offloaded && split.On():
		err = fmt.Errorf("--offload with --tp %d --pp %d: offloading schemes run on one accelerator", split.TP, split.PP)
	case offloaded:
		r, err = OffloadEstimate(tr.t, p.schemes[idx[p.offload]], w)
	case split.On():
		r, err = ParallelEstimate(tr.t, split, w)
	default:
		r, err = e.est.Estimate(tr.t, w)
	}
	if err != nil {
		return err
	}
	r.values(tr.t, out)
	return nil
}

// values writes r in the order of EstimateMetrics.
func (r *Result) values(t *Target, out []Value) {
	m := &r.Memory
	out[0] = Text(t.Device.Name)
	out[1], out[2], out[3], out[4] = Number(r.Seconds), Number(r.TTFTSeconds), Number(r.TPOTSeconds), Number(r.TokensPerSecond)
	out[5], out[6], out[7] = Number(r.FLOPs), Number(r.Bytes), Text(string(r.Bound))
	out[8], out[9], out[10], out[11] = Number(m.WeightsBytes), Number(m.KVBytes), Number(m.ActivationBytes), Number(m.ReservedBytes)
	out[12], out[13], out[14] = Number(m.TotalBytes), Number(m.CapacityBytes), Flag(m.Fits)
	out[15], out[16], out[17] = Number(r.Energy.Joules), Number(r.JoulesPerToken), Number(r.Energy.AverageWatts)
	out[18], out[19] = Number(r.Energy.USD), Number(r.USDPerMillionTokens)
}
