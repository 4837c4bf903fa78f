package replica

import (
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// StepCost is the price of one iteration on a replica.
type StepCost struct {
	// OverheadSeconds is the engine's CPU time before the GPUs start.
	OverheadSeconds float64
	// StageSeconds is each pipeline stage's GPU time (one entry without
	// pipeline parallelism): roofline.StepSeconds of the stage's graph,
	// tensor-parallel collectives included.
	StageSeconds []float64
	// SendSeconds is the hand-off of activations between two stages.
	SendSeconds float64
	// FLOPs and Bytes are the work of the whole replica (all its GPUs).
	FLOPs, Bytes float64
	// JoulesAboveIdle is, under an offloading scheme, the energy every
	// device of the system draws beyond its idle power (offload.StepCost);
	// 0 otherwise.
	JoulesAboveIdle float64
	// HostBusySeconds is, under an offloading scheme, how long each group
	// of the system other than the accelerator's was busy
	// (offload.StepCost); nil otherwise. Read-only: memo entries share it.
	HostBusySeconds map[string]float64
}

// Seconds is the latency of the iteration through all stages.
func (c *StepCost) Seconds() float64 {
	s := c.OverheadSeconds + c.SendSeconds*float64(len(c.StageSeconds)-1)
	for _, st := range c.StageSeconds {
		s += st
	}
	return s
}

// Executor prices iterations. It reuses one models.Graph for every step, so
// pricing does not allocate. Steps are priced with roofline.StepSeconds on
// the graph that models builds for the batch, rewritten by the KV-cache
// scheme — the cost path of `llmsim estimate` — so a lone request costs
// exactly what the estimate says. The scheme is fixed per executor, so the
// memo's key (the batch's (cached, new) multiset) still fixes the graph.
type Executor struct {
	model   *models.Model
	scheme  kvcache.Scheme
	dev     *hw.Device
	prec    models.Precision
	opts    models.Options
	profile *Profile
	par     parallel
	// off prices iterations through an offloading scheme instead of the
	// roofline (nil without one).
	off *offloadPricer

	graph models.Graph
	stage models.Graph // scratch for one pipeline stage
	cost  StepCost
	memo  stepMemo
}

// NewExecutor prices steps for the replica that c describes (c must have
// its defaults filled in).
func NewExecutor(c *Config) *Executor {
	x := &Executor{model: c.Model, scheme: c.KV.Scheme, dev: c.Device, prec: c.Precision, opts: c.Options, profile: &c.Profile}
	if x.scheme == nil {
		x.scheme = kvcache.Full{}
	}
	x.par = newParallel(c)
	x.cost.StageSeconds = make([]float64, x.par.pp)
	if c.Offload != nil {
		x.off = &offloadPricer{target: c.offloadTarget(), scheme: c.Offload}
		// Pricing executes a task graph (~0.1-3 ms); hashing a batch's
		// shape always pays for itself.
		x.memo.awake = true
	}
	return x
}

// Err is the first iteration the executor could not price (an offloading
// scheme that refused a batch shape), or nil.
func (x *Executor) Err() error {
	if x.off == nil {
		return nil
	}
	return x.off.err
}

// Price returns the cost of one iteration over seqs. The result points
// into the executor and is valid until the next call.
func (x *Executor) Price(seqs []models.Seq) *StepCost {
	if c, ok := x.memo.lookup(seqs); ok {
		// Copy the entry but keep the executor's own stage slice: sharing
		// the memo's would let the next miss overwrite the entry.
		stages := x.cost.StageSeconds
		x.cost = *c
		x.cost.StageSeconds = append(stages[:0], c.StageSeconds...)
		return &x.cost
	}
	c := &x.cost
	if x.off != nil {
		c.OverheadSeconds = x.profile.IterationSeconds(seqs, x.model.Layers)
		c.StageSeconds[0], c.FLOPs, c.Bytes, c.JoulesAboveIdle, c.HostBusySeconds = x.off.price(seqs)
		c.SendSeconds = 0
		x.memo.store(c)
		return c
	}
	x.build(&x.graph, seqs)
	g := &x.graph
	c.OverheadSeconds = x.profile.IterationSeconds(seqs, x.model.Layers)
	if x.par.tp > 1 {
		x.par.shard(g)
	}
	flops, bytes := g.Totals()
	gpus := float64(x.par.tp)
	c.FLOPs, c.Bytes = flops*gpus, bytes*gpus
	if x.par.pp == 1 {
		c.StageSeconds[0] = x.stepSeconds(g) + x.par.commSeconds(g, x.model.Layers, true)
		c.SendSeconds = 0
	} else {
		x.priceStages(g)
	}
	x.memo.store(c)
	return c
}

// build fills g with the step over seqs: the model's graph rewritten by
// the KV-cache scheme, as estimate builds it.
func (x *Executor) build(g *models.Graph, seqs []models.Seq) {
	x.model.GraphInto(g, seqs, x.prec, x.opts)
	x.scheme.Rewrite(g, x.model, seqs, x.prec)
}

// priceStages splits g's layers over the pipeline stages and prices each
// stage's share of the graph.
func (x *Executor) priceStages(g *models.Graph) {
	c := &x.cost
	p := &x.par
	for s := 0; s < p.pp; s++ {
		p.stageGraph(g, &x.stage, s)
		last := s == p.pp-1
		c.StageSeconds[s] = x.stepSeconds(&x.stage) + p.commSeconds(&x.stage, p.stageLayers(s), last)
	}
	c.SendSeconds = p.sendSeconds(g)
}

// stepSeconds is roofline.StepSeconds of g, without the device's step
// overhead when the profile replaces it.
func (x *Executor) stepSeconds(g *models.Graph) float64 {
	s := roofline.StepSeconds(g, x.dev)
	if x.profile.ReplacesDeviceStep {
		s -= x.dev.Overhead.StepSeconds
	}
	return s
}

// PeakActivationBytes is the peak activation memory of one GPU of the
// replica for the largest step it runs: a prefill of maxTokens tokens.
func (x *Executor) PeakActivationBytes(maxTokens int) float64 {
	var g models.Graph
	x.build(&g, []models.Seq{{Cached: 0, New: maxTokens}})
	if x.par.tp > 1 {
		x.par.shard(&g)
	}
	return roofline.PeakActivationBytes(x.model, &g, x.prec)
}
