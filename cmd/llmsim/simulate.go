package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/sim/cluster"
	"github.com/llmsim/llmsim/sim/metrics"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

const simulateHelp = `llmsim simulate — discrete-event simulation of serving a workload: requests
arrive, are batched by an engine's scheduler, prefilled, decoded, preempted
and finished on replicas whose every iteration is priced with the same
roofline cost path as llmsim estimate (plus the engine's per-iteration
overhead). docs/SIMULATOR.md explains the model.

  llmsim simulate --hw h100-sxm --model llama3-8b --num-requests 10000 --rate 20 \
      --prompt-tokens normal:mean=512,std=64 --output-tokens normal:mean=512,std=64
  llmsim simulate --workload chat --arrival gamma:rate=30,cv=2 --slo-ttft 0.5 --slo-tpot 0.05
  llmsim simulate --hw dgx-h100 --model llama3-70b --tp 4 --replicas 2 --router least-kv -o json
  llmsim simulate --hw dgx-h100 --disaggregate 2:2 --workload trace.jsonl --trace out.json
  llmsim simulate --kv-scheme kivi:bits=2 --workload summarization --rate 2
  llmsim simulate --workload rag:groups=8,prefix=4096 --prefix-caching --rate 8
  llmsim simulate --hw t4-flexgen-paper --model opt-6.7b --offload zero:tier=cpu --rate 0.2
  llmsim simulate --model mamba-2.8b --rate 40

Workload: --workload takes a trace file (.csv, .jsonl) or a preset (chat,
summarization, reasoning, rag[:groups=N,...]); otherwise --arrival (or
--rate, Poisson) with --prompt-tokens and --output-tokens length specs
(512, uniform:128..1024, normal:mean=512,std=64, lognormal:..., csv:FILE).
KV cache: --kv-scheme (llmsim kvschemes) prices every iteration on the graph
the scheme rewrites, as estimate does, and sizes each request's cache with its
stored bytes in blocks of --block-size full-format tokens (eviction schemes stop
growing at their budget; quantized formats fit more tokens). Its alloc stage
sets the allocation: paged:block=B (and vattention) allocate on demand,
contiguous[:max=N] reserves at admission. --prefix-caching (vLLM's automatic
prefix caching) shares the whole blocks of a prefix group's common prompt tokens
(or of a conversation's earlier turns, by session id) between the requests that
hold them, keeps them cached after the last one finishes until their room is
needed (least recently released first), and skips the prefill of a request's
cached blocks; hydragen:prefix=P shares them without keeping them.
Recurrent models (Mamba, RWKV, and the recurrent layers of hybrids such as
Jamba) reserve each sequence's constant state at admission and free it at
completion; attention layers grow block by block. Without attention layers a
block is one sequence's state, so the cache holds ⌊budget / state⌋ sequences.
Offloading (--offload NAME[:key=value,...], llmsim offload list): every
iteration is priced by executing the scheme's task graph for that step on the
system's tiers (GPU, CPU DRAM, disk, flash, CSD, PIM) — decodes as one step at
their mean context, each distinct prompt shape as a step after it — and the KV
cache lives where the scheme keeps it: its capacity is the room that the
scheme's memory plan leaves on the tier that fills first (kv_tier). Not combined
with --tp/--pp or --preemption swap. --host-share N puts N replicas on one host:
each holds 1/N of its memory, power and rent, and while iterations overlap the
host's CPU, memory and disk rates are divided by the demand of the others (the
time each uses them, priced alone); the GPUs and their PCIe links are each
replica's own. Schemes that work with simulate:` + "%s" + `
flexgen:search=1 (it picks its own policy and batch) and coe are refused.
Engines (--engine; default vllm-like):` + "%s" + `

Output fields (JSON names; the table shows the same). Latencies are in seconds;
each latency block has count, mean, p50, p90, p99, min, max. Percentiles come
from log-bucketed histograms of fixed size (relative error ≤ 0.4%%); means,
min and max are exact. Memory does not grow with the number of requests.
  config                  what was simulated (hardware, model, engine, scheduler,
                          workload, seed)
  duration_seconds        simulated time from 0 to the last completion
  requests                arrived, completed, rejected and rejected_by_reason
                          (context: prompt + output exceed the max model length;
                          kv: the request alone needs more KV cache than a replica
                          has), prompt_tokens and output_tokens of completed
                          requests, preemptions (recompute or swap) and swap_outs
  ttft_seconds            time to first token: arrival to the first sampled token
                          (includes the engine's admission delay and queueing)
  tpot_seconds            time per output token after the first, per request:
                          (last token − first token) / (output − 1)
  itl_seconds             inter-token latency: every gap between two tokens of a
                          request (TPOT averages these per request)
  e2e_seconds             arrival to completion (static batching returns a request
                          when its whole batch ends)
  queue_seconds           arrival to the first iteration that includes the request
  throughput              requests_per_second, output_tokens_per_second and
                          total_tokens_per_second (prompt + output) over the duration
  goodput                 the same for requests meeting --slo-ttft and --slo-tpot,
                          and attainment (fraction of completed requests within them)
  energy                  joules of all devices over the duration (idle power plus
                          the active swing by utilisation, from the device
                          description; with --offload every device of the system,
                          host CPU and drives included, as estimate --offload
                          charges them), average_watts, joules_per_output_token
  cost                    usd of renting the devices (with --offload: all of the
                          system's) for the duration and usd_per_million_output_tokens
  handoff                 (disaggregated) KV transfers, bytes (as the scheme stores
                          them), link_busy_fraction, link_bytes_per_second,
                          mean_transfer_seconds
  prefix_cache            (--prefix-caching or hydragen) queried_tokens (tokens
                          admitted requests had to prefill before the lookup),
                          hit_tokens (found cached: prefill skipped, the tokens
                          saved), hit_rate (hit / queried), evicted_blocks (cached
                          blocks evicted for room)
  replicas                per replica: pool, device, gpus (TP×PP), kv_blocks and
                          kv_block_tokens (the cache: memory × utilisation − weights
                          − peak activations − reserve, in blocks of full-format
                          tokens; kv_block_tokens 0: a block is one sequence's
                          recurrent state, for models without attention layers),
                          kv_tier (with --offload: the tier whose room bounds the
                          cache), kv_mean_used and kv_peak_used (fractions of the
                          blocks held by requests; cached prefix blocks count as
                          free), busy_fraction (an
                          iteration in progress, engine overhead included),
                          gpu_fraction (GPUs computing), compute_fraction (achieved
                          FLOP/s over the peak) and bandwidth_fraction (bytes/s over
                          the memory bandwidth; both 0 with --offload, whose work
                          spans several devices), iterations, mean_batch_tokens,
                          preemptions, swapped_bytes, step_memo_hit_ratio (iterations
                          whose batch shape was priced before), kv_timeline
                          (mean_used and peak_used fractions of the blocks in at most
                          64 equal intervals of interval_seconds)

--requests-csv writes one row per request (id, status, reason, replica,
arrival_s, prompt_tokens, output_tokens, queue_s, ttft_s, tpot_s, e2e_s,
finish_s, preemptions) in completion order; --trace writes a Chrome/Perfetto
trace (open in ui.perfetto.dev): one track of iterations per replica with
their batch composition, a "kv blocks" counter per replica (used, cached and
free blocks, stacking up to the capacity, written when they change), and
requests as async slices (request, queued).
`

