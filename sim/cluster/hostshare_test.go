package cluster

import (
	"encoding/json"
	"testing"

	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// hostShared is four FlexGen replicas with CPU attention (the KV cache and
// its attention on the host) on h200-node, share replicas to a host.
func hostShared(t *testing.T, share int) *Config {
	rc := offloadConfig(t, "h200-node", "llama3-8b", "device", "flexgen:w=100/0/0,c=0/100/0,a=100/0/0,cpuattn=1", func(c *replica.Config) {
		c.HostShare = share
		c.MaxModelLen, c.Scheduler.MaxBatchedTokens = 8192, 8192
	})
	return single(rc, 4)
}

// Four replicas on two hosts serve a random workload: the invariants hold
// (every request completes or is rejected, tokens are conserved, KV never
// over capacity); host contention lengthens decode steps, so TPOT is
// higher than with a host per replica; each host's idle power and rent
// are counted once instead of per replica, so energy and cost fall; and
// the same inputs give the same bytes.
func TestHostShareInvariantsAndEnergy(t *testing.T) {
	reqs := randomRequests(7, 60, 6, 6000, 200)
	own := checkInvariants(t, hostShared(t, 1), reqs)
	shared := checkInvariants(t, hostShared(t, 2), reqs)
	if shared.Requests.Completed != own.Requests.Completed {
		t.Errorf("completed %d shared vs %d own", shared.Requests.Completed, own.Requests.Completed)
	}
	if shared.TPOT.Mean <= own.TPOT.Mean {
		t.Errorf("TPOT %.6f s on shared hosts, %.6f s on own hosts: contention should lengthen decode steps", shared.TPOT.Mean, own.TPOT.Mean)
	}
	if shared.Energy.Joules >= own.Energy.Joules || shared.Cost.USD >= own.Cost.USD {
		t.Errorf("energy %.0f J / $%.4f shared vs %.0f J / $%.4f own: a shared host's idle power and rent count once", shared.Energy.Joules, shared.Cost.USD, own.Energy.Joules, own.Cost.USD)
	}
	t.Logf("TPOT %.2f → %.2f ms, energy %.0f → %.0f J, cost $%.4f → $%.4f (4 replicas, own hosts → 2 per host)",
		1e3*own.TPOT.Mean, 1e3*shared.TPOT.Mean, own.Energy.Joules, shared.Energy.Joules, own.Cost.USD, shared.Cost.USD)
	again := checkInvariants(t, hostShared(t, 2), reqs)
	a, _ := json.Marshal(shared)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Error("two runs of the same shared-host simulation differ")
	}
}

func TestHostShareNeedsFullHosts(t *testing.T) {
	cfg := hostShared(t, 2)
	cfg.Pools[0].Replicas = 3
	if err := cfg.Validate(); err == nil {
		t.Error("3 replicas on hosts of 2 validated")
	}
}

// When one member finishes, the other's iteration speeds up and its old
// end event goes stale; the run ends at the real last finish, not there.
// The second request's decode ends inside the first's last step for some
// of these lengths.
func TestHostShareRunEndsAtTheLastFinish(t *testing.T) {
	for out := 8; out <= 24; out++ {
		cfg := hostShared(t, 2)
		cfg.Pools[0].Replicas = 2
		res := run(t, cfg, &sliceSource{reqs: []workloads.Request{
			{ID: 0, PromptTokens: 4000, OutputTokens: 2}, {ID: 1, PromptTokens: 1000, OutputTokens: out},
		}})
		if res.Requests.Completed != 2 {
			t.Fatalf("%+v", res.Requests)
		}
		if d := res.DurationSeconds - res.E2E.Max; d < -1e-9 || d > 1e-9 {
			t.Errorf("output %d: run lasts %.9f s, the last request finishes at %.9f s", out, res.DurationSeconds, res.E2E.Max)
		}
	}
}
