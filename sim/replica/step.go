package replica

import (
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/sim"
)

// launch prices slot s's batch and schedules its completion. The engine's
// CPU overhead comes first, then each pipeline stage runs when both the
// batch has reached it and the stage has finished its previous batch.
func (r *Replica) launch(s int, now int64) {
	sl := &r.slots[s]
	sl.startNanos = now
	r.seqs = r.seqs[:0]
	it := &r.it
	*it = Iteration{}
	for _, e := range sl.entries {
		r.seqs = append(r.seqs, models.Seq{Cached: e.cached, New: e.newTokens})
		if e.cached > 0 && e.newTokens == 1 {
			it.DecodeSeqs++
			r.stats.DecodeTokens++
		} else {
			it.PrefillTokens += e.newTokens
			r.stats.PrefillTokens += int64(e.newTokens)
		}
	}
	it.Seqs = len(sl.entries)
	it.KVUsedBlocks, it.KVCachedBlocks = r.kv.Used(), r.kv.Cached()
	c := r.exec.Price(r.seqs)
	if r.exec.off != nil && r.exec.off.err != nil {
		return // the slot stays busy: the replica stops, and the cluster reports Err
	}
	it.Cost = c
	if r.shared != nil {
		// The host times the iteration (hostshare.go); its GPU time and
		// energy are those priced alone.
		r.stats.Iterations++
		r.stats.GPUNanos += sim.Nanos(c.StageSeconds[0])
		r.stats.FLOPs += c.FLOPs
		r.stats.Bytes += c.Bytes
		r.stats.JoulesAboveIdle += c.JoulesAboveIdle
		r.startShared(s, now, c)
		return
	}
	t := now + r.rounder.Nanos(c.OverheadSeconds)
	var gpuNanos int64
	for st, seconds := range c.StageSeconds {
		start := max(t, r.stageFreeNanos[st])
		end := start + r.rounder.Nanos(seconds)
		r.stageFreeNanos[st] = end
		gpuNanos += end - start
		t = end
		if st < len(c.StageSeconds)-1 {
			t += r.rounder.Nanos(c.SendSeconds)
		}
	}
	r.stats.Iterations++
	r.stats.GPUNanos += gpuNanos / int64(len(c.StageSeconds))
	r.stats.FLOPs += c.FLOPs
	r.stats.Bytes += c.Bytes
	r.stats.JoulesAboveIdle += c.JoulesAboveIdle
	r.stats.BusyNanos += t - max(now, r.busyUntilNanos)
	r.busyUntilNanos = t
	r.q.Push(t, KindStepDone, r.Index, int64(s))
	if len(r.slots) > 1 && r.stageFreeNanos[0] > now {
		r.q.Push(r.stageFreeNanos[0], KindStageFree, r.Index, 0)
	}
	r.sink.Iteration(r.Index, now, t, it)
}

// finishSlot applies the tokens of slot s's batch at its end.
func (r *Replica) finishSlot(s int, now int64) {
	sl := &r.slots[s]
	for _, e := range sl.entries {
		e.req.inFlight = false
	}
	r.sched.complete(r, sl, now)
	sl.busy = false
	sl.entries = sl.entries[:0]
}

// emit records a sampled token of q at now.
func (r *Replica) emit(q *Request, now int64) {
	q.generated++
	gap := now - q.LastTokenNanos
	if q.generated == 1 {
		q.FirstTokenNanos = now
		gap = -1
	}
	q.LastTokenNanos = now
	r.sink.Token(q, now, gap)
}

// finish releases a completed request and hands it to the sink.
func (r *Replica) finish(q *Request, now int64) {
	r.releaseKV(q, now)
	q.FinishNanos = now
	r.sink.Finished(q, now)
}

// dropFinished removes finished and handed-off requests from running,
// keeping the order of the rest.
func (r *Replica) dropFinished() {
	kept := r.running[:0]
	for _, q := range r.running {
		if !q.finished && !q.handedOff {
			kept = append(kept, q)
		}
	}
	clear(r.running[len(kept):])
	r.running = kept
}
