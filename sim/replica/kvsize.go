package replica

import (
	"math"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// kvSizer turns a sequence's tokens into KV blocks. A block is the
// full-format attention cache of BlockTokens tokens (what the budget
// divides the memory by); a sequence of n tokens holds ⌈StoredBytes(n) /
// block bytes⌉ of them, so eviction schemes stop growing at their budget
// and quantized formats hold several tokens per full-format token's room.
//
// Recurrent layers (Mamba, RWKV, ...) keep a constant state per sequence,
// which StoredBytes adds once the sequence has a token: a sequence takes
// it with its first block, at admission, and gives it back when it
// finishes; attention layers grow block by block as before. One formula
// serves every model:
//   - hybrids (Jamba, BASED) hold ⌈(attention K/V + state) / block⌉ blocks;
//   - a model without attention layers has no tokens to put in a block,
//     so its block is one sequence's state and every sequence holds
//     exactly one, whatever its length: the cache holds ⌊budget / state⌋
//     sequences.
//
// Under tensor parallelism one GPU holds different shares of a sequence's
// attention K/V (split over at most kv_heads GPUs) and of its state (split
// with the mixers' heads and channels); a hybrid's blocks are then counted
// on one GPU's shares (roofline.Parallel.KVBytesPerGPU), which is what
// fills its memory.
//
// The full cache of an attention-only model keeps vLLM's per-token count,
// ⌈n / BlockTokens⌉, exact in integers (its sliding-window layers are not
// reclaimed, as in vLLM V0's block manager). Other schemes, and models
// with recurrent layers, price StoredBytes once per length and remember
// it: it is a pure function of the length, and lengths repeat every step.
type kvSizer struct {
	blockTokens int
	linear      bool
	// single: the full cache of a model without attention layers, where
	// every sequence holds exactly its one state.
	single     bool
	scheme     kvcache.Scheme // the sizing scheme: no shared-prefix discount
	model      *models.Model
	kv         dtype.DType
	blockBytes float64 // bytes of one block over all layers (the whole model)
	// stateBytes is one sequence's recurrent state over all layers; when
	// one GPU holds different shares of the attention K/V and of the state
	// (TP with a hybrid), attnShare and stateShare weigh them.
	stateBytes            float64
	attnShare, stateShare float64
	memo                  []int32 // blocks+1 by length, filled on demand
	memoLen               int
}

// memoMaxTokens bounds the memo (4 MiB); longer lengths are priced each time.
const memoMaxTokens = 1 << 20

func newSizer(c *Config, sizing kvcache.Scheme, p *roofline.Parallel) kvSizer {
	_, full := sizing.(kvcache.Full)
	m, d := c.Model, c.Precision.KV
	z := kvSizer{
		blockTokens: c.KV.BlockTokens, linear: full && !m.Recurrent(), single: full && m.AttentionLayers() == 0, scheme: sizing,
		model: m, kv: d,
		blockBytes: float64(c.KV.BlockTokens) * m.KVBytesPerToken(d),
		stateBytes: m.StateBytes(d), attnShare: 1, stateShare: 1,
		memoLen: min(c.MaxModelLen, memoMaxTokens) + 1,
	}
	if z.blockBytes == 0 {
		z.blockBytes = z.stateBytes // no attention layers: a block is one state
	}
	if z.stateBytes > 0 && z.blockBytes != z.stateBytes {
		z.attnShare, z.stateShare = p.KVBytesPerGPU(1, 0), p.KVBytesPerGPU(0, 1)
	}
	return z
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
	if z.single {
		return 1
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
	n := int(math.Ceil(z.blockFraction(tokens) - 1e-9))
	if tokens < z.memoLen {
		z.memo[tokens] = int32(n + 1)
	}
	return n
}

// blockFraction is the sequence's cache in blocks, before rounding up:
// counted on one GPU's shares when they differ between the attention K/V
// and the state.
func (z *kvSizer) blockFraction(tokens int) float64 {
	b := z.bytes(tokens)
	if z.attnShare == z.stateShare {
		return b / z.blockBytes
	}
	gpu := z.attnShare*(b-z.stateBytes) + z.stateShare*z.stateBytes
	return gpu / (z.attnShare * z.blockBytes)
}

// bytes is the KV cache of a sequence of tokens tokens over all layers.
func (z *kvSizer) bytes(tokens int) float64 {
	if z.linear {
		return float64(tokens) * z.model.KVBytesPerToken(z.kv)
	}
	return z.scheme.StoredBytes(z.model, tokens, z.kv)
}
