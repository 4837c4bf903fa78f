package roofline

import (
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// RequestCost is the analytic latency of Batch identical requests that
// arrive together: one prefill step over all prompts, then Output-1 decode
// steps (the prefill step samples the first output token).
type RequestCost struct {
	Batch, Prompt, Output int

	TTFTSeconds float64 // prefill step
	TPOTSeconds float64 // mean decode step; 0 when Output <= 1
	E2ESeconds  float64 // TTFT + all decode steps

	Prefill     StepCost
	FirstDecode StepCost // decode step at context Prompt (zero when Output <= 1)
	LastDecode  StepCost // decode step at context Prompt+Output-2
	FLOPs       float64  // whole request batch
	Bytes       float64

	// IntervalSeconds is, under pipeline parallelism (RequestParallel),
	// the time per batch of requests when PP such batches are in flight:
	// the sum of the steps' StepCost.IntervalSeconds. Zero otherwise.
	IntervalSeconds float64
}

// Builder fills g with the graph of one step over seqs: the model's graph,
// then whatever rewrites the configuration applies (KV-cache scheme, tensor
// parallel sharding). estimate and simulate price steps through the same
// builders.
type Builder func(g *models.Graph, seqs []models.Seq)

// ModelBuilder builds plain model graphs.
func ModelBuilder(m *models.Model, p models.Precision, o models.Options) Builder {
	return func(g *models.Graph, seqs []models.Seq) { m.GraphInto(g, seqs, p, o) }
}

// Request prices batch requests of prompt tokens that each generate output
// tokens on dev with plain model graphs.
func Request(m *models.Model, dev *hw.Device, batch, prompt, output int, p models.Precision, o models.Options) RequestCost {
	return RequestWith(ModelBuilder(m, p, o), dev, batch, prompt, output)
}

// RequestWith prices batch requests of prompt tokens that each generate
// output tokens on dev, building each step with build. It walks every
// decode step, since attention cost grows with the context.
func RequestWith(build Builder, dev *hw.Device, batch, prompt, output int) RequestCost {
	full := func(g *models.Graph) StepCost { return Step(g, dev) }
	fast := func(g *models.Graph) (seconds, flops, bytes float64) {
		seconds = StepSeconds(g, dev)
		flops, bytes = g.Totals()
		return seconds, flops, bytes
	}
	return request(build, full, fast, batch, prompt, output)
}

// request walks the steps of the requests: full prices the prefill and
// the first and last decode steps with their op tables, fast every decode
// step's seconds, FLOPs and bytes.
func request(build Builder, full func(*models.Graph) StepCost, fast func(*models.Graph) (seconds, flops, bytes float64), batch, prompt, output int) RequestCost {
	r := RequestCost{Batch: batch, Prompt: prompt, Output: output}
	seqs := make([]models.Seq, batch)
	for i := range seqs {
		seqs[i] = models.Seq{Cached: 0, New: prompt}
	}
	var g models.Graph
	build(&g, seqs)
	r.Prefill = full(&g)
	r.TTFTSeconds = r.Prefill.Seconds
	r.E2ESeconds = r.TTFTSeconds
	r.FLOPs, r.Bytes = r.Prefill.FLOPs, r.Prefill.Bytes
	for step := 0; step < output-1; step++ {
		for i := range seqs {
			seqs[i] = models.Seq{Cached: prompt + step, New: 1}
		}
		build(&g, seqs)
		if step == 0 || step == output-2 {
			c := full(&g)
			if step == 0 {
				r.FirstDecode = c
			}
			if step == output-2 {
				r.LastDecode = c
			}
		}
		seconds, flops, bytes := fast(&g)
		r.E2ESeconds += seconds
		r.FLOPs += flops
		r.Bytes += bytes
	}
	if output > 1 {
		r.TPOTSeconds = (r.E2ESeconds - r.TTFTSeconds) / float64(output-1)
	}
	return r
}
