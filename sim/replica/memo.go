package replica

import "github.com/llmsim/llmsim/models"

// stepMemo remembers the cost of recent batch shapes. A graph depends only
// on the multiset of (cached, new) pairs of its sequences, so the key is an
// order-independent 64-bit hash of that multiset plus its size and token
// sums; a false hit needs two different batches to agree on all four,
// which a 64-bit mix makes vanishingly unlikely. The table is direct-mapped
// and fixed in size, so memory stays flat however long the run.
//
// When batch shapes do not repeat (continuous batching under random
// arrivals: contexts grow every step), hashing is wasted work, so the memo
// watches its hit rate over windows of probeSteps lookups and sleeps for
// sleepSteps steps after a window with under 1% hits. The schedule depends
// only on the sequence of batches, so runs stay deterministic.
type stepMemo struct {
	entries      []memoEntry
	hits, misses uint64
	windowHits   int
	windowSteps  int
	sleeping     int
	key          memoEntry // key of the last lookup, for store
	stages       []float64 // backing of the entries' StageSeconds
	// awake keeps the memo from sleeping: set when pricing a step costs
	// far more than hashing it (offloading schemes execute a task graph).
	awake bool
}

type memoEntry struct {
	hash          uint64
	seqs          int
	cached, fresh int64
	cost          StepCost
	valid         bool
}

const (
	memoSlots  = 4096
	probeSteps = 1024
	sleepSteps = 15 * probeSteps
)

// mix is the SplitMix64 finaliser: a bijection that scatters nearby
// inputs (Steele, Lea and Flood, OOPSLA 2014).
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func memoKey(seqs []models.Seq) (hash uint64, n int, cached, fresh int64) {
	for _, s := range seqs {
		if s.New <= 0 {
			continue
		}
		h := mix(uint64(s.Cached)<<32 ^ uint64(s.New))
		hash += h ^ (h >> 17) // a sum: order does not matter
		n++
		cached += int64(s.Cached)
		fresh += int64(s.New)
	}
	return mix(hash ^ uint64(n)), n, cached, fresh
}

// lookup returns the memoised cost of seqs; a miss remembers the key for
// store.
func (m *stepMemo) lookup(seqs []models.Seq) (*StepCost, bool) {
	m.misses++
	if m.sleeping > 0 {
		m.sleeping--
		m.key.valid = false
		return nil, false
	}
	if m.entries == nil {
		m.entries = make([]memoEntry, memoSlots)
	}
	k := &m.key
	k.hash, k.seqs, k.cached, k.fresh = memoKey(seqs)
	k.valid = true
	m.windowSteps++
	e := &m.entries[k.hash%memoSlots]
	hit := e.valid && e.hash == k.hash && e.seqs == k.seqs && e.cached == k.cached && e.fresh == k.fresh
	if hit {
		m.misses--
		m.hits++
		m.windowHits++
	}
	if m.windowSteps == probeSteps {
		if m.windowHits*100 < probeSteps && !m.awake {
			m.sleeping = sleepSteps
		}
		m.windowSteps, m.windowHits = 0, 0
	}
	if hit {
		return &e.cost, true
	}
	return nil, false
}

// store remembers c under the key of the last lookup.
func (m *stepMemo) store(c *StepCost) {
	k := &m.key
	if !k.valid {
		return
	}
	slot := k.hash % memoSlots
	e := &m.entries[slot]
	n := len(c.StageSeconds)
	if m.stages == nil {
		// One backing array for every entry's stage times: storing never
		// allocates after this.
		m.stages = make([]float64, memoSlots*n)
	}
	stages := m.stages[int(slot)*n : int(slot+1)*n : int(slot+1)*n]
	copy(stages, c.StageSeconds)
	e.cost = *c
	e.cost.StageSeconds = stages
	e.hash, e.seqs, e.cached, e.fresh, e.valid = k.hash, k.seqs, k.cached, k.fresh, true
}
