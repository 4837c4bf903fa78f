package models

import "github.com/llmsim/llmsim/dtype"

// Arch is a decoder-only architecture description: the TOML schema of
// configs/models and the result of importing a Hugging Face config.json.
// Sizes are element counts, not bytes.
type Arch struct {
	Name   string `toml:"name"`
	Family string `toml:"family"` // llama, mistral, qwen2, opt, phi3, mixtral, qwen2_moe, ...
	Source string `toml:"source"` // where the numbers come from (HF repo, paper)

	Layers       int `toml:"layers"`
	Hidden       int `toml:"hidden"`
	Heads        int `toml:"heads"`
	KVHeads      int `toml:"kv_heads"` // = Heads for MHA, 1 for MQA
	HeadDim      int `toml:"head_dim"` // 0 means Hidden/Heads
	Intermediate int `toml:"intermediate"`
	Vocab        int `toml:"vocab"`
	MaxContext   int `toml:"max_context"`
	// EmbedDim is the width of the token embedding when it differs from
	// Hidden (OPT-350m: 512, projected in and out); 0 means Hidden.
	EmbedDim int `toml:"embed_dim"`

	Norm           string `toml:"norm"`       // rmsnorm | layernorm
	Activation     string `toml:"activation"` // swiglu | geglu (gated, 3 matrices) | gelu | relu (2 matrices)
	Position       string `toml:"position"`   // rope | learned | alibi | none
	TiedEmbeddings bool   `toml:"tied_embeddings"`
	QKVBias        bool   `toml:"qkv_bias"`    // bias on q, k, v projections (Qwen2)
	LinearBias     bool   `toml:"linear_bias"` // bias on every linear layer (OPT, GPT-2)
	// ParallelBlock: attention and MLP read the same normed input (GPT-J, Phi-2).
	ParallelBlock bool `toml:"parallel_block"`

	// SlidingWindow > 0 limits attention to the last SlidingWindow tokens.
	// With GlobalEvery = g > 0, every g-th layer (layers g-1, 2g-1, ...) is a
	// full-attention layer and the rest are windowed; with 0 all layers are
	// windowed.
	SlidingWindow int `toml:"sliding_window"`
	GlobalEvery   int `toml:"global_every"`

	MoE *MoE `toml:"moe"` // nil for dense models

	// LayerPattern gives each layer's sequence mixer, one letter per layer
	// (see LayerKind): "a" attention, "m" Mamba, "r" RWKV, "x" mLSTM, "l"
	// linear attention, "c" short convolution. A pattern shorter than
	// Layers repeats (its length must divide Layers); "" means all
	// attention. Jamba: "mmmmammm" (attention at 4, 12, 20, 28).
	LayerPattern string `toml:"layer_pattern"`
	// StateDType is the format of the recurrent state of non-attention
	// layers; "" means DType.
	StateDType string      `toml:"state_dtype"`
	Mamba      *Mamba      `toml:"mamba"`
	RWKV       *RWKV       `toml:"rwkv"`
	MLSTM      *MLSTM      `toml:"mlstm"`
	Linear     *LinearAttn `toml:"linear"`
	Conv       *ShortConv  `toml:"conv"`

	// DType is the format the published weights are stored in (bf16 usually).
	DType string `toml:"dtype"`

	// kindLayers counts the layers of each kind (index: layerKinds),
	// filled by validation.
	kindLayers [len(layerKinds)]int
}

// MoE describes mixture-of-experts MLP layers.
type MoE struct {
	Experts            int `toml:"experts"`
	TopK               int `toml:"top_k"`
	ExpertIntermediate int `toml:"expert_intermediate"`
	SharedExperts      int `toml:"shared_experts"`
	SharedIntermediate int `toml:"shared_intermediate"` // per shared expert
	// Every = e > 0 makes every e-th layer MoE and the rest dense (0 or 1: all).
	Every int `toml:"every"`
}

// OpKind classifies an op for costing and for the CPU engine.
type OpKind string

