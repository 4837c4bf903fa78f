package roofline

import (
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// Footprint is the device memory a configuration needs.
type Footprint struct {
	WeightsBytes    float64
	KVBytes         float64
	ActivationBytes float64 // peak live activations of the largest step
	ReservedBytes   float64 // runtime reserve of the device description
	TotalBytes      float64
	CapacityBytes   float64 // the device's main memory
	Fits            bool
}

// Memory sizes weights, the KV cache of batch sequences of cachedTokens each,
// and the peak activations of step g (the largest step the configuration
// runs, usually the prefill), and checks them against dev's main memory.
func Memory(m *models.Model, dev *hw.Device, g *models.Graph, batch, cachedTokens int, p models.Precision) Footprint {
	return MemoryWith(m, dev, g, m.WeightBytes(p.Weights), float64(batch)*m.KVBytes(cachedTokens, p.KV), p)
}

// MemoryWith is Memory with the weight and KV bytes given: a KV-cache scheme
// or a parallel plan decides them.
func MemoryWith(m *models.Model, dev *hw.Device, g *models.Graph, weightsBytes, kvBytes float64, p models.Precision) Footprint {
	mem := dev.MainMemory()
	f := Footprint{
		WeightsBytes:    weightsBytes,
		KVBytes:         kvBytes,
		ActivationBytes: PeakActivationBytes(m, g, p),
		ReservedBytes:   mem.ReservedBytes,
		CapacityBytes:   mem.CapacityBytes,
	}
	f.TotalBytes = f.WeightsBytes + f.KVBytes + f.ActivationBytes + f.ReservedBytes
	f.Fits = f.TotalBytes <= f.CapacityBytes
	return f
}

// PeakActivationBytes is the largest live activation set of a step: the
// residual stream of all its tokens plus the biggest input+output of any one
// op (score matrices of materialised attention included). Layers run one
// after another, so intermediates of different ops are not live together.
func PeakActivationBytes(m *models.Model, g *models.Graph, p models.Precision) float64 {
	var biggest float64
	for i := range g.Ops {
		op := &g.Ops[i]
		if b := op.ActivationReadBytes + op.ActivationWriteBytes; b > biggest {
			biggest = b
		}
	}
	residual := float64(g.Tokens) * float64(m.Hidden) * p.Activations.Bytes()
	return residual + biggest
}
