package replica

import "github.com/llmsim/llmsim/sim/kv"

// Prefix sharing (vLLM's automatic prefix caching; Hydragen's shared
// prefix). A request's tokens are cut into chunks of BlockTokens tokens.
// The whole chunks it shares with others get identities, kv.ChunkID:
//   - a request of prefix group g shares its first PrefixTokens tokens
//     with every request of g: chunk j of g is (g, j);
//   - a request of a conversation (session s, no group) shares all of its
//     tokens with the conversation's later turns, whose prompts extend it
//     (prompt + answer + the next question).
//
// A chunk is identified once computed (as vLLM hashes a block once it is
// full): if an equal chunk is already in the pool, the request drops its
// own copy and holds that one instead. Chunks j < n of a request are held
// by reference, so a request holds the chunks 0..chunks-1 and its own
// blocks for the rest. Chunk j costs blocks(j+1 chunks) − blocks(j
// chunks), so a request's blocks sum to blocks(its tokens) whatever it
// shares, under any scheme.
//
// At admission a waiting request looks its chunks up, in order, stopping
// at the first miss and short of its last token (one token must be
// computed to sample); the hit chunks count as computed, so their prefill
// is skipped.

// prefixHit is what a lookup found: chunks present, and the blocks of
// those that are cached (no holder), which acquiring takes from the free.
type prefixHit struct {
	chunks, idleBlocks int
}

func (r *Replica) chunkID(q *Request, j int) kv.ChunkID {
	if q.PrefixGroup > 0 {
		return kv.ChunkID{Owner: int64(q.PrefixGroup), Index: int32(j)}
	}
	return kv.ChunkID{Owner: q.Session, Session: true, Index: int32(j)}
}

// shareableChunks is the number of whole chunks among q's first tokens
// tokens that other requests may share.
func (r *Replica) shareableChunks(q *Request, tokens int) int {
	switch {
	case q.PrefixGroup > 0:
		tokens = min(tokens, q.PrefixTokens)
	case q.Session == 0:
		return 0
	}
	return tokens / r.kv.BlockTokens()
}

// chunkBlocks is what the first n chunks of a sequence occupy.
func (r *Replica) chunkBlocks(n int) int { return r.size.blocks(n * r.kv.BlockTokens()) }

// probePrefix looks up the chunks of waiting request q.
func (r *Replica) probePrefix(q *Request) prefixHit {
	var h prefixHit
	if !r.kv.Sharing() || q.computed > 0 {
		return h
	}
	limit := r.shareableChunks(q, q.known()-1)
	for h.chunks < limit {
		present, idle := r.kv.Probe(r.chunkID(q, h.chunks))
		if !present {
			break
		}
		h.chunks++
		h.idleBlocks += idle
	}
	return h
}

// acquirePrefix makes q a holder of the chunks h found.
func (r *Replica) acquirePrefix(q *Request, h prefixHit, now int64) {
	for j := 0; j < h.chunks; j++ {
		r.kv.Acquire(now, r.chunkID(q, j))
	}
	q.chunks, q.chunkBlocks = h.chunks, r.chunkBlocks(h.chunks)
}

// commitChunks identifies the whole chunks q has computed since the last
// call: its own blocks become shared chunks, or are dropped for an equal
// chunk another request computed first.
func (r *Replica) commitChunks(q *Request, now int64) {
	for limit := r.shareableChunks(q, q.computed); q.chunks < limit; q.chunks++ {
		cost := r.chunkBlocks(q.chunks+1) - q.chunkBlocks
		id := r.chunkID(q, q.chunks)
		if r.kv.Acquire(now, id) {
			r.kv.Release(now, cost)
		} else {
			r.kv.Register(id, cost)
		}
		q.blocks -= cost
		q.chunkBlocks += cost
	}
}

// releaseKV frees q's own blocks and lets go of its chunks, the last
// first, so that a cached prefix loses its tail before its head.
func (r *Replica) releaseKV(q *Request, now int64) {
	r.kv.Release(now, q.blocks)
	q.blocks = 0
	for j := q.chunks - 1; j >= 0; j-- {
		r.kv.Drop(now, r.chunkID(q, j))
	}
	q.chunks, q.chunkBlocks = 0, 0
}
