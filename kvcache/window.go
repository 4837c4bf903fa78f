package kvcache

func init() {
	register(Info{
		Name:    "window",
		Summary: "attention sinks + sliding window: keeps the first sink and the last recent tokens; prefill attends through the same window",
		Source:  "StreamingLLM (Xiao et al., 2023)",
		Params: []Param{
			{"sink", "4", "initial tokens always kept (attention sinks)"},
			{"recent", "1020", "most recent tokens kept"},
		},
	}, func(p *params) *Plan {
		k := keep{kind: keepWindow, sink: p.count("sink", 4, 0), recent: p.count("recent", 1020, 1)}
		return &Plan{retention: &retention{groups: []group{{layers: 1, heads: 1, keep: k}}}}
	})
}
