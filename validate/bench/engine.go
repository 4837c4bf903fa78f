package bench

import (
	"fmt"
	"time"

	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/validate/engine"
)

// EngineRun is a measured prefill and decode of the CPU engine on one model.
type EngineRun struct {
	Config       engine.Config
	Threads      int
	PromptTokens int
	Prefill      engine.Timing
	Decode       engine.Timing // the fastest of the decode steps
	// PrefillGEMMFLOPsPerSecond is the FLOPs of the prefill's dense layer
	// projections (qkv, o_proj, gate_up or up, down) over the time of those
	// ops: the engine's GEMM throughput inside a real step.
	PrefillGEMMFLOPsPerSecond float64
	// DecodeWeightBytesPerSecond is the weight bytes a decode step reads
	// over the step time: the fraction of memory bandwidth that decoding
	// achieves.
	DecodeWeightBytesPerSecond float64
}

// MeasureEngine builds an engine with random weights, prefills one prompt
// of promptTokens tokens and decodes decodeSteps tokens after it.
func MeasureEngine(cfg engine.Config, promptTokens, decodeSteps int) (EngineRun, error) {
	e, err := engine.New(cfg)
	if err != nil {
		return EngineRun{}, err
	}
	defer e.Close()
	run := EngineRun{Config: cfg, Threads: e.Threads(), PromptTokens: promptTokens}
	prompt := make([]int, promptTokens)
	for i := range prompt {
		prompt[i] = (i*7919 + 13) % cfg.Arch.Vocab
	}
	next, tm, err := e.Prefill([][]int{prompt})
	if err != nil {
		return run, err
	}
	run.Prefill = tm
	var gemmSeconds float64
	for _, op := range []string{models.OpQKV, models.OpOProj, models.OpGateUp, models.OpUp, models.OpDown} {
		gemmSeconds += tm.Ops[op].Seconds()
	}
	if f := denseGEMMFLOPs(cfg.Arch, promptTokens); f > 0 && gemmSeconds > 0 {
		run.PrefillGEMMFLOPsPerSecond = f / gemmSeconds
	}
	run.Decode.Step = time.Hour
	for i := 0; i < decodeSteps; i++ {
		if next, tm, err = e.Decode(next); err != nil {
			return run, err
		}
		if tm.Step < run.Decode.Step {
			run.Decode = tm
		}
	}
	if decodeSteps > 0 {
		run.DecodeWeightBytesPerSecond = float64(run.Decode.WeightBytes) / run.Decode.Step.Seconds()
	}
	return run, nil
}

// denseGEMMFLOPs is 2·tokens·N·K summed over the qkv, o_proj and dense MLP
// matrices of all layers (0 for MoE models, whose expert GEMMs depend on
// routing).
func denseGEMMFLOPs(a models.Arch, tokens int) float64 {
	if a.MoE != nil {
		return 0
	}
	d := a.HeadDim
	if d == 0 {
		d = a.Hidden / a.Heads
	}
	kv := a.KVHeads
	if kv == 0 {
		kv = a.Heads
	}
	q, h, inter := a.Heads*d, a.Hidden, a.Intermediate
	mlp := 2 * h * inter
	if a.Activation == "swiglu" || a.Activation == "geglu" || a.Activation == "" {
		mlp = 3 * h * inter
	}
	perToken := h*(q+2*kv*d) + q*h + mlp
	return 2 * float64(tokens) * float64(a.Layers) * float64(perToken)
}

func (r EngineRun) String() string {
	return fmt.Sprintf("%s %s threads=%d: prefill %d tokens %.2fs (dense GEMMs %.1f GFLOP/s), decode step %.1f ms reading %.2f GB of weights = %.1f GB/s",
		r.Config.Arch.Name, r.Config.Weights, r.Threads, r.PromptTokens, r.Prefill.Step.Seconds(),
		r.PrefillGEMMFLOPsPerSecond/1e9, r.Decode.Step.Seconds()*1e3, float64(r.Decode.WeightBytes)/1e9,
		r.DecodeWeightBytesPerSecond/1e9)
}
