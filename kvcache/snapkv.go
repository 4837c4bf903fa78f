package kvcache

func init() {
	register(Info{
		Name:    "snapkv",
		Summary: "after prefill, an observation window of the last queries votes (pooled) for the prompt tokens to keep within a fixed budget",
		Source:  "SnapKV (Li et al., 2024)",
		Params: []Param{
			{"tokens", "1024", "tokens kept per layer and head"},
			{"window", "32", "observation window: last prompt queries that vote"},
			{"pool", "7", "max-pooling kernel over the votes"},
		},
	}, func(p *params) *Plan {
		k := keep{kind: keepBudget, tokens: p.count("tokens", 1024, 1)}
		return &Plan{retention: &retention{
			groups:  []group{{layers: 1, heads: 1, keep: k}},
			observe: p.count("window", 32, 1),
			pool:    p.count("pool", 7, 1),
		}}
	})
}
