package kvcache

import (
	"github.com/llmsim/llmsim/models"
)

// phase is the share of a step's sequences an attention op covers.
type phase uint8

const (
	phaseNone    phase = iota
	phaseAll           // attn: every sequence (the batch is in one phase)
	phasePrefill       // attn_prefill
	phaseDecode        // attn_decode
)

func phaseOf(name string) phase {
	switch name {
	case models.OpAttn:
		return phaseAll
	case models.OpAttnPrefill:
		return phasePrefill
	case models.OpAttnDecode:
		return phaseDecode
	}
	return phaseNone
}

func isDecode(s models.Seq) bool { return s.New == 1 && s.Cached > 0 }

func (ph phase) has(s models.Seq) bool {
	switch {
	case s.New <= 0:
		return false
	case ph == phasePrefill:
		return !isDecode(s)
	case ph == phaseDecode:
		return isDecode(s)
	}
	return true
}

// cell is a share of one attention op under one rule: a group's layers,
// split into layers that read everything and layers with sparse reads.
type cell struct {
	group  int
	layers int
	sparse bool
	suffix string
}

// sums is the work of one cell per layer at head share 1.
type sums struct {
	tokens     float64 // new tokens
	pairs      float64 // query-key pairs scored
	keys       float64 // tokens whose K and V are read
	readBytes  float64 // bytes those keys take in the cache format
	kept       float64 // tokens kept after the step
	decodeKeys float64 // keys read by decoding sequences
	decodeKept float64 // tokens kept by decoding sequences
	prefPairs  float64 // pairs of prefilling sequences
	prefKeys   float64 // keys of prefilling sequences
	observeR   float64 // retention observation window: queries × keys
	observeC   float64 // channel observation window: queries × keys
	scanned    float64 // kept tokens the sparse selection scans
	// chunkScanned: kept tokens prefill chunks' selection scans.
	chunkScanned float64
	// rect is the score rectangle, queries × keys read (what an eager
	// kernel materialises); prefRect its share of prefilling sequences.
	rect, prefRect float64
}

// env is what every op of one rewrite shares.
type env struct {
	m    *models.Model
	seqs []models.Seq
	lay  layout
	// eager: the op being rewritten materialises its scores
	// (models.Options.MaterialisedAttention), so its probabilities are in
	// memory for score tracking and its score traffic scales with the
	// rectangle the scheme leaves.
	eager bool
}

// Rewrite adjusts the attention ops of g to what the plan keeps, reads,
// writes and computes, splits them where layers or heads follow different
// rules, scales the cache concatenation (kv_concat) to what it stores, and
// appends the scheme's own ops (kv_score, kv_select, kv_merge,
// kv_retain, kv_prune, kv_quant, kv_dequant, kv_lowrank, attn_prefix,
// attn_combine). After the first call for a model it does not allocate:
// new ops reuse g.Ops's capacity.
func (p *Plan) Rewrite(g *models.Graph, m *models.Model, seqs []models.Seq, prec models.Precision) {
	if !p.rewrites() || g.Tokens == 0 {
		return
	}
	prec = m.Resolve(prec)
	e := env{m: m, seqs: seqs, lay: p.layout(m, prec.KV, prec.Activations)}
	perGroup := 1
	for i := range g.Ops {
		if g.Ops[i].Name == models.OpAttnPrefill {
			perGroup = 2
			break
		}
	}
	windowed, seen, concats := m.WindowedLayers(), 0, 0
	for i := 0; i < len(g.Ops); i++ {
		if g.Ops[i].Name == models.OpKVConcat {
			// One per attention layer type, windowed first, like attention.
			w0 := 0
			if windowed > 0 && (windowed == m.AttentionLayers() || concats == 0) {
				w0 = m.SlidingWindow
			}
			concats++
			p.rewriteConcat(&g.Ops[i], w0, &e)
			continue
		}
		if g.Ops[i].Kind != models.KindAttention {
			continue
		}
		ph := phaseOf(g.Ops[i].Name)
		if ph == phaseNone {
			continue
		}
		// Windowed attention entries come first (models.GraphInto).
		w0 := 0
		if windowed > 0 && (windowed == m.AttentionLayers() || seen < perGroup) {
			w0 = m.SlidingWindow
		}
		seen++
		i += p.rewriteOp(g, i, ph, w0, &e)
	}
}

