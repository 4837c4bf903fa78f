package main

import (
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// The analytic commands price TP × PP through roofline.Parallel, the model
// the simulator's replicas use: steps are built for the whole model and
// sharded to one GPU's share; memory is one GPU's.

// buildShard fills g with one step of the target and, under tensor
// parallelism, cuts it to one GPU's shard.
func (t *target) buildShard(g *models.Graph, seqs []models.Seq) {
	t.build(g, seqs)
	if t.par != nil {
		t.par.Shard(g)
	}
}

// step prices g, built by buildShard.
func (t *target) step(g *models.Graph) roofline.StepCost {
	if t.par == nil {
		return roofline.Step(g, t.device)
	}
	return t.par.Step(g, t.device)
}

// request prices batch requests of prompt tokens that each generate output
// tokens.
func (t *target) request(batch, prompt, output int) roofline.RequestCost {
	if t.par == nil {
		return roofline.RequestWith(t.build, t.device, batch, prompt, output)
	}
	return roofline.RequestParallel(t.build, t.device, t.par, batch, prompt, output)
}

// memory is one GPU's footprint: the weights and KV cache of batch
// sequences of tokens tokens, split as roofline.Parallel says, and the
// peak activations of g (built by buildShard).
func (t *target) memory(g *models.Graph, batch, tokens int) roofline.Footprint {
	weights, kv := t.model.WeightBytes(t.prec.Weights), t.kvBytes(batch, tokens)
	if t.par != nil {
		state := min(kv, float64(batch)*t.model.StateBytes(t.prec.KV)) // none before the first token
		weights, kv = t.par.WeightBytesPerGPU(t.model, t.prec.Weights), t.par.KVBytesPerGPU(kv-state, state)
	}
	return roofline.MemoryWith(t.model, t.device, g, weights, kv, t.prec)
}

// degrees is TP and PP (1 and 1 on one GPU).
func (t *target) degrees() (tp, pp int) {
	if t.par == nil {
		return 1, 1
	}
	return t.par.TP, t.par.PP
}

// pipelineJSON describes a step (or a request's steps) through the
// pipeline stages; present when --pp > 1.
type pipelineJSON struct {
	StageSeconds             []float64 `json:"stage_seconds"`
	SendSeconds              float64   `json:"send_seconds"`
	BubbleFraction           float64   `json:"bubble_fraction"`
	IntervalSeconds          float64   `json:"interval_seconds"`
	PipelinedTokensPerSecond float64   `json:"pipelined_tokens_per_second"`
}

// setParallel records the split and its costs: step is the step whose
// stages the output shows, interval the time per micro-batch with PP in
// flight, collective the collectives' seconds of all the work.
func (e *estimate) setParallel(t *target, step roofline.StepCost, interval, collective float64) {
	e.TP, e.PP = t.degrees()
	e.GPUs = e.TP * e.PP
	if t.par == nil {
		return
	}
	e.Link = t.par.Link.Name
	for i := range e.Ops {
		if e.Ops[i].Bound == string(roofline.LinkBound) {
			e.Ops[i].Device = e.Link
		}
	}
	e.CollectiveSeconds = collective
	if e.PP == 1 {
		return
	}
	busy := 0.0
	for _, s := range step.StageSeconds {
		busy += s
	}
	e.Pipeline = &pipelineJSON{
		StageSeconds:    step.StageSeconds,
		SendSeconds:     step.SendSeconds,
		BubbleFraction:  1 - busy/(float64(e.PP)*step.Seconds),
		IntervalSeconds: interval,
	}
	if interval > 0 {
		e.Pipeline.PipelinedTokensPerSecond = e.tokens / interval
	}
}

// setParallelRequest is setParallel for --phase request: the stages shown
// are the first decode step's (the prefill's when there is none), and
// collectives move tokens × hidden per layer whatever the context, so
// every decode step pays the first one's.
func (e *estimate) setParallelRequest(t *target, r roofline.RequestCost) {
	step, collective := r.Prefill, r.Prefill.CollectiveSeconds
	if r.Output > 1 {
		step = r.FirstDecode
		collective += float64(r.Output-1) * r.FirstDecode.CollectiveSeconds
	}
	e.setParallel(t, step, r.IntervalSeconds, collective)
}
