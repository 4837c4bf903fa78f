package kvcache

import (
	"math"

	"github.com/llmsim/llmsim/models"
)

// Names of the ops schemes add to a step.
const (
	OpScore   = "kv_score"     // importance-score tracking (H2O, Scissorhands, Keyformer, D2O)
	OpSelect  = "kv_select"    // choosing what to keep or read (SnapKV, Quest, Double Sparsity, ...)
	OpMerge   = "kv_merge"     // merging evicted tokens into kept ones (D2O)
	OpRetain  = "kv_retain"    // retaining heads scoring new tokens (Locret)
	OpPrune   = "kv_prune"     // choosing key channels after prefill (ThinK)
	OpQuant   = "kv_quant"     // quantising new K and V
	OpDequant = "kv_dequant"   // dequantising the cache into a scratch buffer (unfused kernels)
	OpLowRank = "kv_lowrank"   // low-rank error reconstruction (GEAR)
	OpCombine = "attn_combine" // merging prefix and suffix attention (Hydragen)
)

// accumulatorBytes: importance scores are kept in fp32.
const accumulatorBytes = 4

// aggregate sums the cells selected by pick, weighted by layers × head
// share: the per-execution work of an op that runs repeat times per step.
func aggregate(cells []cell, cs []sums, groups []group, pick func(c cell, g group) bool) (total sums, repeat int) {
	var layerEq float64
	for i := range cells {
		g := groups[cells[i].group]
		if !pick(cells[i], g) {
			continue
		}
		w := float64(cells[i].layers) * g.heads
		layerEq += w
		s := &cs[i]
		total.tokens += w * s.tokens
		total.pairs += w * s.pairs
		total.keys += w * s.keys
		total.readBytes += w * s.readBytes
		total.kept += w * s.kept
		total.decodeKeys += w * s.decodeKeys
		total.decodeKept += w * s.decodeKept
		total.prefPairs += w * s.prefPairs
		total.prefKeys += w * s.prefKeys
		total.observeR += w * s.observeR
		total.observeC += w * s.observeC
		total.scanned += w * s.scanned
		total.chunkScanned += w * s.chunkScanned
		total.rect += w * s.rect
		total.prefRect += w * s.prefRect
	}
	if layerEq == 0 {
		return total, 0
	}
	repeat = max(1, int(math.Round(layerEq)))
	f := 1 / float64(repeat)
	total.tokens *= f
	total.pairs *= f
	total.keys *= f
	total.readBytes *= f
	total.kept *= f
	total.decodeKeys *= f
	total.decodeKept *= f
	total.prefPairs *= f
	total.prefKeys *= f
	total.observeR *= f
	total.observeC *= f
	total.scanned *= f
	total.chunkScanned *= f
	total.rect *= f
	total.prefRect *= f
	return total, repeat
}

func newOp(orig *models.Op, name string, kind models.OpKind, repeat int) models.Op {
	return models.Op{Name: name, Kind: kind, Repeat: repeat, Layered: true, Compute: orig.Compute}
}

// keyBytes is what re-reading one kept key costs (K only, cache format).
func (l *layout) keyBytes() float64 {
	per := l.base
	if l.fmt != nil {
		per = l.fmt.elemBytes()
	}
	return l.kElems * per
}

