package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// Lamina offloads attention to memory-optimised devices (Chen et al.,
// 2024): the accelerator group runs every op but attention from its own
// memory (tensor-parallel over its devices, communication ignored); the
// memory group holds the whole KV cache and runs decode attention over it
// (sharded over its devices); per layer q, k, v go to the memory devices
// and attention outputs come back over the link between the groups.
// MicroBatches micro-batches rotate so that the accelerator computes one
// while the memory devices attend another.
type Lamina struct {
	MicroBatches int
}

func init() {
	register("lamina", "attention offloading to a memory-device group over a network: microbatches", func(p *params) (Scheme, error) {
		return &Lamina{MicroBatches: p.int("microbatches", 2, 1, 64)}, nil
	})
}

func (l *Lamina) String() string { return fmt.Sprintf("lamina:microbatches=%d", l.MicroBatches) }

type laminaNode struct {
	acc, mem *hw.Group
	link     *hw.Link
}

func locateLamina(sys *hw.System) (*laminaNode, error) {
	n := &laminaNode{acc: sys.Primary()}
	for i := range sys.Groups {
		g := &sys.Groups[i]
		if g.Name == n.acc.Name {
			continue
		}
		if l := sys.LinkBetween(g.Name, n.acc.Name); l != nil {
			n.mem, n.link = g, l
			break
		}
	}
	if n.mem == nil {
		return nil, fmt.Errorf("lamina: system %s has no memory-device group linked to %s", sys.Name, n.acc.Name)
	}
	return n, nil
}

// Memory sizes the footprint without running.
func (l *Lamina) Memory(t *Target, w Workload) ([]TierUse, error) {
	n, err := locateLamina(t.System)
	if err != nil {
		return nil, err
	}
	return l.memory(t, n, w), nil
}

func (l *Lamina) memory(t *Target, n *laminaNode, w Workload) []TierUse {
	acc := tier(n.acc)
	acc.WeightsBytes = t.sizes().Total
	var g models.Graph
	t.build(&g, seqs(nil, 1, 0, w.Prompt))
	acc.ActivationBytes = peakActivations(t, &g)
	acc.WorkingBytes = defaultGPUReserve
	// A hybrid's recurrent state stays with its mixer on the accelerator;
	// the memory devices hold the attention layers' K and V.
	acc.KVBytes = float64(w.Batch) * t.stateBytes()
	acc.close()
	mem := tier(n.mem)
	mem.KVBytes = float64(w.Batch) * t.attnKVBytes(w.Prompt+w.Output)
	mem.WorkingBytes = float64(n.mem.Count) * defaultGPUReserve
	mem.close()
	return []TierUse{acc, mem}
}

// Run executes the workload; prefill runs on the accelerator, its KV is
// shipped to the memory devices.
func (l *Lamina) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	if w.Batch%l.MicroBatches != 0 {
		return nil, fmt.Errorf("lamina: batch %d is not a multiple of %d micro-batches", w.Batch, l.MicroBatches)
	}
	n, err := locateLamina(t.System)
	if err != nil {
		return nil, err
	}
	m := t.Model
	plan, err := newAttnLayers("lamina", m)
	if err != nil {
		return nil, err
	}
	accDev, memDev := n.acc.Device, n.mem.Device
	A, M := float64(n.acc.Count), float64(n.mem.Count)
	var g Graph
	accR := g.AddResource(Resource{Name: n.acc.Name, Kind: Serial, Group: n.acc.Name})
	memR := g.AddResource(Resource{Name: n.mem.Name, Kind: Serial, Group: n.mem.Name})
	// Each memory device has its own link; a micro-batch's traffic is
	// spread over all of them.
	link := Resource{Name: "network", Kind: Shared, BytesPerSecond: M * n.link.BytesPerSecond, LatencySeconds: n.link.LatencySeconds}
	netR := g.AddResource(link)
	a := t.Prec.Activations.Bytes()
	var ops stepOps
	var buf []models.Seq
	div := func(c cost, k float64) cost { return cost{c.Seconds / k, c.FLOPs, c.Bytes} }
	build := func(g *Graph, cached, newTokens int) {
		S := l.MicroBatches
		sub := w.Batch / S
		if cached == 0 {
			sub, S = 1, w.Batch // prefill one sequence at a time
		}
		buf = seqs(buf, sub, cached, newTokens)
		t.split(buf, &ops)
		o := &ops.ops
		pre := div(priceOn(o[blockAttnPre], accDev), A)
		post := div(priceOn(o[blockAttnPost], accDev).plus(priceOn(o[blockMLP], accDev)), A)
		// One attention layer's kernels (the block is averaged over all
		// layers).
		attn := div(scaled(priceOn(o[blockAttnCore], memDev), plan.Scale), M)
		if cached == 0 {
			attn = div(scaled(priceOn(o[blockAttnCore], accDev), plan.Scale), A) // prefill attention stays on the accelerator
		}
		tokens := float64(sub * newTokens)
		qkv := tokens * float64(m.QDim()+2*m.KVDim()) * a
		out := tokens * float64(m.QDim()) * a
		start := g.Add(Task{Resource: accR, Seconds: accDev.Overhead.StepSeconds + priceOn(o[blockEmbed], accDev).Seconds})
		last := make([]int, S)
		for b := range last {
			last[b] = start
		}
		for layer := 0; layer < m.Layers; layer++ {
			q := make([]int, S)
			for b := 0; b < S; b++ {
				q[b] = g.Add(Task{Resource: accR, Seconds: pre.Seconds, FLOPs: pre.FLOPs}, last[b])
			}
			for b := 0; b < S; b++ {
				if !plan.At(layer) {
					// A recurrent layer: its mixer runs on the accelerator.
					last[b] = g.Add(Task{Resource: accR, Seconds: post.Seconds, FLOPs: post.FLOPs}, q[b])
					continue
				}
				send := g.Add(Task{Resource: netR, Bytes: qkv, Tag: TagActivations}, q[b])
				res := accR
				if cached > 0 {
					res = memR
				}
				at := g.Add(Task{Resource: res, Seconds: attn.Seconds, FLOPs: attn.FLOPs, Bytes: attn.Bytes}, send)
				back := g.Add(Task{Resource: netR, Bytes: out, Tag: TagActivations}, at)
				last[b] = g.Add(Task{Resource: accR, Seconds: post.Seconds, FLOPs: post.FLOPs}, back)
			}
		}
		for b := 0; b < S; b++ {
			g.Add(Task{Resource: accR, Seconds: priceOn(o[blockHead], accDev).Seconds}, last[b])
		}
	}
	pre, dec, u := runSteps(g.Resources, w, false, build)
	r := &Result{Scheme: l.String(), System: t.System.Name, Model: m.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	r.Memory = l.memory(t, n, w)
	u.finish(r, t.System, w)
	return r, nil
}
