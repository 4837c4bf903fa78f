package kv

// Blocks counts the blocks of one KV pool (a device's cache, or host swap
// space) and integrates their use over time for utilisation figures.
type Blocks struct {
	blockTokens int
	total       int
	used        int // blocks held by requests (their own and shared chunks)
	peak        int
	// cached blocks hold chunks no request holds (prefix caching): they
	// count as free and are evicted when an allocation needs their room.
	cached int
	table  *chunkTable // identified chunks; nil without sharing

	// usedBlockNanos is ∫ used dt up to updatedNanos.
	usedBlockNanos float64
	updatedNanos   int64
	timeline       timeline
}

// NewBlocks makes a pool of total blocks of blockTokens tokens each.
func NewBlocks(total, blockTokens int) *Blocks {
	if blockTokens < 1 || total < 0 {
		panic("kv: block size must be ≥ 1 and the pool non-negative")
	}
	return &Blocks{blockTokens: blockTokens, total: total}
}

// BlockTokens is the number of tokens a block holds.
func (b *Blocks) BlockTokens() int { return b.blockTokens }

// Total is the pool's size in blocks.
func (b *Blocks) Total() int { return b.total }

// Used is the number of blocks allocated now.
func (b *Blocks) Used() int { return b.used }

// Free is the number of blocks not allocated (cached ones included).
func (b *Blocks) Free() int { return b.total - b.used }

// Peak is the largest number of blocks ever allocated at once.
func (b *Blocks) Peak() int { return b.peak }

// For is the number of blocks that tokens occupy.
func (b *Blocks) For(tokens int) int {
	if tokens <= 0 {
		return 0
	}
	return (tokens + b.blockTokens - 1) / b.blockTokens
}

// Alloc takes n blocks at nowNanos if that many are free and reports
// whether it did, evicting cached chunks when only they leave room.
func (b *Blocks) Alloc(nowNanos int64, n int) bool {
	if n > b.total-b.used {
		return false
	}
	b.advance(nowNanos)
	if short := n - (b.total - b.used - b.cached); short > 0 {
		b.evict(short)
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	b.timeline.mark(nowNanos, b.used)
	return true
}

// Release returns n blocks at nowNanos. Releasing more than is allocated
// is a programmer error.
func (b *Blocks) Release(nowNanos int64, n int) {
	if n > b.used || n < 0 {
		panic("kv: releasing blocks that are not allocated")
	}
	b.advance(nowNanos)
	b.used -= n
}

// MeanUsedFraction is the time-averaged fraction of the pool in use from
// time 0 to nowNanos.
func (b *Blocks) MeanUsedFraction(nowNanos int64) float64 {
	b.advance(nowNanos)
	if nowNanos <= 0 || b.total == 0 {
		return 0
	}
	return b.usedBlockNanos / float64(nowNanos) / float64(b.total)
}

func (b *Blocks) advance(nowNanos int64) {
	if nowNanos > b.updatedNanos {
		b.usedBlockNanos += float64(b.used) * float64(nowNanos-b.updatedNanos)
		b.timeline.add(b.updatedNanos, nowNanos, b.used)
		b.updatedNanos = nowNanos
	}
}
