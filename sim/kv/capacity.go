package kv

import (
	"fmt"
	"math"
)

// Budget is the memory arithmetic of one device's KV cache, the way vLLM
// sizes it: the engine may use Utilization of the device's memory; from
// that it subtracts the weights, the peak activations of the largest step
// and the runtime reserve (CUDA context, allocator slack); what is left
// holds KV blocks.
//
// A block is BlockTokens tokens of attention K/V. A model without
// attention layers (Mamba, RWKV) has nothing that grows per token: its
// block is one sequence's recurrent state, which a sequence takes at
// admission and keeps, whatever its length, until it finishes.
type Budget struct {
	CapacityBytes   float64 // device main memory
	Utilization     float64 // vLLM gpu_memory_utilization, in (0, 1]
	WeightsBytes    float64 // this device's share of the weights
	ActivationBytes float64 // peak live activations of the largest step
	ReservedBytes   float64 // runtime reserve of the device description
	// BytesPerToken is the attention KV cache of one token on this device
	// (all attention layers, keys and values; this device's heads and
	// layers under tensor and pipeline parallelism).
	BytesPerToken float64
	// StateBytes is the constant recurrent state of one sequence on this
	// device (0 without recurrent layers).
	StateBytes  float64
	BlockTokens int
}

// KVBytes is the memory left for the KV cache (negative when the model
// does not fit).
func (b Budget) KVBytes() float64 {
	return b.CapacityBytes*b.Utilization - b.WeightsBytes - b.ActivationBytes - b.ReservedBytes
}

// BlockBytes is the size of one block: BlockTokens tokens of attention
// K/V, or one sequence's state when the model has no attention layers.
func (b Budget) BlockBytes() float64 {
	if b.BytesPerToken == 0 {
		return b.StateBytes
	}
	return float64(b.BlockTokens) * b.BytesPerToken
}

// Blocks is the number of whole blocks that fit, or an error that says
// what does not fit.
func (b Budget) Blocks() (int, error) {
	left := b.KVBytes()
	if left < b.BlockBytes() || b.BlockBytes() <= 0 {
		what := fmt.Sprintf("one %d-token block (%.3g B)", b.BlockTokens, b.BlockBytes())
		if b.BytesPerToken == 0 {
			what = fmt.Sprintf("one sequence's recurrent state (%.3g B)", b.BlockBytes())
		}
		return 0, fmt.Errorf("no room for the KV cache: %.3g B × %.2f utilisation − %.3g B weights − %.3g B activations − %.3g B reserve = %.3g B, less than %s",
			b.CapacityBytes, b.Utilization, b.WeightsBytes, b.ActivationBytes, b.ReservedBytes, left, what)
	}
	return int(math.Floor(left / b.BlockBytes())), nil
}
