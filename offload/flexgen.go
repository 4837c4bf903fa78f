package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// FlexGen is the policy of FlexGen (Sheng et al., ICML 2023): fractions of
// the weights (W), KV cache (C) and activations (A) on GPU, CPU DRAM and
// disk, a zig-zag block of NumBatches GPU batches of GPUBatch sequences
// that share each loaded layer, optional attention on the CPU next to a
// CPU-resident cache, and overlap of the next layer's loads with the
// current layer's compute.
type FlexGen struct {
	W, C, A              [3]float64 // fractions on GPU, CPU, disk
	GPUBatch, NumBatches int        // 0: from the workload's batch (one GPU batch)
	CPUAttention         bool       // FlexGen --cpu (cpu_cache_compute)
	Overlap              bool
	PinWeights           bool
	// Pageable is the achieved fraction of the host link's rate by copies
	// from pageable (unpinned) memory.
	Pageable float64
	// GPUReserveBytes is GPU memory the runtime keeps (CUDA context,
	// allocator slack) on top of the device's reserve.
	GPUReserveBytes float64
	// Search replaces the placement and batching by the best policy found
	// for the workload's prompt and output (Search).
	Search bool
	// PrefillChunk > 0 sizes prefill activations for one sequence's chunk
	// of that many tokens (chunked prefill, one sequence at a time) instead
	// of a whole GPU batch's prompts.
	PrefillChunk int
	// CompressWeights and CompressCache store weight matrices and the KV
	// cache in FlexGen's group-wise 4-bit format (flexgen_comp.go).
	CompressWeights, CompressCache bool
}

// Defaults from the papers and ANCHORS.md.
const (
	// defaultPageable: a pageable copy reaches 20 of the 55 GB/s a pinned
	// one does (ANCHORS.md, H100 host→device); assumed to carry over to
	// other hosts (it is set by the host's staging memcpy).
	defaultPageable = 20.0 / 55.0
	// defaultGPUReserve: CUDA context and allocator slack of a PyTorch
	// engine, assumed 0.5 GiB.
	defaultGPUReserve = 0.5 * (1 << 30)
)

func init() {
	register("flexgen", "FlexGen placement and zig-zag block schedule: w=G/C/D,c=G/C/D,a=G/C/D (percent), gbs, ngb, cpuattn, overlap, pin, pageable, reserve, search, chunk, cw and cc (4-bit group-wise compression of weights and cache)", parseFlexGen)
}

func parseFlexGen(p *params) (Scheme, error) {
	f := &FlexGen{
		W:               p.split("w", [3]float64{1, 0, 0}),
		C:               p.split("c", [3]float64{1, 0, 0}),
		A:               p.split("a", [3]float64{1, 0, 0}),
		GPUBatch:        p.int("gbs", 0, 1, 1<<20),
		NumBatches:      p.int("ngb", 0, 1, 1<<16),
		CPUAttention:    p.bool("cpuattn", false),
		Overlap:         p.bool("overlap", true),
		PinWeights:      p.bool("pin", true),
		Pageable:        p.float("pageable", defaultPageable, 0.01, 1),
		GPUReserveBytes: p.float("reserve", defaultGPUReserve, 0, 1e15),
		Search:          p.bool("search", false),
		PrefillChunk:    p.int("chunk", 0, 0, 1<<24),
		CompressWeights: p.bool("cw", false),
		CompressCache:   p.bool("cc", false),
	}
	if p.err == nil && f.CPUAttention && f.C[0] > 0 {
		return nil, fmt.Errorf("cpuattn computes attention where the cache lives: it needs c=0/x/y (no cache on the GPU)")
	}
	if p.err == nil && f.Search && (f.CompressWeights || f.CompressCache) {
		return nil, fmt.Errorf("search explores placements of uncompressed tensors; drop cw/cc or give the policy")
	}
	return f, nil
}

func (f *FlexGen) String() string {
	if f.Search {
		return "flexgen:search=1"
	}
	s := fmt.Sprintf("flexgen:w=%s,c=%s,a=%s", pct(f.W), pct(f.C), pct(f.A))
	if f.GPUBatch > 0 {
		s += fmt.Sprintf(",gbs=%d", f.GPUBatch)
	}
	if f.NumBatches > 0 {
		s += fmt.Sprintf(",ngb=%d", f.NumBatches)
	}
	s += ",cpuattn=" + b01(f.CPUAttention) + ",overlap=" + b01(f.Overlap)
	if !f.PinWeights {
		s += ",pin=0"
	}
	if f.PrefillChunk > 0 {
		s += fmt.Sprintf(",chunk=%d", f.PrefillChunk)
	}
	if f.CompressWeights {
		s += ",cw=1"
	}
	if f.CompressCache {
		s += ",cc=1"
	}
	return s
}

