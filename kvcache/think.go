package kvcache

func init() {
	register(Info{
		Name:    "think",
		Summary: "prunes the least important key channels per head after prefill (chosen from an observation window); QKᵀ shrinks with them",
		Source:  "ThinK (Xu et al., 2024)",
		Params: []Param{
			{"keys", "0.4", "fraction of key channels pruned"},
			{"values", "0", "fraction of value channels pruned"},
			{"window", "32", "observation window: last prompt queries scoring the channels"},
		},
	}, func(p *params) *Plan {
		k := p.fraction("keys", 0.4, true)
		v := p.fraction("values", 0, true)
		if k >= 1 || v >= 1 {
			p.invalid("keys and values must prune less than every channel")
		}
		return &Plan{channels: &channels{k: 1 - k, v: 1 - v, observe: p.count("window", 32, 1)}}
	})
}
