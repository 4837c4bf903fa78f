package kvcache

func init() {
	register(Info{
		Name:    "duo",
		Summary: "retrieval heads keep the full cache; streaming heads keep sinks + recent tokens and prefill through that window",
		Source:  "DuoAttention (Xiao et al., 2024)",
		Params: []Param{
			{"retrieval", "0.5", "fraction of K/V heads that are retrieval heads (paper: 0.25 MHA, 0.5 GQA)"},
			{"sink", "128", "sink tokens of a streaming head"},
			{"recent", "256", "recent tokens of a streaming head"},
		},
	}, func(p *params) *Plan {
		r := p.fraction("retrieval", 0.5, true)
		w := keep{kind: keepWindow, sink: p.count("sink", 128, 0), recent: p.count("recent", 256, 1)}
		return &Plan{retention: headSplit(r, w)}
	})
}

// headSplit keeps everything in a fraction full of the heads and applies
// rule to the others (op suffix "stream").
func headSplit(full float64, rule keep) *retention {
	var groups []group
	if full > 0 {
		groups = append(groups, group{layers: 1, heads: full, keep: keep{kind: keepAll}})
	}
	if full < 1 {
		groups = append(groups, group{suffix: "stream", layers: 1, heads: 1 - full, keep: rule})
	}
	return &retention{groups: groups}
}