// batching resolves the GPU batch size and the number of GPU batches.
func (f *FlexGen) batching(w Workload) (gbs, ngb int, err error) {
	gbs, ngb = f.GPUBatch, f.NumBatches
	switch {
	case gbs > 0 && ngb > 0:
		if w.Batch > 0 && w.Batch != gbs*ngb {
			return 0, 0, fmt.Errorf("flexgen: batch %d is not gbs × ngb = %d", w.Batch, gbs*ngb)
		}
	case gbs > 0:
		ngb = 1
		if w.Batch > 0 {
			if w.Batch%gbs != 0 {
				return 0, 0, fmt.Errorf("flexgen: batch %d is not a multiple of gbs %d", w.Batch, gbs)
			}
			ngb = w.Batch / gbs
		}
	default:
		if ngb == 0 {
			ngb = 1
		}
		if w.Batch < 1 || w.Batch%ngb != 0 {
			return 0, 0, fmt.Errorf("flexgen: batch %d is not a positive multiple of ngb %d", w.Batch, ngb)
		}
		gbs = w.Batch / ngb
	}
	return gbs, ngb, nil
}

// Run executes the policy (or the searched one) on the target.
func (f *FlexGen) Run(t *Target, w Workload) (*Result, error) {
	if f.Search {
		best, err := Search(t, w, SearchSpace{})
		if err != nil {
			return nil, err
		}
		r, err := best.run(t, w, false)
		if err != nil {
			return nil, err
		}
		r.Notes = append(r.Notes, "policy found by search: "+best.String())
		return r, nil
	}
	return f.run(t, w, false)
}

func (f *FlexGen) run(t *Target, w Workload, fast bool) (*Result, error) {
	gbs, ngb, err := f.batching(w)
	if err != nil {
		return nil, err
	}
	w.Batch = gbs * ngb
	if err := w.check(); err != nil {
		return nil, err
	}
	if err := f.checkCompression(t); err != nil {
		return nil, err
	}
	if f.CPUAttention {
		// Attention units carry the q, k, v of every layer to the host and
		// keep no recurrent state on the GPU for a hybrid's mixers.
		if err := refuseRecurrent("flexgen", "cpuattn moves every layer's attention to the host (attention-only models)", t.Model); err != nil {
			return nil, err
		}
	}
	n, err := locateWith(t.System, f.W[0] < 1 || f.C[0] < 1 || f.A[0] < 1 || f.CPUAttention, f.W[2]+f.C[2]+f.A[2] > 0)
	if err != nil {
		return nil, err
	}
	st := &fgStep{f: f, t: t, n: n, gbs: gbs, ngb: ngb, sz: t.sizes(), alloc: w.Prompt + w.Output - 1}
	var g Graph
	st.r = n.resources(&g)
	pre, dec, u := runSteps(g.Resources, w, fast, st.build)
	r := &Result{Scheme: f.String(), System: t.System.Name, Model: t.Model.Name,
		PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	r.Memory = f.memory(t, n, st.sz, gbs, ngb, w)
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"gpu_batch": float64(gbs), "num_gpu_batches": float64(ngb)}
	r.Notes = append(r.Notes, f.describe(gbs, ngb))
	return r, nil
}

// fgStep builds FlexGen's task graph of one forward step.
type fgStep struct {
	f        *FlexGen
	t        *Target
	n        *node
	r        nodeRes
	sz       sizes
	gbs, ngb int
	// alloc is the positions of the cache buffer FlexGen allocates per
	// sequence (prompt + output − 1).
	alloc int

	ops              stepOps
	cached, newToks  int
	embed, mlp, head cost
	attnGPU          cost // the whole attention block on the GPU
	pre, post        cost // GPU parts around attention computed on the CPU
	coreCPU          cost
	buf              []models.Seq
	extra            fgExtra
}

// Units of a step: 0 embedding, 2i+1 attention of layer i, 2i+2 MLP of
// layer i, 2L+1 the head (FlexGen's InputEmbed, SelfAttention, MLP,
// OutputEmbed layers).
func (s *fgStep) units() int        { return 2*s.sz.Layers + 2 }
func (s *fgStep) isAttn(u int) bool { return u%2 == 1 && u < s.units()-1 }

func (s *fgStep) unitWeights(u int) float64 {
	switch {
	case u == 0:
		return s.sz.EmbedWeights
	case u == s.units()-1:
		return s.sz.HeadStream
	case s.isAttn(u):
		return s.sz.AttnWeights
	}
	return s.sz.MLPWeights
}

func (s *fgStep) cpuAttn() bool { return s.f.CPUAttention && s.cached > 0 }

// cpuDevice is the host's device, or the accelerator's without a host.
func (s *fgStep) cpuDevice() *hw.Device {
	if s.n.cpu != nil {
		return s.n.cpu.Device
	}
	return s.n.gpu.Device
}

