package kvcache

// Quantisation work: absmax or min/max, scale, round, pack (~5 FLOPs) per
// element written; one multiply-add per element read.
const (
	quantFLOPs   = 5
	dequantFLOPs = 2
	fp16Bytes    = 2
)

// groupFormat is the format of a low-bit cache with bits (at most 16) per
// element in groups of group elements, each with scaleBytes of fp16 scale
// (and zero point): the bits and group parameters of quant, kivi and gear.
func groupFormat(p *params, bits, group, minGroup int) *format {
	f := &format{quantFLOPs: quantFLOPs, dequantFLOPs: dequantFLOPs, scaleBytes: 2 * fp16Bytes}
	f.bits = float64(p.count("bits", bits, 1))
	if f.bits > 16 {
		p.invalid("bits=%g: at most 16", f.bits)
	}
	f.group = p.count("group", group, minGroup)
	return f
}

func init() {
	register(Info{
		Name:    "quant",
		Summary: "KV stored in fewer bits with an fp16 scale (and zero point) per group of elements; dequantised in the attention kernel, or into a scratch buffer when unfused",
		Source:  "fp8/int8/int4/int2 KV (QServe KV4, FlexGen, KVQuant)",
		Params: []Param{
			{"bits", "8", "bits per element"},
			{"group", "0", "elements per scale group (0: per-tensor scale, negligible)"},
			{"zero", "true", "asymmetric: an fp16 zero point per group besides the scale"},
			{"fused", "true", "dequantise inside the attention kernel; false: every step dequantises the layer's cache into an fp16 scratch buffer that attention reads"},
		},
	}, func(p *params) *Plan {
		f := groupFormat(p, 8, 0, 0)
		if !p.boolean("zero", true) {
			f.scaleBytes = fp16Bytes
		}
		f.unfused = !p.boolean("fused", true)
		return &Plan{format: f}
	})
}
