package replica

import (
	"errors"
	"fmt"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/offload"
)

// Policy is how a replica forms batches.
type Policy string

// Batching policies.
const (
	// Continuous batching (Orca's iteration-level scheduling, vLLM):
	// requests join and leave the batch at every iteration.
	Continuous Policy = "continuous"
	// Static batching (Hugging Face pipelines, FasterTransformer): a batch
	// is formed when the replica is idle, prompts are padded to the
	// longest, and the batch decodes until its longest output is done;
	// results are returned when the whole batch finishes.
	Static Policy = "static"
)

// Priority says which phase a continuous batch serves first.
type Priority string

// Priorities.
const (
	// PrefillFirst (vLLM V0's default): an iteration that can admit new
	// prompts runs only prefills; decodes wait for an iteration without
	// new prompts. Best TTFT, stalls running decodes.
	PrefillFirst Priority = "prefill-first"
	// DecodeFirst (Sarathi-Serve, vLLM V1): every running sequence decodes
	// each iteration and prompts fill the remaining token budget.
	DecodeFirst Priority = "decode-first"
)

// KV allocation modes.
const (
	// KVPaged allocates blocks as tokens are computed and preempts when
	// they run out (vLLM PagedAttention).
	KVPaged = "paged"
	// KVReserve reserves the blocks of prompt + output at admission, so no
	// request is ever preempted (TensorRT-LLM GUARANTEED_NO_EVICT; uses
	// the true output length, an oracle no real engine has).
	KVReserve = "reserve"
	// KVContiguous reserves max_model_len tokens per request at admission,
	// the contiguous allocation of Orca and FasterTransformer that
	// PagedAttention was designed to replace.
	KVContiguous = "contiguous"
)

// Preemption modes.
const (
	PreemptRecompute = "recompute" // drop the KV, prefill prompt + output again later
	PreemptSwap      = "swap"      // copy the KV to host memory over the host link
)

// Scheduler holds the batching knobs. Zero fields take the engine
// profile's defaults.
type Scheduler struct {
	Policy   Policy   `json:"policy"`
	Priority Priority `json:"priority"`
	// ChunkTokens > 0 enables chunked prefill (Sarathi-Serve): prompts are
	// split so that an iteration processes at most ChunkTokens tokens,
	// decodes included. It needs DecodeFirst. Negative turns it off where
	// the profile's default would turn it on.
	ChunkTokens int `json:"chunk_tokens"`
	// MaxNumSeqs caps the sequences in one iteration (vLLM max_num_seqs).
	MaxNumSeqs int `json:"max_num_seqs"`
	// MaxBatchedTokens caps the tokens in one iteration (vLLM
	// max_num_batched_tokens).
	MaxBatchedTokens int `json:"max_num_batched_tokens"`
	// KVAlloc is KVPaged, KVReserve or KVContiguous.
	KVAlloc string `json:"kv_alloc"`
}

// WithDefaults fills the zero fields of s from d.
func (s Scheduler) WithDefaults(d Scheduler) Scheduler {
	if s.Policy == "" {
		s.Policy = d.Policy
	}
	if s.Priority == "" {
		s.Priority = d.Priority
		if s.ChunkTokens > 0 {
			s.Priority = DecodeFirst // chunking asked for explicitly
		}
	}
	switch {
	case s.ChunkTokens < 0:
		s.ChunkTokens = 0
	case s.ChunkTokens == 0 && s.Priority == DecodeFirst:
		s.ChunkTokens = d.ChunkTokens
	}
	if s.MaxNumSeqs == 0 {
		s.MaxNumSeqs = d.MaxNumSeqs
	}
	if s.MaxBatchedTokens == 0 {
		s.MaxBatchedTokens = d.MaxBatchedTokens
	}
	if s.KVAlloc == "" {
		s.KVAlloc = d.KVAlloc
	}
	if s.KVAlloc == "" {
		s.KVAlloc = KVPaged
	}
	return s
}

// KV sizes the cache.
type KV struct {
	// BlockTokens is the paged block size (vLLM default 16).
	BlockTokens int `json:"block_tokens"`
	// Utilization is the fraction of device memory the engine may use
	// (vLLM gpu_memory_utilization, default 0.9).
	Utilization float64 `json:"gpu_memory_utilization"`
	// Preemption is PreemptRecompute or PreemptSwap.
	Preemption string `json:"preemption"`
	// SwapBytes is the host memory for swapped-out KV per replica (vLLM
	// swap_space, default 4 GiB).
	SwapBytes float64 `json:"swap_bytes"`
	// Watermark is the fraction of blocks kept free when admitting new
	// prompts, so running ones can grow (vLLM default 0.01).
	Watermark float64 `json:"watermark"`
	// Scheme is the KV-cache scheme (nil: kvcache.Full). Every iteration
	// is priced on the graph it rewrites, and a request holds the blocks
	// of its StoredBytes; its alloc stage sets the allocation mode and
	// block size, its share stage (Hydragen) shares prefix blocks.
	Scheme kvcache.Scheme `json:"-"`
	// PrefixCaching is vLLM's automatic prefix caching: whole blocks of a
	// prefix group's (or a conversation's) common tokens are shared by
	// the requests that hold them and stay cached after the last one
	// finishes, until their room is needed (LRU); a request whose prefix
	// blocks are cached skips their prefill.
	PrefixCaching bool `json:"prefix_caching"`
}