func init() {
	register("simulate", "event-driven simulation of serving a workload (latency, throughput, goodput)", runSimulate)
}

type simulateFlags struct {
	target                       *targetFlags
	numRequests                  int64
	rate                         float64
	arrival, prompt, output      string
	workload, prefix             string
	seed                         uint64
	engine, batching, priority   string
	chunk, maxSeqs, maxTokens    int
	kvAlloc, preemption          string
	prefixCaching                bool
	blockTokens, maxModelLen     int
	gpuUtil, swapGiB, watermark  float64
	tp, pp, replicas, hostShare  int
	collective, router           string
	disaggregate, decodeHW       string
	kvLinkGBps, kvLinkLatency    float64
	offload                      string
	sloTTFT, sloTPOT             float64
	format, requestsCSV, traceTo string
}

func addSimulateFlags(fs *pflag.FlagSet) *simulateFlags {
	f := &simulateFlags{target: addTargetFlags(fs)}
	fs.Int64Var(&f.numRequests, "num-requests", 1000, "requests to simulate (default for a trace: all of it)")
	fs.Float64Var(&f.rate, "rate", 10, "Poisson arrival rate in requests per second (shorthand for --arrival poisson:rate=R)")
	fs.StringVar(&f.arrival, "arrival", "", "arrival process: poisson:rate=R, gamma:rate=R,cv=C, constant:rate=R, closed:clients=N,think=S")
	fs.StringVar(&f.prompt, "prompt-tokens", "512", "prompt length spec (overrides a preset's)")
	fs.StringVar(&f.output, "output-tokens", "256", "output length spec (overrides a preset's)")
	fs.StringVar(&f.workload, "workload", "", "trace file (.csv, .jsonl) or preset (chat, summarization, reasoning, rag:...)")
	fs.StringVar(&f.prefix, "prefix", "", "shared prefixes: groups=N,tokens=T[,zipf=S]")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: same seed, same result")
	fs.StringVar(&f.engine, "engine", "vllm-like", "engine profile: "+strings.Join(replica.ProfileNames(), ", "))
	fs.StringVar(&f.batching, "batching", "", "continuous or static (default: the engine's)")
	fs.StringVar(&f.priority, "priority", "", "prefill-first or decode-first (default: the engine's)")
	fs.IntVar(&f.chunk, "chunk-size", -1, "chunked prefill token budget per iteration, 0 to disable (default: the engine's)")
	fs.IntVar(&f.maxSeqs, "max-num-seqs", 0, "max sequences per iteration (default: the engine's)")
	fs.IntVar(&f.maxTokens, "max-num-batched-tokens", 0, "max tokens per iteration (default: the engine's)")
	fs.StringVar(&f.kvAlloc, "kv-alloc", "", "paged, reserve (prompt+output at admission) or contiguous (max-model-len) (default: the engine's)")
	fs.StringVar(&f.preemption, "preemption", "recompute", "recompute or swap (over the system's host link)")
	fs.BoolVar(&f.prefixCaching, "prefix-caching", false, "share and cache the KV blocks of prefix groups and conversations across requests (vLLM automatic prefix caching)")
	fs.IntVar(&f.blockTokens, "block-size", 16, "KV block size in tokens (default with --kv-scheme paged:block=B: B)")
	fs.Float64Var(&f.gpuUtil, "gpu-memory-utilization", 0.9, "fraction of device memory the engine may use (with --offload: of the accelerator's tier, default 1: the scheme's memory plan has its own reserve)")
	fs.Float64Var(&f.swapGiB, "swap-space-gib", 4, "host memory per replica for swapped KV, GiB")
	fs.Float64Var(&f.watermark, "watermark", 0.01, "fraction of KV blocks kept free when admitting prompts")
	fs.IntVar(&f.maxModelLen, "max-model-len", 0, "max prompt + output tokens (default: the model's context)")
	fs.IntVar(&f.tp, "tp", 1, "tensor-parallel GPUs per replica")
	fs.IntVar(&f.pp, "pp", 1, "pipeline-parallel stages per replica")
	fs.StringVar(&f.collective, "collective", "auto", "TP all-reduce algorithm: ring, tree or auto")
	fs.IntVar(&f.replicas, "replicas", 1, "replicas behind the router")
	fs.StringVar(&f.router, "router", "round-robin", "routing: "+strings.Join(cluster.RouterNames(), ", "))
	fs.StringVar(&f.disaggregate, "disaggregate", "", "P:D prefill and decode replicas (Splitwise/DistServe); overrides --replicas")
	fs.StringVar(&f.decodeHW, "decode-hw", "", "hardware of the decode pool (default: --hw)")
	fs.Float64Var(&f.kvLinkGBps, "kv-link-gbps", 0, "prefill→decode KV link in GB/s (default: the system's link among its GPUs)")
	fs.Float64Var(&f.kvLinkLatency, "kv-link-latency", 5e-6, "latency of --kv-link-gbps in seconds")
	fs.Float64Var(&f.sloTTFT, "slo-ttft", 0, "TTFT objective in seconds for goodput (0: none)")
	fs.Float64Var(&f.sloTPOT, "slo-tpot", 0, "TPOT objective in seconds for goodput (0: none)")
	fs.StringVarP(&f.format, "output-format", "o", "table", "table or json")
	fs.StringVar(&f.requestsCSV, "requests-csv", "", "write one CSV row per request to FILE")
	fs.StringVar(&f.traceTo, "trace", "", "write a Chrome/Perfetto trace to FILE")
	fs.StringVar(&f.offload, "offload", "", "offloading scheme NAME[:key=value,...] (llmsim offload list): each iteration runs as the scheme's task graph on the system's tiers, and the KV cache lives where the scheme keeps it")
	fs.IntVar(&f.hostShare, "host-share", 1, "with --offload: N replicas share one host (its CPU, memory, disks, power and rent); --replicas must be a multiple of N")
	return f
}

