package cluster

import (
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/kv"
	"github.com/llmsim/llmsim/sim/metrics"
	"github.com/llmsim/llmsim/sim/replica"
)

// Result is what a run measured. JSON names carry units; every latency is
// in seconds. cmd/llmsim's `simulate --help` explains each field.
type Result struct {
	DurationSeconds float64  `json:"duration_seconds"`
	Requests        Requests `json:"requests"`

	TTFT  metrics.Summary `json:"ttft_seconds"`
	TPOT  metrics.Summary `json:"tpot_seconds"`
	ITL   metrics.Summary `json:"itl_seconds"`
	E2E   metrics.Summary `json:"e2e_seconds"`
	Queue metrics.Summary `json:"queue_seconds"`

	Throughput Throughput `json:"throughput"`
	Goodput    Goodput    `json:"goodput"`
	Energy     Energy     `json:"energy"`
	Cost       Cost       `json:"cost"`
	Handoff    *Handoff   `json:"handoff,omitempty"`
	// PrefixCache is reported when prefix blocks are shared (prefix
	// caching or Hydragen).
	PrefixCache *PrefixCache `json:"prefix_cache,omitempty"`
	Replicas    []Replica    `json:"replicas"`
}

// PrefixCache reports prefix sharing over all replicas.
type PrefixCache struct {
	// QueriedTokens are the tokens admitted requests had to prefill before
	// the lookup (prompt, plus output so far after a recompute).
	QueriedTokens int64 `json:"queried_tokens"`
	// HitTokens were found cached: their prefill was skipped.
	HitTokens int64 `json:"hit_tokens"`
	// HitRate is HitTokens / QueriedTokens (vLLM's prefix cache hit rate).
	HitRate float64 `json:"hit_rate"`
	// EvictedBlocks are cached blocks evicted to make room.
	EvictedBlocks int64 `json:"evicted_blocks"`
}

// Requests counts what happened to the requests.
type Requests struct {
	Arrived          uint64            `json:"arrived"`
	Completed        uint64            `json:"completed"`
	Rejected         uint64            `json:"rejected"`
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	PromptTokens     uint64            `json:"prompt_tokens"`
	OutputTokens     uint64            `json:"output_tokens"`
	Preemptions      int64             `json:"preemptions"`
	SwapOuts         int64             `json:"swap_outs"`
}

// Throughput is completed work per simulated second.
type Throughput struct {
	RequestsPerSecond     float64 `json:"requests_per_second"`
	OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
	TotalTokensPerSecond  float64 `json:"total_tokens_per_second"`
}

// Goodput is the throughput of requests that met the SLO.
type Goodput struct {
	SLO                   metrics.SLO `json:"slo"`
	RequestsPerSecond     float64     `json:"requests_per_second"`
	OutputTokensPerSecond float64     `json:"output_tokens_per_second"`
	Attainment            float64     `json:"attainment"` // fraction of completed requests within the SLO
}

// Energy of all devices over the run.
type Energy struct {
	Joules               float64 `json:"joules"`
	AverageWatts         float64 `json:"average_watts"`
	JoulesPerOutputToken float64 `json:"joules_per_output_token"`
}

// Cost of renting all devices for the run.
type Cost struct {
	USD                       float64 `json:"usd"`
	USDPerMillionOutputTokens float64 `json:"usd_per_million_output_tokens"`
}

// Handoff reports the prefill→decode KV transfers of a disaggregated run.
type Handoff struct {
	Transfers           int64   `json:"transfers"`
	Bytes               float64 `json:"bytes"`
	LinkBusyFraction    float64 `json:"link_busy_fraction"`
	LinkBytesPerSecond  float64 `json:"link_bytes_per_second"`
	MeanTransferSeconds float64 `json:"mean_transfer_seconds"`
}

