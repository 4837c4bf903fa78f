package validate

import (
	"github.com/llmsim/llmsim/models"
)

// The engine grids. Calibration and validation use different model shapes
// and different grid points, so no validation point (nor its shape) takes
// part in a fit. Shapes are small decoders with random weights, sized so
// that a decode step streams its weights from DRAM (every model is several
// times this host's 16-32 MiB last-level cache) while a full run stays at a
// few minutes on two cores; the validation shapes lie between the
// calibration ones, so a validation op never needs a curve beyond the sizes
// that were fitted.

// dense is a SwiGLU/RMSNorm/RoPE decoder (Llama layout) with head dim 64.
func dense(name string, layers, hidden, kvHeads, inter, vocab int) EngineModel {
	return EngineModel{Name: name, Arch: models.Arch{Name: name, Family: "llama", Layers: layers, Hidden: hidden,
		Heads: hidden / 64, KVHeads: kvHeads, Intermediate: inter, Vocab: vocab, MaxContext: 4096,
		Norm: "rmsnorm", Activation: "swiglu", Position: "rope", DType: "fp32"}}
}

// moe is dense with every MLP replaced by experts (Mixtral layout, plus
// shared experts when shared > 0).
func moe(name string, layers, hidden, kvHeads, experts, topK, expertInter, shared int, vocab int) EngineModel {
	m := dense(name, layers, hidden, kvHeads, expertInter, vocab)
	m.Arch.Family = "mixtral"
	m.Arch.MoE = &models.MoE{Experts: experts, TopK: topK, ExpertIntermediate: expertInter,
		SharedExperts: shared, SharedIntermediate: expertInter}
	return m
}

// CalibrationPlan is the engine grid that llmsim calibrate host fits to.
func CalibrationPlan(quick bool) EnginePlan {
	if quick {
		return EnginePlan{
			Models: []EngineModel{
				dense("cal-gqa-384", 2, 384, 2, 1024, 8192),
				moe("cal-moe-384", 2, 384, 6, 8, 2, 512, 0, 8192),
			},
			Grid:    []EngineGridPoint{{1, 16}, {1, 96}, {4, 32}, {12, 8}},
			Repeats: 2, DecodeSteps: 4,
		}
	}
	return EnginePlan{
		Models: []EngineModel{
			dense("cal-gqa-512", 4, 512, 2, 1408, 8192),
			dense("cal-gqa-1024", 2, 1024, 4, 2816, 16384),
			moe("cal-moe-512", 4, 512, 8, 8, 2, 704, 0, 8192),
		},
		Grid:    []EngineGridPoint{{1, 16}, {1, 64}, {1, 192}, {2, 48}, {4, 32}, {4, 96}, {16, 12}, {16, 32}, {32, 8}},
		Repeats: 3, DecodeSteps: 5,
	}
}

// ValidationPlan is the engine grid that llmsim validate --engine cpu
// predicts with the calibrated description.
func ValidationPlan(quick bool) EnginePlan {
	if quick {
		return EnginePlan{
			Models: []EngineModel{
				dense("val-mqa-448", 2, 448, 1, 1216, 6144),
				moe("val-moe-448", 2, 448, 7, 6, 2, 640, 1, 6144),
			},
			Grid:    []EngineGridPoint{{1, 48}, {3, 24}, {8, 12}},
			Repeats: 2, DecodeSteps: 4,
		}
	}
	return EnginePlan{
		Models: []EngineModel{
			dense("val-gqa-768", 4, 768, 4, 2048, 12288),
			dense("val-mha-640", 4, 640, 10, 1792, 10240),
			moe("val-moe-640", 4, 640, 2, 6, 2, 896, 1, 10240),
		},
		Grid:    []EngineGridPoint{{1, 32}, {1, 128}, {2, 64}, {8, 24}, {8, 64}, {24, 16}},
		Repeats: 3, DecodeSteps: 5,
	}
}

// ModelGrid is the grid for a user's model (validate --model): fewer and
// smaller points than the built-in shapes get, since a real model's
// prefill costs 2 × parameters FLOPs per token on a scalar CPU engine.
func ModelGrid(quick bool) []EngineGridPoint {
	if quick {
		return []EngineGridPoint{{1, 16}, {4, 8}}
	}
	return []EngineGridPoint{{1, 16}, {1, 64}, {4, 16}, {8, 8}}
}

// PlanPoints lists the points a plan will measure, without times: what
// Disjoint needs to check a split before anything runs.
func PlanPoints(p EnginePlan) []EngineStep {
	var out []EngineStep
	for _, m := range p.Models {
		for _, g := range p.Grid {
			out = append(out,
				EngineStep{Model: m.Name, Arch: m.Arch, Phase: "prefill", Batch: g.Batch, Tokens: g.Tokens},
				EngineStep{Model: m.Name, Arch: m.Arch, Phase: "decode", Batch: g.Batch, Tokens: g.Tokens + (p.DecodeSteps-1)/2})
		}
	}
	return out
}
