package cluster

import (
	"github.com/llmsim/llmsim/sim/metrics"
	"github.com/llmsim/llmsim/sim/replica"
)

// The cluster is every replica's Sink.

// Token records inter-token latencies.
func (c *Cluster) Token(r *replica.Request, now, gapNanos int64) {
	c.emitted++
	if gapNanos >= 0 {
		c.metrics.Token(gapNanos)
	}
}

// Finished records a completed request and recycles it.
func (c *Cluster) Finished(r *replica.Request, now int64) {
	d := metrics.Done{
		ArrivalNanos: r.ArrivalNanos, ScheduledNanos: r.ScheduledNanos,
		FirstTokenNanos: r.FirstTokenNanos, LastTokenNanos: r.LastTokenNanos, FinishNanos: now,
		PromptTokens: r.PromptTokens, OutputTokens: r.Generated(),
	}
	c.metrics.Finish(&d)
	if c.trace != nil {
		c.trace.Span("request", r.Replica, r.ID, r.ArrivalNanos, now)
		c.trace.Span("queued", r.Replica, r.ID, r.ArrivalNanos, r.ScheduledNanos)
	}
	c.writeRow(r, "completed", "")
	if c.pd != nil {
		c.pd.freed(r.Replica, now)
	}
	c.complete(r, now)
}

// Prefilled hands a request from a prefill replica to the decode pool.
func (c *Cluster) Prefilled(r *replica.Request, now int64) { c.pd.start(r, now) }

// Iteration traces an iteration, and the replica's KV use when it changed
// since the replica's previous iteration.
func (c *Cluster) Iteration(rep int32, start, end int64, it *replica.Iteration) {
	if c.trace == nil {
		return
	}
	c.trace.Iteration(rep, start, end, it.Seqs, it.PrefillTokens, it.DecodeSeqs)
	last := &c.kvTraced[rep]
	if now := [2]int{it.KVUsedBlocks, it.KVCachedBlocks}; *last != now {
		*last = now
		c.trace.KVBlocks(rep, start, now[0], now[1], c.all[rep].KV().Total()-now[0]-now[1])
	}
}