// Replica reports one replica.
type Replica struct {
	Index    int    `json:"index"`
	Pool     string `json:"pool"`
	Device   string `json:"device"`
	GPUs     int    `json:"gpus"`
	KVBlocks int    `json:"kv_blocks"`
	// KVBlockTokens is the tokens of one block; 0 for a model without
	// attention layers, whose block is one sequence's recurrent state.
	KVBlockTokens int `json:"kv_block_tokens"`
	// KVTier is the memory tier that bounds the KV cache under an
	// offloading scheme (the device's memory otherwise: omitted).
	KVTier           string  `json:"kv_tier,omitempty"`
	KVMeanUsed       float64 `json:"kv_mean_used"`
	KVPeakUsed       float64 `json:"kv_peak_used"`
	BusyFraction     float64 `json:"busy_fraction"`
	GPUFraction      float64 `json:"gpu_fraction"`
	ComputeFraction  float64 `json:"compute_fraction"`
	BandwidthFrac    float64 `json:"bandwidth_fraction"`
	Iterations       int64   `json:"iterations"`
	MeanBatchTokens  float64 `json:"mean_batch_tokens"`
	Preemptions      int64   `json:"preemptions"`
	SwappedBytes     float64 `json:"swapped_bytes"`
	StepMemoHitRatio float64 `json:"step_memo_hit_ratio"`
	// KVTimeline is the KV use over the run in at most 64 equal intervals.
	KVTimeline kv.Timeline `json:"kv_timeline"`
}

func (c *Cluster) result() *Result {
	m := &c.metrics
	end := c.endNanos
	dur := sim.Seconds(end)
	res := &Result{
		DurationSeconds: dur,
		Requests: Requests{
			Arrived: c.arrived, Completed: m.Completed, Rejected: m.RejectedTotal(), RejectedByReason: m.Rejected(),
			PromptTokens: m.PromptTokens, OutputTokens: m.OutputTokens,
		},
		TTFT: m.TTFT.Seconds(), TPOT: m.TPOT.Seconds(), ITL: m.ITL.Seconds(), E2E: m.E2E.Seconds(), Queue: m.Queue.Seconds(),
		Goodput: Goodput{SLO: m.SLO},
	}
	if dur > 0 {
		res.Throughput = Throughput{
			RequestsPerSecond:     float64(m.Completed) / dur,
			OutputTokensPerSecond: float64(m.OutputTokens) / dur,
			TotalTokensPerSecond:  float64(m.OutputTokens+m.PromptTokens) / dur,
		}
		res.Goodput.RequestsPerSecond = float64(m.Good) / dur
		res.Goodput.OutputTokensPerSecond = float64(m.GoodOutputTokens) / dur
	}
	if m.Completed > 0 {
		res.Goodput.Attainment = float64(m.Good) / float64(m.Completed)
	}
	for pi, pool := range c.pools {
		for _, rep := range pool {
			rr, e := c.replicaResult(rep, c.cfg.Pools[pi].Name, end)
			res.Replicas = append(res.Replicas, rr)
			res.Requests.Preemptions += rr.Preemptions
			res.Requests.SwapOuts += rep.Stats().SwapOuts
			res.Energy.Joules += e.Joules
			res.Cost.USD += e.USD
		}
	}
	if dur > 0 {
		res.Energy.AverageWatts = res.Energy.Joules / dur
	}
	if m.OutputTokens > 0 {
		res.Energy.JoulesPerOutputToken = res.Energy.Joules / float64(m.OutputTokens)
		res.Cost.USDPerMillionOutputTokens = res.Cost.USD / float64(m.OutputTokens) * 1e6
	}
	if c.pd != nil {
		res.Handoff = c.pd.result(end)
	}
	res.PrefixCache = c.prefixResult()
	return res
}

