package models

// attnWork sums the attention work of the sequences of one phase.
type attnWork struct {
	tokens float64 // new (query) tokens
	pairs  float64 // causal query-key pairs scored
	keys   float64 // cached + new tokens whose K and V are read
	scores float64 // query × key rectangle an eager kernel materialises
	decode float64 // decoding sequences (one new token after a cache)
	tiles  float64 // query tiles of the prefilling sequences (PrefillQueryTile queries each)
}

// PrefillQueryTile is the queries one fused prefill-attention work item
// covers per head: FlashAttention and cuDNN tile the queries by 64-128;
// the H200's cuDNN prefill over 16, 64 and 128 queries per prompt took the
// same time (validate/gpu/data/h200-attn-short-prefill).
const PrefillQueryTile = 128

func (w *attnWork) add(cached, newTokens, window int) {
	keys := keysRead(cached, newTokens, window)
	w.tokens += float64(newTokens)
	w.pairs += AttentionPairs(cached, newTokens, window)
	w.keys += keys
	w.scores += float64(newTokens) * keys
}

// AttentionPairs is the number of query-key pairs causal attention scores
// for newTokens queries after cached tokens: Σ min(c+i, window) over
// i = 1..q, which is q·(c + (q+1)/2) without a window (window <= 0).
func AttentionPairs(cached, newTokens, window int) float64 {
	c, q := float64(cached), float64(newTokens)
	if window <= 0 || cached+newTokens <= window {
		return q * (c + (q+1)/2)
	}
	w := float64(window)
	if cached >= window {
		return q * w
	}
	// Queries up to position window see every earlier token; later ones
	// see the window.
	n := w - c
	return (c+1+w)*n/2 + (q-n)*w
}

// keysRead is the number of tokens whose K and V a fused kernel reads for
// one sequence: the whole context, or with a window the tokens some query
// still sees (window + q - 1).
func keysRead(cached, newTokens, window int) float64 {
	total := cached + newTokens
	if window > 0 {
		total = min(total, window+newTokens-1)
	}
	return float64(total)
}

// isDecode reports whether s is a decode step (one new token after a
// non-empty cache); everything else prefills.
func isDecode(s Seq) bool { return s.New == 1 && s.Cached > 0 }

// OpKVConcat is the copy of the past K and V into a grown tensor that a
// concatenating cache makes every step (Options.ConcatKVCache).
const OpKVConcat = "kv_concat"

// attention appends the attention op(s) of repeat layers with the given
// window (0: full attention), split by phase when the batch mixes phases,
// after the cache concatenation when the engine concatenates.
func (b *builder) attention(repeat, window int) {
	if b.opts.ConcatKVCache {
		b.concat(repeat, window)
	}
	var prefill, decode attnWork
	for _, s := range b.seqs {
		switch {
		case s.New <= 0:
		case isDecode(s):
			decode.add(s.Cached, s.New, window)
			decode.decode++
		default:
			prefill.add(s.Cached, s.New, window)
			prefill.tiles += float64((s.New + PrefillQueryTile - 1) / PrefillQueryTile)
		}
	}
	if prefill.tokens > 0 && decode.tokens > 0 {
		b.attentionOp(OpAttnPrefill, repeat, &prefill)
		b.attentionOp(OpAttnDecode, repeat, &decode)
		return
	}
	all := prefill
	all.tokens += decode.tokens
	all.pairs += decode.pairs
	all.keys += decode.keys
	all.scores += decode.scores
	all.decode += decode.decode
	all.tiles += decode.tiles
	b.attentionOp(OpAttn, repeat, &all)
}

// attentionOp costs one attention op.
//
// FlashAttention (default): 4·head_dim FLOPs per head and causal pair (QKᵀ
// and PV) plus softmaxFLOPs per score; K and V of every token some query sees
// are read once per sequence and layer (long prefills re-read K/V once per
// query tile, which this under-counts); the new tokens' K and V are written
// to the cache; Q, K, V are read and the output written in the activation
// format.
//
// Materialised (eager) attention computes the full query × key rectangle,
// masking afterwards, and writes and reads the heads × q × keys score matrix
// twice (scores, then probabilities) in the activation format.
func (b *builder) attentionOp(name string, repeat int, w *attnWork) {
	m := b.m
	o := b.op(name, KindAttention, repeat, true)
	heads, headDim := float64(m.Heads), float64(m.HeadDim)
	qDim, kvDim := float64(m.QDim()), float64(m.KVDim())
	pairs := w.pairs
	if b.opts.MaterialisedAttention {
		pairs = w.scores
		scoreBytes := heads * w.scores * b.a
		o.ActivationReadBytes += 2 * scoreBytes
		o.ActivationWriteBytes += 2 * scoreBytes
	}
	o.FLOPs = (4*headDim + softmaxFLOPs) * heads * pairs
	o.KVReadBytes = w.keys * 2 * kvDim * b.kv
	o.KVWriteBytes = w.tokens * 2 * kvDim * b.kv
	o.ActivationReadBytes += w.tokens * (qDim + 2*kvDim) * b.a
	o.ActivationWriteBytes += w.tokens * qDim * b.a
	if !b.opts.MaterialisedAttention {
		// A fused decode kernel runs one work item per sequence and KV
		// head (Op.Items), a prefill kernel one per query tile and query
		// head (Op.QueryTiles); eager attention runs GEMMs instead.
		o.Items = w.decode * float64(m.KVHeads)
		o.QueryTiles = w.tiles * float64(m.Heads)
	}
}

// concat appends the kv_concat op of repeat layers: torch.cat reads each
// sequence's past K and V and writes them again into the grown tensor, in
// the KV format. The new tokens' K and V in that tensor are the write the
// attention op already counts, so concat moves only the past: cached
// tokens, or within a window the window's worth a windowed layer stores
// (the store the memory model counts; Hugging Face's eager tuple cache
// keeps and copies the whole history even for sliding-window layers, so
// for those models this is a lower bound). A step with nothing cached
// (a whole-prompt prefill) has nothing to copy and gets no op. No FLOPs.
func (b *builder) concat(repeat, window int) {
	var past float64
	for _, s := range b.seqs {
		if s.New > 0 && s.Cached > 0 {
			past += float64(storedTokens(s.Cached, window))
		}
	}
	if past == 0 {
		return
	}
	o := b.op(OpKVConcat, KindElemwise, repeat, true)
	bytes := past * 2 * float64(b.m.KVDim()) * b.kv
	o.KVReadBytes = bytes
	o.KVWriteBytes = bytes
}

// storedTokens is how many of n tokens a layer with the given window
// (0: none) keeps in its cache.
func storedTokens(n, window int) int {
	if window > 0 {
		return min(n, window)
	}
	return n
}
