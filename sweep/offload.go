package sweep

import (
	"fmt"

	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/roofline"
)

// OffloadEstimate prices w on t under an offloading scheme as `llmsim
// estimate --offload` does: the scheme's task graphs executed on the
// system's tiers. Memory is the accelerator's tier (Fits: every tier),
// energy and cost cover every device of the system, Bound is the busiest
// resource's kind (device, link or storage).
func OffloadEstimate(t *Target, s offload.Scheme, w Work) (Result, error) {
	o, tokens, err := OffloadRun(t, s, w)
	if err != nil {
		return Result{}, err
	}
	return OffloadSummary(t, o, w, tokens), nil
}

// OffloadRun checks w and runs it on t under s; tokens is what its
// throughput counts.
func OffloadRun(t *Target, s offload.Scheme, w Work) (o *offload.Result, tokens float64, err error) {
	if err := w.Check(); err != nil {
		return nil, 0, err
	}
	limit, what := w.Prompt+w.Output, "--prompt + --output"
	switch w.Phase {
	case "prefill":
		limit, what = w.Prompt, "--prompt"
	case "decode":
		limit, what = w.Context+1, "--context"
	}
	if err := contextLimit(t.Model, limit, what); err != nil {
		return nil, 0, err
	}
	tg := offload.NewTarget(t.System, t.Model, t.Prec)
	tg.Opts = t.Opts
	tg.Build = t.Build
	tg.KVBytes = func(tokens int) float64 { return t.KVBytes(1, tokens) }
	o, tokens, err = tg.Estimate(s, w.Phase, w.Batch, w.Prompt, w.Context, w.Output)
	if err != nil {
		return nil, 0, fmt.Errorf("--offload %s: %w", s, err)
	}
	return o, tokens, nil
}

// OffloadSummary is an offload run in estimate's fields.
func OffloadSummary(t *Target, o *offload.Result, w Work, tokens float64) Result {
	var r Result
	r.Seconds, r.FLOPs = o.Seconds, o.FLOPs
	if w.Phase == "request" {
		r.TTFTSeconds = o.PrefillSeconds
		if w.Output > 1 {
			r.TPOTSeconds = o.DecodeSeconds / float64(w.Output-1)
		}
	}
	if r.Seconds > 0 {
		r.TokensPerSecond = tokens / r.Seconds
	}
	for _, u := range o.Resources {
		r.Bytes += u.Bytes
	}
	_, bound := o.Busiest(t.System)
	r.Bound = roofline.Bound(bound)
	if len(o.Memory) > 0 {
		a := o.Memory[0]
		r.Memory = roofline.Footprint{WeightsBytes: a.WeightsBytes, KVBytes: a.KVBytes, ActivationBytes: a.ActivationBytes,
			ReservedBytes: a.WorkingBytes, TotalBytes: a.TotalBytes, CapacityBytes: a.CapacityBytes}
	}
	r.Memory.Fits = o.Fits
	r.Energy = roofline.Energy{Joules: o.Energy.Joules, AverageWatts: o.Energy.AverageWatts, USD: o.Energy.USD}
	if tokens > 0 {
		r.JoulesPerToken = o.Energy.Joules / tokens
		r.USDPerMillionTokens = o.Energy.USD / tokens * 1e6
	}
	return r
}
