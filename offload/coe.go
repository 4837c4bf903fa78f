package offload

import (
	"fmt"
	"math"

	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// CoE serves a Composition of Experts (SambaNova SN40L, Prabhakar et al.,
// MICRO 2024): Experts models of the target's architecture live in a
// capacity tier — the accelerators' own DDR (a second memory tier, as the
// SN40L's) or the host's DRAM across the host link (a GPU node) — and the
// one a request needs is copied into the accelerators' fast memory unless
// it is among those already there (an LRU of as many experts as fit; with
// uniformly random routing a request hits with probability cached/Experts).
// The model is tensor-parallel over the accelerator group (ideal shards,
// plus an all-reduce after every sequence mixer and MLP block over the
// group's link: two per layer for a transformer). Requests arrive
// in a queue, so the next expert's copy overlaps the current request
// (Overlap).
type CoE struct {
	Experts int
	Overlap bool
	// Pageable copies from host DRAM (what a PyTorch engine's .to(device)
	// of CPU-held weights does) reach Pageable of the link's rate.
	Pageable float64
}

func init() {
	register("coe", "Composition of Experts with model switching: experts (models), overlap (prefetch next expert), pageable; batch = requests served one after another", func(p *params) (Scheme, error) {
		return &CoE{Experts: p.int("experts", 150, 1, 1<<20), Overlap: p.bool("overlap", true), Pageable: p.float("pageable", defaultPageable, 0.01, 1)}, nil
	})
}

func (c *CoE) String() string {
	return fmt.Sprintf("coe:experts=%d,overlap=%s", c.Experts, b01(c.Overlap))
}

// Run serves w.Batch requests, each of w.Prompt + w.Output tokens at batch
// 1, round-robin over the experts' cache behaviour.
func (c *CoE) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	sys := t.System
	acc := sys.Primary()
	d := acc.Device
	N := float64(acc.Count)
	sz := t.sizes()
	modelBytes := sz.Total
	// Where the experts live and how fast one is copied in.
	var loadBW float64
	var store TierUse
	switch {
	case len(d.Memory) > 1:
		ddr := d.Memory[1]
		loadBW = N * ddr.BytesPerSecond
		store = TierUse{Group: acc.Name, Device: d.Name, Tier: ddr.Name, CapacityBytes: N * ddr.CapacityBytes}
	default:
		host := sys.HostGroup()
		if host == nil {
			return nil, fmt.Errorf("coe: %s has neither a second memory tier nor a host", sys.Name)
		}
		l := sys.LinkBetween(acc.Name, host.Name)
		if l == nil {
			return nil, fmt.Errorf("coe: no link between %s and host %s", acc.Name, host.Name)
		}
		// Every accelerator copies its shard over its own link, at most as
		// fast as the host's memory delivers.
		loadBW = min(N*l.BytesPerSecond*l.SizeCurve.At(modelBytes/N)*c.Pageable, host.Device.MainMemory().BytesPerSecond)
		store = tier(host)
	}
	store.WeightsBytes = float64(c.Experts) * modelBytes
	store.close()
	fast := tier(acc)
	kv := t.kvBytes(w.Prompt + w.Output)
	cached := math.Floor((fast.CapacityBytes*0.9 - kv) / modelBytes) // 10% kept for activations and runtime
	cached = max(1, min(cached, float64(c.Experts)))
	hit := cached / float64(c.Experts)
	fast.WeightsBytes = cached * modelBytes
	fast.KVBytes = kv
	fast.close()
	// One token at a time through the TP-sharded model.
	var g models.Graph
	step := func(cachedTokens, newTokens int) float64 {
		t.build(&g, []models.Seq{{Cached: cachedTokens, New: newTokens}})
		var s float64
		for i := range g.Ops {
			op := g.Ops[i]
			scaleOp(&op, 1/N)
			s += roofline.Cost(&op, d).Seconds
		}
		if N > 1 {
			if l := sys.LinkBetween(acc.Name, acc.Name); l != nil {
				msg := float64(newTokens*t.Model.Hidden) * t.Prec.Activations.Bytes()
				s += float64(tpAllReduces(t.Model)) * 2 * (l.LatencySeconds + msg/l.BytesPerSecond)
			}
		}
		return s + d.Overhead.StepSeconds
	}
	serve := step(0, w.Prompt)
	for i := 0; i < w.Output-1; i++ {
		serve += step(w.Prompt+i, 1)
	}
	switchSeconds := modelBytes / loadBW
	var gr Graph
	comp := gr.AddResource(Resource{Name: acc.Name, Kind: Serial, Group: acc.Name})
	load := gr.AddResource(Resource{Name: "expert copy", Kind: Serial})
	misses, last, lastLoad := 0.0, -1, -1
	for r := 0; r < w.Batch; r++ {
		// Deterministic misses at the hit rate's frequency.
		need := math.Floor(float64(r+1)*(1-hit)+1e-9) > misses
		dep := last
		if need {
			misses++
			after := last
			if c.Overlap {
				after = lastLoad // the copy needs only the queue, not the current request
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
		"requests_per_second": float64(w.Batch) / total, "cached_experts": cached}
	return res, nil
}
