package offload

import (
	"fmt"
	"math"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// InstInfer is in-storage attention (Pan et al., "InstInfer", HPCA 2025):
// the KV cache lives in computational storage drives, sharded by KV head
// over all drives of the group; weights and every other op stay on the
// GPU. Per layer and GPU batch the GPU computes q, k, v and sends them to
// the drives peer-to-peer; each drive appends the new k, v to flash,
// streams its shard of the cache from NAND at its internal bandwidth into
// its engine, attends, and returns its heads' output to the GPU. With
// several GPU batches the GPU works on one batch while the drives attend
// another; each drive reads the next batch's shard while it computes.
// With Sparse set the engine runs SparF instead of dense attention.
type InstInfer struct {
	GPUBatch, NumBatches int
	// Efficiency is the achieved fraction of the drive engine's peak on
	// attention.
	Efficiency float64
	// Channels reads NAND at the drive's channel aggregate (channels ×
	// channel rate: an engine wired to the flash channels, InstInfer's
	// "flash-aware" engine) instead of its rated internal bandwidth (the
	// engine behind the drive's PCIe switch, as in a SmartSSD).
	Channels bool
	// Sparse, when set, is SparF's read plan; nil attends densely.
	Sparse *SparF
}

func init() {
	register("instinfer", "InstInfer in-storage attention on the system's CSDs: gbs, ngb (GPU batches pipelined against the drives), eff (engine efficiency), internal=rated|channels, sparse (SparF: fraction of the dense K+V bytes aimed at, 1 = dense), page (flash read unit in bytes, 4096), select=groups|tokens (SparF's page groups or SparQ's single tokens)", func(p *params) (Scheme, error) {
		s := &InstInfer{GPUBatch: p.int("gbs", 0, 1, 1<<20), NumBatches: p.int("ngb", 2, 1, 1<<16),
			Efficiency: p.float("eff", 0.8, 0.01, 1), Channels: p.choice("internal", "rated", "rated", "channels") == "channels"}
		ratio := p.float("sparse", 1, 1e-6, 1)
		sp := &SparF{Ratio: ratio, PageBytes: float64(p.int("page", 4096, 512, 1<<20)),
			Tokens: p.choice("select", "groups", "groups", "tokens") == "tokens"}
		if ratio < 1 {
			s.Sparse = sp
		}
		return s, nil
	})
}

func (s *InstInfer) String() string {
	out := fmt.Sprintf("instinfer:ngb=%d,eff=%s", s.NumBatches, num(s.Efficiency))
	if s.Channels {
		out += ",internal=channels"
	}
	if sp := s.Sparse; sp != nil {
		out += fmt.Sprintf(",sparse=%s,page=%s", num(sp.Ratio), num(sp.PageBytes))
		if sp.Tokens {
			out += ",select=tokens"
		}
	}
	if s.GPUBatch > 0 {
		out += fmt.Sprintf(",gbs=%d", s.GPUBatch)
	}
	return out
}

// csdNode is a system's accelerator plus its CSD group.
type csdNode struct {
	*node
	csd *hw.Group
	p2p *hw.Link
}

func locateCSD(sys *hw.System) (*csdNode, error) {
	n, err := locate(sys)
	if err != nil {
		return nil, err
	}
	c := &csdNode{node: n}
	for i := range sys.Groups {
		g := &sys.Groups[i]
		if g.Device.Kind == hw.CSD && g.Device.CSD != nil {
			if l := sys.LinkBetween(g.Name, n.gpu.Name); l != nil {
				c.csd, c.p2p = g, l
				break
			}
		}
	}
	if c.csd == nil {
		return nil, fmt.Errorf("offload: system %s has no CSD group linked to %s", sys.Name, n.gpu.Name)
	}
	return c, nil
}

// Run executes the workload.
func (s *InstInfer) Run(t *Target, w Workload) (*Result, error) {
	f := &FlexGen{GPUBatch: s.GPUBatch, NumBatches: s.NumBatches}
	if s.GPUBatch == 0 {
		f.NumBatches = s.NumBatches
	}
	gbs, ngb, err := f.batching(w)
	if err != nil {
		return nil, err
	}
	w.Batch = gbs * ngb
	if err := w.check(); err != nil {
		return nil, err
	}
	n, err := locateCSD(t.System)
	if err != nil {
		return nil, err
	}
	plan, err := newAttnLayers("instinfer", t.Model)
	if err != nil {
		return nil, err
	}
	st := &csdStep{s: s, t: t, n: n, gbs: gbs, ngb: ngb, sz: t.sizes(), drives: float64(n.csd.Count), plan: plan,
		attnLayers: float64(t.Model.AttentionLayers())}
	var g Graph
	st.addResources(&g)
	pre, dec, u := runSteps(g.Resources, w, false, st.build)
	r := &Result{Scheme: s.String(), System: t.System.Name, Model: t.Model.Name,
		PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	gpu := tier(n.gpu)
	gpu.WeightsBytes = st.sz.Total
	var pg models.Graph
	t.build(&pg, seqs(nil, gbs, 0, w.Prompt))
	gpu.ActivationBytes = peakActivations(t, &pg)
	// Two attention layers' prefill KV staged before the drives take it.
	gpu.WorkingBytes = defaultGPUReserve + 2*float64(gbs)*st.kvLayer(w.Prompt)
	// A hybrid's recurrent state stays with its mixer on the GPU; the
	// drives hold the attention layers' K and V.
	gpu.KVBytes = float64(w.Batch) * t.stateBytes()
	gpu.close()
	csd := tier(n.csd)
	csd.Tier = storageTier(n.csd.Device).Name
	csd.KVBytes = float64(w.Batch) * t.attnKVBytes(w.Prompt+w.Output) * s.Sparse.storedFactor()
	csd.close()
	r.Memory = []TierUse{gpu, csd}
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"gpu_batch": float64(gbs), "num_gpu_batches": float64(ngb), "drives": st.drives,
		"internal_bytes_per_second": st.drives * g.Resources[st.nandR].BytesPerSecond}
	if s.Sparse != nil {
		// At the last decode step's context.
		ctx := w.Prompt + w.Output - 1
		r.Extra["nand_read_fraction"] = st.sparse(ctx).readBytes / (float64(gbs) * st.kvLayer(ctx) / st.drives)
	}
	return r, nil
}

type csdStep struct {
	s        *InstInfer
	t        *Target
	n        *csdNode
	sz       sizes
	gbs, ngb int
	drives   float64
	// plan marks the attention layers; attnLayers counts them.
	plan       attnLayers
	attnLayers float64

	gpu, engine, nandR, nandW, down, up int
	ops                                 stepOps
	buf                                 []models.Seq
}

// addResources: the GPU; one engine, NAND read and write path and P2P
// link per drive, all drives in lockstep on their shards (a resource
// stands for each of the identical drives).
func (c *csdStep) addResources(g *Graph) {
	d := c.n.csd.Device
	nand := storageTier(d)
	c.gpu = g.AddResource(Resource{Name: c.n.gpu.Name, Kind: Serial, Group: c.n.gpu.Name})
	c.engine = g.AddResource(Resource{Name: c.n.csd.Name + " engine", Kind: Serial, Group: c.n.csd.Name})
	internal := d.CSD.InternalBytesPerSecond
	if c.s.Channels {
		internal = float64(d.CSD.NANDChannels) * d.CSD.ChannelBytesPerSecond
	}
	read := Resource{Name: c.n.csd.Name + " nand read", Kind: Shared, Group: c.n.csd.Name,
		BytesPerSecond: internal, LatencySeconds: nand.LatencySeconds}
	write := Resource{Name: c.n.csd.Name + " nand write", Kind: Shared, Group: c.n.csd.Name, BytesPerSecond: nand.BytesPerSecond}
	if d.Flash != nil {
		read.SizeCurve = d.Flash.ReadCurve
		if d.Flash.WriteBytesPerSecond > 0 {
			write.BytesPerSecond = d.Flash.WriteBytesPerSecond
		}
	}
	if c.s.Sparse != nil {
		// Sparse reads are page-sized; build stretches each by the curve
		// at its run length instead of at the whole shard's.
		read.SizeCurve = hw.Curve{}
	}
	c.nandR = g.AddResource(read)
	c.nandW = g.AddResource(write)
	c.down = g.AddResource(linkResource(c.n.p2p, "gpu→"+c.n.csd.Name))
	c.up = g.AddResource(linkResource(c.n.p2p, c.n.csd.Name+"→gpu"))
}

func (c *csdStep) gpuTask(g *Graph, x cost, after ...int) int {
	return g.Add(Task{Resource: c.gpu, Seconds: x.Seconds, FLOPs: x.FLOPs, Bytes: x.Bytes}, after...)
}

// engineCost prices the attention kernels on one drive's engine: its share
// of the FLOPs at the engine's peak times the efficiency (the KV bytes are
// the NAND read task).
func (c *csdStep) engineCost(ops []models.Op) cost {
	d := c.n.csd.Device
	var x cost
	for _, op := range ops {
		peak := d.DTypePeak(op.Compute)
		if peak <= 0 {
			peak = d.DTypePeak("fp16")
		}
		flops := op.FLOPs / c.drives
		x.Seconds += flops/(peak*c.s.Efficiency) + d.Overhead.KernelSeconds
		x.FLOPs += flops
	}
	return x
}

// kvLayer is one sequence's stored K and V of tokens tokens in one
// attention layer (windows and a KV-cache scheme's budget honoured).
func (c *csdStep) kvLayer(tokens int) float64 {
	return c.t.attnKVBytes(tokens) / c.attnLayers
}

// csdSparse is one attention layer's SparF work on one drive for a GPU
// batch: the NAND bytes, how much the page-sized reads stretch them, and
// the engine's selection and attention.
type csdSparse struct {
	readBytes, stretch float64
	engine             cost
}

// sparse plans SparF at context cached: the stored tokens per layer (a
// window or a KV-cache scheme's budget honoured) give each KV head's
// reads; the drive holds KVHeads/drives heads of each sequence.
func (c *csdStep) sparse(cached int) csdSparse {
	m, d := c.t.Model, c.n.csd.Device
	elem := c.t.Prec.KV.Bytes()
	tokens := c.kvLayer(cached) / (2 * float64(m.KVDim()) * elem)
	rd := c.s.Sparse.head(tokens, m.HeadDim, elem)
	seqs := float64(c.gbs) / c.drives
	out := csdSparse{readBytes: seqs * float64(m.KVHeads) * (rd.ChannelBytes + rd.TokenBytes), stretch: 1}
	if d.Flash != nil {
		out.stretch = rd.stretch(d.Flash.ReadCurve)
	}
	flops := seqs * float64(m.Heads) * rd.flops(tokens, m.HeadDim)
	peak := d.DTypePeak(c.t.Prec.KV)
	if peak <= 0 {
		peak = d.DTypePeak("fp16")
	}
	// Three kernels: approximate scores, top-k, exact attention.
	out.engine = cost{Seconds: flops/(peak*c.s.Efficiency) + 3*d.Overhead.KernelSeconds, FLOPs: flops}
	return out
}

func (c *csdStep) build(g *Graph, cached, newTokens int) {
	c.buf = seqs(c.buf, c.gbs, cached, newTokens)
	c.t.split(c.buf, &c.ops)
	gpu := c.n.gpu.Device
	o := &c.ops.ops
	m := c.t.Model
	a := c.t.Prec.Activations.Bytes()
	tokens := float64(c.gbs * newTokens)
	embed, head := priceOn(o[blockEmbed], gpu), priceOn(o[blockHead], gpu)
	pre, post := priceOn(o[blockAttnPre], gpu), priceOn(o[blockAttnPost], gpu).plus(priceOn(o[blockMLP], gpu))
	// The new tokens' K and V of one attention layer, per drive: sent once,
	// written to NAND (even where a window or budget then drops an old
	// token) with SparF's second K.
	newKV := tokens * c.kvLayer(1) / c.drives
	writeKV := newKV * c.s.Sparse.storedFactor()
	last := c.gpuTask(g, cost{Seconds: gpu.Overhead.StepSeconds})
	for k := 0; k < c.ngb; k++ {
		last = c.gpuTask(g, embed, last)
	}
	if cached == 0 {
		// Prefill on the GPU; each layer's new KV goes to the drives.
		attn := pre.plus(priceOn(o[blockAttnCore], gpu)).plus(post)
		for l := 0; l < m.Layers; l++ {
			for k := 0; k < c.ngb; k++ {
				last = c.gpuTask(g, attn, last)
				if !c.plan.At(l) {
					continue
				}
				s := g.Add(Task{Resource: c.down, Bytes: newKV, Tag: TagKV}, last)
				g.Add(Task{Resource: c.nandW, Bytes: writeKV, Tag: TagKV}, s)
			}
		}
		for k := 0; k < c.ngb; k++ {
			last = c.gpuTask(g, head, last)
		}
		return
	}
	core := scaled(c.engineCost(o[blockAttnCore]), c.plan.Scale) // one attention layer
	kvShard, stretch := float64(c.gbs)*c.kvLayer(cached)/c.drives, 1.0
	if c.s.Sparse != nil {
		sp := c.sparse(cached)
		core, kvShard, stretch = sp.engine, sp.readBytes, sp.stretch
	}
	qkv := tokens * float64(m.QDim()+2*m.KVDim()) * a / c.drives
	out := tokens * float64(m.QDim()) * a / c.drives
	prevCore, prevRead := -1, -1
	// posts[k] is batch k's latest GPU work: its next layer waits for it.
	posts := make([]int, c.ngb)
	for k := range posts {
		posts[k] = last
	}
	for l := 0; l < m.Layers; l++ {
		recvs := make([]int, c.ngb)
		for k := 0; k < c.ngb; k++ {
			p := c.gpuTask(g, pre, posts[k])
			if !c.plan.At(l) {
				recvs[k] = p // a recurrent layer: its mixer is in post, on the GPU
				continue
			}
			send := g.Add(Task{Resource: c.down, Bytes: qkv, Tag: TagActivations}, p)
			g.Add(Task{Resource: c.nandW, Bytes: writeKV, Tag: TagKV}, send)
			// The drive streams the next shard into its DRAM while it
			// computes the current one (double buffering).
			read := g.Add(Task{Resource: c.nandR, Bytes: kvShard, Stretch: stretch, Tag: TagKV}, prevCore, prevRead)
			prevRead = read
			prevCore = g.Add(Task{Resource: c.engine, Seconds: core.Seconds, FLOPs: core.FLOPs}, read, send)
			recvs[k] = g.Add(Task{Resource: c.up, Bytes: out, Tag: TagActivations}, prevCore)
		}
		for k := 0; k < c.ngb; k++ {
			posts[k] = c.gpuTask(g, post, recvs[k])
		}
	}
	for k := 0; k < c.ngb; k++ {
		c.gpuTask(g, head, posts[k])
	}
}

// SparF is InstInfer's flash-aware sparse attention, after SparQ (Ribar et
// al., ICML 2024). Per KV head and decode step the engine reads r of the
// head's d channels of K for every stored token to approximate the scores,
// keeps the top k tokens and reads their full K and V. K is stored twice
// so that both reads are contiguous: channel-major (one page holds
// PageBytes/b tokens of one channel) and token-major beside V (one page
// holds PageBytes/(d·b) tokens of one head: a page group).
//
// Ratio aims at a fraction of the dense K+V bytes and sets both reads to
// half of it: r = Ratio·d channels (S·r of SparQ's transfer S·r + 2·k·d
// over the dense 2·S·d) and k = Ratio·S/2 tokens. NAND is read in whole
// pages, so the bytes read exceed Ratio × dense where runs are short.
type SparF struct {
	Ratio     float64
	PageBytes float64
	// Tokens selects single tokens (SparQ) rather than whole page groups
	// (SparF): each selected token scattered over the cache costs a page.
	Tokens bool
}

// sparfRead is one KV head's NAND traffic of one decode step.
type sparfRead struct {
	// ChannelBytes: r channels of K over all tokens, in runs of RunBytes.
	ChannelBytes, RunBytes float64
	// TokenBytes: the selected tokens' K and V, in reads of PageReadBytes.
	TokenBytes, PageReadBytes float64
	// Channels is r; Attended the tokens whose K and V were read.
	Channels, Attended float64
}

// head plans one KV head's reads at tokens stored tokens, head dimension d
// and elemBytes per element.
func (s *SparF) head(tokens float64, d int, elemBytes float64) sparfRead {
	page := s.PageBytes
	r := math.Min(float64(d), math.Ceil(s.Ratio*float64(d)-1e-9))
	k := math.Min(tokens, math.Ceil(s.Ratio*tokens/2-1e-9))
	// Channel-major: each channel's tokens fill pages in order; a partly
	// filled last page is still a whole page to read (where it waits to
	// fill, drive DRAM or an SLC region, is not modelled).
	perPage := math.Max(1, math.Floor(page/elemBytes))
	run := math.Ceil(tokens/perPage) * page
	out := sparfRead{ChannelBytes: r * run, RunBytes: run, Channels: r}
	row := float64(d) * elemBytes
	if row >= page {
		// A token spans whole pages: read exactly the k tokens.
		pages := math.Ceil(row / page)
		out.TokenBytes, out.PageReadBytes, out.Attended = 2*k*pages*page, pages*page, k
		return out
	}
	group := math.Floor(page / row)
	pages := math.Ceil(k / group) // SparF: the top k tokens' page groups
	attended := math.Min(tokens, pages*group)
	if s.Tokens {
		// SparQ: k scattered tokens, each in its own page (a page holds
		// group tokens, so at most tokens/group distinct pages).
		pages = math.Min(k, math.Ceil(tokens/group))
		attended = k
	}
	out.TokenBytes, out.PageReadBytes, out.Attended = 2*pages*page, page, attended
	return out
}

// stretch is how much longer than their bytes at the rated rate the reads
// take on flash whose read curve gives the achieved fraction by read size.
func (r sparfRead) stretch(curve hw.Curve) float64 {
	total := r.ChannelBytes + r.TokenBytes
	if total <= 0 {
		return 1
	}
	return (r.ChannelBytes/curve.At(r.RunBytes) + r.TokenBytes/curve.At(r.PageReadBytes)) / total
}

// flops is one query head's engine arithmetic: approximate scores over r
// channels (2·S·r), a running top-k over S scores (S·log2 k comparisons,
// priced as arithmetic), exact attention over the attended tokens (4·k·d).
func (r sparfRead) flops(tokens float64, d int) float64 {
	return 2*tokens*r.Channels + tokens*math.Log2(math.Max(2, r.Attended)) + 4*r.Attended*float64(d)
}

// storedFactor is the stored (and written) K+V bytes over the dense cache:
// K twice, V once.
func (s *SparF) storedFactor() float64 {
	if s == nil {
		return 1
	}
	return 1.5
}