func runSimulate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate", fmt.Sprintf(simulateHelp, wrapList(replica.OffloadSchemes(), "  ", 78), engineList()), stderr)
	f := addSimulateFlags(fs)
	if err := parseFlags(fs, args, &f.format, "table", "json"); err != nil {
		return err
	}
	out, err := simulate(fs, f)
	if err != nil {
		return err
	}
	if f.format == "json" {
		return writeJSON(stdout, out)
	}
	return writeSimulateTable(stdout, out)
}

func engineList() string {
	var b strings.Builder
	for _, n := range replica.ProfileNames() {
		p, _ := replica.LookupProfile(n)
		fmt.Fprintf(&b, "\n  %-14s %s", n, p.Description)
	}
	return b.String()
}

// simulation is the output of `llmsim simulate`.
type simulation struct {
	Config simulationConfig `json:"config"`
	*cluster.Result
	pools []cluster.Pool // the deployment simulated (not in the JSON), for llmsim dse's price
}

type simulationConfig struct {
	Hardware  string            `json:"hardware"`
	Model     string            `json:"model"`
	DTypes    string            `json:"dtypes"` // weights/activations/kv
	Engine    string            `json:"engine"`
	KVScheme  string            `json:"kv_scheme"`
	Offload   string            `json:"offload,omitempty"`
	HostShare int               `json:"host_share,omitempty"` // replicas per host (--host-share > 1)
	Scheduler replica.Scheduler `json:"scheduler"`
	KV        replica.KV        `json:"kv"`
	MaxModel  int               `json:"max_model_len"`
	TP        int               `json:"tp"`
	PP        int               `json:"pp"`
	Pools     []string          `json:"pools"`
	Router    string            `json:"router"`
	Workload  string            `json:"workload"`
	Seed      uint64            `json:"seed"`
}

