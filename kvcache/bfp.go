package kvcache

func init() {
	register(Info{
		Name:    "bfp",
		Summary: "block floating point: sign + mantissa per element, one shared 8-bit exponent per block",
		Source:  "block floating point KV (e.g. BFP8 caches)",
		Params: []Param{
			{"mantissa", "7", "mantissa bits per element (a sign bit is added)"},
			{"block", "16", "elements sharing one exponent"},
		},
	}, func(p *params) *Plan {
		m := p.count("mantissa", 7, 1)
		if m > 15 {
			p.invalid("mantissa=%d: at most 15", m)
		}
		return &Plan{format: &format{
			bits: float64(m + 1), group: p.count("block", 16, 1), scaleBytes: 1,
			quantFLOPs: quantFLOPs, dequantFLOPs: dequantFLOPs,
		}}
	})
}
