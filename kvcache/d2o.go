package kvcache

func init() {
	register(Info{
		Name:    "d2o",
		Summary: "per-layer budgets (shallow layers keep more, deep ones less) with H2O-style scores, and evicted tokens merged into their nearest kept key",
		Source:  "D2O (Wan et al., 2024)",
		Params: []Param{
			{"budget", "0.2", "mean fraction of the sequence kept over the layers"},
			{"skew", "0.5", "shallow half keeps budget·(1+skew), deep half budget·(1−skew)"},
		},
	}, func(p *params) *Plan {
		b := p.fraction("budget", 0.2, false)
		skew := p.float("skew", 0.5, 0, 1)
		if b*(1+skew) > 1 || b*(1-skew) <= 0 {
			p.invalid("budget·(1±skew) = %g, %g must stay in (0, 1]", b*(1+skew), b*(1-skew))
		}
		return &Plan{retention: &retention{
			groups: []group{
				{suffix: "", layers: 0.5, heads: 1, keep: keep{kind: keepBudget, ratio: b * (1 + skew)}},
				{suffix: "local", layers: 0.5, heads: 1, keep: keep{kind: keepBudget, ratio: b * (1 - skew)}},
			},
			scoreFLOPs: h2oScoreFLOPs,
			merge:      true,
		}}
	})
}
