package kv

// Shared blocks (vLLM's automatic prefix caching, Hydragen's shared
// prefix). A sequence's KV is cut into chunks of a block's worth of
// tokens; a chunk whose tokens every request of one prefix group (or one
// conversation) has in common gets an identity, ChunkID, once it is
// computed. Requests that hold the same chunk share its blocks, counted
// once, with a reference count. When the last holder lets go, the chunk
// is either freed (sharing only) or kept as cached (prefix caching): it
// still occupies its blocks, but counts as free — an allocation that
// finds no other room evicts cached chunks, least recently released first.
// Holders release their chunks last-first, so a prefix loses its tail
// before its head, as in vLLM's free-block queue.

// ChunkID names a shareable chunk: the Index-th block's worth of the
// tokens shared by Owner (a prefix group, or a session when Session is
// set).
type ChunkID struct {
	Owner   int64
	Session bool
	Index   int32
}

type chunk struct {
	id         ChunkID
	blocks     int32 // blocks the chunk occupies
	refs       int32 // holders; 0: cached, in the LRU list
	prev, next int32 // LRU links (slots), -1 at the ends
}

// chunkTable holds the identified chunks of one pool. Slots are recycled,
// so its size is bounded by the pool, not by the requests served.
type chunkTable struct {
	retain     bool
	index      map[ChunkID]int32
	chunks     []chunk
	freeSlots  []int32
	head, tail int32 // least and most recently released cached chunks
	evicted    int64 // blocks of cached chunks evicted for room
}

// EnableSharing lets the pool hold identified chunks. With retain, chunks
// no one holds stay cached until their room is needed (prefix caching);
// without, they are freed with their last holder.
func (b *Blocks) EnableSharing(retain bool) {
	b.table = &chunkTable{retain: retain, index: map[ChunkID]int32{}, head: -1, tail: -1}
}

// Sharing reports whether the pool holds identified chunks.
func (b *Blocks) Sharing() bool { return b.table != nil }

// Cached is the number of blocks in cached chunks that no one holds: they
// hold data but count as free.
func (b *Blocks) Cached() int { return b.cached }

// EvictedBlocks is the number of cached blocks evicted to make room.
func (b *Blocks) EvictedBlocks() int64 {
	if b.table == nil {
		return 0
	}
	return b.table.evicted
}

// Probe reports whether chunk id is in the pool, and the blocks it would
// take from the free count if acquired (its size when cached, 0 when held).
func (b *Blocks) Probe(id ChunkID) (present bool, idleBlocks int) {
	s, ok := b.table.index[id]
	if !ok {
		return false, 0
	}
	c := &b.table.chunks[s]
	if c.refs == 0 {
		return true, int(c.blocks)
	}
	return true, 0
}

// Acquire adds a holder to chunk id at nowNanos and reports whether the
// chunk was there. A cached chunk becomes used again.
func (b *Blocks) Acquire(nowNanos int64, id ChunkID) bool {
	t := b.table
	s, ok := t.index[id]
	if !ok {
		return false
	}
	c := &t.chunks[s]
	if c.refs == 0 {
		t.unlink(s)
		b.advance(nowNanos)
		b.cached -= int(c.blocks)
		b.used += int(c.blocks)
		b.peak = max(b.peak, b.used)
		b.timeline.mark(nowNanos, b.used)
	}
	c.refs++
	return true
}

// Register gives chunk id, absent from the pool, to blocks its first
// holder already has allocated; the holder no longer counts them as its
// own.
func (b *Blocks) Register(id ChunkID, blocks int) {
	t := b.table
	if _, ok := t.index[id]; ok {
		panic("kv: registering a chunk twice")
	}
	var s int32
	if n := len(t.freeSlots); n > 0 {
		s = t.freeSlots[n-1]
		t.freeSlots = t.freeSlots[:n-1]
	} else {
		s = int32(len(t.chunks))
		t.chunks = append(t.chunks, chunk{})
	}
	t.chunks[s] = chunk{id: id, blocks: int32(blocks), refs: 1, prev: -1, next: -1}
	t.index[id] = s
}

// Drop removes a holder of chunk id at nowNanos. The last holder's drop
// caches the chunk (retain) or frees it.
func (b *Blocks) Drop(nowNanos int64, id ChunkID) {
	t := b.table
	s, ok := t.index[id]
	if !ok || t.chunks[s].refs <= 0 {
		panic("kv: dropping a chunk that is not held")
	}
	c := &t.chunks[s]
	c.refs--
	if c.refs > 0 {
		return
	}
	b.advance(nowNanos)
	b.used -= int(c.blocks)
	if t.retain {
		b.cached += int(c.blocks)
		t.pushTail(s)
		return
	}
	t.remove(s)
}

// evict frees cached chunks, least recently released first, until at
// least n blocks are free of data.
func (b *Blocks) evict(n int) {
	t := b.table
	for n > 0 && t.head >= 0 {
		s := t.head
		c := t.chunks[s].blocks
		t.unlink(s)
		t.remove(s)
		b.cached -= int(c)
		t.evicted += int64(c)
		n -= int(c)
	}
	if n > 0 {
		panic("kv: no cached blocks left to evict")
	}
}

func (t *chunkTable) remove(s int32) {
	delete(t.index, t.chunks[s].id)
	t.chunks[s] = chunk{}
	t.freeSlots = append(t.freeSlots, s)
}

func (t *chunkTable) pushTail(s int32) {
	c := &t.chunks[s]
	c.prev, c.next = t.tail, -1
	if t.tail >= 0 {
		t.chunks[t.tail].next = s
	} else {
		t.head = s
	}
	t.tail = s
}

func (t *chunkTable) unlink(s int32) {
	c := &t.chunks[s]
	if c.prev >= 0 {
		t.chunks[c.prev].next = c.next
	} else {
		t.head = c.next
	}
	if c.next >= 0 {
		t.chunks[c.next].prev = c.prev
	} else {
		t.tail = c.prev
	}
	c.prev, c.next = -1, -1
}
