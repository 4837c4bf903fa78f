package kv

import "testing"

// A worked example of shared chunks in a 10-block pool: request A computes
// a 3-chunk prefix of group 1 and registers it, B shares it, both leave
// and the chunks stay cached; an allocation that needs their room evicts
// the least recently released first (the prefix's tail: A and B let go of
// chunk 2 before chunk 1 before chunk 0).
func TestSharedChunksCountOnceAndEvictTailFirst(t *testing.T) {
	b := NewBlocks(10, 16)
	b.EnableSharing(true)
	id := func(j int32) ChunkID { return ChunkID{Owner: 1, Index: j} }
	// A: 4 blocks of its own, 3 of them become chunks 0..2.
	if !b.Alloc(0, 4) {
		t.Fatal("alloc")
	}
	for j := int32(0); j < 3; j++ {
		b.Register(id(j), 1)
	}
	// B finds all three, held (no idle blocks), and adds 2 of its own.
	for j := int32(0); j < 3; j++ {
		if ok, idle := b.Probe(id(j)); !ok || idle != 0 {
			t.Fatalf("chunk %d: present %v idle %d", j, ok, idle)
		}
		b.Acquire(1, id(j))
	}
	b.Alloc(1, 2)
	if b.Used() != 6 || b.Cached() != 0 {
		t.Fatalf("used %d cached %d, want 6 (4 of A + 2 of B) and 0", b.Used(), b.Cached())
	}
	// Both leave: own blocks freed, chunks dropped last-first.
	for _, own := range []int{1, 2} {
		b.Release(2, own)
		for j := int32(2); j >= 0; j-- {
			b.Drop(2, id(j))
		}
	}
	if b.Used() != 0 || b.Cached() != 3 || b.Free() != 10 {
		t.Fatalf("used %d cached %d free %d, want 0, 3, 10", b.Used(), b.Cached(), b.Free())
	}
	if ok, idle := b.Probe(id(0)); !ok || idle != 1 {
		t.Fatalf("cached chunk 0: present %v idle %d", ok, idle)
	}
	// 8 blocks fit beside the 3 cached only after evicting one: chunk 2.
	if !b.Alloc(3, 8) || b.Cached() != 2 || b.EvictedBlocks() != 1 {
		t.Fatalf("cached %d evicted %d", b.Cached(), b.EvictedBlocks())
	}
	if ok, _ := b.Probe(id(2)); ok {
		t.Fatal("the tail chunk must go first")
	}
	// Re-acquiring chunk 0 makes it used again and takes it off the LRU.
	if !b.Acquire(4, id(0)) || b.Used() != 9 || b.Cached() != 1 {
		t.Fatalf("used %d cached %d", b.Used(), b.Cached())
	}
	// 1 block left: allocating it evicts chunk 1, not the held chunk 0.
	if !b.Alloc(5, 1) || b.Cached() != 0 || b.Used() != 10 {
		t.Fatalf("used %d cached %d", b.Used(), b.Cached())
	}
	if ok, _ := b.Probe(id(0)); !ok {
		t.Fatal("a held chunk was evicted")
	}
	if b.Alloc(6, 1) {
		t.Fatal("a full pool must refuse")
	}
}

// Without retention (Hydragen sharing only), the last holder frees the
// chunk.
func TestSharedChunksWithoutRetentionFreeWithLastHolder(t *testing.T) {
	b := NewBlocks(4, 16)
	b.EnableSharing(false)
	id := ChunkID{Owner: 7, Session: true}
	b.Alloc(0, 2)
	b.Register(id, 2)
	b.Acquire(0, id)
	b.Drop(1, id)
	if b.Used() != 2 {
		t.Fatalf("used %d with one holder left", b.Used())
	}
	b.Drop(2, id)
	if ok, _ := b.Probe(id); ok || b.Used() != 0 || b.Cached() != 0 {
		t.Fatalf("present %v used %d cached %d", ok, b.Used(), b.Cached())
	}
	// A session chunk and a group chunk with the same number differ.
	b.Alloc(3, 1)
	b.Register(ChunkID{Owner: 7}, 1)
	if ok, _ := b.Probe(id); ok {
		t.Fatal("group 7 and session 7 must not collide")
	}
}