// prices costs the blocks of one GPU batch at this step's context.
func (s *fgStep) prices() {
	s.buf = seqs(s.buf, s.gbs, s.cached, s.newToks)
	s.t.split(s.buf, &s.ops)
	gpu, cpu := s.n.gpu.Device, s.cpuDevice()
	o := &s.ops.ops
	s.embed = priceOn(o[blockEmbed], gpu)
	s.pre = priceOn(o[blockAttnPre], gpu)
	s.post = priceOn(o[blockAttnPost], gpu)
	s.attnGPU = s.pre.plus(priceOn(o[blockAttnCore], gpu)).plus(s.post)
	s.coreCPU = priceOn(o[blockAttnCore], cpu)
	s.mlp = priceOn(o[blockMLP], gpu)
	s.head = priceOn(o[blockHead], gpu)
	s.extra = s.extras()
}

func (s *fgStep) build(g *Graph, cached, newTokens int) {
	s.cached, s.newToks = cached, newTokens
	s.prices()
	start := g.Add(Task{Resource: s.r.gpu, Seconds: s.n.gpu.Device.Overhead.StepSeconds})
	if s.f.Overlap {
		s.buildOverlapped(g, start)
	} else {
		s.buildSequential(g, start)
	}
}

// buildOverlapped is FlexGen's generation_loop_overlap: at step (u, k) it
// loads the weights of unit u+1 (k = 0), the cache and hidden state of the
// next (unit, batch), stores those of the previous one, computes (u, k),
// and synchronises before the next step.
func (s *fgStep) buildOverlapped(g *Graph, start int) {
	U, K := s.units(), s.ngb
	// Prologue: the first unit's weights and the first batch's input.
	sync := g.Barrier(s.loadWeights(g, 0, start), s.loadHidden(g, 0, start))
	for u := 0; u < U; u++ {
		for k := 0; k < K; k++ {
			var ids []int
			if k == 0 && u+1 < U {
				ids = append(ids, s.loadWeights(g, u+1, sync))
			}
			nu, _ := next(u, k, K)
			pu, pk := prev(u, k, K)
			if nu < U {
				ids = append(ids, s.loadKV(g, nu, sync), s.loadHidden(g, nu, sync))
			}
			if pk >= 0 {
				ids = append(ids, s.storeHidden(g, pu, sync), s.storeKV(g, pu, sync))
			}
			ids = append(ids, s.compute(g, u, sync))
			sync = g.Barrier(ids...)
		}
	}
	g.Barrier(s.storeHidden(g, U-1, sync), s.storeKV(g, U-1, sync))
}

// buildSequential is FlexGen's generation_loop_normal (--overlap False):
// every load, compute and store waits for the previous one.
func (s *fgStep) buildSequential(g *Graph, start int) {
	last := start
	chain := func(id int) {
		if id >= 0 {
			last = id
		}
	}
	for u := 0; u < s.units(); u++ {
		for k := 0; k < s.ngb; k++ {
			if k == 0 {
				chain(s.loadWeights(g, u, last))
			}
			chain(s.loadKV(g, u, last))
			chain(s.loadHidden(g, u, last))
			chain(s.compute(g, u, last))
			chain(s.storeHidden(g, u, last))
			chain(s.storeKV(g, u, last))
		}
	}
}

func next(u, k, K int) (int, int) {
	if k+1 < K {
		return u, k + 1
	}
	return u + 1, 0
}

func prev(u, k, K int) (int, int) {
	if k > 0 {
		return u, k - 1
	}
	if u == 0 {
		return -1, -1
	}
	return u - 1, K - 1
}

// stretch is how much slower than a pinned copy a host→GPU weight copy is.
func (s *fgStep) stretch(pinned bool) float64 {
	if pinned {
		return 1
	}
	return 1 / s.f.Pageable
}

// toGPU moves bytes from the CPU (and from disk through a pinned CPU
// buffer) to the GPU and returns the last task, or -1 when nothing moves.
func (s *fgStep) toGPU(g *Graph, cpuBytes, diskBytes float64, cpuPinned bool, tag Tag, after int) int {
	a, b := -1, -1
	if cpuBytes > 0 {
		a = g.Add(Task{Resource: s.r.h2d, Bytes: cpuBytes, Stretch: s.stretch(cpuPinned), Tag: tag}, after)
	}
	if diskBytes > 0 {
		d := g.Add(Task{Resource: s.r.diskR, Bytes: diskBytes, Tag: tag}, after)
		b = g.Add(Task{Resource: s.r.h2d, Bytes: diskBytes, Tag: tag}, d)
	}
	return join(g, a, b)
}

