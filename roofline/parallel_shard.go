package roofline

import (
	"fmt"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// shardPlan is what tp-way tensor parallelism does to the ops of one model
// (Megatron-LM's split, extended to the recurrent mixers as vLLM shards
// them: MambaMixer, MambaMixer2, the RWKV and linear-attention layers).
type shardPlan struct {
	tp int
	// kvSplit is the number of GPUs the K/V heads split over: at most
	// kv_heads (vLLM replicates K/V heads beyond that).
	kvSplit int
	// weightBytes and actBytes are the element sizes of the graphs the
	// plan shards (the model's resolved precision).
	weightBytes, actBytes float64
	intermediate          int
	// Mamba layers: version, d_inner and d_state; bcWidth is Mamba-2's
	// 2·groups·d_state B and C channels, which split over bcSplit =
	// min(groups, tp) GPUs (with fewer groups than GPUs each GPU keeps the
	// group its heads read, a copy of it).
	mambaVersion, mambaInner, dState int
	bcWidth, bcSplit                 int
}

func newShardPlan(m *models.Model, p models.Precision, tp int) shardPlan {
	p = m.Resolve(p)
	s := shardPlan{
		tp: max(tp, 1), kvSplit: min(max(tp, 1), max(m.KVHeads, 1)),
		weightBytes: models.WeightBytesPerParam(p.Weights), actBytes: p.Activations.Bytes(),
		intermediate: m.Intermediate,
	}
	if e := m.Mamba; e != nil {
		s.mambaVersion, s.mambaInner, s.dState = e.Version, e.Expand*m.Hidden, e.DState
		if e.Version == 2 {
			s.bcWidth, s.bcSplit = 2*e.Groups*e.DState, min(s.tp, max(e.Groups, 1))
		}
	}
	return s
}

// ShardGraph turns g, a step of the whole model m built in precision p,
// into one GPU's share of tp-way tensor parallelism. See Parallel for the
// rules.
func ShardGraph(g *models.Graph, m *models.Model, p models.Precision, tp int) {
	s := newShardPlan(m, p, tp)
	s.shard(g)
}

// Op names by how tensor parallelism splits them.
var (
	// Column-parallel GEMMs split their output features N.
	columnOps = names(models.OpQKV, models.OpGateUp, models.OpUp, models.OpLMHead, models.OpSharedExpert,
		models.OpSSMDTProj, models.OpRWKVProj, models.OpMLSTMProj, models.OpLAProj, models.OpConvIn)
	// Row-parallel GEMMs split their input features K; their partial sums
	// are all-reduced (hidden wide).
	rowOps = names(models.OpOProj, models.OpDown, models.OpSSMOutProj, models.OpRWKVOut,
		models.OpCMixValue, models.OpMLSTMOut, models.OpLAOut, models.OpConvOut)
	// Ops split by head or channel: work, activations and recurrent state.
	channelOps = names(models.OpSSMNorm, models.OpRWKVWKV, models.OpRWKVNorm, models.OpMLSTMCell,
		models.OpMLSTMNorm, models.OpLAFeature, models.OpLAScan, models.OpConvShort)
)

func names(ns ...string) map[string]bool {
	set := make(map[string]bool, len(ns))
	for _, n := range ns {
		set[n] = true
	}
	return set
}

// allReduceOps are the row-parallel ops that end in an all-reduce of the
// hidden-wide activations: one per mixer (o_proj and its recurrent
// counterparts) and one per MLP (down, or the routed experts, whose
// shared experts join the same all-reduce).
func endsInAllReduce(name string) bool { return rowOps[name] || name == models.OpExperts }

func (s *shardPlan) shard(g *models.Graph) {
	if s.tp <= 1 {
		return
	}
	for i := range g.Ops {
		op := &g.Ops[i]
		switch {
		case columnOps[op.Name]:
			s.column(op, 0, 0)
		case rowOps[op.Name] || op.Name == models.OpSSMXProj:
			s.row(op)
		case channelOps[op.Name] || op.Name == models.OpExperts || op.Name == models.OpRoPE || op.Name == models.OpAct:
			s.split(op, 1/float64(s.tp))
		case op.Name == models.OpSSMInProj:
			// Mamba-2's in_proj also writes B and C, split only over the groups.
			s.column(op, s.bcWidth, s.bcPerGPU())
		case op.Name == models.OpSSMConv:
			s.mambaConv(op)
		case op.Name == models.OpSSMScan:
			s.mambaScan(op, float64(g.Tokens))
		case op.Name == models.OpCMixKR:
			s.channelMixKR(op)
		case op.Name == models.OpCMixAct:
			s.channelMixAct(op, float64(g.Tokens))
		case op.Kind == models.KindAttention || op.Name == models.OpKVConcat:
			// kv_concat copies the K/V heads a GPU holds (no FLOPs or
			// activations to split).
			f := 1 / float64(s.tp)
			op.FLOPs *= f
			op.ActivationReadBytes *= f
			op.ActivationWriteBytes *= f
			kv := 1 / float64(s.kvSplit)
			op.KVReadBytes *= kv
			op.KVWriteBytes *= kv
			op.Items *= kv
			op.QueryTiles *= f
		}
		// Everything else is replicated: norms, residuals, the embedding,
		// sampling, the router and RWKV's token-shift mixes (rwkv_mix).
	}
}

// bcPerGPU is the Mamba-2 B and C channels one GPU holds.
func (s *shardPlan) bcPerGPU() int { return s.bcWidth / max(s.bcSplit, 1) }

// column splits the output features of a GEMM except keep of them, of
// which each GPU holds keepPerGPU: work, weights and output scale with N.
func (s *shardPlan) column(op *models.Op, keep, keepPerGPU int) {
	n := ceilDiv(op.N-keep, s.tp) + keepPerGPU
	f := float64(n) / float64(op.N)
	op.N = n
	op.FLOPs *= f
	op.WeightBytes *= f
	op.ActivationWriteBytes *= f
}

// row splits the input features of a GEMM; the partial sums are summed by
// an all-reduce (commOps).
func (s *shardPlan) row(op *models.Op) {
	f := 1 / float64(s.tp)
	op.K = ceilDiv(op.K, s.tp)
	op.FLOPs *= f
	op.WeightBytes *= f
	op.ActivationReadBytes *= f
}

// split scales everything an op does by f: its heads or channels are
// divided among the GPUs.
func (s *shardPlan) split(op *models.Op, f float64) { op.Scale(f) }

// mambaConv: Mamba convolves d_inner channels, all split; Mamba-2 also
// its B and C channels, split over at most the groups.
func (s *shardPlan) mambaConv(op *models.Op) {
	all := s.mambaInner + s.bcWidth
	mine := ceilDiv(s.mambaInner, s.tp) + s.bcPerGPU()
	s.split(op, float64(mine)/float64(all))
}

// mambaScan splits the scan by channel (Mamba) or head (Mamba-2), but
// every GPU reads the B and C its channels need: all of them for Mamba
// (x_proj's output is all-reduced), its groups' for Mamba-2.
func (s *shardPlan) mambaScan(op *models.Op, tokens float64) {
	f := 1 / float64(s.tp)
	s.split(op, f)
	if s.mambaVersion == 2 {
		op.ActivationReadBytes += tokens * float64(s.bcWidth) * s.actBytes * (1/float64(s.bcSplit) - f)
		return
	}
	op.ActivationReadBytes += tokens * 2 * float64(s.dState) * s.actBytes * (1 - f)
}

// channelMixKR is RWKV's fused key (intermediate wide, column-parallel)
// and receptance (hidden wide, replicated: sigmoid(r) gates the
// all-reduced value) projection; its token-shift lerps, their inputs and
// the shift state stay whole.
func (s *shardPlan) channelMixKR(op *models.Op) {
	dropped := s.intermediate - ceilDiv(s.intermediate, s.tp)
	n := op.N - dropped
	op.FLOPs -= 2 * float64(op.M) * float64(dropped) * float64(op.K)
	op.WeightBytes -= float64(dropped) * float64(op.K) * s.weightBytes
	op.ActivationWriteBytes *= float64(n) / float64(op.N)
	op.N = n
}

// channelMixAct: relu(k)² (2 FLOPs, one read and one write per key
// element) runs on each GPU's keys; sigmoid(r)·v on the whole hidden.
func (s *shardPlan) channelMixAct(op *models.Op, tokens float64) {
	dropped := tokens * float64(s.intermediate-ceilDiv(s.intermediate, s.tp))
	op.FLOPs -= 2 * dropped
	op.ActivationReadBytes -= dropped * s.actBytes
	op.ActivationWriteBytes -= dropped * s.actBytes
}

// collectives counts g's tensor-parallel all-reduces: the hidden-wide ones
// that close each mixer and MLP, and Mamba's small ones after x_proj
// (Δ rank + 2·d_state per token, as vLLM's MambaMixer does), with the
// bytes of one of those.
func collectives(g *models.Graph, elementBytes float64) (hidden, small int, smallBytes float64) {
	for i := range g.Ops {
		op := &g.Ops[i]
		switch {
		case endsInAllReduce(op.Name):
			hidden += op.Repeat
		case op.Name == models.OpSSMXProj:
			small += op.Repeat
			smallBytes = float64(op.M) * float64(op.N) * elementBytes
		}
	}
	return hidden, small, smallBytes
}

// checkMixers reports the recurrent mixers whose heads or channels tp
// does not divide.
func checkMixers(m *models.Model, tp int) []error {
	var errs []error
	need := func(what string, n int) {
		if n > 0 && n%tp != 0 {
			errs = append(errs, fmt.Errorf("tensor parallelism %d does not divide the model's %d %s", tp, n, what))
		}
	}
	if e := m.Mamba; e != nil && m.LayersOf(models.LayerMamba) > 0 {
		inner := e.Expand * m.Hidden
		if e.Version == 2 {
			need("Mamba-2 heads", inner/e.HeadDim)
			if g := e.Groups; g%tp != 0 && tp%g != 0 {
				errs = append(errs, fmt.Errorf("tensor parallelism %d and the model's %d Mamba-2 groups: one must divide the other", tp, g))
			}
		} else {
			need("Mamba channels (d_inner)", inner)
		}
	}
	if e := m.RWKV; e != nil && m.LayersOf(models.LayerRWKV) > 0 {
		need("RWKV heads", m.Hidden/e.HeadSize)
	}
	if e := m.MLSTM; e != nil && m.LayersOf(models.LayerMLSTM) > 0 {
		need("mLSTM heads", e.Heads)
	}
	if e := m.Linear; e != nil && m.LayersOf(models.LayerLinear) > 0 {
		need("linear-attention heads", e.Heads)
	}
	if e := m.Conv; e != nil && m.LayersOf(models.LayerConv) > 0 {
		need("short-convolution channels", e.Expand*m.Hidden)
	}
	return errs
}

// splitWeights is a set of weights that splits over fewer than tp GPUs.
type splitWeights struct {
	params float64
	ways   int
}

// narrowWeights lists the weights of m that tp-way tensor parallelism
// splits fewer than tp ways: the K/V projections of the attention layers
// (over at most kv_heads GPUs), RWKV's token-shift mixes, their LoRAs and
// the channel mix's receptance (replicated), Mamba-2's B and C columns of
// in_proj and conv1d (over at most the groups).
func narrowWeights(m *models.Model, tp int) []splitWeights {
	var ws []splitWeights
	if la := m.AttentionLayers(); la > 0 {
		ws = append(ws, splitWeights{float64(la) * float64(m.Hidden) * 2 * float64(m.KVDim()), min(tp, max(m.KVHeads, 1))})
	}
	h := float64(m.Hidden)
	if n := m.LayersOf(models.LayerRWKV); n > 0 {
		e := m.RWKV
		// time_maa_w1/w2 and time_decay_w1/w2, six time_maa vectors, the
		// channel mix's time_maa_k and time_maa_r, and its receptance.
		per := 10*float64(e.MixRank)*h + 2*float64(e.DecayRank)*h + 8*h + h*h
		ws = append(ws, splitWeights{float64(n) * per, 1})
	}
	if n := m.LayersOf(models.LayerMamba); n > 0 && m.Mamba.Version == 2 {
		e := m.Mamba
		bc := float64(2 * e.Groups * e.DState)
		per := bc * (h + float64(e.DConv) + 1) // in_proj columns, conv1d weights and bias
		if e.ProjBias {
			per += bc
		}
		ws = append(ws, splitWeights{float64(n) * per, min(tp, e.Groups)})
	}
	return ws
}

// stateShare is the fraction of one sequence's recurrent state that one
// of tp GPUs holds: states split with the heads or channels, except
// RWKV's two token-shift vectors (replicated, like rwkv_mix) and Mamba-2's
// B and C conv windows (over at most the groups).
func stateShare(m *models.Model, tp int) float64 {
	const d = dtype.BF16 // any format: the share is of elements
	total := m.StateBytes(d) / m.StateFormat(d).Bytes()
	if total <= 0 || tp <= 1 {
		return 1
	}
	f := 1 / float64(tp)
	mine := total * f
	if n := m.LayersOf(models.LayerRWKV); n > 0 {
		mine += float64(n) * 2 * float64(m.Hidden) * (1 - f)
	}
	if n := m.LayersOf(models.LayerMamba); n > 0 && m.Mamba.Version == 2 {
		e := m.Mamba
		mine += float64(n) * float64(2*e.Groups*e.DState*e.DConv) * (1/float64(min(tp, e.Groups)) - f)
	}
	return mine / total
}
