package replica

import (
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// parallel prices tensor and pipeline parallelism inside a replica with
// roofline.Parallel — the sharding, collectives and stage split that
// `llmsim estimate --tp/--pp` uses — so a replica and the estimate price
// the same step the same way. This file only adapts it to the executor.
type parallel struct {
	roofline.Parallel
	tp, pp int
}

func newParallel(c *Config) parallel {
	var link = roofline.GroupLink(c.System)
	if max(c.TP, 1) == 1 && max(c.PP, 1) == 1 {
		link = nil
	}
	p := roofline.NewParallel(c.Model, c.Precision, c.TP, c.PP, c.Collective, link)
	return parallel{Parallel: p, tp: p.TP, pp: p.PP}
}

// checkParallel validates TP and PP against the model and the system.
func (c *Config) checkParallel() []error {
	return roofline.CheckParallel(c.Model, c.System, c.TP, c.PP)
}

// shard turns g, the graph of the whole model, into one GPU's share under
// tensor parallelism.
func (p *parallel) shard(g *models.Graph) { p.Shard(g) }

// commSeconds is the tensor-parallel communication of a stage of layers
// layers: two all-reduces of the activations per layer, and the logits'
// all-gather on the last stage.
func (p *parallel) commSeconds(g *models.Graph, layers int, last bool) float64 {
	return p.CommSeconds(g, layers, last)
}

// sendSeconds is the hand-off of g's activations from one stage to the
// next.
func (p *parallel) sendSeconds(g *models.Graph) float64 { return p.SendSeconds(g) }

// stageLayers is the number of layers of stage s.
func (p *parallel) stageLayers(s int) int { return p.StageLayers(s) }

// stageGraph copies stage s's share of g into dst.
func (p *parallel) stageGraph(g, dst *models.Graph, s int) { p.StageGraph(g, dst, s) }
