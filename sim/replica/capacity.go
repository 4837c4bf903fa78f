package replica

import (
	"github.com/llmsim/llmsim/sim/kv"
)

// Budget is the KV-cache arithmetic of one GPU of the replica (every GPU
// of a TP×PP replica holds its share of every sequence, so the replica's
// capacity is that of one GPU). The shares are roofline.Parallel's, the
// ones `llmsim estimate --tp/--pp` reports: the biggest pipeline stage's
// layers, weights split TP ways except those that split fewer (K/V
// projections over at most kv_heads GPUs, a few recurrent projections),
// attention K/V over at most kv_heads GPUs, recurrent state with the
// mixers' heads and channels.
func (c *Config) Budget(x *Executor) kv.Budget {
	m, dev, p := c.Model, c.Device, &x.par.Parallel
	mem := dev.MainMemory()
	return kv.Budget{
		CapacityBytes:   mem.CapacityBytes,
		Utilization:     c.KV.Utilization,
		WeightsBytes:    p.WeightBytesPerGPU(m, c.Precision.Weights),
		ActivationBytes: x.PeakActivationBytes(c.maxStepTokens()),
		ReservedBytes:   mem.ReservedBytes,
		BytesPerToken:   p.KVBytesPerGPU(m.KVBytesPerToken(c.Precision.KV), 0),
		StateBytes:      p.KVBytesPerGPU(0, m.StateBytes(c.Precision.KV)),
		BlockTokens:     c.KV.BlockTokens,
	}
}
