package kvcache

// Scissorhands counts, within a history window, how often each key's
// attention falls below average: a compare and an add per score.
const scissorhandsScoreFLOPs = 2

func init() {
	register(Info{
		Name:    "scissorhands",
		Summary: "keeps the pivotal tokens (persistence of importance) under a budget fraction; pays per-step importance counting",
		Source:  "Scissorhands (Liu et al., 2023)",
		Params: []Param{
			{"budget", "0.2", "fraction of the sequence kept (0.2 = 5× compression)"},
		},
	}, func(p *params) *Plan {
		ratio := p.fraction("budget", 0.2, false)
		return budgetPlan(keep{kind: keepBudget, ratio: ratio}, scissorhandsScoreFLOPs)
	})
}