// Op kinds. roofline maps them onto device efficiency classes.
const (
	KindEmbedding OpKind = "embedding"
	KindNorm      OpKind = "norm"
	KindGEMM      OpKind = "gemm"
	KindRoPE      OpKind = "rope"
	KindAttention OpKind = "attention"
	KindElemwise  OpKind = "elementwise" // residual add, other streaming element-wise ops
	KindRouter    OpKind = "router"
	KindSampling  OpKind = "sampling"
	// KindActivation is the MLP activation (SiLU·up, GELU, ReLU): an
	// element-wise op whose cost per element is a transcendental function
	// on a CPU, not an add, so a calibrated device may price it apart.
	KindActivation OpKind = "activation"
	// KindExperts is the routed experts of an MoE layer: GEMMs, but one
	// small one per chosen expert, so a calibrated device may price them
	// apart from a dense GEMM of the same size.
	KindExperts OpKind = "experts"
	// KindScan is the recurrence of a constant-state layer (selective
	// scan, WKV, mLSTM cell, linear-attention state update); its state
	// traffic is in KVReadBytes and KVWriteBytes.
	KindScan OpKind = "scan"
	// KindConv is a depthwise causal convolution whose window of past
	// inputs is state too.
	KindConv OpKind = "conv"
)

// Base is the general kind that k refines: elementwise for the activation,
// gemm for routed experts, k itself otherwise. A device description without
// a curve for k prices it with Base's curve, and code that treats all
// element-wise ops or all GEMMs alike (offload plans, activation memory)
// tests Base.
func (k OpKind) Base() OpKind {
	switch k {
	case KindActivation:
		return KindElemwise
	case KindExperts:
		return KindGEMM
	}
	return k
}

// Canonical op names. The CPU engine times ops under these names too, so a
// measured and a predicted step can be compared op by op.
const (
	OpEmbed        = "embed"
	OpAttnNorm     = "attn_norm"
	OpQKV          = "qkv"
	OpRoPE         = "rope"
	OpAttn         = "attn"         // prefill/decode attention of this step
	OpAttnPrefill  = "attn_prefill" // prefill part when a batch mixes phases
	OpAttnDecode   = "attn_decode"  // decode part when a batch mixes phases
	OpOProj        = "o_proj"
	OpResidual     = "residual"
	OpMLPNorm      = "mlp_norm"
	OpGateUp       = "gate_up" // gated MLP: fused gate and up projections
	OpUp           = "up"      // non-gated MLP
	OpAct          = "act"
	OpDown         = "down"
	OpRouter       = "router"
	OpExperts      = "experts"        // routed expert GEMMs (gate_up + down)
	OpSharedExpert = "shared_experts" // always-on experts
	OpFinalNorm    = "final_norm"
	OpLMHead       = "lm_head"
	OpSample       = "sample"

	// Mamba and Mamba-2 layers.
	OpSSMInProj  = "ssm_in_proj"
	OpSSMConv    = "ssm_conv"
	OpSSMXProj   = "ssm_x_proj"  // Mamba: Δ, B, C from x
	OpSSMDTProj  = "ssm_dt_proj" // Mamba: Δ up-projection
	OpSSMScan    = "ssm_scan"
	OpSSMNorm    = "ssm_norm" // Mamba-2: gated RMSNorm
	OpSSMOutProj = "ssm_out_proj"
	// RWKV-6 layers: time mix, then the channel mix after mlp_norm.
	OpRWKVMix   = "rwkv_mix"   // token shift with data-dependent LoRA mixes
	OpRWKVProj  = "rwkv_rkvg"  // receptance, key, value, gate
	OpRWKVWKV   = "rwkv_wkv"   // the matrix-state recurrence
	OpRWKVNorm  = "rwkv_gnorm" // group norm and output gate
	OpRWKVOut   = "rwkv_o_proj"
	OpCMixKR    = "cmix_kr" // channel mix key and receptance
	OpCMixAct   = "cmix_act"
	OpCMixValue = "cmix_value"
	// xLSTM mLSTM layers.
	OpMLSTMProj = "mlstm_proj" // q, k, v, output gate, input and forget gates
	OpMLSTMCell = "mlstm_cell"
	OpMLSTMNorm = "mlstm_norm"
	OpMLSTMOut  = "mlstm_out"
	// Linear-attention layers (BASED).
	OpLAProj    = "la_proj"
	OpLAFeature = "la_feature" // feature map φ on q and k
	OpLAScan    = "la_scan"
	OpLAOut     = "la_out"
	// Gated short-convolution layers (BASED's BaseConv).
	OpConvIn    = "conv_in"
	OpConvShort = "conv_short"
	OpConvOut   = "conv_out"
)