// maxNewOps bounds the ops one attention op becomes.
const maxNewOps = maxCells + 12

// rewriteOp replaces op i by its cells and extra ops and returns how many
// ops it inserted after i.
func (p *Plan) rewriteOp(g *models.Graph, i int, ph phase, w0 int, e *env) int {
	orig := g.Ops[i]
	cells, n := p.cells(orig.Repeat, e.m.AttentionLayers())
	groups := p.groupsOf()

	var base sums
	for _, s := range e.seqs {
		if ph.has(s) {
			base.pairs += models.AttentionPairs(s.Cached, s.New, w0)
			base.tokens += float64(s.New)
			base.rect += float64(s.New) * keysRead(s.Cached, s.New, w0)
		}
	}
	if base.pairs == 0 {
		return 0
	}
	e.eager = materialised(&orig, &base, e)
	var out [maxNewOps]models.Op
	var cs [maxCells]sums
	k := 0
	for c := 0; c < n; c++ {
		gr := groups[cells[c].group]
		cs[c] = p.cellSums(&cells[c], gr, ph, w0, e)
		out[k] = p.cellOp(&orig, &cells[c], gr, &cs[c], &base, e)
		k++
	}
	if p.share != nil {
		k = p.sharePrefix(&orig, ph, &out[0], out[:], k, &base, e)
	}
	k = p.extraOps(&orig, cells[:n], cs[:n], out[:], k, e)

	g.Ops[i] = out[0]
	if k > 1 {
		insertOps(g, i+1, out[1:k])
	}
	return k - 1
}

// cells splits an op of repeat layers into cells: each retention group's
// whole layers, and within it the first layers a sparse read leaves dense.
func (p *Plan) cells(repeat, modelLayers int) (out [maxCells]cell, n int) {
	groups := p.groupsOf()
	split := layerSplit(groups, repeat)
	dense := 0
	if p.read != nil && p.read.dense > 0 {
		dense = min(repeat, (p.read.dense*repeat+modelLayers/2)/modelLayers)
	}
	for gi, gr := range groups {
		layers := split[gi]
		if p.read == nil {
			if layers > 0 {
				out[n] = cell{group: gi, layers: layers, suffix: gr.suffix}
				n++
			}
			continue
		}
		// Head groups each span all layers, so each has its own dense
		// layers; layer groups share the dense budget.
		d := min(dense, layers)
		if gr.layers < 1 {
			dense -= d
		}
		if d > 0 {
			suffix := gr.suffix
			if suffix == "" {
				suffix = "dense"
			}
			out[n] = cell{group: gi, layers: d, suffix: suffix}
			n++
		}
		if layers > d {
			out[n] = cell{group: gi, layers: layers - d, sparse: true, suffix: gr.suffix}
			n++
		}
	}
	return out, n
}

// cellSums adds up the work of the op's sequences under the cell's rule.
func (p *Plan) cellSums(c *cell, gr group, ph phase, w0 int, e *env) sums {
	var s sums
	observeR, observeC := 0, 0
	if p.retention != nil {
		observeR = p.retention.observe
	}
	if p.channels != nil {
		observeC = p.channels.observe
	}
	for _, q := range e.seqs {
		if !ph.has(q) {
			continue
		}
		pairs, keys := gr.keep.work(q.Cached, q.New, w0)
		decode := isDecode(q)
		switch {
		case c.sparse && decode:
			kept := gr.keep.capped(q.Cached, w0)
			read := float64(p.read.budget(kept) + 1)
			pairs, keys = read, read
			s.scanned += float64(kept)
		case c.sparse && p.read.chunks && q.Cached > 0:
			kept := gr.keep.capped(q.Cached, w0)
			sel, n := float64(p.read.budget(kept)), float64(q.New)
			pairs, keys = n*sel+n*(n+1)/2, sel+n
			s.chunkScanned += float64(kept)
		}
		kept := float64(gr.keep.capped(q.Cached+q.New, w0))
		s.rect += float64(q.New) * keys
		s.tokens += float64(q.New)
		s.pairs += pairs
		s.keys += keys
		s.readBytes += e.lay.bytes(int(keys))
		s.kept += kept
		if decode {
			s.decodeKeys += keys
			s.decodeKept += kept
		} else {
			s.prefPairs += pairs
			s.prefKeys += keys
			s.prefRect += float64(q.New) * keys
			s.observeR += float64(min(observeR, q.New)) * keys
			s.observeC += float64(min(observeC, q.New)) * keys
		}
	}
	return s
}

