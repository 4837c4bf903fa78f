package cluster

import (
	"github.com/llmsim/llmsim/models"
	"math"
	"testing"

	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/replica"
	"github.com/llmsim/llmsim/workloads"
)

// A single request through the event simulator costs what the analytic
// estimate says: TTFT to the nanosecond it rounds to, E2E within the half
// nanosecond that integer time allows (step durations are rounded with
// error diffusion, so rounding never accumulates).
func TestSingleRequestEqualsEstimate(t *testing.T) {
	for _, tc := range []struct {
		hw, model      string
		prompt, output int
	}{
		{"h100-sxm", "llama3-8b", 512, 64},
		{"h100-sxm", "llama3-8b", 2000, 1},
		{"a100-80g-sxm", "qwen2.5-0.5b", 128, 300},
		{"h200", "mixtral-8x7b", 1024, 16},
	} {
		rc := replicaConfig(t, tc.hw, tc.model, "device", nil)
		res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: tc.prompt, OutputTokens: tc.output}}})
		want := roofline.Request(rc.Model, rc.Device, 1, tc.prompt, tc.output, rc.Precision, rc.Options)
		if res.Requests.Completed != 1 {
			t.Fatalf("%+v", res.Requests)
		}
		if got, w := int64(math.Round(res.TTFT.Mean*1e9)), sim.Nanos(want.TTFTSeconds); got != w {
			t.Errorf("%s %d/%d: TTFT %d ns, estimate %d ns", tc.model, tc.prompt, tc.output, got, w)
		}
		if d := res.E2E.Mean*1e9 - want.E2ESeconds*1e9; math.Abs(d) > 1 {
			t.Errorf("%s %d/%d: E2E %.3f ns from the estimate %.3f s", tc.model, tc.prompt, tc.output, d, want.E2ESeconds)
		}
		if tc.output > 1 {
			if d := res.TPOT.Mean - want.TPOTSeconds; math.Abs(d) > 1e-9 {
				t.Errorf("TPOT %g vs %g", res.TPOT.Mean, want.TPOTSeconds)
			}
		}
	}
}

// An engine that dispatches prefills eagerly (CUDA graphs for decode only)
// pays its per-layer prefill dispatch in the prefill iteration and not in
// decode iterations: with 1 ms + 0.5 ms per prompt per layer over 32 layers,
// the TTFT grows by exactly 48 ms and the E2E by the same.
func TestPrefillDispatchOnlyInPrefill(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "device", nil)
	base := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 512, OutputTokens: 4}}})
	rc.Profile.PrefillPerLayerSeconds, rc.Profile.PrefillPerSeqLayerSeconds = 1e-3, 0.5e-3
	got := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 512, OutputTokens: 4}}})
	const want = (1e-3 + 0.5e-3) * 32
	if d := got.TTFT.Mean - base.TTFT.Mean; math.Abs(d-want) > 1e-9 {
		t.Errorf("TTFT grew by %g, want %g", d, want)
	}
	if d := got.E2E.Mean - base.E2E.Mean; math.Abs(d-want) > 2e-9 {
		t.Errorf("E2E grew by %g, want %g (decode iterations must not pay it)", d, want)
	}
	p := rc.Profile
	two := []models.Seq{{New: 100}, {New: 200}, {Cached: 50, New: 1}}
	if got, want := p.IterationSeconds(two, 10), (1e-3+2*0.5e-3)*10; math.Abs(got-want) > 1e-15 {
		t.Errorf("two prompts and a decode over 10 layers: %g, want %g", got, want)
	}
}

// With an engine profile the iteration overhead adds to each step: the
// prefill pays it once (one sequence), and the device's own step overhead
// is replaced.
func TestProfileOverheadAddsPerIteration(t *testing.T) {
	rc := replicaConfig(t, "h100-sxm", "llama3-8b", "vllm-like", func(c *replica.Config) {
		c.Profile.AdmitSeconds, c.Profile.AdmitPerTokenSeconds = 0, 0
	})
	res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 512, OutputTokens: 2}}})
	est := roofline.Request(rc.Model, rc.Device, 1, 512, 2, rc.Precision, rc.Options)
	perIter := rc.Profile.IterationSeconds([]models.Seq{{New: 1}}, rc.Model.Layers) - rc.Device.Overhead.StepSeconds
	if d := res.TTFT.Mean - (est.TTFTSeconds + perIter); math.Abs(d) > 1e-9 {
		t.Fatalf("TTFT %g, want estimate %g + %g", res.TTFT.Mean, est.TTFTSeconds, perIter)
	}
	if d := res.E2E.Mean - (est.E2ESeconds + 2*perIter); math.Abs(d) > 2e-9 {
		t.Fatalf("E2E %g, want %g", res.E2E.Mean, est.E2ESeconds+2*perIter)
	}
}
