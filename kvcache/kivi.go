package kvcache

func init() {
	register(Info{
		Name:    "kivi",
		Summary: "asymmetric low-bit KV: keys per channel and values per token in groups with fp16 scale + zero point; the newest tokens stay full precision until a group fills",
		Source:  "KIVI (Liu et al., 2024)",
		Params: []Param{
			{"bits", "2", "bits per element"},
			{"group", "32", "elements per group"},
			{"residual", "128", "newest tokens kept in the KV dtype"},
		},
	}, func(p *params) *Plan {
		f := groupFormat(p, 2, 32, 1)
		f.residual = p.count("residual", 128, 0)
		return &Plan{format: f}
	})
}
