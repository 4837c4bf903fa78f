package kv

import (
	"fmt"
	"math"
)

// Budget is the memory arithmetic of one device's KV cache, the way vLLM
// sizes it: the engine may use Utilization of the device's memory; from
// that it subtracts the weights, the peak activations of the largest step
// and the runtime reserve (CUDA context, allocator slack); what is left
// holds KV blocks of BlockTokens tokens.
type Budget struct {
	CapacityBytes   float64 // device main memory
	Utilization     float64 // vLLM gpu_memory_utilization, in (0, 1]
	WeightsBytes    float64 // this device's share of the weights
	ActivationBytes float64 // peak live activations of the largest step
	ReservedBytes   float64 // runtime reserve of the device description
	// BytesPerToken is the KV cache of one token on this device (all
	// layers, keys and values; this device's heads under tensor parallelism).
	BytesPerToken float64
	BlockTokens   int
}

// KVBytes is the memory left for the KV cache (negative when the model
// does not fit).
func (b Budget) KVBytes() float64 {
	return b.CapacityBytes*b.Utilization - b.WeightsBytes - b.ActivationBytes - b.ReservedBytes
}

// BlockBytes is the size of one block.
func (b Budget) BlockBytes() float64 { return float64(b.BlockTokens) * b.BytesPerToken }

// Blocks is the number of whole blocks that fit, or an error that says
// what does not fit.
func (b Budget) Blocks() (int, error) {
	left := b.KVBytes()
	if left < b.BlockBytes() {
		return 0, fmt.Errorf("no room for the KV cache: %.3g B × %.2f utilisation − %.3g B weights − %.3g B activations − %.3g B reserve = %.3g B, less than one %d-token block (%.3g B)",
			b.CapacityBytes, b.Utilization, b.WeightsBytes, b.ActivationBytes, b.ReservedBytes, left, b.BlockTokens, b.BlockBytes())
	}
	return int(math.Floor(left / b.BlockBytes())), nil
}
