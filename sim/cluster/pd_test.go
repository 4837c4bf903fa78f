package cluster

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

func disaggregated(t *testing.T, link *hw.Link) *Config {
	pre := replicaConfig(t, "dgx-h100", "llama3-8b", "device", func(c *replica.Config) { c.Role = replica.Prefill })
	dec := replicaConfig(t, "dgx-h100", "llama3-8b", "device", func(c *replica.Config) { c.Role = replica.Decode })
	return &Config{Router: "round-robin", KVLink: link, Pools: []Pool{
		{Name: "prefill", Replica: pre, Replicas: 1}, {Name: "decode", Replica: dec, Replicas: 1},
	}}
}

// A lone request served disaggregated takes the mixed latency plus one KV
// transfer: 1000 tokens × 131,072 B = 131 MB over NVLink at 450 GB/s × 0.8
// (the DGX H100 size curve) = 364.1 µs, plus 2 µs latency.
func TestDisaggregatedAddsOneTransfer(t *testing.T) {
	one := []workloads.Request{{PromptTokens: 1000, OutputTokens: 50}}
	mixed := run(t, single(replicaConfig(t, "dgx-h100", "llama3-8b", "device", nil), 1), &sliceSource{reqs: one})
	pd := run(t, disaggregated(t, nil), &sliceSource{reqs: one})
	transfer := 1000*131072/(450e9*0.8) + 2e-6
	if pd.TTFT.Mean != mixed.TTFT.Mean {
		t.Fatalf("TTFT %g vs mixed %g: the first token comes from the prefill replica", pd.TTFT.Mean, mixed.TTFT.Mean)
	}
	if d := pd.E2E.Mean - mixed.E2E.Mean - transfer; math.Abs(d) > 3e-9 {
		t.Fatalf("E2E %g = mixed %g + %g, want + %g", pd.E2E.Mean, mixed.E2E.Mean, pd.E2E.Mean-mixed.E2E.Mean, transfer)
	}
	if h := pd.Handoff; h.Transfers != 1 || h.Bytes != 1000*131072 || math.Abs(h.MeanTransferSeconds-transfer) > 2e-9 {
		t.Fatalf("%+v", h)
	}
}

// Hand-offs share the link: on a slow network, transfers of requests that
// finish prefill together queue behind each other and stretch E2E, not
// TTFT.
func TestDisaggregatedLinkContention(t *testing.T) {
	reqs := make([]workloads.Request, 8)
	for i := range reqs {
		reqs[i] = workloads.Request{ID: int64(i), PromptTokens: 2000, OutputTokens: 20}
	}
	fast := run(t, disaggregated(t, &hw.Link{Name: "fast", BytesPerSecond: 400e9}), &sliceSource{reqs: reqs})
	slow := run(t, disaggregated(t, &hw.Link{Name: "slow", BytesPerSecond: 1e9}), &sliceSource{reqs: reqs})
	if slow.TTFT.Mean != fast.TTFT.Mean {
		t.Fatal("the link must not change TTFT")
	}
	// 8 × 262 MB at 1 GB/s: the link is busy ~2.1 s, and the mean transfer
	// (sharing with the others) lasts far longer than one alone (0.26 s).
	if slow.Handoff.MeanTransferSeconds < 0.5 || slow.E2E.Mean < fast.E2E.Mean+1 {
		t.Fatalf("slow link: mean transfer %g s, E2E %g vs %g", slow.Handoff.MeanTransferSeconds, slow.E2E.Mean, fast.E2E.Mean)
	}
	if busy := slow.Handoff.LinkBusyFraction * slow.DurationSeconds; math.Abs(busy-8*2000*131072/1e9) > 1e-3 {
		t.Fatalf("link busy %g s, want %g", busy, 8*2000*131072/1e9)
	}
}
