package offload

import (
	"fmt"

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
}

func init() {
	register("instinfer", "InstInfer in-storage attention on the system's CSDs: gbs, ngb (GPU batches pipelined against the drives), eff (engine efficiency), internal=rated|channels", func(p *params) (Scheme, error) {
		return &InstInfer{GPUBatch: p.int("gbs", 0, 1, 1<<20), NumBatches: p.int("ngb", 2, 1, 1<<16),
			Efficiency: p.float("eff", 0.8, 0.01, 1), Channels: p.choice("internal", "rated", "rated", "channels") == "channels"}, nil
	})
}

func (s *InstInfer) String() string {
	out := fmt.Sprintf("instinfer:ngb=%d,eff=%s", s.NumBatches, num(s.Efficiency))
	if s.Channels {
		out += ",internal=channels"
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
	csd.KVBytes = float64(w.Batch) * t.attnKVBytes(w.Prompt+w.Output)
	csd.close()
	r.Memory = []TierUse{gpu, csd}
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"gpu_batch": float64(gbs), "num_gpu_batches": float64(ngb), "drives": st.drives,
		"internal_bytes_per_second": st.drives * g.Resources[st.nandR].BytesPerSecond}
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
	// The new tokens' K and V of one attention layer, per drive (written
	// even where a window or budget then drops an old token).
	newKV := tokens * c.kvLayer(1) / c.drives
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
				g.Add(Task{Resource: c.nandW, Bytes: newKV, Tag: TagKV}, s)
			}
		}
		for k := 0; k < c.ngb; k++ {
			last = c.gpuTask(g, head, last)
		}
		return
	}
	core := scaled(c.engineCost(o[blockAttnCore]), c.plan.Scale) // one attention layer
	kvShard := float64(c.gbs) * c.kvLayer(cached) / c.drives
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
			g.Add(Task{Resource: c.nandW, Bytes: newKV, Tag: TagKV}, send)
			// The drive streams the next shard into its DRAM while it
			// computes the current one (double buffering).
			read := g.Add(Task{Resource: c.nandR, Bytes: kvShard, Tag: TagKV}, prevCore, prevRead)
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
