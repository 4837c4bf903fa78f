package kvcache

// H2O accumulates each key's attention probability over the steps and
// keeps the heavy hitters plus a recent window: 1 FLOP to accumulate and 1
// to compare per score.
const h2oScoreFLOPs = 2

func init() {
	register(Info{
		Name:    "h2o",
		Summary: "heavy hitters + recent tokens under a budget that is a fraction of the sequence; pays accumulated-attention score tracking",
		Source:  "H2O (Zhang et al., 2023)",
		Params: []Param{
			{"heavy", "0.1", "fraction of the sequence kept as heavy hitters"},
			{"recent", "0.1", "fraction of the sequence kept as the most recent tokens"},
		},
	}, func(p *params) *Plan {
		heavy := p.fraction("heavy", 0.1, true)
		recent := p.fraction("recent", 0.1, true)
		if heavy+recent <= 0 || heavy+recent > 1 {
			p.invalid("heavy + recent = %g must be in (0, 1]", heavy+recent)
		}
		return budgetPlan(keep{kind: keepBudget, ratio: heavy + recent}, h2oScoreFLOPs)
	})
}

// budgetPlan keeps one budget for every layer and head and tracks scores.
func budgetPlan(k keep, scoreFLOPs float64) *Plan {
	return &Plan{retention: &retention{
		groups:     []group{{layers: 1, heads: 1, keep: k}},
		scoreFLOPs: scoreFLOPs,
	}}
}
