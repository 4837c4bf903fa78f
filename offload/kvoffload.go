package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/models"
)

// Memory sizes a FlexGen policy's footprint without running it.
func (f *FlexGen) Memory(t *Target, w Workload) ([]TierUse, error) {
	gbs, ngb, err := f.batching(w)
	if err != nil {
		return nil, err
	}
	w.Batch = gbs * ngb
	n, err := locate(t.System)
	if err != nil {
		return nil, err
	}
	return f.memory(t, n, t.sizes(), gbs, ngb, w), nil
}

// Retrieval is sparse attention over a KV cache offloaded to host memory:
// a small index stays on the GPU, each decode step scores it, fetches the
// selected tokens' KV from the host and attends over them.
//
//	shadowkv  ShadowKV (Sun et al., 2024): pre-RoPE keys as a rank-Rank
//	          factor on the GPU, chunk landmarks (mean keys of Chunk tokens)
//	          and outlier chunks on the GPU, values on the CPU; per step the
//	          landmarks pick Budget of the tokens, their keys are rebuilt
//	          from the factor while their values are fetched — the chunks
//	          not already on the GPU from the previous step (1 - Hit)
//	a2ats     A²ATS-style top-K retrieval: keys vector-quantised to
//	          CodeBytes per token and KV head on the GPU, the full K and V on
//	          the CPU; per step the codes score every token and the top
//	          Budget tokens' keys and values are fetched
//
// The fetch of a layer cannot start before its scores exist, so it runs
// after the layer's q and index scoring, in parallel with the key rebuild.
type Retrieval struct {
	Kind      string
	Budget    float64 // fraction of the context attended each step
	Chunk     int     // tokens per chunk (landmark, fetch unit)
	Rank      int     // rank of the key factor (shadowkv)
	CodeBytes float64 // VQ code bytes per token per KV head (a2ats)
	Outliers  float64 // fraction of the context kept in full on the GPU
	Local     int     // most recent tokens kept in full on the GPU
	Hit       float64 // fraction of selected chunks already on the GPU
	// Gather is the achieved fraction of the host link by the chunked
	// fetch (small scattered pieces).
	Gather float64
}

func init() {
	register("kvswap", "KV cache in host memory streamed to the GPU each layer (weights on GPU): overlap", func(p *params) (Scheme, error) {
		return &FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{0, 1, 0}, A: [3]float64{1, 0, 0},
			Overlap: p.bool("overlap", true), PinWeights: true, Pageable: defaultPageable, GPUReserveBytes: defaultGPUReserve}, nil
	})
	register("gpu", "everything on the accelerator (the non-offloaded baseline): chunk (prefill chunk tokens, default 4096), reserve", func(p *params) (Scheme, error) {
		return &FlexGen{W: [3]float64{1, 0, 0}, C: [3]float64{1, 0, 0}, A: [3]float64{1, 0, 0},
			Overlap: true, PinWeights: true, Pageable: defaultPageable, GPUReserveBytes: p.float("reserve", defaultGPUReserve, 0, 1e15),
			PrefillChunk: p.int("chunk", 4096, 0, 1<<24)}, nil
	})
	register("shadowkv", "ShadowKV: low-rank keys + landmarks on GPU, values on CPU: budget, chunk, rank, outliers, local, hit, gather", func(p *params) (Scheme, error) {
		return &Retrieval{Kind: "shadowkv", Budget: p.float("budget", 0.0156, 0, 1), Chunk: p.int("chunk", 8, 1, 4096),
			Rank: p.int("rank", 160, 1, 65536), Outliers: p.float("outliers", 0.003, 0, 1), Local: p.int("local", 32, 0, 1<<20),
			Hit: p.float("hit", 0.6, 0, 1), Gather: p.float("gather", 0.5, 0.01, 1)}, nil
	})
	register("a2ats", "A²ATS-style top-K retrieval: VQ key codes on GPU, K and V on CPU: budget, codebytes, local, hit, gather", func(p *params) (Scheme, error) {
		return &Retrieval{Kind: "a2ats", Budget: p.float("budget", 0.0156, 0, 1), Chunk: 1,
			CodeBytes: p.float("codebytes", 16, 0, 1<<16), Local: p.int("local", 32, 0, 1<<20),
			Hit: p.float("hit", 0, 0, 1), Gather: p.float("gather", 0.5, 0.01, 1)}, nil
	})
}

func (r *Retrieval) String() string {
	if r.Kind == "a2ats" {
		return fmt.Sprintf("a2ats:budget=%s,codebytes=%s,local=%d,hit=%s,gather=%s", num(r.Budget), num(r.CodeBytes), r.Local, num(r.Hit), num(r.Gather))
	}
	return fmt.Sprintf("shadowkv:budget=%s,chunk=%d,rank=%d,outliers=%s,local=%d,hit=%s,gather=%s",
		num(r.Budget), r.Chunk, r.Rank, num(r.Outliers), r.Local, num(r.Hit), num(r.Gather))
}

