package kvcache

// Keyformer scores keys with a Gumbel-softmax of the logits: a uniform
// draw, two logarithms, an add and the softmax per score (~15 FLOPs).
const keyformerScoreFLOPs = 15

func init() {
	register(Info{
		Name:    "keyformer",
		Summary: "keeps a recent window plus key tokens chosen by a Gumbel-softmax score under a budget fraction; pays the score function",
		Source:  "Keyformer (Adnan et al., 2024)",
		Params: []Param{
			{"budget", "0.5", "fraction of the sequence kept (recent window included)"},
		},
	}, func(p *params) *Plan {
		ratio := p.fraction("budget", 0.5, false)
		return budgetPlan(keep{kind: keepBudget, ratio: ratio}, keyformerScoreFLOPs)
	})
}
