package offload

import (
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// Target is what runs: a system, a model and its formats.
type Target struct {
	System *hw.System
	Model  *models.Model
	Prec   models.Precision
	Opts   models.Options
	// Build, when set, builds the graph of a step (e.g. with a KV-cache
	// scheme's rewrite); the default is the plain model graph.
	Build roofline.Builder
	// KVBytes, when set, is the stored KV cache of one sequence of tokens
	// tokens over all layers; the default is Model.KVBytes.
	KVBytes func(tokens int) float64
	// Scheme is the KV-cache scheme UseKVScheme installed, if any.
	Scheme kvcache.Scheme
}

// Workload is a batch of identical requests that arrive together: Batch
// prompts of Prompt tokens, each generating Output tokens (the prefill step
// samples the first).
type Workload struct {
	Batch, Prompt, Output int

	// step, when set, makes runSteps execute only this one step (the step
	// pricer, StepSeconds).
	step *stepProbe
}

// Tokens is the number of generated tokens.
func (w Workload) Tokens() float64 { return float64(w.Batch * w.Output) }

func (w Workload) check() error {
	if w.Batch < 1 || w.Prompt < 1 || w.Output < 1 {
		return fmt.Errorf("offload: batch, prompt and output must be at least 1 (got %d, %d, %d)", w.Batch, w.Prompt, w.Output)
	}
	return nil
}

// NewTarget resolves the precision defaults the way models.GraphInto does:
// weights in the model's format, activations in the weight format when it
// is 16 bits or wider (else bf16), KV in the activation format.
func NewTarget(sys *hw.System, m *models.Model, p models.Precision) *Target {
	return &Target{System: sys, Model: m, Prec: m.Resolve(p)}
}

// UseKVScheme makes every step of the target follow a KV-cache scheme: its
// graph rewrite (tokens kept, bytes read, score tracking) and its stored
// bytes per sequence, inside whatever offloading scheme runs.
func (t *Target) UseKVScheme(s kvcache.Scheme) {
	t.Scheme = s
	t.Build = func(g *models.Graph, seqs []models.Seq) {
		t.Model.GraphInto(g, seqs, t.Prec, t.Opts)
		s.Rewrite(g, t.Model, seqs, t.Prec)
	}
	t.KVBytes = func(tokens int) float64 { return s.StoredBytes(t.Model, tokens, t.Prec.KV) }
}

func (t *Target) build(g *models.Graph, seqs []models.Seq) {
	if t.Build != nil {
		t.Build(g, seqs)
		return
	}
	t.Model.GraphInto(g, seqs, t.Prec, t.Opts)
}

func (t *Target) kvBytes(tokens int) float64 {
	if t.KVBytes != nil {
		return t.KVBytes(tokens)
	}
	return t.Model.KVBytes(tokens, t.Prec.KV)
}

// block names the schedule units of a forward step.
type block uint8

const (
	blockEmbed block = iota
	blockAttnPre
	blockAttnCore // the attention kernels themselves (score, softmax, value)
	blockAttnPost
	blockMLP
	blockHead
	nBlocks
)

// attnPre holds the op names of the attention block before the attention
// kernels; attnPost the ones after.
var attnPre = map[string]bool{models.OpAttnNorm: true, models.OpQKV: true, models.OpRoPE: true}

func isAttn(name string) bool {
	return name == models.OpAttn || name == models.OpAttnPrefill || name == models.OpAttnDecode
}

// stepOps is one forward step split into blocks. Layer ops are scaled to
// one average decoder layer and have Repeat 1: an op that runs in r of L
// layers contributes r/L of its work (layers of a homogeneous model are
// reproduced exactly).
type stepOps struct {
	ops [nBlocks][]models.Op
	g   models.Graph
}

// split builds the graph of seqs and splits it into blocks.
func (t *Target) split(seqs []models.Seq, s *stepOps) {
	t.build(&s.g, seqs)
	for b := range s.ops {
		s.ops[b] = s.ops[b][:0]
	}
	layers := float64(t.Model.Layers)
	cur := blockAttnPre
	for _, op := range s.g.Ops {
		if !op.Layered {
			b := blockEmbed
			if op.Name != models.OpEmbed {
				b = blockHead
			}
			s.ops[b] = append(s.ops[b], op)
			continue
		}
		switch {
		case attnPre[op.Name]:
			cur = blockAttnPre
		case isAttn(op.Name) || op.Name == models.OpKVConcat:
			// A concatenating cache copies the past where the KV lives.
			cur = blockAttnCore
		case op.Name == models.OpOProj:
			cur = blockAttnPost
		case op.Name == models.OpResidual:
			// The residual after o_proj closes the attention block; the
			// one after the MLP closes the MLP block.
		default:
			cur = blockMLP
		}
		f := float64(op.Repeat) / layers
		op.Repeat = 1
		if f != 1 {
			op.Scale(f)
		}
		s.ops[cur] = append(s.ops[cur], op)
	}
}

// cost is the price of some ops on one device.
type cost struct {
	Seconds, FLOPs, Bytes float64
}

func (c cost) plus(d cost) cost {
	return cost{c.Seconds + d.Seconds, c.FLOPs + d.FLOPs, c.Bytes + d.Bytes}
}

// price costs ops (Repeat 1) on dev with their traffic at memBytesPerSecond.
func price(ops []models.Op, dev *hw.Device, memBytesPerSecond float64) cost {
	var c cost
	for i := range ops {
		oc := roofline.CostAt(&ops[i], dev, memBytesPerSecond)
		c.Seconds += oc.Seconds
		c.FLOPs += oc.FLOPs
		c.Bytes += oc.Bytes
	}
	return c
}

// priceOn costs ops on dev from its main memory.
func priceOn(ops []models.Op, dev *hw.Device) cost {
	return price(ops, dev, dev.MainMemory().BytesPerSecond)
}

// sizes are the stored bytes of a model's parts in the target's formats.
type sizes struct {
	Layers int
	// Per decoder layer: attention block and MLP block (all experts of an
	// MoE layer counted).
	AttnWeights, MLPWeights float64
	// The embedding (token table, positions, projections) and the head
	// (final norm plus an untied lm_head).
	EmbedWeights, HeadWeights float64
	// HeadStream is what the head must have on its compute device: the
	// lm_head matrix even when it is the tied token table.
	HeadStream float64
	Total      float64
	// KV bytes of one token in one layer; hidden-state bytes of one token.
	KVPerTokenLayer, HiddenPerToken float64
}

// scaledWeights is s with every weight size times r (a compressed store).
func (s sizes) scaledWeights(r float64) sizes {
	s.AttnWeights *= r
	s.MLPWeights *= r
	s.EmbedWeights *= r
	s.HeadWeights *= r
	s.HeadStream *= r
	s.Total *= r
	return s
}

// LayerWeights is one decoder layer.
func (s sizes) LayerWeights() float64 { return s.AttnWeights + s.MLPWeights }

// MaxUnit is the largest block a streaming schedule holds at once.
func (s sizes) MaxUnit() float64 {
	return max(s.AttnWeights, s.MLPWeights, s.EmbedWeights, s.HeadStream)
}

func (t *Target) sizes() sizes {
	m := t.Model
	var ops stepOps
	t.split([]models.Seq{{Cached: 1, New: 1}}, &ops)
	s := sizes{Layers: m.Layers, Total: m.WeightBytes(t.Prec.Weights)}
	for _, b := range []block{blockAttnPre, blockAttnCore, blockAttnPost} {
		for _, op := range ops.ops[b] {
			s.AttnWeights += op.WeightBytes
		}
	}
	for _, op := range ops.ops[blockMLP] {
		w := op.WeightBytes
		if op.Name == models.OpExperts && m.MoE != nil {
			// One token touches top_k experts; all of them are stored.
			w *= float64(m.MoE.Experts) / models.UniqueExperts(m.MoE.Experts, m.MoE.TopK, 1)
		}
		s.MLPWeights += w
	}
	for _, op := range ops.ops[blockHead] {
		s.HeadStream += op.WeightBytes
		if op.Name != models.OpLMHead || !m.TiedEmbeddings {
			s.HeadWeights += op.WeightBytes
		}
	}
	s.EmbedWeights = max(0, s.Total-float64(m.Layers)*s.LayerWeights()-s.HeadWeights)
	s.KVPerTokenLayer = t.kvBytes(1) / float64(m.Layers)
	s.HiddenPerToken = float64(m.Hidden) * t.Prec.Activations.Bytes()
	return s
}

// seqs fills a batch of n sequences at one context.
func seqs(buf []models.Seq, n, cached, newTokens int) []models.Seq {
	buf = buf[:0]
	for i := 0; i < n; i++ {
		buf = append(buf, models.Seq{Cached: cached, New: newTokens})
	}
	return buf
}