// Op is one operator of a step with its work and traffic. FLOPs and bytes are
// per execution; the op runs Repeat times per step (Repeat = number of layers
// of that type for layer ops, 1 otherwise).
type Op struct {
	Name   string
	Kind   OpKind
	Repeat int
	// Layered is true for ops inside a decoder layer.
	Layered bool
	// GEMM shape (M tokens × K in → N out) when Kind is gemm, router or
	// experts; 0 otherwise.
	M, N, K int

	FLOPs float64
	// Traffic to main memory in bytes, split by what is moved.
	WeightBytes          float64
	ActivationReadBytes  float64
	ActivationWriteBytes float64
	KVReadBytes          float64
	KVWriteBytes         float64

	// Items is, for a fused decode-attention op, the independent work
	// items its kernel schedules per execution: decoding sequences × KV
	// heads (a GQA group's query heads share one). Each item holds a
	// compute unit for a minimum time however short its cache
	// (hw.Overhead.AttentionItemSeconds), which bounds attention over
	// short caches at large batch from below (roofline.CostAt). 0 for
	// every other op. Scaled with the op's heads or layers like its work.
	Items float64
	// QueryTiles is, for a fused prefill-attention op, its tiles of up to
	// PrefillQueryTile queries per sequence and query head, each held by a
	// compute unit for at least hw.Overhead.AttentionTileSeconds (many
	// short prompts at once). 0 for every other op; scaled like Items.
	QueryTiles float64

	// Compute is the dtype the arithmetic runs in (decides the peak used).
	Compute dtype.DType
	// Chunked marks a matrix-state scan (Mamba-2, RWKV-6, mLSTM, linear
	// attention) that some sequence of the step prefills in the
	// chunkwise-parallel form: its FLOPs are matrix products, which real
	// kernels (SSD, flash-linear-attention) run on tensor cores, so
	// roofline prices it like attention rather than as vector work.
	Chunked bool
}

// Scale multiplies everything the op does — its FLOPs, every kind of
// traffic and its attention work items — by f: a share of its heads or
// channels (tensor parallelism), or of its layers.
func (o *Op) Scale(f float64) {
	o.FLOPs *= f
	o.WeightBytes *= f
	o.ActivationReadBytes *= f
	o.ActivationWriteBytes *= f
	o.KVReadBytes *= f
	o.KVWriteBytes *= f
	o.Items *= f
	o.QueryTiles *= f
}

// Bytes is the op's total main-memory traffic.
func (o *Op) Bytes() float64 {
	return o.WeightBytes + o.ActivationReadBytes + o.ActivationWriteBytes + o.KVReadBytes + o.KVWriteBytes
}

// Seq is one sequence's share of a step: Cached tokens already in the KV cache
// and New tokens processed now (the prompt or a prompt chunk in prefill, 1 in
// decode).
type Seq struct {
	Cached int
	New    int
}

// Precision is the storage format of weights, activations and the KV cache.
type Precision struct {
	Weights     dtype.DType
	Activations dtype.DType
	KV          dtype.DType
}

// Options change how the graph is built.
type Options struct {
	// MaterialisedAttention models eager attention that writes the score
	// matrix to memory instead of a FlashAttention-style fused kernel.
	MaterialisedAttention bool
	// ConcatKVCache models a KV cache that grows by concatenation: every
	// step each attention layer copies its past K and V into a new tensor
	// with the new tokens appended (torch.cat), so the whole cache is read
	// and written once more per layer on top of what attention reads. It
	// is how Hugging Face transformers keeps the cache in eager generate():
	// the tuple past_key_values before 4.36 and the default DynamicCache
	// since (DynamicCache.update: torch.cat([key_cache, key_states],
	// dim=-2)); trust_remote_code models do the same in their own
	// attention (MPT-7B's attention.py: key = torch.cat([past_key_value[0],
	// key], dim=1)), as do research codes built on them (Keyformer, H2O's
	// Hugging Face path). Engines with a preallocated or paged cache
	// (vLLM, TensorRT-LLM, HF's StaticCache) write only the new tokens.
	// The graph prices it as a kv_concat op (OpKVConcat).
	ConcatKVCache bool
}

// Graph is the op list of one forward step over a batch of sequences.
type Graph struct {
	Ops    []Op
	Seqs   int // sequences in the step
	Tokens int // new tokens processed (sum of Seq.New)
	// OutputTokens is the number of tokens sampled: one per sequence whose
	// step reaches the end of its prompt or decodes.
	OutputTokens int
}

// Totals sums the graph's FLOPs and bytes over all ops and repeats.
func (g *Graph) Totals() (flops, bytes float64) {
	for i := range g.Ops {
		r := float64(g.Ops[i].Repeat)
		flops += r * g.Ops[i].FLOPs
		bytes += r * g.Ops[i].Bytes()
	}
	return flops, bytes
}
