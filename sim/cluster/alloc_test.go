package cluster

import (
	"runtime"
	"testing"

	"github.com/llmsim/llmsim/workloads"
)

// The hot loop does not allocate per request or per iteration: ten times
// the requests cost (almost) no more allocations.
func TestAllocationsDoNotGrowWithRequests(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", nil)
	in, _ := workloads.ParseLength("normal:mean=512,std=64")
	mallocs := func(n int64) uint64 {
		src, err := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 15}, Prompt: in, Output: in, NumRequests: n}, 1)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		run(t, single(rc, 1), src)
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	small, large := mallocs(1000), mallocs(10000)
	if large > small+200 {
		t.Fatalf("%d allocations for 1,000 requests, %d for 10,000", small, large)
	}
	t.Logf("%d allocations for 1,000 requests, %d for 10,000", small, large)
}
