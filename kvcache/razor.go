package kvcache

func init() {
	register(Info{
		Name:    "razor",
		Summary: "echo and induction (retrieval) heads keep the full cache; the others keep sinks + a local window plus one compensation token",
		Source:  "RazorAttention (Tang et al., 2024)",
		Params: []Param{
			{"retrieval", "0.15", "fraction of K/V heads that keep everything"},
			{"sink", "4", "sink tokens of the other heads"},
			{"recent", "4096", "local window of the other heads"},
		},
	}, func(p *params) *Plan {
		r := p.fraction("retrieval", 0.15, true)
		// The compensation token holds the dropped tokens' average.
		w := keep{kind: keepWindow, sink: p.count("sink", 4, 0) + 1, recent: p.count("recent", 4096, 1)}
		return &Plan{retention: headSplit(r, w)}
	})
}
