package offload

import (
	"fmt"
	"math"
	"strconv"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// CoE serves a Composition of Experts (SambaNova SN40L, Prabhakar et al.,
// MICRO 2024): Experts models of the target's architecture live in a
// capacity tier — the accelerators' own DDR (a second memory tier, as the
// SN40L's) or the host's DRAM across the host link (a GPU node) — and the
// one a request needs is copied into the accelerators' fast memory unless
// it is among those already there (an LRU of Resident experts; with
// uniformly random routing a request hits with probability
// Resident/Experts). The model is tensor-parallel over the accelerator
// group (ideal shards, plus an all-reduce after every sequence mixer and
// MLP block over the group's link: two per layer for a transformer).
//
// With Router, requests are taken Group at a time: a router model of the
// same architecture, always in fast memory, runs over the group's prompts
// at batch Group (prefill and the workload's output tokens), then each
// (prompt, expert) pair is copied in and served at batch 1 — the Samba-CoE
// serving loop. Without it, requests arrive in a queue whose expert is known
// on arrival. Overlap lets the next expert's copy run behind the current
// request.
type CoE struct {
	Experts int
	Overlap bool
	// Pageable copies from host DRAM (what a PyTorch engine's .to(device)
	// of CPU-held weights does) reach Pageable of the link's rate.
	Pageable float64
	// Resident is how many experts fast memory keeps; ResidentFit keeps as
	// many as fit, 0 copies every request's expert in (more experts than
	// fast memory holds, routed so that consecutive requests differ).
	Resident int
	// CopyBytesPerSecond, when > 0, is the node's rate of copying an
	// expert into fast memory, replacing the rate derived from the
	// hardware (links, pageable fraction, host memory): a paper's stated
	// node spec.
	CopyBytesPerSecond float64
	Router             bool
	Group              int
}

// ResidentFit makes CoE keep as many experts in fast memory as fit.
const ResidentFit = -1

// coeReserve is the share of fast memory kept for activations and runtime.
const coeReserve = 0.1

func init() {
	register("coe", "Composition of Experts with model switching: experts (models), resident (experts kept in fast memory: fit or a count, 0 = every request copies its expert), "+
		"copy_bytes_per_second (node copy rate into fast memory, 0 = from the hardware), pageable, overlap (copy the next expert during the current request), "+
		"router (a same-size router runs before the experts), group (prompts per router batch); batch = requests served one after another", newCoE)
}

func newCoE(p *params) (Scheme, error) {
	c := &CoE{Experts: p.int("experts", 150, 1, 1<<20), Overlap: p.bool("overlap", true),
		Pageable: p.float("pageable", defaultPageable, 0.01, 1), Resident: ResidentFit,
		CopyBytesPerSecond: p.float("copy_bytes_per_second", 0, 0, 1e15),
		Router:             p.bool("router", false), Group: p.int("group", 1, 1, 1<<16)}
	if v, ok := p.get("resident"); ok && v != "fit" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("resident: want fit or a count ≥ 0, got %q", v)
		}
		c.Resident = n
	}
	switch {
	case p.err != nil:
		return nil, p.err
	case c.Resident > c.Experts:
		return nil, fmt.Errorf("resident: %d experts kept but only %d exist", c.Resident, c.Experts)
	case c.CopyBytesPerSecond > 0 && c.CopyBytesPerSecond < 1e6:
		return nil, fmt.Errorf("copy_bytes_per_second: want 0 (from the hardware) or at least 1e6, got %g", c.CopyBytesPerSecond)
	case c.Group > 1 && !c.Router:
		return nil, fmt.Errorf("group: %d prompts per group batches only the router; set router=1", c.Group)
	}
	return c, nil
}

func (c *CoE) String() string {
	s := fmt.Sprintf("coe:experts=%d,overlap=%s", c.Experts, b01(c.Overlap))
	if c.Resident != ResidentFit {
		s += fmt.Sprintf(",resident=%d", c.Resident)
	}
	if c.CopyBytesPerSecond > 0 {
		s += ",copy_bytes_per_second=" + num(c.CopyBytesPerSecond)
	}
	if c.Router {
		s += fmt.Sprintf(",router=1,group=%d", c.Group)
	}
	return s
}

// copyRate is how fast the node copies an expert into fast memory, and the
// tier the experts are stored in.
func (c *CoE) copyRate(sys *hw.System, acc *hw.Group, modelBytes float64) (float64, TierUse, error) {
	d, n := acc.Device, float64(acc.Count)
	if len(d.Memory) > 1 {
		ddr := d.Memory[1]
		store := TierUse{Group: acc.Name, Device: d.Name, Tier: ddr.Name, CapacityBytes: n * ddr.CapacityBytes}
		return c.rateOr(n * ddr.BytesPerSecond), store, nil
	}
	host := sys.HostGroup()
	if host == nil {
		return 0, TierUse{}, fmt.Errorf("coe: %s has neither a second memory tier nor a host", sys.Name)
	}
	l := sys.LinkBetween(acc.Name, host.Name)
	if l == nil {
		return 0, TierUse{}, fmt.Errorf("coe: no link between %s and host %s", acc.Name, host.Name)
	}
	// Every accelerator copies its shard over its own link, at most as fast
	// as the host's memory delivers.
	derived := min(n*l.BytesPerSecond*l.SizeCurve.At(modelBytes/n)*c.Pageable, host.Device.MainMemory().BytesPerSecond)
	return c.rateOr(derived), tier(host), nil
}

