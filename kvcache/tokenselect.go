package kvcache

func init() {
	register(Info{
		Name:    "tokenselect",
		Summary: "each decode step scores every kept key per head (Q·K), votes across heads and reads the top tokens; a selection cache reuses the choice while queries stay similar; a prefill chunk after a cached past scores every key once with its mean query and attends to the top tokens plus itself",
		Source:  "TokenSelect (Wu et al., 2024)",
		Params: []Param{
			{"tokens", "2048", "tokens read per decode step (selected + initial + local) and attended by each prefill chunk besides its own"},
			{"miss", "0.5", "fraction of steps whose query misses the selection cache and rescores every key"},
		},
	}, func(p *params) *Plan {
		tokens := p.count("tokens", 2048, 1)
		miss := p.fraction("miss", 0.5, true)
		return &Plan{read: &sparseRead{
			tokens:  tokens,
			keyScan: miss,
			meta:    func(layout) float64 { return 0 },
			scan:    func(l layout) float64 { return miss * 2 * l.headDim },
			chunks:  true,
			// The chunk's mean query (one per head) against every key.
			chunkScan: func(l layout) float64 { return 2 * l.headDim },
		}}
	})
}
