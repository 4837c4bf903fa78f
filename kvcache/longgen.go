package kvcache

func init() {
	for _, v := range []struct {
		name, summary, source string
		full                  float64
		sink, recent          int
	}{
		{"longgen", "a third of the layers keep full attention; the rest keep attention sinks + a window (and prefill through it)",
			"LongGen (Ge et al., 2024)", 1.0 / 3, 64, 4032},
		{"hybrid", "mixed local/global layers: a fraction of the layers are global, the rest sliding-window",
			"local/global hybrids (Gemma 2, Character.AI)", 0.25, 0, 4096},
	} {
		v := v
		register(Info{
			Name:    v.name,
			Summary: v.summary,
			Source:  v.source,
			Params: []Param{
				{"full", fmtFloat(v.full), "fraction of layers with full attention"},
				{"sink", fmtInt(v.sink), "sink tokens of the other layers"},
				{"recent", fmtInt(v.recent), "window of the other layers"},
			},
		}, func(p *params) *Plan {
			full := p.fraction("full", v.full, true)
			w := keep{kind: keepWindow, sink: p.count("sink", v.sink, 0), recent: p.count("recent", v.recent, 1)}
			var groups []group
			if full > 0 {
				groups = append(groups, group{layers: full, heads: 1, keep: keep{kind: keepAll}})
			}
			if full < 1 {
				groups = append(groups, group{suffix: "local", layers: 1 - full, heads: 1, keep: w})
			}
			if full == 1 || full == 0 {
				groups[0].layers = 1
			}
			return &Plan{retention: &retention{groups: groups}}
		})
	}
}