// replicaResult reports rep and prices its energy over the run: each of
// its GPUs runs for the whole run and does an equal share of the work
// (under an offloading scheme, every device of the system: offloadEnergy).
func (c *Cluster) replicaResult(rep *replica.Replica, pool string, end int64) (Replica, roofline.Energy) {
	cfg := rep.Config()
	st := rep.Stats()
	gpus := cfg.TP * cfg.PP
	dev := cfg.Device
	kv := rep.KV()
	r := Replica{
		Index: int(rep.Index), Pool: pool, Device: dev.Name, GPUs: gpus,
		KVBlocks: kv.Total(), KVBlockTokens: kv.BlockTokens(), KVTier: rep.KVTier(),
		KVMeanUsed: kv.MeanUsedFraction(end), KVTimeline: kv.Timeline(end), Iterations: st.Iterations,
		Preemptions: st.Preemptions, SwappedBytes: st.SwappedBytes,
	}
	if cfg.Model.AttentionLayers() == 0 {
		r.KVBlockTokens = 0
	}
	if kv.Total() > 0 {
		r.KVPeakUsed = float64(kv.Peak()) / float64(kv.Total())
	}
	if st.Iterations > 0 {
		r.MeanBatchTokens = float64(st.PrefillTokens+st.DecodeTokens) / float64(st.Iterations)
	}
	if st.Steps > 0 {
		r.StepMemoHitRatio = float64(st.MemoHits) / float64(st.Steps)
	}
	dur := sim.Seconds(end)
	if dur <= 0 {
		return r, roofline.Energy{}
	}
	r.BusyFraction = sim.Seconds(st.BusyNanos) / dur
	r.GPUFraction = sim.Seconds(st.GPUNanos) / dur
	peak := roofline.Peak(dev, hw.ClassGEMM, cfg.Precision.Activations)
	perGPUFLOPs, perGPUBytes := st.FLOPs/float64(gpus), st.Bytes/float64(gpus)
	// Under an offloading scheme the work spreads over several devices,
	// links and drives, so fractions of the accelerator's peaks would mean
	// nothing: they stay 0.
	if peak > 0 && cfg.Offload == nil {
		r.ComputeFraction = perGPUFLOPs / (peak * dur)
	}
	if bw := dev.MainMemory().BytesPerSecond; bw > 0 && cfg.Offload == nil {
		r.BandwidthFrac = perGPUBytes / (bw * dur)
	}
	if cfg.Offload != nil {
		return r, offloadEnergy(cfg.System, st, dur)
	}
	e := roofline.EnergyOf(dev, dur, perGPUFLOPs, perGPUBytes, peak)
	e.Joules *= float64(gpus)
	e.USD *= float64(gpus)
	return r, e
}

// offloadEnergy prices a replica under an offloading scheme as `llmsim
// estimate --offload` prices a run: every device of the system (host CPU,
// DRAM, drives, PIM, not only the accelerator) draws its idle power and
// is rented for the whole run, and each iteration adds what its executed
// task graph drew above idle (offload.StepCost). A lone request, whose
// iterations run back to back, costs what estimate says.
func offloadEnergy(sys *hw.System, st replica.Stats, seconds float64) roofline.Energy {
	joules := offload.IdleWatts(sys)*seconds + st.JoulesAboveIdle
	return roofline.Energy{Joules: joules, AverageWatts: joules / seconds, USD: offload.USDPerHour(sys) * seconds / 3600}
}

func (c *Cluster) prefixResult() *PrefixCache {
	var p PrefixCache
	sharing := false
	for _, rep := range c.all {
		if !rep.KV().Sharing() {
			continue
		}
		sharing = true
		st := rep.Stats()
		p.QueriedTokens += st.PrefixQueriedTokens
		p.HitTokens += st.PrefixHitTokens
		p.EvictedBlocks += st.PrefixEvictedBlocks
	}
	if !sharing {
		return nil
	}
	if p.QueriedTokens > 0 {
		p.HitRate = float64(p.HitTokens) / float64(p.QueriedTokens)
	}
	return &p
}

func (h *handoff) result(end int64) *Handoff {
	r := &Handoff{Transfers: h.transfers, Bytes: h.movedBytes, LinkBytesPerSecond: h.link.BytesPerSecond}
	if end > 0 {
		r.LinkBusyFraction = float64(h.link.BusyNanos()) / float64(end)
	}
	if h.transfers > 0 {
		r.MeanTransferSeconds = sim.Seconds(h.totalNanos) / float64(h.transfers)
	}
	return r
}
