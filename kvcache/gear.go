package kvcache

func init() {
	register(Info{
		Name:    "gear",
		Summary: "low-bit quantisation + a low-rank approximation of its error per head + a sparse matrix of outliers; reconstruction costs FLOPs every step",
		Source:  "GEAR (Kang et al., 2024)",
		Params: []Param{
			{"bits", "4", "bits per quantised element"},
			{"group", "64", "elements per fp16 scale + zero-point group"},
			{"rank", "4", "rank of the error approximation per head, for K and for V"},
			{"outliers", "0.02", "fraction of elements kept exactly (fp16 value + int32 index)"},
		},
	}, func(p *params) *Plan {
		f := groupFormat(p, 4, 64, 1)
		f.rank = p.count("rank", 4, 0)
		f.outliers = p.fraction("outliers", 0.02, true)
		return &Plan{format: f}
	})
}
