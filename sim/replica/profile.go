package replica

import (
	"fmt"
	"sort"
	"strings"

	"github.com/llmsim/llmsim/models"
)

// Profile is the software side of a serving engine: the per-iteration CPU
// time that no roofline sees (scheduling, building input tensors, sampling
// bookkeeping, detokenisation, eager-mode kernel dispatch) and the
// scheduling defaults the engine ships with. The absence of such overhead
// is the largest error of a pure roofline serving simulator: BLIS reports
// that assuming zero inter-step overhead under-predicts TTFT by 17-56%
// (shared/ANCHORS.md).
//
// Iteration overhead = StepSeconds + PerSeqSeconds × sequences in the
// batch + PerLayerSeconds × decoder layers. It runs before the GPU work of
// the iteration (the engine prepares the batch, then launches it), so it
// adds to every token's latency.
//
// A device description may carry its own per-step overhead
// (hw.Overhead.StepSeconds), which roofline.StepSeconds and `llmsim
// estimate` include. It describes the same host work, so a profile with
// ReplacesDeviceStep prices the iteration as roofline.StepSeconds minus the
// device's step overhead plus its own; the "device" profile keeps the
// device's figure and adds nothing, which makes a single request cost
// exactly what `llmsim estimate --phase request` says.
type Profile struct {
	Name        string
	Description string
	// ReplacesDeviceStep drops the device description's per-step overhead
	// in favour of this profile's.
	ReplacesDeviceStep bool
	// StepSeconds is the fixed CPU time of one iteration.
	StepSeconds float64
	// PerSeqSeconds is the CPU time per sequence in the batch (input
	// tensors, sampling metadata, stop checks, detokenisation); it grows
	// with the batch (WukLab 2024, "scheduling overhead is proportional to
	// the number of sequences in the batch").
	PerSeqSeconds float64
	// PerLayerSeconds is eager-mode dispatch per decoder layer: PyTorch
	// launches each small op from Python (~10 µs each, some 40-50 ops per
	// Llama layer in Hugging Face eager code), which CUDA graphs remove.
	PerLayerSeconds float64
	// PrefillPerLayerSeconds and PrefillPerSeqLayerSeconds are eager
	// dispatch in iterations that prefill, for engines that replay CUDA
	// graphs for decode only (vLLM, TensorRT-LLM's default, serve.py):
	// a prefill's kernels are launched one by one from the host, so the
	// GPU waits PrefillPerLayerSeconds per decoder layer, plus
	// PrefillPerSeqLayerSeconds per layer for every prompt in the
	// iteration when the engine loops over prompts (ragged attention and
	// KV writes issued per sequence).
	PrefillPerLayerSeconds    float64
	PrefillPerSeqLayerSeconds float64
	// AdmitSeconds and AdmitPerTokenSeconds delay a request between its
	// arrival and its entry into the scheduler's queue (API server,
	// tokenisation); they add to TTFT but do not occupy the GPU.
	AdmitSeconds         float64
	AdmitPerTokenSeconds float64
	// EagerAttention makes the engine's attention materialise the score
	// matrix (models.Options.MaterialisedAttention).
	EagerAttention bool
	// ConcatKVCache makes the engine grow each layer's cache by
	// concatenation every step, copying the whole past K and V
	// (models.Options.ConcatKVCache).
	ConcatKVCache bool
	// Defaults are the engine's own scheduling defaults; explicit settings
	// override them.
	Defaults Scheduler
}

// IterationSeconds is the overhead of an iteration over seqs of a model
// with layers decoder layers. A sequence prefills when it brings more than
// one new token or has nothing cached yet.
func (p *Profile) IterationSeconds(seqs []models.Seq, layers int) float64 {
	s := p.StepSeconds + p.PerSeqSeconds*float64(len(seqs)) + p.PerLayerSeconds*float64(layers)
	if p.PrefillPerLayerSeconds == 0 && p.PrefillPerSeqLayerSeconds == 0 {
		return s
	}
	prompts := 0
	for _, q := range seqs {
		if q.New > 1 || q.Cached == 0 {
			prompts++
		}
	}
	if prompts > 0 {
		s += (p.PrefillPerLayerSeconds + p.PrefillPerSeqLayerSeconds*float64(prompts)) * float64(layers)
	}
	return s
}

// AdmitDelaySeconds is the delay between arrival and queueing of a request
// with promptTokens tokens.
func (p *Profile) AdmitDelaySeconds(promptTokens int) float64 {
	return p.AdmitSeconds + p.AdmitPerTokenSeconds*float64(promptTokens)
}

