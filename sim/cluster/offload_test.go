package cluster

import (
	"fmt"
	"github.com/llmsim/llmsim/models"
	"math"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/kvcache"
	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// offloadConfig is a replica of model on system under the offloading
// scheme spec.
func offloadConfig(t testing.TB, system, model, profile, spec string, edit func(*replica.Config)) replica.Config {
	t.Helper()
	s, err := offload.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return replicaConfig(t, system, model, profile, func(c *replica.Config) {
		c.Offload = s
		if edit != nil {
			edit(c)
		}
	})
}

// offloadRequest is what `llmsim estimate --offload SPEC --phase request
// --batch 1` computes: the scheme's Run for one request, on a target built
// as estimate builds it.
func offloadRequest(t testing.TB, rc replica.Config, spec string, prompt, output int) *offload.Result {
	t.Helper()
	s, err := offload.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	tg := offload.NewTarget(rc.System, rc.Model, rc.Precision)
	tg.Opts = rc.Options
	tg.UseKVScheme(kvcache.Full{})
	r, _, err := tg.Estimate(s, "request", 1, prompt, 0, output)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A lone request under an offloading scheme costs what the scheme's own
// run says: the run executes the prefill step and then one decode step
// per further token, each a task graph of its own, which is exactly the
// iterations the replica prices with Target.StepSeconds. TTFT equals the
// prefill to the nanosecond, E2E the whole run within one.
func TestOffloadSingleRequestEqualsEstimate(t *testing.T) {
	for _, tc := range []struct {
		system, model, spec string
		prompt, output      int
	}{
		{"t4-flexgen-paper", "opt-6.7b", "zero:tier=cpu", 512, 8},
		{"t4-flexgen-paper", "opt-6.7b", "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,cpuattn=1", 512, 8},
		{"t4-flexgen-paper", "opt-1.3b", "flexgen:w=100/0/0,c=0/100/0,a=100/0/0,gbs=1,ngb=1", 300, 20},
		{"a100-node", "llama3.1-8b", "shadowkv", 2048, 6},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			rc := offloadConfig(t, tc.system, tc.model, "device", tc.spec, nil)
			res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: tc.prompt, OutputTokens: tc.output}}})
			want := offloadRequest(t, rc, tc.spec, tc.prompt, tc.output)
			if res.Requests.Completed != 1 {
				t.Fatalf("%+v", res.Requests)
			}
			if got, w := int64(math.Round(res.TTFT.Mean*1e9)), sim.Nanos(want.PrefillSeconds); got != w {
				t.Errorf("TTFT %d ns, estimate %d ns", got, w)
			}
			if d := res.E2E.Mean*1e9 - want.Seconds*1e9; math.Abs(d) > 1 {
				t.Errorf("E2E %.3f ns from the estimate's %.9f s", d, want.Seconds)
			}
		})
	}
}

// An engine profile replaces the device's per-step overhead, which every
// offload step starts with (a task on the accelerator that the rest of
// the step depends on): ZeRO's prefill then costs the run's prefill minus
// the T4's overhead plus the profile's iteration overhead.
func TestOffloadProfileReplacesDeviceOverhead(t *testing.T) {
	const spec = "zero:tier=cpu"
	rc := offloadConfig(t, "t4-flexgen-paper", "opt-1.3b", "vllm-like", spec, func(c *replica.Config) {
		c.Profile.AdmitSeconds, c.Profile.AdmitPerTokenSeconds = 0, 0
	})
	res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 256, OutputTokens: 2}}})
	want := offloadRequest(t, rc, spec, 256, 2)
	perIter := rc.Profile.IterationSeconds([]models.Seq{{New: 1}}, rc.Model.Layers) - rc.Device.Overhead.StepSeconds
	if rc.Device.Overhead.StepSeconds == 0 {
		t.Fatal("the T4 should carry a step overhead for this test to mean something")
	}
	if d := res.TTFT.Mean - (want.PrefillSeconds + perIter); math.Abs(d) > 2e-9 {
		t.Fatalf("TTFT %.9f, want %.9f + %.9f", res.TTFT.Mean, want.PrefillSeconds, perIter)
	}
	if d := res.E2E.Mean - (want.Seconds + 2*perIter); math.Abs(d) > 3e-9 {
		t.Fatalf("E2E %.9f, want %.9f", res.E2E.Mean, want.Seconds+2*perIter)
	}
}

