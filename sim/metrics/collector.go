package metrics

import "sort"

// SLO is a latency objective; a zero field sets no limit.
type SLO struct {
	TTFTSeconds float64 `json:"ttft_seconds"`
	TPOTSeconds float64 `json:"tpot_seconds"`
}

// Done is what the collector needs of a finished request.
type Done struct {
	ArrivalNanos, ScheduledNanos, FirstTokenNanos, FinishNanos int64
	PromptTokens, OutputTokens                                 int
	// LastTokenNanos is when the last token was sampled (before
	// FinishNanos under static batching, which returns whole batches).
	LastTokenNanos int64
}

// TTFTNanos is the time to first token.
func (d *Done) TTFTNanos() int64 { return d.FirstTokenNanos - d.ArrivalNanos }

// TPOTNanos is the mean time per output token after the first (0 for a
// single-token request).
func (d *Done) TPOTNanos() int64 {
	if d.OutputTokens <= 1 {
		return 0
	}
	return (d.LastTokenNanos - d.FirstTokenNanos) / int64(d.OutputTokens-1)
}

// Meets reports whether d meets the objective.
func (s SLO) Meets(d *Done) bool {
	if s.TTFTSeconds > 0 && float64(d.TTFTNanos()) > s.TTFTSeconds*1e9 {
		return false
	}
	if s.TPOTSeconds > 0 && float64(d.TPOTNanos()) > s.TPOTSeconds*1e9 {
		return false
	}
	return true
}

// Collector accumulates request metrics in constant memory.
type Collector struct {
	SLO SLO

	TTFT, TPOT, ITL, E2E, Queue Histogram

	Arrived, Completed, Good   uint64
	PromptTokens, OutputTokens uint64
	GoodOutputTokens           uint64
	rejected                   map[string]uint64
}

// Token records the gap between two consecutive tokens of a request.
func (c *Collector) Token(gapNanos int64) { c.ITL.Record(gapNanos) }

// Finish records a completed request.
func (c *Collector) Finish(d *Done) {
	c.Completed++
	c.TTFT.Record(d.TTFTNanos())
	if d.OutputTokens > 1 {
		c.TPOT.Record(d.TPOTNanos())
	}
	c.E2E.Record(d.FinishNanos - d.ArrivalNanos)
	c.Queue.Record(d.ScheduledNanos - d.ArrivalNanos)
	c.PromptTokens += uint64(d.PromptTokens)
	c.OutputTokens += uint64(d.OutputTokens)
	if c.SLO.Meets(d) {
		c.Good++
		c.GoodOutputTokens += uint64(d.OutputTokens)
	}
}

// Reject records a request that cannot be served, with the reason.
func (c *Collector) Reject(reason string) {
	if c.rejected == nil {
		c.rejected = map[string]uint64{}
	}
	c.rejected[reason]++
}

// Rejected returns the number of rejected requests by reason (a copy).
func (c *Collector) Rejected() map[string]uint64 {
	out := make(map[string]uint64, len(c.rejected))
	for k, v := range c.rejected {
		out[k] = v
	}
	return out
}

// RejectedTotal is the number of rejected requests.
func (c *Collector) RejectedTotal() uint64 {
	var n uint64
	for _, v := range c.rejected {
		n += v
	}
	return n
}

// Reasons lists the rejection reasons seen, sorted.
func (c *Collector) Reasons() []string {
	out := make([]string, 0, len(c.rejected))
	for k := range c.rejected {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