// cellOp is the attention op of one cell, scaled from the original op:
// FLOPs by pairs and by the work per pair, KV bytes from the cell's reads
// and writes in the cache format, activations by the head share.
func (p *Plan) cellOp(orig *models.Op, c *cell, gr group, s, base *sums, e *env) models.Op {
	o := *orig
	o.Name = opName(orig.Name, c.suffix)
	o.Repeat = c.layers
	h := gr.heads
	lay := &e.lay
	o.FLOPs = orig.FLOPs * (s.pairs / base.pairs) * h * (lay.pairFLOPs / lay.fullPairFLOPs)
	o.KVReadBytes = h * s.readBytes
	if f := lay.fmt; f != nil {
		if f.unfused {
			// Reads the scratch copy kv_dequant wrote in the KV dtype.
			o.KVReadBytes = h * s.keys * (lay.kElems + lay.vElems) * lay.base
		} else {
			o.FLOPs += h * s.keys * (lay.kElems + lay.vElems) * f.dequantFLOPs
		}
	}
	o.KVWriteBytes = h * s.tokens * lay.writeBytes()
	o.ActivationReadBytes = h * orig.ActivationReadBytes
	o.ActivationWriteBytes = h * orig.ActivationWriteBytes
	o.Items = h * orig.Items
	o.QueryTiles = h * orig.QueryTiles
	if e.eager {
		// The score matrix is written and read twice (scores, then
		// probabilities) over the rectangle this cell still scores; the
		// kernel computes that whole rectangle.
		heads := float64(e.m.Heads)
		o.FLOPs = orig.FLOPs * (s.rect / base.rect) * h * (lay.pairFLOPs / lay.fullPairFLOPs)
		o.ActivationReadBytes = h * (orig.ActivationReadBytes - 2*heads*base.rect*lay.act + 2*heads*s.rect*lay.act)
		o.ActivationWriteBytes = h * (orig.ActivationWriteBytes - 2*heads*base.rect*lay.act + 2*heads*s.rect*lay.act)
		if f := lay.fmt; f != nil && !f.unfused {
			o.FLOPs += h * s.keys * (lay.kElems + lay.vElems) * f.dequantFLOPs
		}
	} else if r := p.retention; r != nil && r.scoreFLOPs > 0 && gr.keep.kind == keepBudget {
		// A fused decode step writes its attention probabilities for
		// kv_score (an eager one has them in memory already).
		o.ActivationWriteBytes += h * float64(e.m.Heads) * s.decodeKeys * lay.act
	}
	return o
}

// materialised reports whether orig is an eager attention op: beyond Q, K,
// V and its output it reads (and writes) the heads × queries × keys score
// matrix twice, which a fused kernel never does (models.attentionOp).
func materialised(orig *models.Op, base *sums, e *env) bool {
	qkv := base.tokens * float64(e.m.QDim()+2*e.m.KVDim()) * e.lay.act
	scores := 2 * float64(e.m.Heads) * base.rect * e.lay.act
	return scores > 0 && orig.ActivationReadBytes >= qkv+scores/2
}

// insertOps puts ops into g.Ops at position at, shifting the rest.
func insertOps(g *models.Graph, at int, ops []models.Op) {
	n := len(ops)
	for range n {
		g.Ops = append(g.Ops, models.Op{})
	}
	copy(g.Ops[at+n:], g.Ops[at:len(g.Ops)-n])
	copy(g.Ops[at:], ops)
}

// opName is base with a suffix, from a fixed table so naming allocates
// nothing.
func opName(base, suffix string) string {
	if suffix == "" {
		return base
	}
	if n, ok := suffixed[[2]string{base, suffix}]; ok {
		return n
	}
	return base
}

var suffixed = func() map[[2]string]string {
	out := map[[2]string]string{}
	for _, b := range []string{models.OpAttn, models.OpAttnPrefill, models.OpAttnDecode} {
		for _, s := range []string{"stream", "local", "dense", "prefix"} {
			out[[2]string{b, s}] = b + "_" + s
		}
	}
	return out
}()
