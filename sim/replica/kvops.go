package replica

// grow gives q the blocks to hold tokens more tokens, under paged
// allocation; reserved modes already hold them. It reports success.
func (r *Replica) grow(q *Request, tokens int, now int64) bool {
	if !r.paged {
		return true
	}
	need := r.size.blocks(q.computed+tokens) - q.chunkBlocks - q.blocks
	if need <= 0 {
		return true
	}
	if !r.kv.Alloc(now, need) {
		return false
	}
	q.blocks += need
	return true
}

// admit takes the blocks a waiting request needs to start with tokens
// tokens after the prefix chunks h found cached, keeping the watermark
// free under paged allocation. The chunks are acquired first, so that
// making room evicts other cached chunks, not these.
func (r *Replica) admit(q *Request, h prefixHit, tokens int, now int64) bool {
	need := r.reserveBlocks(q)
	if r.cfg.Scheduler.KVAlloc == KVPaged {
		shared := r.chunkBlocks(h.chunks)
		need = r.size.blocks(h.chunks*r.kv.BlockTokens()+tokens) - shared
		free := r.kv.Free() - h.idleBlocks
		// The watermark keeps room for running sequences to grow; with none
		// running it would only stop the one request that could run.
		watermark := int(r.cfg.KV.Watermark * float64(r.kv.Total()))
		if r.stateOnly {
			watermark = 0 // sequences never grow past their state
		}
		if need > free || len(r.running) > 0 && free-need < watermark {
			return false
		}
		r.acquirePrefix(q, h, now)
	}
	if !r.kv.Alloc(now, need) {
		return false
	}
	q.blocks += need
	return true
}

// preempt evicts q from the running set: to host memory when swapping is
// configured and the host has room, else by dropping its KV to recompute
// it later (vLLM's two modes).
func (r *Replica) preempt(q *Request, now int64) {
	r.stats.Preemptions++
	q.Preemptions++
	// A swapped request takes a copy of its shared chunks too, and comes
	// back holding them as its own blocks.
	if held := q.Blocks(); r.host != nil && held > 0 && r.host.Alloc(now, held) {
		r.stats.SwapOuts++
		r.transfer(float64(held)*r.blockBytes, now)
		r.releaseKV(q, now)
		q.hostBlocks = held
		r.swapped.PushBack(q)
		return
	}
	r.releaseKV(q, now)
	q.computed = 0
	r.pushWaiting(q, true)
}

// swapIn brings the front swapped request back if its blocks (plus room
// for the next token) fit, and reports whether it did.
func (r *Replica) swapIn(now int64) (*Request, bool) {
	q := r.swapped.At(0)
	need := r.size.blocks(q.computed + 1)
	if !r.kv.Alloc(now, need) {
		return nil, false
	}
	r.swapped.PopFront()
	r.transfer(float64(q.hostBlocks)*r.blockBytes, now)
	r.host.Release(now, q.hostBlocks)
	q.hostBlocks, q.blocks = 0, need
	return q, true
}

// transfer starts a copy over the host link; the iteration being formed
// waits for all of them (vLLM issues swaps before the forward pass).
func (r *Replica) transfer(bytes float64, now int64) {
	r.stats.SwappedBytes += bytes
	r.hostLink.Start(now, int64(r.pendingTransfers), bytes)
	r.pendingTransfers++
}
