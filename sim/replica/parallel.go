package replica

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// parallel prices tensor and pipeline parallelism inside a replica.
//
// Tensor parallelism (Megatron-LM) splits every layer across tp GPUs:
// column-parallel GEMMs (qkv, gate_up, up, lm_head) split their output
// features, row-parallel ones (o_proj, down) their input features,
// attention splits its heads (K/V heads are replicated when there are
// fewer of them than GPUs), and norms, residuals, embedding and sampling
// are replicated. Each layer then needs two all-reduces of the
// activations (after o_proj and after down), and the logits one
// all-gather, on the link among the accelerator group's GPUs.
//
// Pipeline parallelism splits the layers into pp consecutive stages; the
// embedding runs on the first, the head on the last, and each stage hands
// its activations to the next over the same link.
type parallel struct {
	tp, pp     int
	layers     int
	hidden     int
	vocab      int
	kvHeads    int
	actBytes   float64
	collective string
	link       *hw.Link // among the accelerator GPUs; nil when tp = pp = 1
}

func newParallel(c *Config) parallel {
	p := parallel{
		tp: max(c.TP, 1), pp: max(c.PP, 1),
		layers: c.Model.Layers, hidden: c.Model.Hidden, vocab: c.Model.Vocab, kvHeads: c.Model.KVHeads,
		actBytes: c.Precision.Activations.Bytes(), collective: c.Collective,
	}
	if p.tp > 1 || p.pp > 1 {
		g := c.System.Primary().Name
		p.link = c.System.LinkBetween(g, g)
	}
	return p
}

// checkParallel validates TP and PP against the model and the system.
func (c *Config) checkParallel() []error {
	var errs []error
	tp, pp := max(c.TP, 1), max(c.PP, 1)
	group := c.System.Primary()
	if c.Model.Heads%tp != 0 {
		errs = append(errs, fmt.Errorf("tensor parallelism %d does not divide the model's %d attention heads", tp, c.Model.Heads))
	}
	if pp > c.Model.Layers {
		errs = append(errs, fmt.Errorf("pipeline parallelism %d exceeds the model's %d layers", pp, c.Model.Layers))
	}
	if tp*pp > group.Count {
		errs = append(errs, fmt.Errorf("TP %d × PP %d = %d GPUs, but group %q of system %q has %d", tp, pp, tp*pp, group.Name, c.System.Name, group.Count))
	}
	if (tp > 1 || pp > 1) && c.System.LinkBetween(group.Name, group.Name) == nil {
		errs = append(errs, fmt.Errorf("system %q has no link among the devices of group %q for TP/PP traffic", c.System.Name, group.Name))
	}
	return errs
}

// shard turns g, the graph of the whole model, into one GPU's share under
// tensor parallelism.
func (p *parallel) shard(g *models.Graph) {
	f := 1 / float64(p.tp)
	kvShare := 1 / float64(min(p.tp, max(p.kvHeads, 1)))
	for i := range g.Ops {
		op := &g.Ops[i]
		switch op.Name {
		case models.OpQKV, models.OpGateUp, models.OpUp, models.OpLMHead, models.OpSharedExpert:
			op.N = ceilDiv(op.N, p.tp)
			op.FLOPs *= f
			op.WeightBytes *= f
			op.ActivationWriteBytes *= f
		case models.OpOProj, models.OpDown:
			op.K = ceilDiv(op.K, p.tp)
			op.FLOPs *= f
			op.WeightBytes *= f
			op.ActivationReadBytes *= f
		case models.OpExperts, models.OpRoPE, models.OpAct:
			op.FLOPs *= f
			op.WeightBytes *= f
			op.ActivationReadBytes *= f
			op.ActivationWriteBytes *= f
		default:
			if op.Kind == models.KindAttention {
				op.FLOPs *= f
				op.ActivationReadBytes *= f
				op.ActivationWriteBytes *= f
				op.KVReadBytes *= kvShare
				op.KVWriteBytes *= kvShare
			}
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// commSeconds is the tensor-parallel communication of a stage of layers
// layers: two all-reduces of the activations per layer, and the logits'
// all-gather on the last stage.
func (p *parallel) commSeconds(g *models.Graph, layers int, last bool) float64 {
	if p.tp == 1 || g.Tokens == 0 {
		return 0
	}
	act := float64(g.Tokens) * float64(p.hidden) * p.actBytes
	s := 2 * float64(layers) * p.allReduceSeconds(act)
	if last {
		s += p.allGatherSeconds(float64(g.Seqs) * float64(p.vocab) * p.actBytes)
	}
	return s
}

// allReduceSeconds prices an all-reduce of bytes over tp GPUs. Ring: each
// GPU sends and receives 2(p−1)/p of the message in 2(p−1) latency-bound
// steps. Tree (NCCL's double binary tree): reduce then broadcast, about
// 2× the message per GPU but only 2⌈log2 p⌉ steps. auto takes the faster,
// as NCCL's tuner does: trees win on small (decode) messages, rings on
// large (prefill) ones.
func (p *parallel) allReduceSeconds(bytes float64) float64 {
	n := float64(p.tp)
	rate := p.link.BytesPerSecond * p.link.SizeCurve.At(bytes)
	lat := p.link.LatencySeconds
	ring := 2*(n-1)/n*bytes/rate + 2*(n-1)*lat
	tree := 2*bytes/rate + 2*float64(bits.Len(uint(p.tp-1)))*lat
	switch p.collective {
	case "ring":
		return ring
	case "tree":
		return tree
	}
	return math.Min(ring, tree)
}

// allGatherSeconds prices a ring all-gather whose result is bytes.
func (p *parallel) allGatherSeconds(bytes float64) float64 {
	n := float64(p.tp)
	rate := p.link.BytesPerSecond * p.link.SizeCurve.At(bytes/n)
	return (n-1)/n*bytes/rate + (n-1)*p.link.LatencySeconds
}

// sendSeconds is the hand-off of g's activations from one stage to the
// next (each of the tp GPUs sends its copy in parallel).
func (p *parallel) sendSeconds(g *models.Graph) float64 {
	bytes := float64(g.Tokens) * float64(p.hidden) * p.actBytes
	return bytes/(p.link.BytesPerSecond*p.link.SizeCurve.At(bytes)) + p.link.LatencySeconds
}

// stageStart is the first layer of stage s (stages differ by at most one
// layer).
func (p *parallel) stageStart(s int) int { return p.layers * s / p.pp }

// stageLayers is the number of layers of stage s.
func (p *parallel) stageLayers(s int) int { return p.stageStart(s+1) - p.stageStart(s) }

// stageGraph copies stage s's share of g into dst: each layered op's
// Repeat split in proportion to the stage's layers (largest remainder, so
// the stages sum to the whole), the embedding on the first stage and the
// head on the last.
func (p *parallel) stageGraph(g, dst *models.Graph, s int) {
	dst.Ops = dst.Ops[:0]
	dst.Seqs, dst.Tokens, dst.OutputTokens = g.Seqs, g.Tokens, g.OutputTokens
	lo, hi := p.stageStart(s), p.stageStart(s+1)
	for _, op := range g.Ops {
		switch {
		case op.Layered:
			op.Repeat = op.Repeat*hi/p.layers - op.Repeat*lo/p.layers
		case op.Name == models.OpEmbed:
			if s != 0 {
				op.Repeat = 0
			}
		case s != p.pp-1:
			op.Repeat = 0
		}
		if op.Repeat > 0 {
			dst.Ops = append(dst.Ops, op)
		}
	}
}
