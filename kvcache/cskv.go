package kvcache

func init() {
	register(Info{
		Name:    "cskv",
		Summary: "K and V stored as low-rank codes (SVD of the K/V projections) with attention run on the codes, up-projections absorbed into query and output",
		Source:  "CSKV (Wang et al., 2024)",
		Params: []Param{
			{"keep", "0.2", "code width as a fraction of kv_heads·head_dim, for K and for V (0.2: −80%)"},
		},
	}, func(p *params) *Plan {
		k := p.fraction("keep", 0.2, false)
		return &Plan{channels: &channels{k: k, v: k, lowRank: true}}
	})
}
