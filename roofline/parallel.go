package roofline

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// Collective algorithms of the tensor-parallel all-reduce.
const (
	CollectiveAuto = "auto" // the faster of ring and tree for each message, as NCCL's tuner picks
	CollectiveRing = "ring"
	CollectiveTree = "tree"
)

// Rows that Parallel.Step adds to a step's op table for its communication.
const (
	OpAllReduce = "allreduce"  // two per layer (after o_proj and after down)
	OpAllGather = "allgather"  // the logits, once per step on the last stage
	OpStageSend = "stage_send" // activations from one pipeline stage to the next

	// KindCollective is the kind of the communication rows.
	KindCollective models.OpKind = "collective"
	// LinkBound marks rows (and steps) whose time is spent on the link.
	LinkBound Bound = "link"
)

// Parallel is how one model instance spreads over TP × PP GPUs of a
// system: tensor parallelism (Megatron-LM) inside every layer, pipeline
// parallelism across consecutive groups of layers.
//
// Tensor parallelism splits every layer across TP GPUs: column-parallel
// GEMMs (qkv, gate_up, up, lm_head, shared experts) split their output
// features, row-parallel ones (o_proj, down) their input features,
// attention splits its heads (K/V heads are replicated when there are fewer
// of them than GPUs), routed experts, RoPE and the activation split, and
// norms, residuals, embedding and sampling are replicated. Each layer then
// needs two all-reduces of the activations (after o_proj and after down)
// and the logits one all-gather, on the link among the GPUs.
//
// Pipeline parallelism splits the layers into PP consecutive stages; the
// embedding runs on the first, the head on the last, and each stage hands
// its activations to the next over the same link.
type Parallel struct {
	TP, PP int
	// Collective is CollectiveRing, CollectiveTree or CollectiveAuto ("" is
	// auto).
	Collective string
	// Link joins the GPUs; nil only when TP = PP = 1.
	Link *hw.Link

	Layers, Hidden, Vocab, KVHeads int // of the model
	// ActivationBytes is the size of one element that the collectives and
	// the stage hand-offs move: the activation format, but at least 16
	// bits, since 8-bit GEMMs (fp8, int8 W8A8) write 16-bit outputs and
	// engines all-reduce those (TensorRT-LLM, vLLM quantize again after).
	ActivationBytes float64
}

// NewParallel describes m in precision p over tp × pp GPUs joined by link
// (degrees below 1 mean 1). CheckParallel validates the combination.
func NewParallel(m *models.Model, p models.Precision, tp, pp int, collective string, link *hw.Link) Parallel {
	return Parallel{
		TP: max(tp, 1), PP: max(pp, 1), Collective: collective, Link: link,
		Layers: m.Layers, Hidden: m.Hidden, Vocab: m.Vocab, KVHeads: m.KVHeads,
		ActivationBytes: max(p.Activations.Bytes(), 2),
	}
}

// GroupLink is the link among the devices of sys's accelerator group (NVLink
// on a DGX), or nil when it has none.
func GroupLink(sys *hw.System) *hw.Link {
	g := sys.Primary().Name
	return sys.LinkBetween(g, g)
}

// CheckParallel reports why m cannot run with tp × pp GPUs of sys's
// accelerator group, or nil.
func CheckParallel(m *models.Model, sys *hw.System, tp, pp int) []error {
	var errs []error
	tp, pp = max(tp, 1), max(pp, 1)
	group := sys.Primary()
	if m.Heads%tp != 0 {
		errs = append(errs, fmt.Errorf("tensor parallelism %d does not divide the model's %d attention heads", tp, m.Heads))
	}
	if pp > m.Layers {
		errs = append(errs, fmt.Errorf("pipeline parallelism %d exceeds the model's %d layers", pp, m.Layers))
	}
	if tp*pp > group.Count {
		errs = append(errs, fmt.Errorf("TP %d × PP %d = %d GPUs, but group %q of system %q has %d", tp, pp, tp*pp, group.Name, sys.Name, group.Count))
	}
	if (tp > 1 || pp > 1) && GroupLink(sys) == nil {
		errs = append(errs, fmt.Errorf("system %q has no link among the devices of group %q for TP/PP traffic", sys.Name, group.Name))
	}
	return errs
}

