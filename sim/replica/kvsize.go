package replica

import (
	"math"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
)

// kvSizer turns a sequence's tokens into KV blocks. A block is the
// full-format cache of BlockTokens tokens (what the budget divides the
// memory by); a sequence of n tokens holds ⌈StoredBytes(n) / block bytes⌉
// of them, so eviction schemes stop growing at their budget and quantized
// formats hold several tokens per full-format token's room.
//
// The full cache of an attention-only model keeps vLLM's per-token count,
// ⌈n / BlockTokens⌉, exact in integers (its sliding-window layers are not
// reclaimed, as in vLLM V0's block manager). Other schemes, and models
// with recurrent layers (whose constant state StoredBytes adds once per
// sequence), price StoredBytes once per length and remember it: it is a
// pure function of the length, and lengths repeat every step.
type kvSizer struct {
	blockTokens int
	linear      bool
	scheme      kvcache.Scheme // the sizing scheme: no shared-prefix discount
	model       *models.Model
	kv          dtype.DType
	blockBytes  float64 // full-format bytes of one block, all layers
	memo        []int32 // blocks+1 by length, filled on demand
	memoLen     int
}

// memoMaxTokens bounds the memo (4 MiB); longer lengths are priced each time.
const memoMaxTokens = 1 << 20

func newSizer(c *Config, sizing kvcache.Scheme) kvSizer {
	_, full := sizing.(kvcache.Full)
	return kvSizer{
		blockTokens: c.KV.BlockTokens, linear: full && !c.Model.Recurrent(), scheme: sizing,
		model: c.Model, kv: c.Precision.KV,
		blockBytes: float64(c.KV.BlockTokens) * c.Model.KVBytesPerToken(c.Precision.KV),
		memoLen:    min(c.MaxModelLen, memoMaxTokens) + 1,
	}
}

// blocks is the number of blocks a sequence of tokens tokens holds. It is
// small enough to inline: the full cache's count costs what it did.
func (z *kvSizer) blocks(tokens int) int {
	if z.linear && tokens > 0 {
		return (tokens + z.blockTokens - 1) / z.blockTokens
	}
	return z.schemeBlocks(tokens)
}

func (z *kvSizer) schemeBlocks(tokens int) int {
	if tokens <= 0 {
		return 0
	}
	if tokens < z.memoLen {
		if z.memo == nil {
			z.memo = make([]int32, z.memoLen)
		}
		if v := z.memo[tokens]; v > 0 {
			return int(v - 1)
		}
	}
	// A hair below the ceiling absorbs the rounding of exact multiples.
	n := int(math.Ceil(z.bytes(tokens)/z.blockBytes - 1e-9))
	if tokens < z.memoLen {
		z.memo[tokens] = int32(n + 1)
	}
	return n
}

// bytes is the KV cache of a sequence of tokens tokens over all layers.
func (z *kvSizer) bytes(tokens int) float64 {
	if z.linear {
		return float64(tokens) * z.model.KVBytesPerToken(z.kv)
	}
	return z.scheme.StoredBytes(z.model, tokens, z.kv)
}
