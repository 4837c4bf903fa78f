package kvcache

import "math"

// sparseRead is the read stage: the full (kept) cache stays in memory and
// each decode step reads a selected subset, after scanning metadata to
// choose it. Prefill attends in full.
type sparseRead struct {
	// Tokens read per decode step out of kept: ceil(ratio·kept), or
	// tokens when ratio is 0, rounded up to whole pages.
	ratio  float64
	tokens int
	page   int
	// dense: the first layers read everything (Quest skips two).
	dense int
	// meta is the metadata stored per kept token per layer (bytes), scanned
	// every step (page summaries, label caches, centroids).
	meta func(l layout) float64
	// scan is the selection work per kept token per query head (FLOPs).
	scan func(l layout) float64
	// keyScan is the fraction of steps on which selection re-reads every
	// kept key (TokenSelect's Q·K scoring on a selection-cache miss).
	keyScan float64
	// chunks extends the selection to prefill chunks that follow a cached
	// past (TokenSelect's chunked prefill): each chunk scores every kept
	// key once with its mean query per head (chunkScan FLOPs per kept token
	// per query head, all of K read), soft-votes the per-head scores
	// (materialised in fp32) and attends to budget(kept) selected tokens
	// plus its own tokens causally.
	chunks    bool
	chunkScan func(l layout) float64
}

// chunkScoreBytes is the fp32 score traffic of a chunk's selection per kept
// token per query head: scores written, read and written by the per-head
// softmax, read by the vote across heads.
const chunkScoreBytes = 16

// budget is the number of tokens a decode step reads out of kept.
func (r *sparseRead) budget(kept int) int {
	n := r.tokens
	if r.ratio > 0 {
		n = int(math.Ceil(r.ratio*float64(kept) - 1e-9))
	}
	if r.page > 1 {
		n = (n + r.page - 1) / r.page * r.page
	}
	return max(0, min(n, kept))
}

// sharing is the share stage: the batch shares a prefix of prefix tokens,
// whose K and V a decode step reads once for all sequences that hold it
// (Hydragen). For capacity, share sequences hold one copy.
type sharing struct {
	prefix, share int
}

// channels is the channel stage: the fraction of the K and V channels a
// token keeps (ThinK prunes key channels), or, with lowRank, the width of a
// low-rank code of K and V relative to kv_heads·head_dim (CSKV), on which
// attention runs with the up-projections absorbed.
type channels struct {
	k, v    float64
	lowRank bool
	// observe > 0: after a prefill the last observe queries score the key
	// channels to choose which to keep (ThinK).
	observe int
}

// allocKind is how the cache's memory is allocated.
type allocKind uint8

const (
	allocPaged      allocKind = iota // blocks of block tokens on demand (vLLM)
	allocContiguous                  // max tokens reserved up front (Orca, FasterTransformer)
	allocVAttention                  // contiguous virtual memory, physical pages on demand
)

// alloc is the allocation stage.
type alloc struct {
	kind  allocKind
	block int // paged: tokens per block
	max   int // contiguous: tokens reserved (0: the model's context)
	page  int // vattention: bytes per physical page
}

// bytes is the memory that holding kept tokens at head share heads takes
// in one layer.
func (a *alloc) bytes(l *layout, kept int, heads float64) float64 {
	if a == nil {
		return heads * l.bytes(kept)
	}
	switch a.kind {
	case allocPaged:
		blocks := (kept + a.block - 1) / a.block
		return heads * l.bytes(blocks*a.block)
	case allocVAttention:
		// K and V of a layer are separate virtual tensors, each backed by
		// whole physical pages.
		half := heads * l.bytes(kept) / 2
		page := float64(a.page)
		return 2 * math.Ceil(half/page-1e-9) * page
	}
	return heads * l.bytes(kept)
}
