package replica

import (
	"fmt"
	"math"
	"strings"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/offload"
)

// Offloading schemes in a replica (Config.Offload). Each iteration is
// priced by offload.Target.StepSeconds: the scheme's task graph for that
// step executed on the system's tiers (loads, stores and compute contend
// and overlap as in `llmsim estimate --offload`), and the KV cache lives
// where the scheme keeps it, so its capacity is the room of the tier that
// fills first (offloadKV).
//
// A scheme works in a replica when it can price a step of any batch the
// scheduler forms. offloadServing lists those (with the parameters some
// of them need); offloadNotServing says why the others cannot.
var (
	offloadServing = []string{
		"accelerate", "a2ats", "expertflow", "flash", "flexgen (a fixed policy)", "flightllm", "gpu",
		"instinfer:ngb=1", "kvswap", "lamina:microbatches=1", "neupims:mode=npu (or subbatches=1)",
		"pimgpt (with --max-num-seqs 1)", "powerinfer2", "shadowkv", "tpi", "zero",
	}
	offloadNotServing = map[string]string{
		"coe": "it serves requests of many models one after another (model switching), not batches of one model; it has no per-step schedule",
	}
)

// OffloadSchemes lists the offloading schemes that work in a replica, for
// help texts and errors.
func OffloadSchemes() string { return strings.Join(offloadServing, ", ") }

// checkOffload validates an offloading scheme for serving: one
// accelerator, no swap (the scheme places the KV itself), a fixed policy,
// and steps it can price for the batches the scheduler forms — probed with
// a one-sequence prefill and a decode step of up to two sequences — and a
// KV cache that fits.
func (c *Config) checkOffload() []error {
	s := c.Offload
	if s == nil {
		return nil
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("offload scheme %s: "+format, append([]any{s}, args...)...))
	}
	name, _, _ := strings.Cut(s.String(), ":")
	if why, ok := offloadNotServing[name]; ok {
		fail("does not work with simulate: %s (schemes that do: %s)", why, OffloadSchemes())
		return errs
	}
	if f, ok := s.(*offload.FlexGen); ok && f.Search {
		fail("search=1 chooses its own policy and batch for one fixed workload, which a serving replica does not have; give the policy (w, c, a, gbs, ngb), e.g. the one llmsim offload --offload flexgen:search=1 finds")
		return errs
	}
	if max(c.TP, 1) > 1 || max(c.PP, 1) > 1 {
		fail("runs on one accelerator's memory tiers; it is not combined with TP/PP")
	}
	if c.KV.Preemption == PreemptSwap {
		fail("places the KV cache itself; preemption swap would copy it to host memory again (use recompute)")
	}
	if len(errs) > 0 {
		return errs
	}
	t := c.offloadTarget()
	probes := []struct {
		what string
		seqs []models.Seq
	}{
		{"a prefill of one sequence", []models.Seq{{Cached: 0, New: 1}}},
		{"a decode step of two sequences", []models.Seq{{Cached: 16, New: 1}, {Cached: 32, New: 1}}},
	}
	if c.Scheduler.MaxNumSeqs < 2 {
		probes = probes[:1]
	}
	for _, p := range probes {
		if _, _, _, err := t.StepSeconds(s, p.seqs); err != nil {
			hint := ""
			if strings.Contains(err.Error(), "batch") {
				// A batch-shape constraint: say which schemes have none.
				hint = " (schemes that work with simulate: " + OffloadSchemes() + ")"
			}
			fail("cannot price %s, as serving needs: %v%s", p.what, err, hint)
			return errs
		}
	}
	if _, _, err := c.offloadKV(t); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// offloadTarget is the offload package's view of the replica: its system,
// model, formats and KV-cache scheme (graph rewrite and stored bytes, as
// `llmsim estimate --offload` builds it). A profile that replaces the
// device's step overhead gets a copy of the system whose accelerator has
// none, since every offload step starts with that overhead as a task.
func (c *Config) offloadTarget() *offload.Target {
	sys := c.System
	if c.Profile.ReplacesDeviceStep && c.Device.Overhead.StepSeconds != 0 {
		sys = withoutStepOverhead(sys)
	}
	t := offload.NewTarget(sys, c.Model, c.Precision)
	t.Opts = c.Options
	scheme := c.KV.Scheme
	if scheme == nil {
		scheme = kvcache.Full{}
	}
	t.UseKVScheme(scheme)
	return t
}

