package cluster

import (
	"testing"

	"github.com/llmsim/llmsim/workloads"
)

// Requests that arrive at the same instant are all queued before the
// scheduler runs, so a burst starts as one batch: ten prompts at t = 0
// under prefill-first take one prefill and four decode iterations.
func TestBurstStartsAsOneBatch(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "device", nil)
	reqs := make([]workloads.Request, 10)
	for i := range reqs {
		reqs[i] = workloads.Request{ID: int64(i), PromptTokens: 100, OutputTokens: 5}
	}
	res := run(t, single(rc, 1), &sliceSource{reqs: reqs})
	if it := res.Replicas[0].Iterations; it != 5 || res.Requests.Completed != 10 {
		t.Fatalf("%d iterations for %d requests, want 5", it, res.Requests.Completed)
	}
	if res.TTFT.Min != res.TTFT.Max {
		t.Fatalf("TTFT from %g to %g: the burst did not start together", res.TTFT.Min, res.TTFT.Max)
	}
}
