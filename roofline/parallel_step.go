package roofline

import (
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// Step prices one step on the TP × PP group. g is one GPU's tensor-parallel
// shard of the whole model's step (build it with p.Builder). Each pipeline
// stage costs StepSeconds of its share of g — the device's step overhead
// included, since every stage launches its own kernels — plus its
// collectives; a micro-batch passes the stages one after another, handing
// its activations over the link in between:
//
//	Seconds = Σ stages + (PP − 1) · SendSeconds
//
// The op rows are one GPU's shard of the whole step (each op runs on the
// GPU of its stage) followed by the communication rows; FLOPs and Bytes are
// those of all TP × PP GPUs together. The simulator's executor prices an
// iteration with the same terms, so a lone request costs the same in both.
func (p *Parallel) Step(g *models.Graph, dev *hw.Device) StepCost {
	s := Step(g, dev)
	s.FLOPs *= float64(p.TP)
	s.Bytes *= float64(p.TP)
	t := p.stages(g, dev)
	s.Seconds, s.StageSeconds, s.SendSeconds, s.CollectiveSeconds = t.seconds, t.stageSeconds, t.sendSeconds, t.commSeconds
	s.IntervalSeconds = t.interval
	s.Ops = append(s.Ops, p.commOps(g)...)
	s.Bound = dominantBound(s.Ops)
	return s
}

// StepSeconds is p.Step(g, dev).Seconds without the op rows.
func (p *Parallel) StepSeconds(g *models.Graph, dev *hw.Device) float64 {
	return p.stages(g, dev).seconds
}

// stageTimes is a step through the pipeline.
type stageTimes struct {
	seconds      float64
	stageSeconds []float64
	sendSeconds  float64
	commSeconds  float64
	interval     float64
}

// stages prices g stage by stage, as the simulator's executor does.
func (p *Parallel) stages(g *models.Graph, dev *hw.Device) stageTimes {
	t := stageTimes{stageSeconds: make([]float64, p.PP)}
	if p.PP == 1 {
		t.commSeconds = p.CommSeconds(g, p.Layers, true)
		t.stageSeconds[0] = StepSeconds(g, dev) + t.commSeconds
		t.seconds, t.interval = t.stageSeconds[0], t.stageSeconds[0]
		return t
	}
	var st models.Graph
	slowest := 0.0
	for s := 0; s < p.PP; s++ {
		p.StageGraph(g, &st, s)
		comm := p.CommSeconds(&st, p.StageLayers(s), s == p.PP-1)
		t.commSeconds += comm
		t.stageSeconds[s] = StepSeconds(&st, dev) + comm
		slowest = max(slowest, t.stageSeconds[s])
	}
	t.sendSeconds = p.SendSeconds(g)
	t.seconds = t.sendSeconds * float64(p.PP-1)
	for _, s := range t.stageSeconds {
		t.seconds += s
	}
	// With PP micro-batches in flight, a stage serves one every slowest
	// stage time, but each micro-batch's next step waits for its previous
	// one (autoregression), so a round of PP steps also takes at least one
	// step's latency.
	t.interval = max(slowest, t.seconds/float64(p.PP))
	return t
}

// commOps are the communication rows of a step: the all-reduces and the
// all-gather summed over the stages, and the PP − 1 hand-offs. Bytes is the
// tensor each moves (all repeats), not main-memory traffic.
func (p *Parallel) commOps(g *models.Graph) []OpCost {
	var ops []OpCost
	if p.TP > 1 && g.Tokens > 0 {
		msg, logits := p.messageBytes(g), p.logitBytes(g)
		n, small, smallBytes := collectives(g, p.ActivationBytes)
		ops = append(ops, OpCost{Name: OpAllReduce, Kind: KindCollective, Repeat: n, Seconds: float64(n) * p.AllReduceSeconds(msg), Bytes: float64(n) * msg, Bound: LinkBound})
		if small > 0 {
			ops = append(ops, OpCost{Name: OpAllReduceSSM, Kind: KindCollective, Repeat: small, Seconds: float64(small) * p.AllReduceSeconds(smallBytes), Bytes: float64(small) * smallBytes, Bound: LinkBound})
		}
		ops = append(ops, OpCost{Name: OpAllGather, Kind: KindCollective, Repeat: 1, Seconds: p.AllGatherSeconds(logits), Bytes: logits, Bound: LinkBound})
	}
	if p.PP > 1 {
		msg := p.messageBytes(g)
		n := p.PP - 1
		ops = append(ops, OpCost{Name: OpStageSend, Kind: KindCollective, Repeat: n, Seconds: float64(n) * p.SendSeconds(g), Bytes: float64(n) * msg, Bound: LinkBound})
	}
	return ops
}

// dominantBound is the bound of the rows that take most of the time.
func dominantBound(ops []OpCost) Bound {
	by := map[Bound]float64{}
	for _, c := range ops {
		by[c.Bound] += c.Seconds
	}
	b := MemoryBound
	for _, o := range []Bound{ComputeBound, OverheadBound, LinkBound} {
		if by[o] > by[b] {
			b = o
		}
	}
	return b
}

// RequestParallel is RequestWith on the TP × PP group: build makes the
// whole model's step, every step is sharded and priced by p.Step, and
// IntervalSeconds sums the steps' pipelined intervals.
func RequestParallel(build Builder, dev *hw.Device, p *Parallel, batch, prompt, output int) RequestCost {
	gpus := float64(p.TP)
	var interval float64
	full := func(g *models.Graph) StepCost { return p.Step(g, dev) }
	fast := func(g *models.Graph) (seconds, flops, bytes float64) {
		t := p.stages(g, dev)
		interval += t.interval
		flops, bytes = g.Totals()
		return t.seconds, flops * gpus, bytes * gpus
	}
	r := request(p.Builder(build), full, fast, batch, prompt, output)
	// The prefill is priced by full only.
	r.IntervalSeconds = interval + r.Prefill.IntervalSeconds
	return r
}