// simulate builds the deployment and the workload from the flags and runs
// them, writing the optional files atomically.
func simulate(fs *pflag.FlagSet, f *simulateFlags) (*simulation, error) {
	return simulateOn(fs, f, nil)
}

// simulateOn is simulate on sys in place of the system --hw names, when
// sys is not nil: llmsim dse's hardware variants.
func simulateOn(fs *pflag.FlagSet, f *simulateFlags, sys *hw.System) (*simulation, error) {
	t, err := f.target.resolve()
	if err != nil {
		return nil, err
	}
	if sys != nil {
		t.system, t.device = sys, sys.Primary().Device
	}
	if !fs.Changed("block-size") {
		f.blockTokens = 0 // the scheme's paged block, else 16
	}
	if !fs.Changed("gpu-memory-utilization") {
		f.gpuUtil = 0 // 0.9, or 1 under --offload
	}
	cfg, err := f.deployment(t)
	if err != nil {
		return nil, err
	}
	src, desc, err := f.source(fs)
	if err != nil {
		return nil, err
	}
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	var res *cluster.Result
	err = withFile(f.requestsCSV, func(w io.Writer) error {
		cfg.RequestsCSV = w
		return withFile(f.traceTo, func(w io.Writer) error {
			cfg.Trace = w
			var err error
			res, err = cluster.Run(cfg, src)
			if err != nil {
				return flagNames(err) // an offload scheme or a cache that fails at setup
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	rc := &cfg.Pools[0].Replica
	sc := simulationConfig{
		Hardware: t.system.Name, Model: t.model.Name, Engine: rc.Profile.Name, KVScheme: t.kv.String(), Offload: offloadName(rc),
		DTypes:    fmt.Sprintf("%s/%s/%s", t.prec.Weights, t.prec.Activations, t.prec.KV),
		Scheduler: rc.Scheduler, KV: rc.KV, MaxModel: rc.MaxModelLen, TP: rc.TP, PP: rc.PP,
		Router: cfg.Router, Workload: desc, Seed: f.seed,
	}
	if rc.HostShare > 1 {
		sc.HostShare = rc.HostShare
	}
	for _, p := range cfg.Pools {
		sc.Pools = append(sc.Pools, fmt.Sprintf("%s: %d × %s", p.Name, p.Replicas, p.Replica.Device.Name))
	}
	return &simulation{Config: sc, Result: res, pools: cfg.Pools}, nil
}

// withFile runs write with a file written atomically at path, or with a
// nil writer when path is empty.
func withFile(path string, write func(io.Writer) error) error {
	if path == "" {
		return write(nil)
	}
	return writeFileAtomic(path, write)
}

// replicaConfig turns the flags into a validated replica configuration on
// system sys.
func (f *simulateFlags) replicaConfig(t *target, sys *hw.System, role replica.Role) (replica.Config, error) {
	p, err := replica.LookupProfile(f.engine)
	if err != nil {
		return replica.Config{}, fmt.Errorf("--engine: %w", err)
	}
	c := replica.Config{
		Model: t.model, System: sys, Device: sys.Primary().Device, Precision: t.prec, Options: t.opts,
		Profile: p, MaxModelLen: f.maxModelLen, TP: f.tp, PP: f.pp, Collective: f.collective, Role: role, HostShare: f.hostShare,
		Scheduler: replica.Scheduler{
			Policy: replica.Policy(f.batching), Priority: replica.Priority(f.priority),
			MaxNumSeqs: f.maxSeqs, MaxBatchedTokens: f.maxTokens, KVAlloc: f.kvAlloc,
		},
		KV: replica.KV{
			BlockTokens: f.blockTokens, Utilization: f.gpuUtil, Preemption: f.preemption,
			SwapBytes: f.swapGiB * (1 << 30), Watermark: f.watermark,
			Scheme: t.kv, PrefixCaching: f.prefixCaching,
		},
	}
	if f.chunk >= 0 {
		c.Scheduler.ChunkTokens = f.chunk
		if f.chunk == 0 {
			c.Scheduler.ChunkTokens = -1 // explicit "off", kept by WithDefaults
		}
	}
	if f.offload != "" {
		if c.Offload, err = offload.Parse(f.offload); err != nil {
			return c, fmt.Errorf("--offload: %w", err)
		}
	}
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		err = flagNames(err)
		if f.offload != "" {
			err = fmt.Errorf("%w%s", err, tierHint(err))
		}
		return c, err
	}
	return c, nil
}

// offloadName is the replica's offloading scheme, or "" without one.
func offloadName(c *replica.Config) string {
	if c.Offload == nil {
		return ""
	}
	return c.Offload.String()
}

// deployment builds the pools: one of --replicas, or prefill and decode
// pools with --disaggregate.
func (f *simulateFlags) deployment(t *target) (*cluster.Config, error) {
	cfg := &cluster.Config{Router: f.router, SLO: metrics.SLO{TTFTSeconds: f.sloTTFT, TPOTSeconds: f.sloTPOT}}
	if f.hostShare < 1 {
		return nil, fmt.Errorf("--host-share %d: must be ≥ 1", f.hostShare)
	}
	if f.disaggregate == "" {
		rc, err := f.replicaConfig(t, t.system, replica.Mixed)
		if err != nil {
			return nil, err
		}
		cfg.Pools = []cluster.Pool{{Name: "main", Replica: rc, Replicas: f.replicas}}
		if err := cfg.Validate(); err != nil {
			return cfg, flagNames(err)
		}
		return cfg, nil
	}
	var nPre, nDec int
	if _, err := fmt.Sscanf(f.disaggregate, "%d:%d", &nPre, &nDec); err != nil {
		return nil, fmt.Errorf("--disaggregate %q: want P:D, e.g. 1:3", f.disaggregate)
	}
	pre, err := f.replicaConfig(t, t.system, replica.Prefill)
	if err != nil {
		return nil, fmt.Errorf("prefill pool: %w", err)
	}
	decSys := t.system
	if f.decodeHW != "" {
		if decSys, err = hw.Load(f.decodeHW); err != nil {
			return nil, fmt.Errorf("--decode-hw: %w", err)
		}
	}
	dec, err := f.replicaConfig(t, decSys, replica.Decode)
	if err != nil {
		return nil, fmt.Errorf("decode pool: %w", err)
	}
	cfg.Pools = []cluster.Pool{{Name: "prefill", Replica: pre, Replicas: nPre}, {Name: "decode", Replica: dec, Replicas: nDec}}
	if f.kvLinkGBps > 0 {
		cfg.KVLink = &hw.Link{Name: "kv-link", BytesPerSecond: f.kvLinkGBps * 1e9, LatencySeconds: f.kvLinkLatency}
	} else if decSys != t.system {
		return nil, fmt.Errorf("--decode-hw on another system needs --kv-link-gbps for the KV hand-off")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, flagNames(err)
	}
	return cfg, nil
}

// source builds the request source and a one-line description of it.
func (f *simulateFlags) source(fs *pflag.FlagSet) (workloads.Source, string, error) {
	spec := workloads.Spec{NumRequests: f.numRequests}
	if isTraceFile(f.workload) {
		if !fs.Changed("num-requests") {
			spec.NumRequests = 0 // the whole trace
		}
		spec.Trace = f.workload
		src, err := workloads.New(spec, f.seed)
		return src, "trace " + f.workload, err
	}
	spec.Preset = f.workload
	arrival := f.arrival
	if arrival == "" {
		arrival = fmt.Sprintf("poisson:rate=%g", f.rate)
	}
	var err error
	if spec.Arrival, err = workloads.ParseArrival(arrival); err != nil {
		return nil, "", fmt.Errorf("--arrival: %w", err)
	}
	if spec.Preset == "" || fs.Changed("prompt-tokens") {
		if spec.Prompt, err = workloads.ParseLength(f.prompt); err != nil {
			return nil, "", fmt.Errorf("--prompt-tokens: %w", err)
		}
	}
	if spec.Preset == "" || fs.Changed("output-tokens") {
		if spec.Output, err = workloads.ParseLength(f.output); err != nil {
			return nil, "", fmt.Errorf("--output-tokens: %w", err)
		}
	}
	if f.prefix != "" {
		if spec.Prefix, err = workloads.ParsePrefix(f.prefix); err != nil {
			return nil, "", fmt.Errorf("--prefix: %w", err)
		}
	}
	src, err := workloads.New(spec, f.seed)
	desc := fmt.Sprintf("%d requests, %s", f.numRequests, spec.Arrival)
	if spec.Preset != "" {
		desc += ", preset " + spec.Preset
	}
	if spec.Prompt != nil {
		desc += fmt.Sprintf(", prompt %s", spec.Prompt)
	}
	if spec.Output != nil {
		desc += fmt.Sprintf(", output %s", spec.Output)
	}
	return src, desc, err
}

func isTraceFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".jsonl", ".ndjson":
		return true
	}
	return false
}

// flagNames rewrites the replica's knob names in configuration errors to
// the flags that set them.
func flagNames(err error) error {
	r := strings.NewReplacer("kv scheme ", "--kv-scheme ", "kv allocation is", "--kv-alloc is",
		"the block size is", "--block-size is", "prefix caching ", "--prefix-caching ", "offload scheme ", "--offload ",
		"preemption swap", "--preemption swap", "host share ", "--host-share ", "(host share)", "(--host-share)")
	return errors.New(r.Replace(err.Error()))
}
