package replica

// Hand-off between a Prefill-role replica and a Decode-role replica
// (Splitwise, DistServe). The decode replica reserves blocks for the
// request's KV before the transfer starts (it pulls when it has room),
// the prefill replica keeps its copy until the transfer is done, then the
// request joins the decode replica's running set.

// Reserve takes blocks on this (decode) replica for q's KV and the next
// token, and reports whether they were free.
func (r *Replica) Reserve(q *Request, now int64) bool {
	need := r.reserveBlocks(q)
	if r.cfg.Scheduler.KVAlloc == KVPaged {
		need = r.size.blocks(q.computed + 1)
	}
	if !r.kv.Alloc(now, need) {
		return false
	}
	q.incomingBlocks = need
	return true
}

// Release frees q's blocks on this (prefill) replica once its KV has been
// copied away, and lets the replica use them.
func (r *Replica) Release(q *Request, now int64) {
	r.releaseKV(q, now)
	r.kick(now)
}

// AdmitDecoded adds q, whose KV has arrived in the blocks Reserve took, to
// this (decode) replica's running set.
func (r *Replica) AdmitDecoded(q *Request, now int64) {
	q.blocks, q.incomingBlocks = q.incomingBlocks, 0
	q.handedOff = false
	q.Replica = r.Index
	r.running = append(r.running, q)
	r.kick(now)
}

// WaitingBlocks is the KV blocks the waiting requests' pending tokens
// would take if admitted now.
func (r *Replica) WaitingBlocks() int {
	if r.size.linear {
		return r.kv.For(r.waitingTokens)
	}
	return r.waitingBlocks
}

func (r *Replica) pushWaiting(q *Request, front bool) {
	r.waitingTokens += q.pending()
	if !r.size.linear {
		r.waitingBlocks += r.size.blocks(q.pending())
	}
	if front {
		r.waiting.PushFront(q)
	} else {
		r.waiting.PushBack(q)
	}
}

func (r *Replica) popWaiting() *Request {
	q := r.waiting.PopFront()
	r.waitingTokens -= q.pending()
	if !r.size.linear {
		r.waitingBlocks -= r.size.blocks(q.pending())
	}
	return q
}
