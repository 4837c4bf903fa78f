package kvcache

func init() {
	register(Info{
		Name:    "quest",
		Summary: "full cache kept; each decode step bounds every page's score from its key min/max and reads the top pages up to a token budget",
		Source:  "Quest (Tang et al., 2024)",
		Params: []Param{
			{"tokens", "4096", "tokens read per decode step"},
			{"page", "16", "tokens per page"},
			{"dense", "2", "first layers that read everything"},
		},
	}, func(p *params) *Plan {
		tokens := p.count("tokens", 4096, 1)
		page := p.count("page", 16, 1)
		return &Plan{read: pageSelect(tokens, page, p.count("dense", 2, 0))}
	})
}

// pageSelect reads tokens tokens in whole pages chosen from per-page
// element-wise min and max keys (Quest, LServe): metadata 2·k_dim elements
// per page; scoring q against both and keeping the larger products costs
// ~4·head_dim FLOPs per page per query head.
func pageSelect(tokens, page, dense int) *sparseRead {
	pg := float64(page)
	return &sparseRead{
		tokens: tokens, page: page, dense: dense,
		meta: func(l layout) float64 { return 2 * l.kElems * l.base / pg },
		scan: func(l layout) float64 { return 4 * l.headDim / pg },
	}
}
