package kvcache

func init() {
	register(Info{
		Name:    "doublesparsity",
		Summary: "a label cache of the outlier key channels approximates the scores; each decode step reads it, then the top tokens' K and V",
		Source:  "Double Sparsity (Yang et al., 2024)",
		Params: []Param{
			{"tokens", "0.0625", "fraction of tokens read per decode step (token sparsity)"},
			{"channels", "0.0625", "fraction of key channels in the label cache (channel sparsity)"},
			{"label", "4", "bits per label-cache element"},
		},
	}, func(p *params) *Plan {
		tokens := p.fraction("tokens", 1.0/16, false)
		ch := p.fraction("channels", 1.0/16, false)
		label := float64(p.count("label", 4, 1))
		if label > 16 {
			p.invalid("label=%g: at most 16 bits", label)
		}
		return &Plan{read: &sparseRead{
			ratio: tokens,
			// The label cache stores the chosen key channels in label bits.
			meta: func(l layout) float64 { return ch * l.kElems * label / 8 },
			scan: func(l layout) float64 { return 2 * ch * l.headDim },
		}}
	})
}
