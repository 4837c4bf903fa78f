package kvcache

func init() {
	register(Info{
		Name:    "locret",
		Summary: "trained retaining heads score every new token; the cache keeps a fixed budget (run with chunked prefill so a prompt never needs its full cache)",
		Source:  "Locret (Huang et al., 2024)",
		Params: []Param{
			{"tokens", "6000", "cache budget per layer and head"},
			{"hidden", "1024", "hidden width of a retaining head (an MLP over q, k, v)"},
		},
	}, func(p *params) *Plan {
		k := keep{kind: keepBudget, tokens: p.count("tokens", 6000, 1)}
		return &Plan{retention: &retention{
			groups:       []group{{layers: 1, heads: 1, keep: k}},
			retainHidden: p.count("hidden", 1024, 1),
		}}
	})
}
