package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/models"
)

// Accelerate is Hugging Face Accelerate's big-model inference as FlexGen
// benchmarked it: decoder layers placed on one tier (gpu, cpu or disk),
// the embedding and head on the GPU, KV cache and activations on the GPU,
// the whole batch processed row by row (one layer for the whole batch,
// then the next). An offloaded module's weights are copied to the GPU when
// the module runs — from pageable host memory, or read from a memory-mapped
// file and then copied — and the compute waits for the copy: no overlap.
type Accelerate struct {
	Tier     string
	Pageable float64
}

// Zero is DeepSpeed ZeRO-Inference (ZeRO-3 parameter offload): every
// parameter lives on the CPU (pinned) or on NVMe and is fetched to the GPU
// right before its module runs; KV cache and activations stay on the GPU,
// the whole batch at once. NVMe reads run ahead of compute into a ring of
// pinned buffers (DeepSpeed aio with buffer_count); the host→GPU fetch
// itself does not overlap the compute it feeds.
type Zero struct {
	Tier string
	// Fetch is the achieved fraction of the host link's pinned rate by
	// ZeRO-3's per-parameter fetch (hooks, partition bookkeeping, a copy
	// per tensor). Default 0.65: fitted to FlexGen's measurement of
	// ZeRO-Inference on OPT-6.7B (9.28 token/s, T4); docs/OFFLOAD.md.
	Fetch float64
	// Buffers is how many units NVMe reads may run ahead of compute.
	Buffers int
}

const defaultZeroFetch = 0.65

func init() {
	register("accelerate", "HF Accelerate layer streaming without overlap: tier=gpu|cpu|disk, pageable", func(p *params) (Scheme, error) {
		return &Accelerate{Tier: p.choice("tier", "cpu", "gpu", "cpu", "disk"),
			Pageable: p.float("pageable", defaultPageable, 0.01, 1)}, nil
	})
	register("zero", "DeepSpeed ZeRO-Inference: weights on tier=cpu|nvme fetched per layer, fetch (link fraction), buffers (NVMe read-ahead)", func(p *params) (Scheme, error) {
		return &Zero{Tier: p.choice("tier", "cpu", "cpu", "nvme"),
			Fetch:   p.float("fetch", defaultZeroFetch, 0.01, 1),
			Buffers: p.int("buffers", 5, 1, 64)}, nil
	})
}

func (a *Accelerate) String() string { return "accelerate:tier=" + a.Tier }
func (z *Zero) String() string {
	return fmt.Sprintf("zero:tier=%s,fetch=%s,buffers=%d", z.Tier, num(z.Fetch), z.Buffers)
}

func (a *Accelerate) stream() *stream {
	return &stream{tier: map[string]int{"gpu": 0, "cpu": 1, "disk": 2}[a.Tier], stretch: 1 / a.Pageable}
}

func (z *Zero) stream() *stream {
	return &stream{tier: map[string]int{"cpu": 1, "nvme": 2}[z.Tier], streamAll: true, stretch: 1 / z.Fetch, diskAhead: z.Buffers}
}

// Run executes Accelerate's schedule.
func (a *Accelerate) Run(t *Target, w Workload) (*Result, error) {
	return a.stream().run(t, w, a.String())
}

// Run executes ZeRO-Inference's schedule.
func (z *Zero) Run(t *Target, w Workload) (*Result, error) { return z.stream().run(t, w, z.String()) }

// Memory sizes Accelerate's footprint without running.
func (a *Accelerate) Memory(t *Target, w Workload) ([]TierUse, error) {
	return a.stream().sizeOnly(t, w)
}

// Memory sizes ZeRO-Inference's footprint without running.
func (z *Zero) Memory(t *Target, w Workload) ([]TierUse, error) { return z.stream().sizeOnly(t, w) }

func (s *stream) sizeOnly(t *Target, w Workload) ([]TierUse, error) {
	if err := s.prepare(t, w); err != nil {
		return nil, err
	}
	return s.memory(w), nil
}

// stream is a row-by-row schedule that streams decoder units (and with
// streamAll the embedding and head too) from one tier to the GPU before
// computing each.
type stream struct {
	tier      int     // 0 GPU (nothing streamed), 1 CPU, 2 disk
	streamAll bool    // embedding and head are offloaded too
	stretch   float64 // host→GPU copies reach 1/stretch of the link rate
	diskAhead int     // disk reads may run this many units ahead of compute

	t     *Target
	n     *node
	r     nodeRes
	sz    sizes
	batch int
	ops   stepOps
	buf   []models.Seq
	fg    fgStep // unit numbering and block prices
}