// The KV cache lives where the scheme keeps it. Its size is the room of
// the tier that fills first, from the scheme's memory plan for a prefill
// of the largest iteration (Target.Step): ZeRO keeps the cache on the GPU,
// FlexGen with c=0/100/0 on the CPU (whose 208 GiB hold far more than the
// T4's 16 GB), and a 50/50 split is bounded by the GPU at twice its room.
func TestOffloadKVCapacityFollowsPlacement(t *testing.T) {
	for _, tc := range []struct {
		spec, tier string
	}{
		{"zero:tier=cpu", "gpu gddr6"},
		{"flexgen:w=100/0/0,c=0/100/0,a=100/0/0", "cpu ddr4"},
		{"flexgen:w=100/0/0,c=50/50/0,a=100/0/0", "gpu gddr6"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			rc := offloadConfig(t, "t4-flexgen-paper", "opt-1.3b", "vllm-like", tc.spec, nil)
			res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 16, OutputTokens: 2}}})
			rep := res.Replicas[0]
			if rep.KVTier != tc.tier {
				t.Fatalf("KV bounded by %q, want %q", rep.KVTier, tc.tier)
			}
			// The plan by hand: room − other bytes over the tier's share.
			s, _ := offload.Parse(tc.spec)
			tg := offload.NewTarget(rc.System, rc.Model, rc.Precision)
			tg.UseKVScheme(kvcache.Full{})
			// vLLM's profiling run: 256 sequences of 8192 / 256 = 32 tokens.
			plan, err := tg.Step(s, 256, 0, 32)
			if err != nil {
				t.Fatal(err)
			}
			perSeq := float64(plan.Batch) * tg.KVBytes(33)
			kv := math.Inf(1)
			for i, u := range plan.Memory {
				room := u.CapacityBytes
				if i == 0 {
					room *= rc.KV.Utilization
				}
				if u.KVBytes > 0 {
					kv = min(kv, (room-(u.TotalBytes-u.KVBytes))/(u.KVBytes/perSeq))
				}
			}
			block := float64(rc.KV.BlockTokens) * rc.Model.KVBytesPerToken(rc.Precision.KV)
			if want := int(kv / block); rep.KVBlocks != want {
				t.Fatalf("%d blocks, want ⌊%.4g / %.4g⌋ = %d", rep.KVBlocks, kv, block, want)
			}
		})
	}
	// All on the CPU holds more than anything on the T4.
	gpu := offloadConfig(t, "t4-flexgen-paper", "opt-1.3b", "vllm-like", "flexgen:w=100/0/0,c=100/0/0,a=100/0/0", nil)
	cpu := offloadConfig(t, "t4-flexgen-paper", "opt-1.3b", "vllm-like", "flexgen:w=100/0/0,c=0/100/0,a=100/0/0", nil)
	g := run(t, single(gpu, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 16, OutputTokens: 1}}})
	c := run(t, single(cpu, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 16, OutputTokens: 1}}})
	if c.Replicas[0].KVBlocks < 10*g.Replicas[0].KVBlocks {
		t.Fatalf("KV on the CPU: %d blocks, on the GPU: %d", c.Replicas[0].KVBlocks, g.Replicas[0].KVBlocks)
	}
}

// Invariants on small random workloads served through offloading schemes:
// every request completes or is rejected with a reason, tokens are
// conserved, the KV cache never exceeds the tier's room (blocks never over
// capacity) and ends empty, time never goes backwards. The ZeRO case has a
// cache small enough to preempt.
func TestOffloadInvariants(t *testing.T) {
	for _, tc := range []struct {
		spec, profile string
		util          float64
	}{
		{"zero:tier=cpu", "vllm-like", 0.2},
		{"flexgen:w=50/50/0,c=0/100/0,a=100/0/0,gbs=8,ngb=2", "device", 0.9},
		{"kvswap", "trtllm-like", 0.9},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			rc := offloadConfig(t, "t4-flexgen-paper", "opt-1.3b", tc.profile, tc.spec, func(c *replica.Config) {
				c.KV.Utilization = tc.util
			})
			reqs := randomRequests(7, 60, 4, 2500, 300)
			res := checkInvariants(t, single(rc, 1), reqs)
			if res.Requests.Rejected == 0 || res.Requests.Completed == 0 {
				t.Fatalf("want both completions and (context) rejections: %+v", res.Requests)
			}
			t.Logf("%s: %d completed, %d rejected, %d preemptions, %d blocks on %s, memo hits %.2f",
				tc.spec, res.Requests.Completed, res.Requests.Rejected, res.Requests.Preemptions,
				res.Replicas[0].KVBlocks, res.Replicas[0].KVTier, res.Replicas[0].StepMemoHitRatio)
		})
	}
}