// selected is the tokens attended per step at a context of n tokens.
func (r *Retrieval) selected(n int) int {
	k := int(r.Budget*float64(n)+0.5) + r.Local + int(r.Outliers*float64(n)+0.5)
	return min(n, k)
}

// gpuBytesPerSeq is the index and working set one sequence keeps on the
// GPU at n tokens; hostBytesPerSeq what it keeps in host memory.
func (r *Retrieval) gpuBytesPerSeq(m *models.Model, kvBytes float64, n int) float64 {
	L, kv := float64(m.AttentionLayers()), float64(m.KVDim())
	tokens := float64(n)
	var b float64
	if r.Kind == "shadowkv" {
		b += tokens * float64(r.Rank) * kvBytes       // key factor U
		b += float64(r.Rank) * kv * kvBytes           // S·V of the factorisation
		b += tokens / float64(r.Chunk) * kv * kvBytes // landmarks
		b += r.Outliers * tokens * 2 * kv * kvBytes   // outlier chunks, K and V
	} else {
		b += tokens * float64(m.KVHeads) * r.CodeBytes // VQ codes
	}
	b += float64(r.Local) * 2 * kv * kvBytes  // recent window
	b += r.Budget * tokens * 2 * kv * kvBytes // the selected tokens' K and V
	return L * b
}

func (r *Retrieval) hostBytesPerSeq(m *models.Model, kvBytes float64, n int) float64 {
	parts := 1.0 // values
	if r.Kind == "a2ats" {
		parts = 2
	}
	return float64(m.AttentionLayers()) * float64(n) * parts * float64(m.KVDim()) * kvBytes
}

// Memory sizes the footprint without running.
func (r *Retrieval) Memory(t *Target, w Workload) ([]TierUse, error) {
	n, err := locateWith(t.System, true, false)
	if err != nil {
		return nil, err
	}
	return r.memory(t, n, w), nil
}

func (r *Retrieval) memory(t *Target, n *node, w Workload) []TierUse {
	m, kvb := t.Model, t.Prec.KV.Bytes()
	ctx := w.Prompt + w.Output
	var g models.Graph
	t.build(&g, seqs(nil, 1, 0, w.Prompt))
	gpu := tier(n.gpu)
	gpu.WeightsBytes = t.sizes().Total
	// Recurrent layers' constant state stays on the GPU.
	gpu.KVBytes = float64(w.Batch) * (r.gpuBytesPerSeq(m, kvb, ctx) + m.StateBytes(t.Prec.KV))
	// Prefill runs one sequence at a time (its full KV for one layer is
	// then factored and offloaded).
	gpu.ActivationBytes = peakActivations(t, &g)
	gpu.WorkingBytes = defaultGPUReserve + float64(w.Prompt)*2*float64(m.KVDim())*kvb
	cpu := tier(n.cpu)
	cpu.KVBytes = float64(w.Batch) * r.hostBytesPerSeq(m, kvb, ctx)
	gpu.close()
	cpu.close()
	return []TierUse{gpu, cpu}
}

// Run executes the decode steps of the workload (prefill is priced as a
// plain GPU prefill, one sequence at a time, plus the offload of its
// values).
func (r *Retrieval) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	n, err := locateWith(t.System, true, false)
	if err != nil {
		return nil, err
	}
	if t.Model.AttentionLayers() == 0 {
		return nil, fmt.Errorf("%s: model %s has no attention layers whose KV cache it could retrieve from", r.Kind, t.Model.Name)
	}
	st := &retrievalStep{r: r, t: t, n: n, batch: w.Batch}
	var g Graph
	st.res = n.resources(&g)
	pre, dec, u := runSteps(g.Resources, w, false, st.build)
	res := &Result{Scheme: r.String(), System: t.System.Name, Model: t.Model.Name,
		PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	res.Memory = r.memory(t, n, w)
	u.finish(res, t.System, w)
	ctx := w.Prompt + w.Output/2
	res.Extra = map[string]float64{"selected_tokens": float64(r.selected(ctx)),
		"fetch_bytes_per_step": st.fetchBytes(ctx) * float64(t.Model.AttentionLayers())}
	return res, nil
}

type retrievalStep struct {
	r     *Retrieval
	t     *Target
	n     *node
	res   nodeRes
	batch int
	ops   stepOps
	buf   []models.Seq
}

// fetchBytes is one layer's host→GPU traffic for the whole batch.
func (s *retrievalStep) fetchBytes(ctx int) float64 {
	m := s.t.Model
	parts := 1.0
	if s.r.Kind == "a2ats" {
		parts = 2
	}
	return float64(s.batch) * (1 - s.r.Hit) * s.r.Budget * float64(ctx) * parts * float64(m.KVDim()) * s.t.Prec.KV.Bytes()
}