// profiles are the built-in engine profiles. Their numbers are documented
// in docs/SIMULATOR.md with sources.
var profiles = map[string]Profile{
	// device: the overheads the device description states and nothing
	// else; a single request costs exactly what `llmsim estimate --phase
	// request` says.
	"device": {
		Name:        "device",
		Description: "the device description's own step overhead, nothing more (equals llmsim estimate for one request)",
		Defaults:    Scheduler{Policy: Continuous, Priority: PrefillFirst, MaxNumSeqs: 256},
	},
	// ideal: no host overhead between iterations at all (per-kernel
	// launch costs of the device remain): the pure roofline that BLIS's
	// roofline mode assumes.
	"ideal": {
		Name:               "ideal",
		Description:        "no host overhead between iterations (kernel launch costs remain): a pure roofline",
		ReplacesDeviceStep: true,
		Defaults:           Scheduler{Policy: Continuous, Priority: PrefillFirst, MaxNumSeqs: 256},
	},
	// vllm-like: vLLM V1 (0.8+) with CUDA graphs. BLIS's fitted
	// coefficients for vLLM 0.8.4, Llama-3.1-8B, one H100 (inference-sim
	// defaults.yaml) put the step intercept at 5.75 ms, of which the weight
	// read is ~5.0 ms at the H100's achieved bandwidth: ~0.7 ms per
	// iteration is CPU time; their admission fit is 0.23 ms + 1.75 µs per
	// prompt token. Per sequence, V1 builds inputs in NumPy and
	// detokenises in another process: a few µs.
	"vllm-like": {
		Name:                 "vllm-like",
		ReplacesDeviceStep:   true,
		Description:          "vLLM V1: continuous batching with chunked prefill, paged KV, CUDA graphs; ~0.7 ms CPU per iteration",
		StepSeconds:          0.7e-3,
		PerSeqSeconds:        4e-6,
		AdmitSeconds:         0.23e-3,
		AdmitPerTokenSeconds: 1.75e-6,
		Defaults:             Scheduler{Policy: Continuous, Priority: DecodeFirst, ChunkTokens: 8192, MaxNumSeqs: 256, MaxBatchedTokens: 8192},
	},
	// trtllm-like: TensorRT-LLM's C++ batch manager with CUDA graphs and
	// the overlap scheduler, which prepares iteration n+1 while n runs, so
	// little CPU time is exposed. Its default capacity policy
	// GUARANTEED_NO_EVICT reserves each request's full KV at admission.
	"trtllm-like": {
		Name:                 "trtllm-like",
		ReplacesDeviceStep:   true,
		Description:          "TensorRT-LLM: in-flight batching from C++, overlap scheduler, no-evict KV reservation; ~0.15 ms per iteration",
		StepSeconds:          0.15e-3,
		PerSeqSeconds:        1e-6,
		AdmitSeconds:         0.1e-3,
		AdmitPerTokenSeconds: 0.5e-6,
		Defaults:             Scheduler{Policy: Continuous, Priority: DecodeFirst, MaxNumSeqs: 2048, MaxBatchedTokens: 8192, KVAlloc: "reserve"},
	},
	// hf-eager-like: Hugging Face transformers generate() in eager mode:
	// static batches, eager attention, every op launched from Python.
	// ~45 dispatched ops per Llama layer × ~10 µs = 0.45 ms per layer (14 ms
	// per step for a 32-layer model, which is why HF runs 7B models at
	// 20-30 tokens/s where the memory roof allows 100+). Its default cache
	// (the legacy tuple cache, DynamicCache since 4.36) grows by torch.cat,
	// copying every layer's past K and V each step.
	"hf-eager-like": {
		Name:               "hf-eager-like",
		ReplacesDeviceStep: true,
		Description:        "Hugging Face generate(): static batches, eager attention, a cache grown by torch.cat, Python dispatch of every op (~0.45 ms per layer)",
		StepSeconds:        1e-3,
		PerSeqSeconds:      5e-6,
		PerLayerSeconds:    0.45e-3,
		AdmitSeconds:       1e-3,
		EagerAttention:     true,
		ConcatKVCache:      true,
		Defaults:           Scheduler{Policy: Static, Priority: PrefillFirst, MaxNumSeqs: 16, KVAlloc: "reserve"},
	},
}

// LookupProfile returns a built-in engine profile by name.
func LookupProfile(name string) (Profile, error) {
	p, ok := profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown engine profile %q (known: %s)", name, strings.Join(ProfileNames(), ", "))
	}
	return p, nil
}

// ProfileNames lists the built-in engine profiles, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