// A replica whose scheme refuses a batch mid-run (validation probes only
// one and two sequences) ends the run with an error, not a panic.
func TestOffloadPricingErrorEndsTheRun(t *testing.T) {
	rc := offloadConfig(t, "pim-gpt", "opt-1.3b", "device", "pimgpt", func(c *replica.Config) {
		c.Scheduler.MaxNumSeqs = 1
		// A short context keeps the sizing prefill (2048 tokens by default)
		// cheap: PIM-GPT's steps are priced bank by bank.
		c.MaxModelLen, c.Scheduler.MaxBatchedTokens = 256, 256
	})
	rc.Scheduler.MaxNumSeqs = 4 // past validation: PIM-GPT runs one sequence at a time
	reqs := []workloads.Request{{PromptTokens: 8, OutputTokens: 4}, {PromptTokens: 8, OutputTokens: 4}, {PromptTokens: 8, OutputTokens: 4}}
	_, err := Run(single(rc, 1), &sliceSource{reqs: reqs})
	if err == nil {
		t.Fatal("want an error")
	}
	if got := fmt.Sprint(err); !strings.Contains(got, "one sequence at a time") {
		t.Fatalf("error %q", got)
	}
}

// FlexGen's OPT-30B run on the T4 (144 prompts of 512 tokens, 32 output
// tokens, a block of 3 GPU batches of 48: docs/OFFLOAD.md's 8.65 token/s)
// served as a burst of 144 requests by an engine that admits them all in
// one iteration: the replica runs the one prefill and 31 decode steps the
// scheme's run executes, so the last request finishes when the run does.
func TestOffloadFlexGenBatchEqualsEstimate(t *testing.T) {
	const spec = "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1"
	rc := offloadConfig(t, "t4-flexgen-paper", "opt-30b", "device", spec, func(c *replica.Config) {
		c.Scheduler.MaxNumSeqs, c.Scheduler.MaxBatchedTokens = 144, 144*512
	})
	reqs := make([]workloads.Request, 144)
	for i := range reqs {
		reqs[i] = workloads.Request{ID: int64(i), PromptTokens: 512, OutputTokens: 32}
	}
	res := run(t, single(rc, 1), &sliceSource{reqs: reqs})
	s, _ := offload.Parse(spec)
	tg := offload.NewTarget(rc.System, rc.Model, rc.Precision)
	tg.UseKVScheme(kvcache.Full{})
	want, _, err := tg.Estimate(s, "request", 144, 512, 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	if res.Replicas[0].Iterations != 32 || res.Replicas[0].KVTier != "cpu ddr4" {
		t.Fatalf("%d iterations, KV on %q", res.Replicas[0].Iterations, res.Replicas[0].KVTier)
	}
	if d := res.E2E.Max - want.Seconds; math.Abs(d) > 1e-9 {
		t.Fatalf("last request at %.9f s, FlexGen's run %.9f s", res.E2E.Max, want.Seconds)
	}
	if d := res.TTFT.Mean - want.PrefillSeconds; math.Abs(d) > 1e-9 {
		t.Fatalf("TTFT %.9f s, FlexGen's prefill %.9f s", res.TTFT.Mean, want.PrefillSeconds)
	}
	if got := res.Throughput.OutputTokensPerSecond; math.Abs(got-want.TokensPerSecond) > 1e-9*got {
		t.Fatalf("%.6f token/s, FlexGen's run %.6f", got, want.TokensPerSecond)
	}
}