// extraOps appends the scheme's own ops after the attention cells.
func (p *Plan) extraOps(orig *models.Op, cells []cell, cs []sums, out []models.Op, k int, e *env) int {
	groups := p.groupsOf()
	lay := &e.lay
	m := e.m
	heads, hd := float64(m.Heads), lay.headDim
	all := func(cell, group) bool { return true }

	if r := p.retention; r != nil {
		budget := func(_ cell, g group) bool { return g.keep.kind == keepBudget }
		s, rep := aggregate(cells, cs, groups, budget)
		if r.scoreFLOPs > 0 && rep > 0 {
			out[k] = p.scoreOp(orig, r, &s, rep, e)
			k++
		}
		if r.observe > 0 && s.observeR > 0 {
			// The observation window scores the prompt once and pools.
			o := newOp(orig, OpSelect, models.KindAttention, rep)
			o.FLOPs = heads*s.observeR*(2*hd+softmaxFLOPs) + heads*s.prefKeys*float64(r.pool)
			o.KVReadBytes = s.prefKeys * lay.keyBytes()
			out[k] = o
			k++
		}
		if r.merge && s.decodeKept > 0 {
			// Each evicted key is compared (cosine) with the kept keys.
			o := newOp(orig, OpMerge, models.KindAttention, rep)
			o.FLOPs = lay.kvHeads * s.decodeKept * 3 * hd
			o.KVReadBytes = s.decodeKept * lay.keyBytes()
			out[k] = o
			k++
		}
		if r.retainHidden > 0 {
			// An MLP over [q, k, v] → hidden → one score per K/V head.
			s, rep := aggregate(cells, cs, groups, all)
			in := float64(m.QDim() + 2*m.KVDim())
			hid := float64(r.retainHidden)
			params := in*hid + hid*lay.kvHeads
			o := newOp(orig, OpRetain, models.KindGEMM, rep)
			o.M, o.N, o.K = int(s.tokens), r.retainHidden, int(in)
			o.FLOPs = 2 * s.tokens * params
			o.WeightBytes = params * lay.act
			o.ActivationReadBytes = s.tokens * in * lay.act
			o.ActivationWriteBytes = s.tokens * lay.kvHeads * accumulatorBytes
			out[k] = o
			k++
		}
	}
	if rd := p.read; rd != nil {
		sparse := func(c cell, _ group) bool { return c.sparse }
		s, rep := aggregate(cells, cs, groups, sparse)
		if rep > 0 && (s.scanned > 0 || s.chunkScanned > 0) {
			o := newOp(orig, OpSelect, models.KindAttention, rep)
			o.FLOPs = heads * s.scanned * (rd.scan(*lay) + 2) // + top-k
			o.KVReadBytes = s.scanned * (rd.meta(*lay) + rd.keyScan*lay.keyBytes())
			if c := s.chunkScanned; c > 0 {
				o.FLOPs += heads * c * (rd.chunkScan(*lay) + 2)
				o.KVReadBytes += c * lay.keyBytes()
				o.ActivationReadBytes += heads * c * chunkScoreBytes / 2
				o.ActivationWriteBytes += heads * c * chunkScoreBytes / 2
			}
			out[k] = o
			k++
		}
	}
	if c := p.channels; c != nil && c.observe > 0 {
		s, rep := aggregate(cells, cs, groups, all)
		if s.observeC > 0 {
			// Per key channel: the norm of Q_window·K over the window.
			o := newOp(orig, OpPrune, models.KindAttention, rep)
			o.FLOPs = heads * s.observeC * 2 * hd
			o.KVReadBytes = s.prefKeys * float64(m.KVDim()) * lay.base
			out[k] = o
			k++
		}
	}
	if f := p.format; f != nil {
		s, rep := aggregate(cells, cs, groups, all)
		elems := lay.kElems + lay.vElems
		o := newOp(orig, OpQuant, models.KindElemwise, rep)
		// GEAR also updates its low-rank factors (power iteration) and
		// extracts outliers per new token.
		o.FLOPs = s.tokens * elems * (f.quantFLOPs + 4*float64(f.rank))
		o.ActivationReadBytes = s.tokens * elems * lay.act
		out[k] = o
		k++
		if f.unfused {
			o := newOp(orig, OpDequant, models.KindElemwise, rep)
			o.FLOPs = s.keys * elems * f.dequantFLOPs
			o.KVReadBytes = s.readBytes
			o.ActivationWriteBytes = s.keys * elems * lay.base
			out[k] = o
			k++
		}
		if f.rank > 0 {
			o := newOp(orig, OpLowRank, models.KindGEMM, rep)
			o.M, o.N, o.K = int(s.keys), int(hd), f.rank
			o.FLOPs = s.keys * elems * 2 * float64(f.rank)
			out[k] = o
			k++
		}
	}
	return k
}

