package replica

// scheduler forms batches. A new policy is one file implementing it.
type scheduler interface {
	// fill appends the iteration's entries to sl, admitting, preempting
	// and swapping as the policy decides.
	fill(r *Replica, sl *slot, now int64)
	// complete applies the tokens of sl's finished iteration.
	complete(r *Replica, sl *slot, now int64)
}

func newScheduler(c *Config) scheduler {
	if c.Scheduler.Policy == Static {
		return &static{}
	}
	return &continuous{}
}

// continuous is iteration-level scheduling (Orca, vLLM, Sarathi-Serve).
//
// prefill-first (vLLM V0): if no request is swapped out, admit waiting
// prompts (whole, FCFS, within the token and sequence budgets and the free
// blocks above the watermark); an iteration with new prompts runs only
// them. Otherwise every running sequence decodes, preempting the most
// recently admitted ones when blocks run out, and swapped requests come
// back when nothing was preempted.
//
// decode-first (vLLM V1, Sarathi-Serve): running sequences go first
// (decodes and ongoing prompt chunks), then swapped ones, then new prompts
// fill what is left of the budget; with chunked prefill a prompt may be
// cut to fit it.
type continuous struct {
	tokens, seqs int // budgets left in the iteration being formed
}

func (s *continuous) fill(r *Replica, sl *slot, now int64) {
	cfg := &r.cfg.Scheduler
	s.tokens, s.seqs = cfg.MaxBatchedTokens, cfg.MaxNumSeqs
	if cfg.ChunkTokens > 0 {
		s.tokens = min(s.tokens, cfg.ChunkTokens)
	}
	if cfg.Priority == PrefillFirst {
		if r.swapped.Len() == 0 {
			s.admitWaiting(r, sl, now)
			if len(sl.entries) > 0 {
				return
			}
		}
		if !s.runRunning(r, sl, now) {
			s.swapIn(r, sl, now)
		}
		return
	}
	if s.runRunning(r, sl, now) {
		return // no new work while memory is this short
	}
	s.swapIn(r, sl, now)
	if r.swapped.Len() == 0 {
		s.admitWaiting(r, sl, now)
	}
}

// take adds n tokens of q to the iteration.
func (s *continuous) take(sl *slot, q *Request, n int) {
	sl.entries = append(sl.entries, entry{req: q, cached: q.computed, newTokens: n, samples: q.computed+n == q.known()})
	s.tokens -= n
	s.seqs--
}

// size is how many of q's pending tokens fit the budget now (0: none).
func (s *continuous) size(r *Replica, q *Request) int { return s.sizeOf(r, q.pending()) }

// sizeOf is how many of n pending tokens fit the budget now.
func (s *continuous) sizeOf(r *Replica, n int) int {
	if n <= s.tokens {
		return n
	}
	if r.cfg.Scheduler.ChunkTokens > 0 {
		return s.tokens
	}
	return 0
}

// runRunning schedules the running sequences in admission order and
// reports whether it had to preempt.
func (s *continuous) runRunning(r *Replica, sl *slot, now int64) (preempted bool) {
	for i := 0; i < len(r.running) && s.seqs > 0 && s.tokens > 0; i++ {
		q := r.running[i]
		if q.inFlight {
			continue
		}
		n := s.size(r, q)
		if n == 0 {
			continue
		}
		for !r.grow(q, n, now) {
			preempted = true
			v := r.victim(i)
			if v < 0 {
				r.removeRunning(i)
				r.preempt(q, now)
				i--
				q = nil
				break
			}
			victim := r.running[v]
			r.removeRunning(v)
			r.preempt(victim, now)
		}
		if q != nil {
			s.take(sl, q, n)
		}
	}
	return preempted
}

// swapIn brings swapped requests back while they fit.
func (s *continuous) swapIn(r *Replica, sl *slot, now int64) {
	for r.swapped.Len() > 0 && s.seqs > 0 && s.tokens > 0 {
		q, ok := r.swapIn(now)
		if !ok {
			return
		}
		r.running = append(r.running, q)
		s.take(sl, q, 1)
	}
}

// admitWaiting starts waiting requests in FCFS order until one does not
// fit (no overtaking, as in vLLM).
func (s *continuous) admitWaiting(r *Replica, sl *slot, now int64) {
	for r.waiting.Len() > 0 && s.seqs > 0 && s.tokens > 0 {
		q := r.waiting.At(0)
		h := r.probePrefix(q)
		hit := h.chunks * r.kv.BlockTokens()
		n := s.sizeOf(r, q.pending()-hit)
		if n == 0 || !r.admit(q, h, n, now) {
			return
		}
		r.popWaiting()
		if r.kv.Sharing() {
			r.stats.PrefixQueriedTokens += int64(q.pending())
			r.stats.PrefixHitTokens += int64(hit)
			q.computed = hit
		}
		r.running = append(r.running, q)
		s.take(sl, q, n)
	}
}

func (s *continuous) complete(r *Replica, sl *slot, now int64) {
	dropped := false
	sharing := r.kv.Sharing()
	for _, e := range sl.entries {
		q := e.req
		q.computed += e.newTokens
		if sharing {
			r.commitChunks(q, now)
		}
		if e.samples {
			r.emit(q, now)
		}
		switch {
		case q.done():
			q.finished, dropped = true, true
		case r.cfg.Role == Prefill && q.generated > 0:
			q.handedOff, dropped = true, true
		}
	}
	if !dropped {
		return
	}
	r.dropFinished()
	for _, e := range sl.entries {
		switch q := e.req; {
		case q.finished:
			r.finish(q, now)
		case q.handedOff:
			r.sink.Prefilled(q, now)
		}
	}
}

// victim is the index of the running request to preempt for the one at
// index i: the most recently admitted one after it that is not in flight,
// or -1 when there is none (then i itself yields).
func (r *Replica) victim(i int) int {
	for v := len(r.running) - 1; v > i; v-- {
		if !r.running[v].inFlight {
			return v
		}
	}
	return -1
}

// removeRunning deletes index i from running, keeping the order.
func (r *Replica) removeRunning(i int) {
	copy(r.running[i:], r.running[i+1:])
	r.running[len(r.running)-1] = nil
	r.running = r.running[:len(r.running)-1]
}
