package kvcache

func init() {
	register(Info{
		Name:    "paged",
		Summary: "blocks of a fixed number of tokens allocated on demand; the last block of each sequence is partly empty",
		Source:  "PagedAttention (vLLM, Kwon et al., 2023)",
		Params:  []Param{{"block", "16", "tokens per block"}},
	}, func(p *params) *Plan {
		return &Plan{alloc: &alloc{kind: allocPaged, block: p.count("block", 16, 1)}}
	})
	register(Info{
		Name:    "contiguous",
		Summary: "each sequence reserves its maximum length up front (Orca, FasterTransformer)",
		Source:  "contiguous KV allocation",
		Params:  []Param{{"max", "0", "tokens reserved per sequence (0: the model's context length)"}},
	}, func(p *params) *Plan {
		return &Plan{alloc: &alloc{kind: allocContiguous, max: p.count("max", 0, 0)}}
	})
	register(Info{
		Name:    "vattention",
		Summary: "contiguous virtual memory per layer's K and V, backed by physical pages mapped on demand",
		Source:  "vAttention (Prabhu et al., 2024)",
		Params:  []Param{{"page", "2097152", "bytes per physical page (2MiB; 64KiB with the paper's driver)"}},
	}, func(p *params) *Plan {
		return &Plan{alloc: &alloc{kind: allocVAttention, page: p.bytes("page", 2<<20)}}
	})
}
