package validate

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim/cluster"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// ServingOptions describe the measured server to the simulator. The zero
// value means validate/gpu/serve.py's defaults.
type ServingOptions struct {
	// CalibrationLevel is the level whose iterations fit the engine's host
	// overhead; every other level validates. Default 0 (the lightest).
	CalibrationLevel int
	// MaxNumSeqs, MaxBatchedTokens and MaxModelLen are the server's
	// --max-num-seqs, --max-batched-tokens and --max-len (128, 2048, 1024).
	MaxNumSeqs, MaxBatchedTokens, MaxModelLen int
}

func (o ServingOptions) withDefaults() ServingOptions {
	if o.MaxNumSeqs == 0 {
		o.MaxNumSeqs = 128
	}
	if o.MaxBatchedTokens == 0 {
		o.MaxBatchedTokens = 2048
	}
	if o.MaxModelLen == 0 {
		o.MaxModelLen = 1024
	}
	return o
}

// ServingMetrics summarise one level, measured or simulated, computed the
// same way on both sides from per-request times. Latencies in seconds.
type ServingMetrics struct {
	TTFTMeanSeconds       float64 `json:"ttft_mean_seconds"`
	TTFTP50Seconds        float64 `json:"ttft_p50_seconds"`
	TTFTP90Seconds        float64 `json:"ttft_p90_seconds"`
	TPOTMeanSeconds       float64 `json:"tpot_mean_seconds"`
	E2EMeanSeconds        float64 `json:"e2e_mean_seconds"`
	E2EP90Seconds         float64 `json:"e2e_p90_seconds"`
	OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
}

// ServingMetricNames are the compared metrics, in report order.
var ServingMetricNames = []string{"ttft_mean", "ttft_p50", "ttft_p90", "tpot_mean", "e2e_mean", "e2e_p90", "throughput"}

func (m ServingMetrics) values() []float64 {
	return []float64{m.TTFTMeanSeconds, m.TTFTP50Seconds, m.TTFTP90Seconds, m.TPOTMeanSeconds,
		m.E2EMeanSeconds, m.E2EP90Seconds, m.OutputTokensPerSecond}
}

// ServingLevelReport compares one level. ErrorPercent is
// 100 × (simulated − measured) / measured per metric.
type ServingLevelReport struct {
	Level         int                `json:"level"`
	RatePerSecond float64            `json:"rate_per_second"`
	Requests      int                `json:"requests"`
	Role          string             `json:"role"` // "calibration" or "validation"
	Measured      ServingMetrics     `json:"measured"`
	Simulated     ServingMetrics     `json:"simulated"`
	ErrorPercent  map[string]float64 `json:"error_percent"`
}

// ServingEngine is the engine profile fitted on the calibration level:
// host time per iteration (step + per sequence) from the measured host
// seconds, and eager prefill dispatch per decoder layer (fixed + per
// prompt) from the prefill iterations' GPU time beyond the roofline step.
type ServingEngine struct {
	StepSeconds               float64 `json:"step_seconds"`
	PerSeqSeconds             float64 `json:"per_seq_seconds"`
	PrefillPerLayerSeconds    float64 `json:"prefill_per_layer_seconds"`
	PrefillPerSeqLayerSeconds float64 `json:"prefill_per_seq_layer_seconds"`
	CalibrationLevel          int     `json:"calibration_level"`
	MaxNumSeqs                int     `json:"max_num_seqs"`
	MaxBatchedTokens          int     `json:"max_num_batched_tokens"`
}

// ServingReport is the result of CompareServing.
type ServingReport struct {
	Hardware string `json:"hardware"`
	Model    string `json:"model"`
	// Engine is the profile used: host overhead fitted on the calibration
	// level, the server's scheduler settings.
	Engine ServingEngine        `json:"engine"`
	Levels []ServingLevelReport `json:"levels"`
	// MAPEPercent and WorstPercent are over the validation levels only:
	// mean and largest absolute error per metric.
	MAPEPercent  map[string]float64 `json:"mape_percent"`
	WorstPercent map[string]float64 `json:"worst_percent"`
}