// sharePrefix splits the attention of sequences that hold the shared prefix
// into attention over the prefix, batched over them with its K and V read
// once (attn_prefix), and attention over their own suffixes (the main op),
// merged by attn_combine.
func (p *Plan) sharePrefix(orig *models.Op, ph phase, main *models.Op, out []models.Op, k int, base *sums, e *env) int {
	sh := p.share
	var shared, queries float64
	for _, s := range e.seqs {
		if ph.has(s) && s.Cached >= sh.prefix {
			shared++
			queries += float64(s.New)
		}
	}
	if shared < 2 {
		return k
	}
	lay := &e.lay
	m := e.m
	prefix := float64(sh.prefix)
	perPair := orig.FLOPs / base.pairs * (lay.pairFLOPs / lay.fullPairFLOPs)
	prefixPairs := queries * prefix
	prefixBytes := lay.bytes(sh.prefix)
	dequant := 0.0
	if f := lay.fmt; f != nil && !f.unfused {
		dequant = (lay.kElems + lay.vElems) * f.dequantFLOPs
	}
	main.FLOPs -= prefixPairs*perPair + shared*prefix*dequant
	main.KVReadBytes -= shared * prefixBytes

	qDim, heads := float64(m.QDim()), float64(m.Heads)
	o := newOp(orig, opName(orig.Name, "prefix"), models.KindAttention, main.Repeat)
	o.FLOPs = prefixPairs*perPair + prefix*dequant
	o.KVReadBytes = prefixBytes
	o.ActivationReadBytes = queries * qDim * lay.act
	// Partial outputs and log-sum-exps in fp32 for the combine.
	o.ActivationWriteBytes = queries * (qDim + heads) * accumulatorBytes
	out[k] = o
	k++
	c := newOp(orig, OpCombine, models.KindElemwise, main.Repeat)
	c.FLOPs = queries * heads * (3*lay.headDim + softmaxFLOPs)
	c.ActivationReadBytes = 2 * queries * (qDim + heads) * accumulatorBytes
	c.ActivationWriteBytes = queries * qDim * lay.act
	out[k] = c
	return k + 1
}

// scoreOp is kv_score: importance scores updated from the attention
// probabilities of the step. With eager attention the probabilities of every
// query are in memory, so decode and prefill both read them (heads × rect).
// With a fused kernel a decode step's attention writes them for this op (see
// cellOp), while a prefill recomputes them (QKᵀ over the keys again, K
// re-read) because the fused kernel keeps none. Either way fp32 accumulators
// of the kept tokens are read and written, and a score function that runs
// as separate tensor kernels (Keyformer's Gumbel softmax) moves the score
// tensor scorePasses more times, half reads and half writes.
func (p *Plan) scoreOp(orig *models.Op, r *retention, s *sums, rep int, e *env) models.Op {
	lay := &e.lay
	heads, hd := float64(e.m.Heads), lay.headDim
	o := newOp(orig, OpScore, models.KindElemwise, rep)
	if e.eager {
		o.FLOPs = heads * s.rect * r.scoreFLOPs
		o.ActivationReadBytes = heads * s.rect * lay.act
	} else {
		o.FLOPs = heads*s.decodeKeys*r.scoreFLOPs + heads*s.prefPairs*(2*hd+softmaxFLOPs+r.scoreFLOPs)
		o.ActivationReadBytes = heads * s.decodeKeys * lay.act
		o.KVReadBytes = s.prefKeys * lay.keyBytes()
		if s.prefPairs > 0 {
			o.Kind = models.KindAttention
		}
	}
	o.ActivationReadBytes += heads*s.kept*accumulatorBytes + heads*s.rect*lay.act*r.scorePasses/2
	o.ActivationWriteBytes = heads*s.kept*accumulatorBytes + heads*s.rect*lay.act*r.scorePasses/2
	return o
}