// fromGPU moves offBytes from the GPU to the CPU, diskBytes of them on to
// disk.
func (s *fgStep) fromGPU(g *Graph, offBytes, diskBytes float64, tag Tag, after int) int {
	if offBytes <= 0 {
		return -1
	}
	a := g.Add(Task{Resource: s.r.d2h, Bytes: offBytes, Tag: tag}, after)
	if diskBytes > 0 {
		a = g.Add(Task{Resource: s.r.diskW, Bytes: diskBytes, Tag: tag}, a)
	}
	return a
}

// join is a barrier over the tasks that exist.
func join(g *Graph, a, b int) int {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return g.Barrier(a, b)
}

func (s *fgStep) loadWeights(g *Graph, u, after int) int {
	w := s.unitWeights(u) * s.f.weightRatio()
	return s.toGPU(g, s.f.W[1]*w, s.f.W[2]*w, s.f.PinWeights, TagWeights, after)
}

// kvRead is the cache one GPU batch reads in one layer: the stored bytes at
// its context, so a budgeted KV scheme (H2O, window) moves only what it
// keeps.
func (s *fgStep) kvRead() float64 {
	if s.cached == 0 {
		return 0
	}
	return float64(s.gbs) * s.t.kvBytes(s.cached) / float64(s.sz.Layers) * s.f.kvRatio()
}

func (s *fgStep) loadKV(g *Graph, u, after int) int {
	if !s.isAttn(u) || s.cached == 0 {
		return -1
	}
	kv := s.kvRead()
	if s.cpuAttn() {
		if d := s.f.C[2] * kv; d > 0 {
			return g.Add(Task{Resource: s.r.diskR, Bytes: d, Tag: TagKV}, after)
		}
		return -1
	}
	return s.toGPU(g, s.f.C[1]*kv, s.f.C[2]*kv, true, TagKV, after)
}

func (s *fgStep) storeKV(g *Graph, u, after int) int {
	if !s.isAttn(u) {
		return -1
	}
	kv := float64(s.gbs*s.newToks) * s.sz.KVPerTokenLayer * s.f.kvRatio()
	if s.cpuAttn() {
		if d := s.f.C[2] * kv; d > 0 {
			return g.Add(Task{Resource: s.r.diskW, Bytes: d, Tag: TagKV}, after)
		}
		return -1
	}
	return s.fromGPU(g, (s.f.C[1]+s.f.C[2])*kv, s.f.C[2]*kv, TagKV, after)
}

func (s *fgStep) hidden() float64 {
	return float64(s.gbs*s.newToks) * s.sz.HiddenPerToken
}

func (s *fgStep) loadHidden(g *Graph, u, after int) int {
	h := s.hidden()
	return s.toGPU(g, s.f.A[1]*h, s.f.A[2]*h, true, TagActivations, after)
}

func (s *fgStep) storeHidden(g *Graph, u, after int) int {
	h := s.hidden()
	return s.fromGPU(g, (s.f.A[1]+s.f.A[2])*h, s.f.A[2]*h, TagActivations, after)
}

func (s *fgStep) gpuTask(g *Graph, c cost, after int) int {
	return g.Add(Task{Resource: s.r.gpu, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, after)
}

// compute runs unit u for one GPU batch. Attention next to a CPU cache
// runs on the CPU: the GPU computes q, k, v, sends them to the host, the
// CPU attends over its cache and sends the result back.
func (s *fgStep) compute(g *Graph, u, after int) int {
	switch {
	case u == 0:
		return s.gpuTask(g, s.embed.plus(s.extra.embed), after)
	case u == s.units()-1:
		return s.gpuTask(g, s.head.plus(s.extra.head), after)
	case !s.isAttn(u):
		return s.gpuTask(g, s.mlp.plus(s.extra.mlp), after)
	case !s.cpuAttn():
		return s.gpuTask(g, s.attnGPU.plus(s.extra.attn), after)
	}
	m, a := s.t.Model, s.t.Prec.Activations.Bytes()
	tokens := float64(s.gbs * s.newToks)
	id := s.gpuTask(g, s.pre.plus(s.extra.attn), after)
	toHost := tokens * float64(m.QDim()+2*m.KVDim()) * a
	if s.f.CompressCache {
		// The new keys and values also go to the host compressed, to be stored.
		toHost += tokens * s.sz.KVPerTokenLayer * s.f.kvRatio()
	}
	id = g.Add(Task{Resource: s.r.d2h, Bytes: toHost, Tag: TagActivations}, id)
	cpu := s.coreCPU.plus(s.extra.attnCPU)
	id = g.Add(Task{Resource: s.r.cpu, Seconds: cpu.Seconds, FLOPs: cpu.FLOPs, Bytes: cpu.Bytes}, id)
	id = g.Add(Task{Resource: s.r.h2d, Bytes: tokens * float64(m.QDim()) * a, Tag: TagActivations}, id)
	return s.gpuTask(g, s.post, id)
}