func (s *retrievalStep) build(g *Graph, cached, newTokens int) {
	dev := s.n.gpu.Device
	m := s.t.Model
	kvb := s.t.Prec.KV.Bytes()
	gpu := func(c cost, after ...int) int {
		return g.Add(Task{Resource: s.res.gpu, Seconds: c.Seconds, FLOPs: c.FLOPs, Bytes: c.Bytes}, after...)
	}
	last := gpu(cost{Seconds: dev.Overhead.StepSeconds})
	if newTokens > 1 || cached == 0 {
		// Prefill: sequences one after another on the GPU, each layer's
		// values copied to the host as they are produced.
		s.buf = seqs(s.buf, 1, cached, newTokens)
		s.t.split(s.buf, &s.ops)
		c := s.blockCost()
		off := float64(newTokens) * float64(m.KVDim()) * kvb * float64(m.AttentionLayers())
		for i := 0; i < s.batch; i++ {
			last = gpu(c, last)
			g.Add(Task{Resource: s.res.d2h, Bytes: off, Tag: TagKV}, last)
		}
		return
	}
	// Decode: attention over the selected tokens only.
	sel := s.r.selected(cached)
	s.buf = seqs(s.buf, s.batch, sel, 1)
	s.t.split(s.buf, &s.ops)
	o := &s.ops.ops
	embed, head := priceOn(o[blockEmbed], dev), priceOn(o[blockHead], dev)
	pre, core, post := priceOn(o[blockAttnPre], dev), priceOn(o[blockAttnCore], dev), priceOn(o[blockAttnPost], dev)
	mlp := priceOn(o[blockMLP], dev)
	score, rebuild := s.indexCosts(cached)
	fetch := s.fetchBytes(cached)
	last = gpu(embed, last)
	kinds := m.LayerKinds()
	for l := 0; l < m.Layers; l++ {
		if kinds[l] != byte(models.LayerAttention) {
			// A recurrent layer has no KV cache to retrieve from.
			last = gpu(pre.plus(core).plus(post).plus(mlp), last)
			continue
		}
		q := gpu(pre.plus(score), last)
		f := -1
		if fetch > 0 {
			f = g.Add(Task{Resource: s.res.h2d, Bytes: fetch, Stretch: 1 / s.r.Gather, Tag: TagKV}, q)
		}
		k := q
		if rebuild.Seconds > 0 {
			k = gpu(rebuild, q)
		}
		last = gpu(core.plus(post).plus(mlp), k, f)
		// The new token's value goes to the host.
		g.Add(Task{Resource: s.res.d2h, Bytes: float64(s.batch) * float64(m.KVDim()) * kvb, Tag: TagKV}, last)
	}
	gpu(head, last)
}

func (s *retrievalStep) blockCost() cost {
	d := s.n.gpu.Device
	var c cost
	o := &s.ops.ops
	for b := range o {
		layers := 1.0
		if block(b) != blockEmbed && block(b) != blockHead {
			layers = float64(s.t.Model.Layers)
		}
		bc := priceOn(o[b], d)
		c = c.plus(cost{bc.Seconds * layers, bc.FLOPs * layers, bc.Bytes * layers})
	}
	return c
}

// indexCosts prices one layer's index scoring (landmarks or VQ codes over
// the whole context) and, for ShadowKV, the rebuild of the selected keys
// from the factor, for the whole batch.
func (s *retrievalStep) indexCosts(ctx int) (score, rebuild cost) {
	m, dev := s.t.Model, s.n.gpu.Device
	kvb := s.t.Prec.KV.Bytes()
	b, n := float64(s.batch), float64(ctx)
	heads, hd := float64(m.Heads), float64(m.HeadDim)
	var op models.Op
	if s.r.Kind == "shadowkv" {
		chunks := n / float64(s.r.Chunk)
		op = models.Op{Name: "landmark_score", Kind: models.KindAttention, Repeat: 1,
			FLOPs: b * 2 * heads * hd * chunks, KVReadBytes: b * chunks * float64(m.KVDim()) * kvb, Compute: s.t.Prec.Activations}
		sel := float64(s.r.selected(ctx))
		r := float64(s.r.Rank)
		rb := models.Op{Name: "key_rebuild", Kind: models.KindGEMM, Repeat: 1, M: int(sel), N: m.KVDim(), K: s.r.Rank,
			FLOPs: b * 2 * sel * r * float64(m.KVDim()), KVReadBytes: b * sel * r * kvb, ActivationWriteBytes: b * sel * float64(m.KVDim()) * kvb,
			Compute: s.t.Prec.Activations}
		rebuild = price([]models.Op{rb}, dev, dev.MainMemory().BytesPerSecond)
	} else {
		// Lookup-table scoring: one add per code byte per query head group.
		op = models.Op{Name: "vq_score", Kind: models.KindAttention, Repeat: 1,
			FLOPs: b * 2 * heads * n * s.r.CodeBytes, KVReadBytes: b * n * float64(m.KVHeads) * s.r.CodeBytes, Compute: s.t.Prec.Activations}
	}
	score = price([]models.Op{op}, dev, dev.MainMemory().BytesPerSecond)
	return score, rebuild
}
