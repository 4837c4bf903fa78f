package replica

// static is request-level batching (Hugging Face pipelines,
// FasterTransformer): when the replica is idle it takes up to MaxNumSeqs
// waiting requests (FCFS, as many as the token budget and the KV cache
// allow), pads their prompts to the longest, prefills them together and
// decodes all of them until the longest output is done — finished
// sequences keep computing as padding. Tokens stream as they are sampled,
// but results return when the whole batch ends, so that is when each
// request finishes. KV is reserved for the padded prompt plus the longest
// output at formation (max_model_len under contiguous allocation).
type static struct {
	members   []*Request
	padPrompt int // longest prompt of the batch
	steps     int // iterations of the batch: the longest output
	step      int // iterations done
}

func (s *static) fill(r *Replica, sl *slot, now int64) {
	if len(s.members) == 0 && !s.form(r, now) {
		return
	}
	for _, q := range s.members {
		e := entry{req: q, newTokens: 1, cached: s.padPrompt + s.step - 1, samples: !q.done()}
		if s.step == 0 {
			e.cached, e.newTokens = 0, s.padPrompt
		}
		sl.entries = append(sl.entries, e)
	}
}

// form takes the next batch from the waiting queue and reserves its KV.
func (s *static) form(r *Replica, now int64) bool {
	cfg := &r.cfg.Scheduler
	n, pad, steps := 0, 0, 0
	for n < r.waiting.Len() && n < cfg.MaxNumSeqs {
		q := r.waiting.At(n)
		p, o := max(pad, q.PromptTokens), max(steps, q.OutputTokens)
		if (n+1)*p > cfg.MaxBatchedTokens || (n+1)*s.blocksPer(r, p, o) > r.kv.Free() {
			break
		}
		n, pad, steps = n+1, p, o
	}
	if n == 0 {
		return false
	}
	per := s.blocksPer(r, pad, steps)
	for i := 0; i < n; i++ {
		q := r.popWaiting()
		r.kv.Alloc(now, per)
		q.blocks = per
		s.members = append(s.members, q)
		r.running = append(r.running, q)
	}
	s.padPrompt, s.steps, s.step = pad, steps, 0
	return true
}

func (s *static) blocksPer(r *Replica, pad, steps int) int {
	if r.cfg.Scheduler.KVAlloc == KVContiguous {
		return r.size.blocks(max(r.reserveTokens, pad+steps))
	}
	return r.size.blocks(pad + steps)
}

func (s *static) complete(r *Replica, sl *slot, now int64) {
	for _, e := range sl.entries {
		if e.samples {
			r.emit(e.req, now)
		}
	}
	s.step++
	if s.step < s.steps {
		return
	}
	for _, q := range s.members {
		q.finished = true
	}
	r.dropFinished()
	for i, q := range s.members {
		s.members[i] = nil
		r.finish(q, now)
	}
	s.members = s.members[:0]
}
