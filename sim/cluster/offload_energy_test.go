package cluster

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/offload"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/workloads"
)

// FlexGen on the paper's T4 box with the KV cache and activations on the
// CPU and attention computed there: the host is busy in every step, not
// only the T4.
const cpuAttnSpec = "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,cpuattn=1"

// t4BoxIdleWatts is the idle power of every device of t4-flexgen-paper:
// T4 10 W + n1-highmem-32 host 50 W + 4 local NVMe 2 W (configs/hw).
const t4BoxIdleWatts = 10 + 50 + 2

// A lone request under an offloading scheme uses the energy and rent
// `llmsim estimate --offload --phase request` reports for it: every device
// of the system, at idle power for the run plus each step's draw above it.
func TestOffloadEnergyEqualsEstimate(t *testing.T) {
	rc := offloadConfig(t, "t4-flexgen-paper", "opt-6.7b", "device", cpuAttnSpec, nil)
	if got := offload.IdleWatts(rc.System); got != t4BoxIdleWatts {
		t.Fatalf("idle power of the box %g W, want %d W", got, t4BoxIdleWatts)
	}
	res := run(t, single(rc, 1), &sliceSource{reqs: []workloads.Request{{PromptTokens: 512, OutputTokens: 8}}})
	want := offloadRequest(t, rc, cpuAttnSpec, 512, 8)
	for _, d := range want.Energy.Devices {
		if d.Group == "cpu" && d.Utilisation <= 0 {
			t.Fatal("the host should compute attention")
		}
		t.Logf("estimate: %s %.1f%% busy, %.2f J", d.Group, 100*d.Utilisation, d.Joules)
	}
	if d := res.Energy.Joules - want.Energy.Joules; math.Abs(d) > 1e-9*want.Energy.Joules {
		t.Errorf("energy %.9g J, estimate --offload %.9g J", res.Energy.Joules, want.Energy.Joules)
	}
	if d := res.Cost.USD - want.Energy.USD; math.Abs(d) > 1e-9*want.Energy.USD {
		t.Errorf("cost %.9g USD, estimate --offload %.9g USD", res.Cost.USD, want.Energy.USD)
	}
	t.Logf("%.6f s: %.2f J (%.1f W), %.6g USD; estimate %.6f s: %.2f J, %.6g USD",
		res.DurationSeconds, res.Energy.Joules, res.Energy.AverageWatts, res.Cost.USD, want.Seconds, want.Energy.Joules, want.Energy.USD)
}

// Between iterations every device of the system idles, and is charged its
// idle power: two lone requests a minute apart cost two estimates plus
// the box's 62 W over the gap. That is more than the accelerator-only
// figure (the T4's roofline energy over the run) by at least the host's
// 50 W idle draw over the run.
func TestOffloadEnergyChargesIdleOfEveryDevice(t *testing.T) {
	rc := offloadConfig(t, "t4-flexgen-paper", "opt-6.7b", "device", cpuAttnSpec, nil)
	const gapNanos = 60 * sim.NanosPerSecond
	reqs := []workloads.Request{{PromptTokens: 512, OutputTokens: 8}, {ID: 1, ArrivalNanos: gapNanos, PromptTokens: 512, OutputTokens: 8}}
	cfg := single(rc, 1)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := newCluster(cfg, &sliceSource{reqs: reqs})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.loop(); err != nil {
		t.Fatal(err)
	}
	res := c.result()
	one := offloadRequest(t, rc, cpuAttnSpec, 512, 8)
	dur := res.DurationSeconds
	if math.Abs(dur-(60+one.Seconds)) > 1e-9 {
		t.Fatalf("duration %.9f s, want 60 s + one run %.9f s", dur, one.Seconds)
	}
	idle := dur - 2*one.Seconds
	want := 2*one.Energy.Joules + t4BoxIdleWatts*idle
	if d := res.Energy.Joules - want; math.Abs(d) > 1e-9*want {
		t.Errorf("energy %.9g J, want 2 × %.9g J + %d W × %.6f s = %.9g J", res.Energy.Joules, one.Energy.Joules, t4BoxIdleWatts, idle, want)
	}
	// What simulate reported before: the T4 alone, by its roofline.
	st := c.all[0].Stats()
	dev := rc.Device
	accel := roofline.EnergyOf(dev, dur, st.FLOPs, st.Bytes, roofline.Peak(dev, hw.ClassGEMM, rc.Precision.Activations))
	hostIdle := rc.System.Group("cpu").Device.Power.IdleWatts * dur
	if res.Energy.Joules < accel.Joules+hostIdle {
		t.Errorf("energy %.6g J, want at least the T4's %.6g J + the host's idle %.6g J", res.Energy.Joules, accel.Joules, hostIdle)
	}
	t.Logf("%.3f s: every device %.2f J (%.1f W), T4 alone %.2f J (%.1f W)", dur, res.Energy.Joules, res.Energy.AverageWatts, accel.Joules, accel.AverageWatts)
}

// Offloaded replicas stay deterministic: same requests, same bytes of JSON.
func TestOffloadEnergyDeterminism(t *testing.T) {
	out := func() []byte {
		rc := offloadConfig(t, "t4-flexgen-paper", "opt-1.3b", "vllm-like", "flexgen:w=50/50/0,c=0/100/0,a=100/0/0,gbs=8,ngb=2,cpuattn=1", nil)
		res := run(t, single(rc, 1), &sliceSource{reqs: randomRequests(11, 30, 4, 1500, 100)})
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(res); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if a, b := out(), out(); !bytes.Equal(a, b) {
		t.Fatal("two runs of the same requests differ")
	}
}
