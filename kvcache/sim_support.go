package kvcache

// What a serving simulator's KV manager needs from a scheme beyond
// Rewrite: how to size one sequence on its own, how memory is allocated,
// and whether a sequence's prefix may be shared with other sequences.

// Allocation modes of SimKV.Alloc.
const (
	AllocNone       = ""           // no alloc stage: the engine's own mode
	AllocPaged      = "paged"      // blocks on demand (vLLM)
	AllocContiguous = "contiguous" // a reservation per sequence at admission
	AllocVAttention = "vattention" // physical pages of each layer's K and V on demand
)

// SimKV is a scheme as a serving simulator's KV manager sees it.
type SimKV struct {
	// Sizing gives StoredBytes of one sequence on its own: the scheme
	// without its shared-prefix discount (a simulator shares prefix blocks
	// between the sequences that actually hold them) and without the
	// contiguous reservation (the simulator reserves at admission).
	Sizing Scheme
	// Alloc is one of the Alloc constants; BlockTokens is paged's block,
	// ReserveTokens contiguous's max (0: the deployment's max length).
	Alloc         string
	BlockTokens   int
	ReserveTokens int
	// SharedPrefix is hydragen's prefix in tokens (0: no share stage).
	SharedPrefix int
	// Unshareable says why the KV of a prefix cannot be shared between
	// sequences under this scheme ("" when it can): what a sequence keeps
	// of its prefix must not depend on what follows it.
	Unshareable string
}

// ForSimulator splits s into what a simulator's KV manager needs.
func ForSimulator(s Scheme) SimKV {
	p, ok := s.(*Plan)
	if !ok {
		return SimKV{Sizing: s}
	}
	out := SimKV{}
	sizing := *p
	sizing.share = nil
	if a := p.alloc; a != nil {
		switch a.kind {
		case allocPaged:
			out.Alloc, out.BlockTokens = AllocPaged, a.block
		case allocContiguous:
			out.Alloc, out.ReserveTokens = AllocContiguous, a.max
			sizing.alloc = nil
		case allocVAttention:
			out.Alloc = AllocVAttention
		}
	}
	if sh := p.share; sh != nil {
		out.SharedPrefix = sh.prefix
	}
	switch {
	case p.retention != nil:
		out.Unshareable = "it evicts tokens by rules that depend on the whole sequence"
	case p.channels != nil && p.channels.observe > 0:
		out.Unshareable = "it prunes channels by scores of the queries that follow the prompt"
	case p.alloc != nil && p.alloc.kind != allocPaged:
		out.Unshareable = "its allocation is not in shareable blocks"
	}
	if sizing.rewrites() || sizing.alloc != nil {
		out.Sizing = &sizing
	} else {
		out.Sizing = Full{}
	}
	return out
}
