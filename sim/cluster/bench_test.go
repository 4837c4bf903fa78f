package cluster

import (
	"testing"

	"github.com/llmsim/llmsim/workloads"
)

// blisSource is the workload BLIS was timed on (shared/ANCHORS.md): Poisson
// arrivals at 20/s, about 512 prompt and 512 output tokens.
func blisSource(tb testing.TB, n int64, seed uint64) workloads.Source {
	tb.Helper()
	in, err := workloads.ParseLength("normal:mean=512,std=64")
	if err != nil {
		tb.Fatal(err)
	}
	src, err := workloads.New(workloads.Spec{
		Arrival: workloads.Poisson{RatePerSecond: 20}, Prompt: in, Output: in, NumRequests: n,
	}, seed)
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

func BenchmarkBLISWorkload(b *testing.B) {
	rc := replicaConfig(b, "h100-sxm", "llama3-8b", "vllm-like", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res := run(b, single(rc, 1), blisSource(b, 10000, 1))
		if res.Requests.Completed != 10000 {
			b.Fatal(res.Requests)
		}
		b.ReportMetric(res.Throughput.OutputTokensPerSecond, "sim-tok/s")
		b.ReportMetric(float64(res.Replicas[0].Iterations), "iterations")
	}
}

func BenchmarkSteadyState(b *testing.B) {
	rc := replicaConfig(b, "h100-sxm", "llama3-8b", "vllm-like", nil)
	in, _ := workloads.ParseLength("normal:mean=512,std=64")
	for i := 0; i < b.N; i++ {
		src, _ := workloads.New(workloads.Spec{Arrival: workloads.Poisson{RatePerSecond: 15}, Prompt: in, Output: in, NumRequests: 50000}, 1)
		run(b, single(rc, 1), src)
	}
}
