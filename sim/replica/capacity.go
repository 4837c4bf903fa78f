package replica

import (
	"github.com/llmsim/llmsim/sim/kv"
)

// Budget is the KV-cache arithmetic of one GPU of the replica (every GPU
// of a TP×PP replica holds the same share, so the replica's capacity in
// tokens is that of one GPU).
func (c *Config) Budget(x *Executor) kv.Budget {
	m, dev := c.Model, c.Device
	tp, pp := max(c.TP, 1), max(c.PP, 1)
	// The biggest pipeline stage holds ⌈layers/pp⌉ layers; K/V heads split
	// over at most kv_heads GPUs (the rest replicate them).
	stageFraction := float64(ceilDiv(m.Layers, pp)) / float64(m.Layers)
	kvSplit := float64(min(tp, max(m.KVHeads, 1)))
	maxStepTokens := c.Scheduler.MaxBatchedTokens
	if c.Scheduler.ChunkTokens > 0 {
		maxStepTokens = min(maxStepTokens, c.Scheduler.ChunkTokens)
	}
	maxStepTokens = min(maxStepTokens, c.MaxModelLen*c.Scheduler.MaxNumSeqs)
	mem := dev.MainMemory()
	return kv.Budget{
		CapacityBytes:   mem.CapacityBytes,
		Utilization:     c.KV.Utilization,
		WeightsBytes:    m.WeightBytes(c.Precision.Weights) / float64(tp*pp),
		ActivationBytes: x.PeakActivationBytes(maxStepTokens),
		ReservedBytes:   mem.ReservedBytes,
		BytesPerToken:   m.KVBytesPerToken(c.Precision.KV) * stageFraction / kvSplit,
		BlockTokens:     c.KV.BlockTokens,
	}
}
