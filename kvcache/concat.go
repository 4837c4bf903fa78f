package kvcache

import "github.com/llmsim/llmsim/models"

// rewriteConcat scales a kv_concat op (models.Options.ConcatKVCache: the
// engine grows the cache with torch.cat every step) to what the plan
// stores: each sequence's past as the retention rule keeps it before the
// step, in the cache format (a quantised cache concatenates its packed
// codes, scales and residual), summed over the retention groups (layer
// groups by their layers, head groups by their head share) and spread
// over the op's repeats. The op still reads and writes the same bytes.
//
// The copy covers the whole stored cache whatever a sparse read skips
// (the tensor is rebuilt, not read for attention), and each sequence's
// own copy of a shared prefix (a tuple cache holds one tensor per batch
// row; prefix sharing is an engine property a concatenating engine lacks).
func (p *Plan) rewriteConcat(o *models.Op, w0 int, e *env) {
	if o.Repeat <= 0 {
		return
	}
	groups := p.groupsOf()
	split := layerSplit(groups, o.Repeat)
	var total float64
	for gi, gr := range groups {
		if split[gi] == 0 {
			continue
		}
		var past float64
		for _, q := range e.seqs {
			if q.New > 0 && q.Cached > 0 {
				past += e.lay.bytes(gr.keep.capped(q.Cached, w0))
			}
		}
		total += float64(split[gi]) * gr.heads * past
	}
	per := total / float64(o.Repeat)
	o.KVReadBytes, o.KVWriteBytes = per, per
}
