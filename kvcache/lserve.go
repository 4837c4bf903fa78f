package kvcache

func init() {
	register(Info{
		Name:    "lserve",
		Summary: "streaming heads keep sinks + recent tokens; retrieval heads keep everything but each decode step reads a fixed budget of pages chosen from page summaries",
		Source:  "LServe (Yang et al., 2025)",
		Params: []Param{
			{"streaming", "0.5", "fraction of K/V heads that are streaming heads"},
			{"sink", "128", "sink tokens of a streaming head"},
			{"recent", "256", "recent tokens of a streaming head"},
			{"tokens", "4096", "tokens a retrieval head reads per decode step"},
			{"page", "16", "tokens per page (selection granularity)"},
		},
	}, func(p *params) *Plan {
		s := p.fraction("streaming", 0.5, true)
		w := keep{kind: keepWindow, sink: p.count("sink", 128, 0), recent: p.count("recent", 256, 1)}
		tokens := p.count("tokens", 4096, 1)
		page := p.count("page", 16, 1)
		return &Plan{retention: headSplit(1-s, w), read: pageSelect(tokens, page, 0)}
	})
}
