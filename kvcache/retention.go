package kvcache

import (
	"math"

	"github.com/llmsim/llmsim/models"
)

// keepKind is how a share of the cache chooses the tokens it keeps.
type keepKind uint8

const (
	// keepAll keeps every token.
	keepAll keepKind = iota
	// keepWindow keeps the first sink tokens and the last recent ones
	// (attention sinks + sliding window); prefill attends through the
	// same window (a Λ-shaped mask), so it is cheaper too.
	keepWindow
	// keepBudget keeps a budget of tokens chosen by importance; the
	// tokens of the step are attended in full before the cache is cut
	// back, so a whole-prompt prefill costs what it did.
	keepBudget
)

// keep is a token-retention rule.
type keep struct {
	kind         keepKind
	sink, recent int
	ratio        float64 // keepBudget: fraction of the sequence
	tokens       int     // keepBudget: fixed budget when ratio is 0
}

// kept is the number of tokens a sequence of n tokens keeps.
func (k keep) kept(n int) int {
	switch k.kind {
	case keepWindow:
		return min(n, k.sink+k.recent)
	case keepBudget:
		if k.ratio > 0 {
			// The epsilon keeps 0.2·1000 from rounding up to 201.
			return min(n, int(math.Ceil(k.ratio*float64(n)-1e-9)))
		}
		return min(n, k.tokens)
	}
	return n
}

// capped applies the model's own sliding window w0 (0: none).
func (k keep) capped(n, w0 int) int {
	kept := k.kept(n)
	if w0 > 0 {
		kept = min(kept, w0)
	}
	return kept
}

// work is the attention of one sequence with c cached and q new tokens
// under k in a layer with window w0: causal query-key pairs scored and
// tokens whose K and V are read.
func (k keep) work(c, q, w0 int) (pairs, keys float64) {
	switch k.kind {
	case keepWindow:
		w := k.sink + k.recent
		if w0 > 0 {
			w = min(w, w0)
		}
		return models.AttentionPairs(c, q, w), keysRead(c, q, w)
	case keepBudget:
		kc, qf := float64(k.capped(c, w0)), float64(q)
		return qf*kc + qf*(qf+1)/2, kc + qf
	}
	return models.AttentionPairs(c, q, w0), keysRead(c, q, w0)
}

// keysRead mirrors models: the whole context, or within a window the
// tokens some query still sees (window + q - 1).
func keysRead(c, q, window int) float64 {
	total := c + q
	if window > 0 {
		total = min(total, window+q-1)
	}
	return float64(total)
}

// group is a share of the cache under one rule: a share of the layers
// (LongGen) or of the heads (DuoAttention), never both.
type group struct {
	suffix string  // op name suffix; "" for the main attention op
	layers float64 // share of layers (1: all)
	heads  float64 // share of heads (1: all)
	keep   keep
}

// retention is the token-retention stage.
type retention struct {
	groups []group
	// scoreFLOPs > 0: importance scores are updated from every attention
	// probability (H2O, Scissorhands, Keyformer, D2O), at this many FLOPs
	// per score.
	scoreFLOPs float64
	// scorePasses: the score function runs as separate tensor kernels that
	// move the heads × queries × keys score tensor this many more times
	// (reads and writes) in the activation format (Keyformer's Gumbel
	// softmax); 0 when scores are accumulated straight from the
	// probabilities.
	scorePasses float64
	// observe > 0: after a prefill the last observe queries score the
	// prompt once more to pick what to keep (SnapKV), pooled over pool
	// neighbours.
	observe, pool int
	// merge: each evicted token is compared with the kept keys and merged
	// into the nearest (D2O).
	merge bool
	// retainHidden > 0: a trained retaining head (an MLP of this width over
	// q, k, v) scores every new token (Locret).
	retainHidden int
}

// maxGroups bounds the groups of a retention and the cells of one
// attention op, so rewrites can use fixed arrays.
const (
	maxGroups = 3
	maxCells  = 2 * maxGroups
)

// layerSplit gives each group its whole number of the total layers: groups
// with layers == 1 take all of them; the others share them by largest
// remainder, ties to the earlier group.
func layerSplit(groups []group, total int) (out [maxGroups]int) {
	assigned := 0
	var rem [maxGroups]float64
	for i, g := range groups {
		if g.layers >= 1 {
			out[i] = total
			continue
		}
		exact := g.layers * float64(total)
		out[i] = int(math.Floor(exact))
		rem[i] = exact - float64(out[i])
		assigned += out[i]
	}
	partial := false
	for _, g := range groups {
		partial = partial || g.layers < 1
	}
	if !partial {
		return out
	}
	for left := total - assigned; left > 0; left-- {
		best := -1
		for i, g := range groups {
			if g.layers < 1 && (best < 0 || rem[i] > rem[best]) {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}

// groupsOf returns the retention's groups, or one group keeping all.
func (p *Plan) groupsOf() []group {
	if p.retention == nil {
		return allGroup[:]
	}
	return p.retention.groups
}

var allGroup = [1]group{{layers: 1, heads: 1, keep: keep{kind: keepAll}}}