// ServingProfile is the engine profile of validate/gpu/serve.py: vLLM V0
// style prefill-first continuous batching, whole prompts, host overhead
// step + perSeq × sequences on top of the device's own step overhead
// (which the device description fitted to GPU time, not host time).
func ServingProfile(e ServingEngine, o ServingOptions) replica.Profile {
	o = o.withDefaults()
	return replica.Profile{
		Name:                      "serve.py",
		Description:               "validate/gpu/serve.py: prefill-first continuous batching, eager prefill, CUDA-graph decode",
		StepSeconds:               e.StepSeconds,
		PerSeqSeconds:             e.PerSeqSeconds,
		PrefillPerLayerSeconds:    e.PrefillPerLayerSeconds,
		PrefillPerSeqLayerSeconds: e.PrefillPerSeqLayerSeconds,
		Defaults: replica.Scheduler{Policy: replica.Continuous, Priority: replica.PrefillFirst, ChunkTokens: -1,
			MaxNumSeqs: o.MaxNumSeqs, MaxBatchedTokens: o.MaxBatchedTokens},
	}
}

// CompareServing reads a serving dataset (validate/gpu/serve.py), fits the
// engine's host overhead on one level, simulates every level's trace on
// sys with model m (bf16) and compares the results.
func CompareServing(dir string, sys *hw.System, m *models.Model, o ServingOptions) (*ServingReport, error) {
	o = o.withDefaults()
	levels, err := ReadServing(dir)
	if err != nil {
		return nil, err
	}
	cal := -1
	for i, l := range levels {
		if l.Level == o.CalibrationLevel {
			cal = i
		}
	}
	if cal < 0 {
		return nil, fmt.Errorf("%s: no calibration level %d", dir, o.CalibrationLevel)
	}
	if len(levels) < 2 {
		return nil, errors.New(dir + ": need a calibration level and at least one validation level")
	}
	rep := &ServingReport{Hardware: sys.Name, Model: m.Name,
		MAPEPercent: map[string]float64{}, WorstPercent: map[string]float64{}}
	rep.Engine.StepSeconds, rep.Engine.PerSeqSeconds = FitHostOverhead(levels[cal].Iterations)
	dev := sys.Primary().Device
	prec := models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}
	rep.Engine.PrefillPerLayerSeconds, rep.Engine.PrefillPerSeqLayerSeconds = FitPrefillDispatch(levels[cal].Iterations, m.Layers,
		func(seqs, tokens int) float64 { return prefillSeconds(m, dev, prec, seqs, tokens) })
	rep.Engine.CalibrationLevel = o.CalibrationLevel
	rep.Engine.MaxNumSeqs, rep.Engine.MaxBatchedTokens = o.MaxNumSeqs, o.MaxBatchedTokens
	rc := replica.Config{Model: m, System: sys, Device: dev, Profile: ServingProfile(rep.Engine, o),
		Precision: prec, MaxModelLen: o.MaxModelLen}.Defaults()
	if err := rc.Validate(); err != nil {
		return nil, err
	}
	nVal := 0
	for i, l := range levels {
		sim, err := simulateLevel(rc, l.Requests)
		if err != nil {
			return nil, fmt.Errorf("level %d: %w", l.Level, err)
		}
		lr := ServingLevelReport{Level: l.Level, RatePerSecond: l.RatePerSecond, Requests: len(l.Requests),
			Role: "validation", Measured: summarise(l.Requests), Simulated: summarise(sim), ErrorPercent: map[string]float64{}}
		if i == cal {
			lr.Role = "calibration"
		} else {
			nVal++
		}
		mv, sv := lr.Measured.values(), lr.Simulated.values()
		for k, name := range ServingMetricNames {
			e := 100 * (sv[k] - mv[k]) / mv[k]
			lr.ErrorPercent[name] = e
			if i != cal {
				rep.MAPEPercent[name] += math.Abs(e)
				rep.WorstPercent[name] = math.Max(rep.WorstPercent[name], math.Abs(e))
			}
		}
		rep.Levels = append(rep.Levels, lr)
	}
	for name := range rep.MAPEPercent {
		rep.MAPEPercent[name] /= float64(nVal)
	}
	return rep, nil
}

