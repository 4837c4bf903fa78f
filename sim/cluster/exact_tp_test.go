package cluster

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// A single request on a TP (and TP × PP) replica costs what `llmsim
// estimate --tp --pp --phase request` says: both price steps with
// roofline.Parallel (one GPU's shard, the collectives on NVLink, the
// stages one after another). Each stage and hand-off is rounded to the
// nanosecond on its own, with error diffusion, so the two agree within a
// nanosecond.
func TestSingleRequestEqualsParallelEstimate(t *testing.T) {
	for _, tc := range []struct {
		system, model  string
		tp, pp         int
		collective     string
		prompt, output int
	}{
		{"dgx-h100", "llama3-8b", 2, 1, "auto", 512, 64},
		{"dgx-h100", "llama3-70b", 4, 1, "ring", 2000, 16},
		{"dgx-a100", "llama2-13b", 2, 2, "tree", 300, 40},
		{"dgx-h100", "mixtral-8x7b", 8, 1, "auto", 1024, 8},
	} {
		rc := replicaConfig(t, tc.system, tc.model, "device", func(c *replica.Config) {
			c.TP, c.PP, c.Collective = tc.tp, tc.pp, tc.collective
		})
		res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: tc.prompt, OutputTokens: tc.output}}})
		par := roofline.NewParallel(rc.Model, rc.Precision, tc.tp, tc.pp, tc.collective, roofline.GroupLink(rc.System))
		want := roofline.RequestParallel(roofline.ModelBuilder(rc.Model, rc.Precision, rc.Options), rc.Device, &par, 1, tc.prompt, tc.output)
		name := func() string { return tc.model + " on " + tc.system }
		if res.Requests.Completed != 1 {
			t.Fatalf("%s: %+v", name(), res.Requests)
		}
		if want.Prefill.CollectiveSeconds <= 0 {
			t.Fatalf("%s: the estimate has no collectives", name())
		}
		if d := res.TTFT.Mean*1e9 - want.TTFTSeconds*1e9; math.Abs(d) > 1 {
			t.Errorf("%s TP %d PP %d: TTFT %.3f ns from the estimate %g s", name(), tc.tp, tc.pp, d, want.TTFTSeconds)
		}
		if d := res.E2E.Mean*1e9 - want.E2ESeconds*1e9; math.Abs(d) > 1 {
			t.Errorf("%s TP %d PP %d: E2E %.3f ns from the estimate %g s", name(), tc.tp, tc.pp, d, want.E2ESeconds)
		}
		if d := res.TPOT.Mean - want.TPOTSeconds; math.Abs(d) > 1e-9 {
			t.Errorf("%s: TPOT %g vs %g", name(), res.TPOT.Mean, want.TPOTSeconds)
		}
	}
}
