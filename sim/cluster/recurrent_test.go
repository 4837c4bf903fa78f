package cluster

import (
	"fmt"
	"math"
	"testing"

	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// Pure recurrent models serve like the others: a lone request costs what
// the estimate says (TTFT to the nanosecond, E2E within one).
func TestRecurrentSingleRequestEqualsEstimate(t *testing.T) {
	for _, model := range []string{"mamba-2.8b", "rwkv6-7b", "mamba2-2.7b"} {
		// The models have no context limit (2^20 tokens); the device
		// profile's unchunked engine would profile the activations of a
		// 2^20-token prefill, which for RWKV-6 fill the H100.
		rc := replicaConfig(t, "h100-sxm", model, "device", func(c *replica.Config) { c.MaxModelLen = 16384 })
		res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 1500, OutputTokens: 40}}})
		want := roofline.Request(rc.Model, rc.Device, 1, 1500, 40, rc.Precision, rc.Options)
		if res.Requests.Completed != 1 || res.Replicas[0].KVBlockTokens != 0 {
			t.Fatalf("%s: %+v, block tokens %d", model, res.Requests, res.Replicas[0].KVBlockTokens)
		}
		if got, w := int64(math.Round(res.TTFT.Mean*1e9)), sim.Nanos(want.TTFTSeconds); got != w {
			t.Errorf("%s: TTFT %d ns, estimate %d ns", model, got, w)
		}
		if d := res.E2E.Mean*1e9 - want.E2ESeconds*1e9; math.Abs(d) > 1 {
			t.Errorf("%s: E2E %.3f ns from the estimate %.9f s", model, d, want.E2ESeconds)
		}
	}
}

// Invariants with recurrent state: every request completes or is rejected
// with a reason, tokens are conserved, states held never exceed the
// cache and are all given back. A tight cache (a few dozen states)
// makes requests queue for states; RWKV's fp32 state, Mamba-2 on a
// decode-first chunked engine and a hybrid under TP 2 cover the paths.
func TestRecurrentInvariants(t *testing.T) {
	for _, tc := range []struct {
		model, system, profile string
		edit                   func(*replica.Config)
	}{
		{"mamba-2.8b", "h100-sxm", "vllm-like", func(c *replica.Config) { c.KV.Utilization = 0.08 }},
		{"rwkv6-7b", "h100-sxm", "device", func(c *replica.Config) { c.KV.Utilization, c.MaxModelLen = 0.21, 16384 }},
		{"mamba2-2.7b", "h100-sxm", "trtllm-like", func(c *replica.Config) { c.MaxModelLen = 8192 }},
		{"jamba-v0.1", "dgx-h100", "vllm-like", func(c *replica.Config) { c.TP = 2; c.KV.Utilization = 0.7 }},
	} {
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/%d", tc.model, seed), func(t *testing.T) {
				rc := replicaConfig(t, tc.system, tc.model, tc.profile, tc.edit)
				res := checkInvariants(t, single(rc, 1), randomRequests(seed, 200, 30, 12000, 600))
				if res.Requests.Completed == 0 {
					t.Fatalf("%+v", res.Requests)
				}
			})
		}
	}
}