// sharing reports whether prefix blocks are shared between requests:
// prefix caching, or a Hydragen share stage.
func (k *KV) sharing() bool {
	return k.PrefixCaching || kvcache.ForSimulator(k.Scheme).SharedPrefix > 0
}

// Role is what a replica does in a disaggregated deployment.
type Role uint8

// Roles.
const (
	Mixed   Role = iota // prefill and decode (the usual case)
	Prefill             // prefill only; hands requests on after the first token
	Decode              // decode only; receives requests with their KV
)

// Config describes one replica.
type Config struct {
	Model     *models.Model
	System    *hw.System
	Device    *hw.Device
	Precision models.Precision
	Options   models.Options
	Profile   Profile
	Scheduler Scheduler
	KV        KV
	// MaxModelLen caps prompt + output tokens (0: the model's context).
	MaxModelLen int
	// TP and PP are the tensor- and pipeline-parallel degrees (0 means 1).
	TP, PP int
	// Collective is the all-reduce algorithm for TP: "ring", "tree" or
	// "auto" (the faster of the two for each message, as NCCL picks).
	Collective string
	Role       Role
	// Offload, when set, is an offloading scheme (package offload): every
	// iteration is priced by executing the scheme's task graph for that
	// step on the system's tiers, and the KV cache is sized where the
	// scheme keeps it (see offload.go).
	Offload offload.Scheme
	// HostShare is the number of offloaded replicas that share one host
	// (0 or 1: each has its own). Each member holds 1/HostShare of the
	// host's memory, power and rent, and while their iterations overlap
	// they divide the host's compute, memory and disk rates by what each
	// uses (hostshare.go). Needs Offload.
	HostShare int
	// hostSystem is System before Defaults split it for HostShare.
	hostSystem *hw.System
}

// Defaults returns c with every zero knob filled in: scheduler defaults of
// the profile, vLLM's KV defaults, the model's context as MaxModelLen.
func (c Config) Defaults() Config {
	if c.KV.Scheme == nil {
		c.KV.Scheme = kvcache.Full{}
	}
	// The scheme's alloc stage chooses the allocation mode and block size
	// unless they are given.
	sk := kvcache.ForSimulator(c.KV.Scheme)
	if c.Scheduler.KVAlloc == "" {
		switch sk.Alloc {
		case kvcache.AllocPaged, kvcache.AllocVAttention:
			c.Scheduler.KVAlloc = KVPaged
		case kvcache.AllocContiguous:
			c.Scheduler.KVAlloc = KVContiguous
		}
	}
	c.Scheduler = c.Scheduler.WithDefaults(c.Profile.Defaults)
	if c.KV.BlockTokens == 0 {
		c.KV.BlockTokens = 16
		if sk.BlockTokens > 0 {
			c.KV.BlockTokens = sk.BlockTokens
		}
	}
	if c.KV.Utilization == 0 {
		c.KV.Utilization = 0.9
		if c.Offload != nil {
			// An offloading scheme's memory plan carries its own runtime
			// reserve, and estimate --offload fits it to the whole tier.
			c.KV.Utilization = 1
		}
	}
	if c.KV.Preemption == "" {
		c.KV.Preemption = PreemptRecompute
	}
	if c.KV.SwapBytes == 0 {
		c.KV.SwapBytes = 4 << 30
	}
	if c.MaxModelLen == 0 {
		c.MaxModelLen = c.Model.MaxContext
	}
	if c.Scheduler.MaxBatchedTokens == 0 {
		// vLLM's default without chunked prefill: room for one whole prompt.
		c.Scheduler.MaxBatchedTokens = max(c.MaxModelLen, 2048)
	}
	c.TP, c.PP = max(c.TP, 1), max(c.PP, 1)
	if c.HostShare > 1 && c.hostSystem == nil && c.System != nil {
		c.hostSystem = c.System
		c.System = c.System.SharedHost(c.HostShare, nil)
	}
	if c.Collective == "" {
		c.Collective = "auto"
	}
	if c.Profile.EagerAttention {
		c.Options.MaterialisedAttention = true
	}
	if c.Profile.ConcatKVCache {
		c.Options.ConcatKVCache = true
	}
	return c
}

