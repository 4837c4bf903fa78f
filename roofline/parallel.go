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
	OpAllReduce = "allreduce" // one per mixer and one per MLP (after o_proj and after down)
	// OpAllReduceSSM is Mamba's small all-reduce after x_proj.
	OpAllReduceSSM = "allreduce_ssm"
	OpAllGather    = "allgather"  // the logits, once per step on the last stage
	OpStageSend    = "stage_send" // activations from one pipeline stage to the next

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
// Recurrent mixers split the same way, as vLLM shards them: their input
// projections (ssm_in_proj, ssm_dt_proj, rwkv_rkvg, mlstm_proj, la_proj,
// conv_in, the key part of cmix_kr) are column-parallel; their output
// projections (ssm_out_proj, rwkv_o_proj, mlstm_out, la_out, conv_out,
// cmix_value) row-parallel, each closed by one all-reduce like o_proj; the
// scans, convolutions, feature maps and gated norms split by head or
// channel, their recurrent state with them. Mamba's x_proj is
// row-parallel too, with a small all-reduce of Δ rank + 2·d_state per
// token. RWKV's token-shift mixes (rwkv_mix) and the channel mix's
// receptance are replicated, and Mamba-2's B and C split over at most its
// groups. The all-reduces are counted from the step's ops, so a layer
// takes one per mixer and one per MLP, whatever its kind: an RWKV or
// Jamba layer two, a Mamba layer without an MLP one (plus x_proj's).
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

	plan       shardPlan
	stateShare float64 // of one sequence's recurrent state, per GPU
}

// NewParallel describes m in precision p over tp × pp GPUs joined by link
// (degrees below 1 mean 1). CheckParallel validates the combination.
func NewParallel(m *models.Model, p models.Precision, tp, pp int, collective string, link *hw.Link) Parallel {
	tp = max(tp, 1)
	return Parallel{
		TP: tp, PP: max(pp, 1), Collective: collective, Link: link,
		Layers: m.Layers, Hidden: m.Hidden, Vocab: m.Vocab, KVHeads: m.KVHeads,
		ActivationBytes: max(p.Activations.Bytes(), 2),
		plan:            newShardPlan(m, p, tp),
		stateShare:      stateShare(m, tp),
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
	errs = append(errs, checkMixers(m, tp)...)
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

// Shard turns g, a step of the whole model built in the precision p was
// made with, into one GPU's share under tensor parallelism.
func (p *Parallel) Shard(g *models.Graph) { p.plan.shard(g) }

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

// CommSeconds is the tensor-parallel communication of a stage's graph g
// (the stage holds layers layers): an all-reduce of the activations after
// every row-parallel mixer and MLP output of g — two per attention or
// RWKV layer, one per Mamba layer without an MLP — Mamba's small x_proj
// all-reduces, and the logits' all-gather on the last stage. The count
// comes from g's ops, which StageGraph splits like the layers, so the
// layer count is not needed.
func (p *Parallel) CommSeconds(g *models.Graph, layers int, last bool) float64 {
	if p.TP == 1 || g.Tokens == 0 {
		return 0
	}
	hidden, small, smallBytes := collectives(g, p.ActivationBytes)
	s := float64(hidden) * p.AllReduceSeconds(p.messageBytes(g))
	if small > 0 {
		s += float64(small) * p.AllReduceSeconds(smallBytes)
	}
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
// spread like the layers), split TP ways, except the weights that split
// fewer ways: the K/V projections over at most kv_heads GPUs (vLLM
// replicates K/V heads when TP exceeds them), RWKV's token-shift mixes and
// channel-mix receptance (replicated), Mamba-2's B and C projections (over
// at most its groups). Norms (under 0.01% of a model) count as split too.
func (p *Parallel) WeightBytesPerGPU(m *models.Model, d dtype.DType) float64 {
	all := m.WeightBytes(d)
	if p.TP == 1 && p.PP == 1 {
		return all
	}
	stage := p.maxStageFraction()
	w := all * stage / float64(p.TP)
	for _, n := range narrowWeights(m, p.TP) {
		if n.ways < p.TP {
			w += n.params * models.WeightBytesPerParam(d) * stage * (1/float64(n.ways) - 1/float64(p.TP))
		}
	}
	return w
}

// KVBytesPerGPU is one GPU's share of a cache whose attention K/V is
// attentionBytes and whose recurrent state is stateBytes, for the whole
// model: the biggest stage's layers, K/V heads split over at most
// kv_heads GPUs, the state split with the mixers' heads and channels
// (RWKV's token-shift vectors and Mamba-2's B/C windows split fewer ways).
func (p *Parallel) KVBytesPerGPU(attentionBytes, stateBytes float64) float64 {
	if p.TP == 1 && p.PP == 1 {
		return attentionBytes + stateBytes
	}
	share := p.stateShare
	if share == 0 { // a Parallel not made by NewParallel
		share = 1 / float64(p.TP)
	}
	kv := attentionBytes/float64(min(p.TP, max(p.KVHeads, 1))) + stateBytes*share
	return kv * p.maxStageFraction()
}
