package kvcache

// Keyformer scores keys with a Gumbel-softmax of the logits: a uniform
// draw, two logarithms, an add and the softmax per score (~15 FLOPs).
const keyformerScoreFLOPs = 15

// keyformerScorePasses is how often Keyformer's score function moves the
// heads × queries × keys logits tensor beyond reading it once to sum the
// scores. Its attention (keyformer-llm, models/keyformer-lib/attention.py)
// deep-copies the logits (1 read, 1 write) and calls
// torch.nn.functional.gumbel_softmax, which runs as separate kernels:
// exponential_ noise (1 write), log (1+1), negation (1+1), logits + noise
// (2+1), division by τ (1+1) and softmax (1+1): 7 reads and 7 writes.
const keyformerScorePasses = 14

func init() {
	register(Info{
		Name:    "keyformer",
		Summary: "keeps a recent window plus key tokens chosen by a Gumbel-softmax score under a budget; pays the score function (its tensor passes over the logits)",
		Source:  "Keyformer (Adnan et al., 2024)",
		Params: []Param{
			{"budget", "0.5", "fraction of the sequence kept (recent window included)"},
			{"tokens", "0", "fixed budget in tokens, overriding budget: Keyformer sets k = budget × prompt at the end of the prompt and keeps k through the generation (0: budget × current length)"},
		},
	}, func(p *params) *Plan {
		ratio := p.fraction("budget", 0.5, false)
		k := keep{kind: keepBudget, ratio: ratio}
		if tokens := p.count("tokens", 0, 0); tokens > 0 {
			k = keep{kind: keepBudget, tokens: tokens}
		}
		pl := budgetPlan(k, keyformerScoreFLOPs)
		pl.retention.scorePasses = keyformerScorePasses
		return pl
	})
}