// Validate reports settings that cannot work, naming the knob. Call it on
// Defaults() output, at the edge (the CLI); the simulator trusts it.
func (c *Config) Validate() error {
	s := &c.Scheduler
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(s.Policy == Continuous || s.Policy == Static, "scheduler policy %q: want continuous or static", s.Policy)
	check(s.Priority == PrefillFirst || s.Priority == DecodeFirst, "priority %q: want prefill-first or decode-first", s.Priority)
	check(s.ChunkTokens >= 0, "chunk size %d: must be ≥ 0", s.ChunkTokens)
	check(s.ChunkTokens == 0 || s.Priority == DecodeFirst, "chunked prefill needs decode-first priority")
	check(s.MaxNumSeqs >= 1, "max-num-seqs %d: must be ≥ 1", s.MaxNumSeqs)
	check(s.MaxBatchedTokens >= 1, "max-num-batched-tokens %d: must be ≥ 1", s.MaxBatchedTokens)
	check(s.KVAlloc == KVPaged || s.KVAlloc == KVReserve || s.KVAlloc == KVContiguous,
		"kv allocation %q: want paged, reserve or contiguous", s.KVAlloc)
	check(s.ChunkTokens > 0 || s.MaxBatchedTokens >= c.MaxModelLen,
		"max-num-batched-tokens %d is below the max model length %d: without chunked prefill long prompts could never run", s.MaxBatchedTokens, c.MaxModelLen)
	check(c.KV.BlockTokens >= 1, "block size %d: must be ≥ 1", c.KV.BlockTokens)
	check(c.KV.Utilization > 0 && c.KV.Utilization <= 1, "gpu memory utilization %g: must be in (0, 1]", c.KV.Utilization)
	check(c.KV.Watermark >= 0 && c.KV.Watermark < 1, "watermark %g: must be in [0, 1)", c.KV.Watermark)
	check(c.KV.Preemption == PreemptRecompute || c.KV.Preemption == PreemptSwap, "preemption %q: want recompute or swap", c.KV.Preemption)
	check(c.KV.SwapBytes >= 0, "swap space %g: must be ≥ 0", c.KV.SwapBytes)
	check(c.MaxModelLen >= 2, "max model length %d: must be ≥ 2", c.MaxModelLen)
	check(c.Collective == "ring" || c.Collective == "tree" || c.Collective == "auto", "collective %q: want ring, tree or auto", c.Collective)
	check(c.HostShare >= 0, "host share %d: must be ≥ 1", c.HostShare)
	check(c.HostShare <= 1 || c.Offload != nil, "host share %d: replicas share a host's CPU, memory and disks only under an offloading scheme (--offload)", c.HostShare)
	if c.KV.Preemption == PreemptSwap && c.hostLink() == nil {
		errs = append(errs, fmt.Errorf("preemption swap: system %q has no link between its accelerator and a host; use recompute or a system with a host", c.System.Name))
	}
	errs = append(errs, c.checkScheme()...)
	errs = append(errs, c.checkParallel()...)
	if len(errs) == 0 {
		errs = append(errs, c.checkOffload()...)
	}
	return errors.Join(errs...)
}

// hostLink is the link between the accelerator group and the host, or nil.
func (c *Config) hostLink() *hw.Link {
	host := c.System.HostGroup()
	if host == nil {
		return nil
	}
	return c.System.LinkBetween(c.System.Primary().Name, host.Name)
}

// checkScheme validates the KV scheme against the allocation mode, the
// block size and prefix sharing.
func (c *Config) checkScheme() []error {
	var errs []error
	sk := kvcache.ForSimulator(c.KV.Scheme)
	alloc := c.Scheduler.KVAlloc
	switch sk.Alloc {
	case kvcache.AllocPaged, kvcache.AllocVAttention:
		if alloc != KVPaged {
			errs = append(errs, fmt.Errorf("kv scheme %s allocates on demand, but kv allocation is %q (want paged)", c.KV.Scheme, alloc))
		}
	case kvcache.AllocContiguous:
		if alloc != KVContiguous {
			errs = append(errs, fmt.Errorf("kv scheme %s reserves at admission, but kv allocation is %q (want contiguous)", c.KV.Scheme, alloc))
		}
	}
	if sk.BlockTokens > 0 && sk.BlockTokens != c.KV.BlockTokens {
		errs = append(errs, fmt.Errorf("kv scheme %s uses %d-token blocks, but the block size is %d", c.KV.Scheme, sk.BlockTokens, c.KV.BlockTokens))
	}
	if !c.KV.sharing() {
		return errs
	}
	what := "prefix caching"
	if !c.KV.PrefixCaching {
		what = "kv scheme " + c.KV.Scheme.String()
	}
	if c.Scheduler.Policy != Continuous || alloc != KVPaged {
		errs = append(errs, fmt.Errorf("%s shares prefix blocks between requests, which needs continuous batching with paged kv allocation (have %s, %s)", what, c.Scheduler.Policy, alloc))
	}
	if sk.Unshareable != "" {
		errs = append(errs, fmt.Errorf("%s cannot share prefix blocks under kv scheme %s: %s", what, c.KV.Scheme, sk.Unshareable))
	}
	if m := c.Model; m != nil && m.Recurrent() {
		errs = append(errs, fmt.Errorf("%s cannot share prefix blocks of %s: its recurrent layers keep one state per sequence, not per block", what, m.Name))
	}
	return errs
}
