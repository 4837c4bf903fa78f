package kvcache

func init() {
	register(Info{
		Name:    "squeezed",
		Summary: "keys of the fixed context clustered offline; each decode step compares the query with the centroids and reads only the keys of the closest clusters",
		Source:  "Squeezed Attention (Hooper et al., 2024)",
		Params: []Param{
			{"ratio", "0.1", "fraction of the context read per decode step"},
			{"cluster", "64", "tokens per centroid"},
		},
	}, func(p *params) *Plan {
		ratio := p.fraction("ratio", 0.1, false)
		cl := float64(p.count("cluster", 64, 1))
		return &Plan{read: &sparseRead{
			ratio: ratio,
			// A centroid is a key-sized vector; scoring it is a dot product.
			meta: func(l layout) float64 { return l.kElems * l.base / cl },
			scan: func(l layout) float64 { return 2 * l.headDim / cl },
		}}
	})
}
