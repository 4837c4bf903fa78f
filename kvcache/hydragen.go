package kvcache

func init() {
	register(Info{
		Name:    "hydragen",
		Summary: "attention over a prefix shared by the batch is one matrix-matrix product whose K and V are read once per step, merged with per-sequence suffix attention",
		Source:  "Hydragen (Juravsky et al., 2024)",
		Params: []Param{
			{"prefix", "(required)", "tokens of the shared prefix; sequences holding at least this many share it"},
			{"share", "1", "sequences that share one stored copy (capacity; 1 counts the prefix per sequence)"},
		},
	}, func(p *params) *Plan {
		prefix := p.count("prefix", 0, 0)
		if prefix < 1 {
			p.invalid("prefix: give the shared prefix length in tokens (prefix=N)")
		}
		return &Plan{share: &sharing{prefix: prefix, share: p.count("share", 1, 1)}}
	})
}