func (s *stream) prepare(t *Target, w Workload) error {
	if err := w.check(); err != nil {
		return err
	}
	n, err := locateWith(t.System, s.tier >= 1, s.tier == 2)
	if err != nil {
		return err
	}
	s.t, s.n, s.sz, s.batch = t, n, t.sizes(), w.Batch
	return nil
}

func (s *stream) run(t *Target, w Workload, name string) (*Result, error) {
	if err := s.prepare(t, w); err != nil {
		return nil, err
	}
	var g Graph
	s.r = s.n.resources(&g)
	s.fg = fgStep{f: &FlexGen{}, t: t, n: s.n, r: s.r, sz: s.sz, gbs: w.Batch, ngb: 1}
	pre, dec, u := runSteps(g.Resources, w, false, s.build)
	r := &Result{Scheme: name, System: t.System.Name, Model: t.Model.Name,
		PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	r.Memory = s.memory(w)
	u.finish(r, t.System, w)
	return r, nil
}

func (s *stream) streamed(u int) bool {
	if s.tier == 0 {
		return false
	}
	return s.streamAll || (u > 0 && u < s.fg.units()-1)
}

func (s *stream) build(g *Graph, cached, newTokens int) {
	f := &s.fg
	f.cached, f.newToks = cached, newTokens
	f.prices()
	last := g.Add(Task{Resource: s.r.gpu, Seconds: s.n.gpu.Device.Overhead.StepSeconds})
	var computes []int
	for u := 0; u < f.units(); u++ {
		dep := last
		if s.streamed(u) {
			bytes := f.unitWeights(u)
			from := last
			if s.tier == 2 {
				after := last
				if s.diskAhead > 0 {
					after = -1
					if u-s.diskAhead >= 0 {
						after = computes[u-s.diskAhead]
					}
				}
				from = g.Add(Task{Resource: s.r.diskR, Bytes: bytes, Tag: TagWeights}, after)
			}
			dep = g.Add(Task{Resource: s.r.h2d, Bytes: bytes, Stretch: s.stretch, Tag: TagWeights}, from, last)
		}
		var c cost
		switch {
		case u == 0:
			c = f.embed
		case u == f.units()-1:
			c = f.head
		case f.isAttn(u):
			c = f.attnGPU
		default:
			c = f.mlp
		}
		last = g.Add(Task{Resource: s.r.gpu, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, dep, last)
		computes = append(computes, last)
	}
}

// memory: everything but the offloaded weights lives on the GPU; the GPU
// also holds the unit being streamed (and ZeRO's read-ahead buffers live
// in pinned host memory).
func (s *stream) memory(w Workload) []TierUse {
	t, sz := s.t, s.sz
	var g models.Graph
	t.build(&g, seqs(nil, w.Batch, 0, w.Prompt))
	gpu := tier(s.n.gpu)
	offloaded := 0.0
	if s.tier > 0 {
		offloaded = float64(sz.Layers) * sz.LayerWeights()
		if s.streamAll {
			offloaded = sz.Total
		}
	}
	gpu.WeightsBytes = sz.Total - offloaded
	gpu.KVBytes = float64(w.Batch) * t.kvBytes(w.Prompt+w.Output)
	gpu.ActivationBytes = peakActivations(t, &g)
	gpu.WorkingBytes = defaultGPUReserve
	if s.tier > 0 {
		gpu.WorkingBytes += 2 * sz.MaxUnit()
	}
	out := []TierUse{gpu}
	if s.n.cpu != nil && s.n.cpu != s.n.gpu {
		cpu := tier(s.n.cpu)
		if s.tier == 1 {
			cpu.WeightsBytes = offloaded
		}
		if s.tier == 2 && s.diskAhead > 0 {
			cpu.WorkingBytes = float64(s.diskAhead) * sz.MaxUnit()
		}
		out = append(out, cpu)
	}
	if s.tier == 2 {
		d := tier(s.n.disk)
		d.WeightsBytes = offloaded
		out = append(out, d)
	}
	for i := range out {
		out[i].close()
	}
	return out
}
