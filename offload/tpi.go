package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/models"
)

// TPI is TPI-LLM (Li et al., 2024): tensor parallelism over the N devices
// of the accelerator group, each holding 1/N of every layer (heads and FFN
// columns) on its own disk and only a sliding Window of layers' shards in
// memory: a layer's shard is read from disk while earlier layers compute,
// and its memory is reused Window layers later. After the attention and the
// MLP of every layer the partial outputs are summed by a star all-reduce:
// every device sends its hidden state to the master, which adds them and
// sends the sum back — two message rounds whose fixed latency dominates on
// an edge network. The master also keeps the embedding and the head.
type TPI struct {
	Window int
	// ReserveBytes is the runtime's own memory on each device.
	ReserveBytes float64
}

func init() {
	register("tpi", "TPI-LLM: tensor parallel over the accelerator group's devices with a sliding window of layers from disk, star all-reduce: window, reserve", func(p *params) (Scheme, error) {
		return &TPI{Window: p.int("window", 4, 1, 1<<16), ReserveBytes: p.float("reserve", 0.5*(1<<30), 0, 1e15)}, nil
	})
}

func (s *TPI) String() string { return fmt.Sprintf("tpi:window=%d", s.Window) }

// Run executes the workload.
func (s *TPI) Run(t *Target, w Workload) (*Result, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	n, err := locateWith(t.System, false, true)
	if err != nil {
		return nil, err
	}
	N := float64(n.gpu.Count)
	net := t.System.LinkBetween(n.gpu.Name, n.gpu.Name)
	if N > 1 && net == nil {
		return nil, fmt.Errorf("tpi: system %s has no link among its %s devices", t.System.Name, n.gpu.Name)
	}
	sz := t.sizes()
	m := t.Model
	dev := n.gpu.Device
	var g Graph
	comp := g.AddResource(Resource{Name: n.gpu.Name, Kind: Serial, Group: n.gpu.Name})
	media := storageTier(n.disk.Device)
	disk := g.AddResource(Resource{Name: n.disk.Name + " read", Kind: Shared, Group: n.disk.Name,
		BytesPerSecond: min(media.BytesPerSecond, n.diskHost.BytesPerSecond), LatencySeconds: media.LatencySeconds})
	lan := g.AddResource(Resource{Name: "all-reduce", Kind: Serial})
	shard := sz.LayerWeights() / N
	a := t.Prec.Activations.Bytes()
	var ops stepOps
	var buf []models.Seq
	allReduce := func(tokens float64) float64 {
		if N <= 1 {
			return 0
		}
		msg := tokens * float64(m.Hidden) * a
		// Reduce into the master, then broadcast: N-1 messages each way
		// through the master's link.
		return 2 * (net.LatencySeconds + (N-1)*msg/net.BytesPerSecond)
	}
	build := func(g *Graph, cached, newTokens int) {
		buf = seqs(buf, w.Batch, cached, newTokens)
		t.split(buf, &ops)
		o := &ops.ops
		// Each device computes 1/N of a layer's matrix work.
		attn := priceOn(o[blockAttnPre], dev).plus(priceOn(o[blockAttnCore], dev)).plus(priceOn(o[blockAttnPost], dev))
		mlp := priceOn(o[blockMLP], dev)
		attn.Seconds /= N
		mlp.Seconds /= N
		ar := allReduce(float64(w.Batch * newTokens))
		last := g.Add(Task{Resource: comp, Seconds: dev.Overhead.StepSeconds + priceOn(o[blockEmbed], dev).Seconds})
		computes := make([]int, 0, m.Layers)
		loads := make([]int, m.Layers)
		for l := 0; l < m.Layers; l++ {
			// The window frees layer l-Window's memory when it finishes.
			after := -1
			if l >= s.Window {
				after = computes[l-s.Window]
			}
			prev := -1
			if l > 0 {
				prev = loads[l-1]
			}
			loads[l] = g.Add(Task{Resource: disk, Bytes: shard, Tag: TagWeights}, after, prev)
			c := g.Add(Task{Resource: comp, Seconds: attn.Seconds, FLOPs: attn.FLOPs / N}, last, loads[l])
			c = g.Add(Task{Resource: lan, Seconds: ar, Tag: TagActivations}, c)
			c = g.Add(Task{Resource: comp, Seconds: mlp.Seconds, FLOPs: mlp.FLOPs / N}, c)
			last = g.Add(Task{Resource: lan, Seconds: ar, Tag: TagActivations}, c)
			computes = append(computes, last)
		}
		head := priceOn(o[blockHead], dev)
		g.Add(Task{Resource: comp, Seconds: head.Seconds, FLOPs: head.FLOPs}, last)
	}
	pre, dec, u := runSteps(g.Resources, w, false, build)
	r := &Result{Scheme: s.String(), System: t.System.Name, Model: m.Name, PrefillSeconds: pre, DecodeSeconds: dec, FLOPs: u.totalFLOPs()}
	master := TierUse{Group: n.gpu.Name + " (master)", Device: dev.Name, Tier: dev.MainMemory().Name, CapacityBytes: dev.MainMemory().CapacityBytes}
	master.WeightsBytes = float64(min(s.Window, m.Layers))*shard + sz.EmbedWeights + sz.HeadWeights
	master.KVBytes = float64(w.Batch) * t.kvBytes(w.Prompt+w.Output) / N
	var pg models.Graph
	t.build(&pg, seqs(nil, w.Batch, 0, w.Prompt))
	master.ActivationBytes = peakActivations(t, &pg) / N
	master.WorkingBytes = s.ReserveBytes
	master.close()
	d := tier(n.disk)
	d.WeightsBytes = sz.Total
	d.close()
	r.Memory = []TierUse{master, d}
	u.finish(r, t.System, w)
	r.Extra = map[string]float64{"devices": N, "peak_memory_bytes": master.TotalBytes, "all_reduce_seconds": allReduce(1)}
	return r, nil
}
