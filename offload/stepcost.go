package offload

import (
	"fmt"
	"strings"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// stepProbe asks runSteps for one step of a given shape.
type stepProbe struct {
	cached, newTokens int
	done              bool
}

// StepCost is one iteration of the serving simulator priced under an
// offloading scheme.
type StepCost struct {
	Seconds float64
	// FLOPs is the model arithmetic executed; Bytes is the memory traffic
	// of the compute engines plus the bytes over links and storage channels.
	FLOPs, Bytes float64
	// JoulesAboveIdle is the energy every device of the system draws in
	// the step beyond its idle power: Result.Energy of each executed step
	// less IdleWatts × its seconds. A run of steps with idle gaps between
	// them costs IdleWatts × its duration plus the sum of these, which is
	// Result.Energy.Joules when the steps run back to back.
	JoulesAboveIdle float64
	// HostBusySeconds is, per group of the system other than the
	// accelerator's (host CPU, disks, CSDs), the longest time one of the
	// group's resources was busy in the step: how much of the step the
	// group was in use, which replicas sharing a host compete for
	// (simulate --host-share). Nil when no such resource worked.
	HostBusySeconds map[string]float64
}

// StepSeconds is PriceStep's seconds, FLOPs and bytes.
func (t *Target) StepSeconds(s Scheme, seqs []models.Seq) (seconds, flops, bytes float64, err error) {
	c, err := t.PriceStep(s, seqs)
	return c.Seconds, c.FLOPs, c.Bytes, err
}

// PriceStep prices one forward step of the serving simulator under an
// offloading scheme by executing the scheme's task graph for that step on
// the target's resources (loads, stores and compute contending as in Run).
//
// seqs is the iteration's batch. Sequences decoding one token (Cached > 0,
// New == 1) run as one uniform decode step at their mean context, rounded
// (a decode step is linear in context: KV reads and attention FLOPs);
// sequences processing prompt tokens run as one step per distinct
// (Cached, New) shape, after the decode step — offloading engines do not
// fuse prefill into decode batches. The steps' costs add.
//
// A FlexGen policy with a fixed block (gbs × ngb) keeps its number of GPU
// batches (at most one per sequence) and pads the batch to a multiple of
// it; flexgen:search=1 must be resolved first (Search). Schemes without a
// per-step schedule (tpi, coe) return an error.
func (t *Target) PriceStep(s Scheme, seqs []models.Seq) (StepCost, error) {
	var c StepCost
	if len(seqs) == 0 {
		return c, fmt.Errorf("offload: StepSeconds: empty batch")
	}
	var decodes, cachedSum int
	type shape struct{ cached, newTokens int }
	var shapes []shape
	counts := map[shape]int{}
	for _, q := range seqs {
		if q.New < 1 || q.Cached < 0 {
			return c, fmt.Errorf("offload: StepSeconds: sequence with %d cached and %d new tokens", q.Cached, q.New)
		}
		if q.New == 1 && q.Cached > 0 {
			decodes++
			cachedSum += q.Cached
			continue
		}
		k := shape{q.Cached, q.New}
		if counts[k] == 0 {
			shapes = append(shapes, k)
		}
		counts[k]++
	}
	run := func(n, cached, newTokens int) error {
		u, err := t.uniformStep(s, n, cached, newTokens)
		c.Seconds, c.FLOPs, c.Bytes = c.Seconds+u.Seconds, c.FLOPs+u.FLOPs, c.Bytes+u.Bytes
		c.JoulesAboveIdle += u.JoulesAboveIdle
		for g, b := range u.HostBusySeconds {
			if c.HostBusySeconds == nil {
				c.HostBusySeconds = map[string]float64{}
			}
			c.HostBusySeconds[g] += b
		}
		return err
	}
	if decodes > 0 {
		mean := (cachedSum + decodes/2) / decodes
		if err := run(decodes, mean, 1); err != nil {
			return StepCost{}, err
		}
	}
	for _, k := range shapes {
		if err := run(counts[k], k.cached, k.newTokens); err != nil {
			return StepCost{}, err
		}
	}
	return c, nil
}

// uniformStep executes one step in which n sequences each hold cached
// tokens and process newTokens.
func (t *Target) uniformStep(s Scheme, n, cached, newTokens int) (StepCost, error) {
	r, err := t.Step(s, n, cached, newTokens)
	if err != nil {
		return StepCost{}, err
	}
	c := StepCost{Seconds: r.Seconds, FLOPs: r.FLOPs, JoulesAboveIdle: r.JoulesAboveIdle(t.System)}
	acc := t.System.Primary().Name
	for _, u := range r.Resources {
		c.Bytes += u.Bytes
		if u.Group != "" && u.Group != acc && u.BusySeconds > 0 {
			if c.HostBusySeconds == nil {
				c.HostBusySeconds = map[string]float64{}
			}
			c.HostBusySeconds[u.Group] = max(c.HostBusySeconds[u.Group], u.BusySeconds)
		}
	}
	return c, nil
}

// Step executes one forward step of n sequences that each hold cached
// tokens and process newTokens (a prefill when cached is 0, a decode step
// when newTokens is 1) and returns its Result: Seconds is the step,
// resources, breakdown and energy cover the step alone, and Memory is the
// peak of a request that reaches cached + newTokens + 1 tokens (its
// prefill included). Batch may exceed n when a FlexGen block pads it (see
// PriceStep).
func (t *Target) Step(s Scheme, n, cached, newTokens int) (*Result, error) {
	if n < 1 || cached < 0 || newTokens < 1 {
		return nil, fmt.Errorf("offload: step of %d sequences with %d cached and %d new tokens", n, cached, newTokens)
	}
	probe := &stepProbe{cached: cached, newTokens: newTokens}
	w := Workload{Batch: n, Prompt: cached + newTokens, Output: 1, step: probe}
	if f, ok := s.(*FlexGen); ok {
		if f.Search {
			return nil, fmt.Errorf("offload: StepSeconds: resolve flexgen:search=1 into a policy first (offload.Search)")
		}
		c := *f
		k := f.NumBatches
		if k == 0 && f.GPUBatch > 0 {
			k = (n + f.GPUBatch - 1) / f.GPUBatch
		}
		k = min(max(k, 1), n)
		c.NumBatches, c.GPUBatch = k, (n+k-1)/k
		w.Batch = c.NumBatches * c.GPUBatch
		s = &c
	}
	r, err := s.Run(t, w)
	if err != nil {
		return nil, err
	}
	if !probe.done {
		return nil, fmt.Errorf("offload: %s has no per-step schedule to price a single step", s)
	}
	return r, nil
}

// Estimate runs the work of `llmsim estimate --offload`: phase "prefill"
// is one step of batch prompts of prompt tokens, "decode" one step of batch
// sequences holding context tokens, "request" the whole run (Run). tokens
// is what estimate's throughput and per-token figures count: prompt tokens
// for prefill, generated tokens otherwise.
func (t *Target) Estimate(s Scheme, phase string, batch, prompt, context, output int) (r *Result, tokens float64, err error) {
	switch phase {
	case "prefill":
		r, err = t.Step(s, batch, 0, prompt)
		tokens = float64(batch * prompt)
	case "decode":
		r, err = t.Step(s, batch, context, 1)
		tokens = float64(batch)
	case "request":
		r, err = s.Run(t, Workload{Batch: batch, Prompt: prompt, Output: output})
		tokens = float64(batch * output)
	default:
		err = fmt.Errorf("offload: unknown phase %q (want prefill, decode or request)", phase)
	}
	return r, tokens, err
}

// Busiest is the resource of r with the most busy time and what bounds the
// run through it: "link" (a host link or network), "storage" (a disk,
// flash or CSD NAND channel) or "device" (an engine: its own compute and
// memory roofline).
func (r *Result) Busiest(sys *hw.System) (ResourceUse, string) {
	var b ResourceUse
	for _, u := range r.Resources {
		if u.BusySeconds > b.BusySeconds {
			b = u
		}
	}
	if b.Group == "" {
		return b, "link"
	}
	if g := sys.Group(b.Group); g != nil {
		switch k := g.Device.Kind; {
		case k == hw.SSD || k == hw.Flash:
			return b, "storage"
		case k == hw.CSD && (strings.HasSuffix(b.Name, " read") || strings.HasSuffix(b.Name, " write")):
			return b, "storage"
		}
	}
	return b, "device"
}