// prefillSeconds is the device's price of one prefill iteration of seqs
// prompts that together hold tokens tokens (split as evenly as they go),
// the roofline step the simulator would run for it.
func prefillSeconds(m *models.Model, dev *hw.Device, prec models.Precision, seqs, tokens int) float64 {
	ss := make([]models.Seq, seqs)
	for i := range ss {
		ss[i].New = tokens / seqs
		if i < tokens%seqs {
			ss[i].New++
		}
	}
	return roofline.StepSeconds(m.Graph(ss, prec, models.Options{}), dev)
}

// simulateLevel replays reqs through one replica and returns the
// simulated per-request times.
func simulateLevel(rc replica.Config, reqs []ServedRequest) ([]ServedRequest, error) {
	src := &servedSource{}
	for i, r := range reqs {
		src.reqs = append(src.reqs, workloads.Request{ID: int64(i), ArrivalNanos: int64(math.Round(r.ArrivalSeconds * 1e9)),
			PromptTokens: r.PromptTokens, OutputTokens: r.OutputTokens})
	}
	var csvOut bytes.Buffer
	cfg := &cluster.Config{Router: "round-robin", Pools: []cluster.Pool{{Name: "main", Replica: rc, Replicas: 1}}, RequestsCSV: &csvOut}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res, err := cluster.Run(cfg, src)
	if err != nil {
		return nil, err
	}
	if res.Requests.Completed != uint64(len(reqs)) {
		return nil, fmt.Errorf("simulated %d of %d requests to completion", res.Requests.Completed, len(reqs))
	}
	t, err := parseTable(&csvOut, "simulated requests")
	if err != nil {
		return nil, err
	}
	if err := t.need("id", "arrival_s", "ttft_s", "finish_s"); err != nil {
		return nil, err
	}
	out := make([]ServedRequest, len(reqs))
	for i := range t.rows {
		id, err := t.int(i, "id")
		if err != nil {
			return nil, err
		}
		var arr, ttft, fin float64
		if err := firstErr(numInto(t, i, "arrival_s", &arr), numInto(t, i, "ttft_s", &ttft), numInto(t, i, "finish_s", &fin)); err != nil {
			return nil, err
		}
		out[id] = ServedRequest{ArrivalSeconds: arr, PromptTokens: reqs[id].PromptTokens, OutputTokens: reqs[id].OutputTokens,
			FirstTokenSeconds: arr + ttft, FinishSeconds: fin}
	}
	return out, nil
}

// servedSource replays a fixed request list.
type servedSource struct {
	reqs []workloads.Request
	i    int
}

func (s *servedSource) Next() (workloads.Request, bool) {
	if s.i >= len(s.reqs) {
		return workloads.Request{}, false
	}
	s.i++
	return s.reqs[s.i-1], true
}

// summarise computes a level's metrics from per-request times. Throughput
// is output tokens over the span from the first arrival to the last finish.
func summarise(reqs []ServedRequest) ServingMetrics {
	var ttft, e2e []float64
	var tpotSum, outTokens float64
	first, last := math.Inf(1), math.Inf(-1)
	for _, r := range reqs {
		ttft = append(ttft, r.FirstTokenSeconds-r.ArrivalSeconds)
		e2e = append(e2e, r.FinishSeconds-r.ArrivalSeconds)
		tpotSum += (r.FinishSeconds - r.FirstTokenSeconds) / float64(r.OutputTokens-1)
		outTokens += float64(r.OutputTokens)
		first, last = math.Min(first, r.ArrivalSeconds), math.Max(last, r.FinishSeconds)
	}
	n := float64(len(reqs))
	return ServingMetrics{
		TTFTMeanSeconds: meanOf(ttft), TTFTP50Seconds: quantileOf(ttft, 0.5), TTFTP90Seconds: quantileOf(ttft, 0.9),
		TPOTMeanSeconds: tpotSum / n, E2EMeanSeconds: meanOf(e2e), E2EP90Seconds: quantileOf(e2e, 0.9),
		OutputTokensPerSecond: outTokens / (last - first),
	}
}

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// quantileOf is the q-quantile of xs by linear interpolation between order
// statistics (numpy's default); xs is left as it is.
func quantileOf(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}