// withoutStepOverhead copies sys with its accelerator's per-step overhead
// set to zero (the other groups and the original are untouched).
func withoutStepOverhead(sys *hw.System) *hw.System {
	cp := *sys
	cp.Groups = append([]hw.Group(nil), sys.Groups...)
	g := cp.Primary()
	dev := *g.Device
	dev.Overhead.StepSeconds = 0
	g.Device = &dev
	return &cp
}

// offloadKV sizes the KV cache where the offloading scheme keeps it. The
// scheme's memory plan for a prefill of the largest iteration says, tier
// by tier, what the tier holds besides the KV cache (weights, activations,
// staging buffers, reserves) and which share s_t of the cache it keeps.
// The iteration is vLLM's profiling run: max_num_seqs sequences sharing
// the largest step's tokens (so FlexGen sizes the activations of one GPU
// batch of them, as its zig-zag block runs them); the plan is Target.Step's
// Result.Memory (FlexGen's appendix model and its kin). The cache can grow
// until a tier is full:
//
//	KV = min over tiers with s_t > 0 of (room_t − other_t) / s_t
//
// with room_t the tier's capacity (net of the device's reserve), times
// gpu_memory_utilization on the accelerator's own tier. It returns KV in
// stored bytes (the scheme's StoredBytes, what the blocks count) and the
// tier that bounds it.
func (c *Config) offloadKV(t *offload.Target) (kvBytes float64, tier string, err error) {
	seqs, tokens := c.profileShape()
	r, err := t.Step(c.Offload, seqs, 0, tokens)
	if err != nil {
		return 0, "", fmt.Errorf("offload scheme %s: sizing the KV cache: %w", c.Offload, err)
	}
	perSeq := float64(max(r.Batch, 1)) * t.KVBytes(tokens+1) // the KV of all the plan's sequences
	kvBytes = math.Inf(1)
	var full []string
	for i, u := range r.Memory {
		room := u.CapacityBytes
		if i == 0 {
			room *= c.KV.Utilization
		}
		other := u.TotalBytes - u.KVBytes
		if other > room {
			full = append(full, fmt.Sprintf("tier %s (%s of %s) needs %.4g B besides the KV cache (weights %.4g, activations %.4g, working %.4g), more than its %.4g B",
				u.Tier, u.Group, u.Device, other, u.WeightsBytes, u.ActivationBytes, u.WorkingBytes, room))
			continue
		}
		if u.KVBytes <= 0 || perSeq <= 0 {
			continue
		}
		if k := (room - other) / (u.KVBytes / perSeq); k < kvBytes {
			kvBytes, tier = k, u.Group+" "+u.Tier
		}
	}
	if len(full) > 0 {
		return 0, "", fmt.Errorf("offload scheme %s: does not fit: %s", c.Offload, strings.Join(full, "; "))
	}
	if math.IsInf(kvBytes, 1) {
		return 0, "", fmt.Errorf("offload scheme %s: its memory plan places no KV cache on any tier", c.Offload)
	}
	return kvBytes, tier, nil
}

// maxStepTokens is the largest number of tokens one iteration processes:
// the size of vLLM's profiling run, which sets the activation memory.
func (c *Config) maxStepTokens() int {
	n := c.Scheduler.MaxBatchedTokens
	if c.Scheduler.ChunkTokens > 0 {
		n = min(n, c.Scheduler.ChunkTokens)
	}
	return min(n, c.MaxModelLen*c.Scheduler.MaxNumSeqs)
}

// profileShape is vLLM's profiling run: max_num_seqs sequences (at most
// one per token) sharing the largest step's tokens equally.
func (c *Config) profileShape() (seqs, tokens int) {
	total := c.maxStepTokens()
	seqs = max(1, min(c.Scheduler.MaxNumSeqs, total))
	return seqs, max(1, total/seqs)
}

// offloadPricer prices iterations through an offloading scheme.
type offloadPricer struct {
	target *offload.Target
	scheme offload.Scheme
	err    error // the first pricing failure; the replica stops there
}

// price returns the seconds, FLOPs, bytes and energy above idle of every
// device of the system, and the busy time of the host's groups
// (offload.StepCost), of one iteration over seqs.
func (p *offloadPricer) price(seqs []models.Seq) (seconds, flops, bytes, joulesAboveIdle float64, hostBusy map[string]float64) {
	c, err := p.target.PriceStep(p.scheme, seqs)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("offload scheme %s: pricing an iteration of %d sequences: %w", p.scheme, len(seqs), err)
	}
	return c.Seconds, c.FLOPs, c.Bytes, c.JoulesAboveIdle, c.HostBusySeconds
}