func (c *CoE) rateOr(derived float64) float64 {
	if c.CopyBytesPerSecond > 0 {
		return c.CopyBytesPerSecond
	}
	return derived
}

// tpStepSeconds prices one step of n sequences through the TP-sharded model.
func tpStepSeconds(t *Target, g *models.Graph, n, cachedTokens, newTokens int) float64 {
	acc := t.System.Primary()
	d, shards := acc.Device, float64(acc.Count)
	t.build(g, seqs(nil, n, cachedTokens, newTokens))
	var s float64
	for i := range g.Ops {
		op := g.Ops[i]
		op.Scale(1 / shards)
		s += roofline.Cost(&op, d).Seconds
	}
	if shards > 1 {
		if l := t.System.LinkBetween(acc.Name, acc.Name); l != nil {
			msg := float64(n*newTokens*t.Model.Hidden) * t.Prec.Activations.Bytes()
			s += float64(tpAllReduces(t.Model)) * 2 * (l.LatencySeconds + msg/l.BytesPerSecond)
		}
	}
	return s + d.Overhead.StepSeconds
}

// tpGenerateSeconds prices a prefill of n prompts and their remaining output tokens.
func tpGenerateSeconds(t *Target, n int, w Workload) float64 {
	var g models.Graph
	s := tpStepSeconds(t, &g, n, 0, w.Prompt)
	for i := 0; i < w.Output-1; i++ {
		s += tpStepSeconds(t, &g, n, w.Prompt+i, 1)
	}
	return s
}

// Run serves w.Batch requests, each of w.Prompt + w.Output tokens at batch
// 1, after their group's router when there is one.
func (c *CoE) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	sys := t.System
	acc := sys.Primary()
	modelBytes := t.sizes().Total
	copyBytesPerSecond, store, err := c.copyRate(sys, acc, modelBytes)
	if err != nil {
		return nil, err
	}
	store.WeightsBytes = float64(c.Experts) * modelBytes
	store.close()
	// Fast memory holds the router and its group's KV, the served
	// request's KV, then resident experts.
	fast := tier(acc)
	group := min(c.Group, w.Batch)
	fast.KVBytes = t.kvBytes(w.Prompt + w.Output)
	var routerBytes float64
	if c.Router {
		routerBytes = modelBytes
		fast.KVBytes += float64(group) * t.kvBytes(w.Prompt+w.Output)
	}
	free := fast.CapacityBytes*(1-coeReserve) - fast.KVBytes - routerBytes
	fit := math.Floor(free / modelBytes)
	resident := max(1, min(fit, float64(c.Experts))) // the served expert at least
	if c.Resident != ResidentFit {
		if float64(c.Resident) > fit {
			return nil, fmt.Errorf("coe: resident=%d experts of %.3g GB need %.3g GB of %s's fast memory, %.3g GB free", c.Resident, modelBytes/1e9, float64(c.Resident)*modelBytes/1e9, sys.Name, free/1e9)
		}
		resident = float64(c.Resident)
	}
	hit := resident / float64(c.Experts)
	fast.WeightsBytes = max(resident, 1)*modelBytes + routerBytes
	fast.close()

	serve := tpGenerateSeconds(t, 1, w)
	switchSeconds := modelBytes / copyBytesPerSecond
	var gr Graph
	comp := gr.AddResource(Resource{Name: acc.Name, Kind: Serial, Group: acc.Name})
	load := gr.AddResource(Resource{Name: "expert copy", Kind: Serial})
	misses, last, lastLoad, routed := 0.0, -1, -1, -1
	var routerSeconds float64
	for r := 0; r < w.Batch; r++ {
		if c.Router && r%group == 0 {
			n := min(group, w.Batch-r)
			rs := tpGenerateSeconds(t, n, w)
			if n == group {
				routerSeconds = rs
			}
			routed = gr.Add(Task{Resource: comp, Seconds: rs, Bytes: modelBytes}, last)
			last = routed
		}
		// Deterministic misses at the hit rate's frequency.
		need := math.Floor(float64(r+1)*(1-hit)+1e-9) > misses
		dep := last
		if need {
			misses++
			after := last
			if c.Overlap {
				after = max(lastLoad, routed) // the copy needs only the queue (and the routing), not the current request
			}
			lastLoad = gr.Add(Task{Resource: load, Seconds: switchSeconds, Bytes: modelBytes, Tag: TagWeights}, after)
			dep = lastLoad
		}
		last = gr.Add(Task{Resource: comp, Seconds: serve}, dep, last)
	}
	run := Execute(&gr, false)
	u := newUsage(gr.Resources)
	u.add(run, 1)
	total := float64(run.MakespanNanos) / 1e9
	res := &Result{Scheme: c.String(), System: sys.Name, Model: t.Model.Name, DecodeSeconds: total}
	res.Memory = []TierUse{fast, store}
	u.finish(res, sys, Workload{Batch: w.Batch, Prompt: w.Prompt, Output: w.Output})
	res.PrefillSeconds, res.DecodeSeconds, res.Seconds = 0, total, total
	res.TokensPerSecond = w.Tokens() / total
	res.DecodeTokensPerSecond = res.TokensPerSecond
	res.Extra = map[string]float64{"switch_seconds": switchSeconds, "request_seconds": serve, "hit_rate": hit,
		"requests_per_second": float64(w.Batch) / total, "cached_experts": resident, "switches": misses,
		"copy_bytes_per_second": copyBytesPerSecond, "router_seconds": routerSeconds}
	return res, nil
}
