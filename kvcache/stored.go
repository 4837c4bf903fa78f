package kvcache

import (
	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// StoredBytes is the cache one sequence of tokens tokens holds: over every
// attention layer (the model's own sliding windows honoured) and retention
// group,
// the kept tokens in the cache format, plus sparse-read metadata; paged
// allocation rounds each group up to whole blocks, vAttention each layer's
// K and V up to whole pages, contiguous allocation reserves the maximum
// length; a shared prefix counts once per share sequences. The constant
// state of recurrent layers (Mamba, RWKV, ...) is added as is.
func (p *Plan) StoredBytes(m *models.Model, tokens int, kv dtype.DType) float64 {
	lay := p.layout(m, kv, kv)
	n := tokens
	if a := p.alloc; a != nil && a.kind == allocContiguous {
		reserve := a.max
		if reserve == 0 {
			reserve = m.MaxContext
		}
		n = max(n, reserve)
	}
	if n <= 0 {
		return 0
	}
	total := p.storedAt(m, &lay, n)
	if sh := p.share; sh != nil && sh.share > 1 && n >= sh.prefix {
		total -= (1 - 1/float64(sh.share)) * p.storedAt(m, &lay, sh.prefix)
	}
	// Recurrent layers keep a constant state that no scheme shrinks.
	return total + m.StateBytes(kv)
}

// storedAt is the cache of n tokens without sharing.
func (p *Plan) storedAt(m *models.Model, lay *layout, n int) float64 {
	groups := p.groupsOf()
	windowed := m.WindowedLayers()
	classes := [2]struct{ layers, window int }{
		{windowed, m.SlidingWindow},
		{m.AttentionLayers() - windowed, 0},
	}
	var total float64
	for _, cl := range classes {
		if cl.layers == 0 {
			continue
		}
		split := layerSplit(groups, cl.layers)
		for gi, g := range groups {
			kept := g.keep.capped(n, cl.window)
			layers := float64(split[gi])
			total += layers * p.alloc.bytes(lay, kept, g.heads)
			if r := p.read; r != nil && r.meta != nil {
				total += layers * g.heads * float64(kept) * r.meta(*lay)
			}
		}
	}
	return total
}