// GPUs is TP × PP.
func (p *Parallel) GPUs() int { return p.TP * p.PP }

// Shard turns g, the graph of the whole model, into one GPU's share under
// tensor parallelism (see ShardGraph).
func (p *Parallel) Shard(g *models.Graph) { ShardGraph(g, p.TP, p.KVHeads) }

// ShardGraph turns g, the graph of the whole model, into one GPU's share of
// tp-way tensor parallelism; K/V bytes split over at most kvHeads GPUs.
func ShardGraph(g *models.Graph, tp, kvHeads int) {
	if tp <= 1 {
		return
	}
	f := 1 / float64(tp)
	kvShare := 1 / float64(min(tp, max(kvHeads, 1)))
	for i := range g.Ops {
		op := &g.Ops[i]
		switch op.Name {
		case models.OpQKV, models.OpGateUp, models.OpUp, models.OpLMHead, models.OpSharedExpert:
			op.N = ceilDiv(op.N, tp)
			op.FLOPs *= f
			op.WeightBytes *= f
			op.ActivationWriteBytes *= f
		case models.OpOProj, models.OpDown:
			op.K = ceilDiv(op.K, tp)
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

// Builder wraps build so that every step it builds is one GPU's shard.
func (p *Parallel) Builder(build Builder) Builder {
	if p.TP <= 1 {
		return build
	}
	return func(g *models.Graph, seqs []models.Seq) {
		build(g, seqs)
		p.Shard(g)
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// messageBytes is one all-reduce of g's activations (tokens × hidden).
func (p *Parallel) messageBytes(g *models.Graph) float64 {
	return float64(g.Tokens) * float64(p.Hidden) * p.ActivationBytes
}

// logitBytes is the all-gathered logits of g (sequences × vocabulary).
func (p *Parallel) logitBytes(g *models.Graph) float64 {
	return float64(g.Seqs) * float64(p.Vocab) * p.ActivationBytes
}

// CommSeconds is the tensor-parallel communication of a stage of layers
// layers of g: two all-reduces of the activations per layer, and the
// logits' all-gather on the last stage.
func (p *Parallel) CommSeconds(g *models.Graph, layers int, last bool) float64 {
	if p.TP == 1 || g.Tokens == 0 {
		return 0
	}
	s := 2 * float64(layers) * p.AllReduceSeconds(p.messageBytes(g))
	if last {
		s += p.AllGatherSeconds(p.logitBytes(g))
	}
	return s
}

// AllReduceSeconds is an all-reduce of bytes over the TP GPUs.
func (p *Parallel) AllReduceSeconds(bytes float64) float64 {
	return AllReduceSeconds(p.Link, p.Collective, p.TP, bytes)
}

// AllGatherSeconds is a ring all-gather over the TP GPUs whose result is
// bytes.
func (p *Parallel) AllGatherSeconds(bytes float64) float64 {
	return AllGatherSeconds(p.Link, p.TP, bytes)
}

// SendSeconds is the hand-off of g's activations from one stage to the
// next (each of the TP GPUs sends its copy in parallel).
func (p *Parallel) SendSeconds(g *models.Graph) float64 {
	return SendSeconds(p.Link, p.messageBytes(g))
}

// AllReduceSeconds prices an all-reduce of bytes over n GPUs joined by
// link (its rate is per direction, per GPU, at the link's size curve).
// Ring: each GPU sends and receives 2(n−1)/n of the message in 2(n−1)
// latency-bound steps. Tree (NCCL's double binary tree): reduce then
// broadcast, about 2× the message per GPU but only 2⌈log2 n⌉ steps. Auto
// takes the faster, as NCCL's tuner does: trees win on small (decode)
// messages, rings on large (prefill) ones.
func AllReduceSeconds(link *hw.Link, collective string, n int, bytes float64) float64 {
	if n <= 1 {
		return 0
	}
	nf := float64(n)
	rate := link.BytesPerSecond * link.SizeCurve.At(bytes)
	lat := link.LatencySeconds
	ring := 2*(nf-1)/nf*bytes/rate + 2*(nf-1)*lat
	tree := 2*bytes/rate + 2*float64(bits.Len(uint(n-1)))*lat
	switch collective {
	case CollectiveRing:
		return ring
	case CollectiveTree:
		return tree
	}
	return math.Min(ring, tree)
}

// AllGatherSeconds prices a ring all-gather over n GPUs whose result is
// bytes: each GPU receives the n−1 shards it lacks.
func AllGatherSeconds(link *hw.Link, n int, bytes float64) float64 {
	if n <= 1 {
		return 0
	}
	nf := float64(n)
	rate := link.BytesPerSecond * link.SizeCurve.At(bytes/nf)
	return (nf-1)/nf*bytes/rate + (nf-1)*link.LatencySeconds
}

// SendSeconds is one point-to-point copy of bytes over link.
func SendSeconds(link *hw.Link, bytes float64) float64 {
	return bytes/(link.BytesPerSecond*link.SizeCurve.At(bytes)) + link.LatencySeconds
}

// StageStart is the first layer of pipeline stage s (stages differ by at
// most one layer; the later ones take the extra layers).
func (p *Parallel) StageStart(s int) int { return p.Layers * s / p.PP }

// StageLayers is the number of layers of stage s.
func (p *Parallel) StageLayers(s int) int { return p.StageStart(s+1) - p.StageStart(s) }

// StageGraph copies stage s's share of g into dst: each layered op's
// Repeat split in proportion to the stage's layers (largest remainder, so
// the stages sum to the whole), the embedding on the first stage and the
// head on the last.
func (p *Parallel) StageGraph(g, dst *models.Graph, s int) {
	dst.Ops = dst.Ops[:0]
	dst.Seqs, dst.Tokens, dst.OutputTokens = g.Seqs, g.Tokens, g.OutputTokens
	lo, hi := p.StageStart(s), p.StageStart(s+1)
	for _, op := range g.Ops {
		switch {
		case op.Layered:
			op.Repeat = op.Repeat*hi/p.Layers - op.Repeat*lo/p.Layers
		case op.Name == models.OpEmbed:
			if s != 0 {
				op.Repeat = 0
			}
		case s != p.PP-1:
			op.Repeat = 0
		}
		if op.Repeat > 0 {
			dst.Ops = append(dst.Ops, op)
		}
	}
}

// maxStageFraction is the share of the layers that the biggest stage holds.
func (p *Parallel) maxStageFraction() float64 {
	return float64(ceilDiv(p.Layers, p.PP)) / float64(p.Layers)
}

// WeightBytesPerGPU is the weights one GPU holds, stored as d: the
// biggest stage's share of the layers (embedding and head counted as if
// spread like the layers), split TP ways, except the K/V projections,
// which split over at most kv_heads GPUs (vLLM replicates K/V heads when
// TP exceeds them). Norms (under 0.01% of a model) count as split too.
func (p *Parallel) WeightBytesPerGPU(m *models.Model, d dtype.DType) float64 {
	all := m.WeightBytes(d)
	if p.TP == 1 && p.PP == 1 {
		return all
	}
	stage := p.maxStageFraction()
	w := all * stage / float64(p.TP)
	if kvSplit := min(p.TP, max(m.KVHeads, 1)); kvSplit < p.TP {
		kvProj := float64(m.Layers) * float64(m.Hidden) * 2 * float64(m.KVDim()) * models.WeightBytesPerParam(d)
		w += kvProj * stage * (1/float64(kvSplit) - 1/float64(p.TP))
	}
	return w
}

// KVBytesPerGPU is one GPU's share of a KV cache of kvBytes for the whole
// model: the biggest stage's layers, K/V heads split over at most kv_heads
// GPUs.
func (p *Parallel) KVBytesPerGPU(kvBytes float64) float64 {
	if p.TP == 1 && p.PP == 1 {
		return kvBytes
	}
	return kvBytes * p.maxStageFraction() / float64(min(p.TP, max(p.KVHeads, 1)))
}
