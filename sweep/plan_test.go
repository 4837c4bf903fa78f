package sweep

import (
	"fmt"
	"strings"
	"testing"
)

// fakeServing is a hand-checkable serving model: a replica of hardware h
// with TP t serves up to capacity(h)·0.9^(t-1)·t requests/s; TTFT is
// 0.1 s / (1 − load) and TPOT a constant of the hardware; each GPU rents
// at price(h) per hour.
func fakeServing(rate float64) Simulator {
	capacity := map[string]float64{"cheap": 10, "fast": 40}
	tpot := map[string]float64{"cheap": 0.04, "fast": 0.02}
	price := map[string]float64{"cheap": 1, "fast": 3}
	return func(d Deployment) (Measured, error) {
		if _, ok := capacity[d.HW]; !ok {
			return Measured{}, fmt.Errorf("unknown hardware %s", d.HW)
		}
		perReplica := capacity[d.HW] * float64(d.TP)
		for i := 1; i < d.TP; i++ {
			perReplica *= 0.9
		}
		load := rate / (float64(d.Replicas) * perReplica)
		ttft := 100 * load // overloaded: the queue grows with the excess
		if load < 1 {
			ttft = 0.1 / (1 - load)
		}
		q := func(v float64) map[string]float64 { return map[string]float64{"mean": v, "p50": v, "p90": v, "p99": v} }
		gpus := float64(d.Replicas * d.TP)
		return Measured{TTFT: q(ttft), TPOT: q(tpot[d.HW]), Arrived: 100, Completed: 100,
			USDPerHour: gpus * price[d.HW], GPUs: gpus}, nil
	}
}

func TestPlanPicksCheapestFeasible(t *testing.T) {
	spec := PlanSpec{HW: []string{"fast", "cheap"}, TP: []int{1, 2}, MaxNumSeqs: []int{0}, Splits: []string{""}, MaxReplicas: 64,
		SLO: SLO{TTFTSeconds: 0.5, TPOTSeconds: 0.05, TTFTQuantile: "p99", TPOTQuantile: "p99"}, Workers: 3}
	// At 35 requests/s, TTFT ≤ 0.5 s needs load ≤ 0.8:
	//   cheap TP1: ⌈35/8⌉ = 5 replicas, $5/h      cheap TP2 (18/s): 3 × 2 GPUs, $6/h
	//   fast TP1: ⌈35/32⌉ = 2 replicas, $6/h      fast TP2 (72/s): 1 × 2 GPUs, $6/h
	cands, err := Plan(spec, fakeServing(35))
	if err != nil {
		t.Fatal(err)
	}
	best := cands[0]
	if !best.Meets || best.HW != "cheap" || best.TP != 1 || best.Replicas != 5 || best.Measured.USDPerHour != 5 {
		t.Fatalf("best = %+v, want cheap TP1 × 5 at $5/h", best)
	}
	for _, c := range cands[1:] {
		if !c.Meets || c.Measured.USDPerHour != 6 {
			t.Errorf("runner-up %+v, want $6/h", c)
		}
	}
	// A TPOT objective of 30 ms rules the cheap hardware out at any scale
	// (its TPOT floor is 40 ms); the search gives up after two doublings
	// that do not help instead of trying 64 replicas.
	spec.SLO.TPOTSeconds = 0.03
	cands, _ = Plan(spec, fakeServing(35))
	if b := cands[0]; b.HW != "fast" || b.Measured.USDPerHour != 6 {
		t.Errorf("best = %+v, want fast at $6/h", b)
	}
	for _, c := range cands {
		if c.HW == "cheap" && (c.Meets || c.Sims > 3 || !strings.Contains(c.Reason, "do not help")) {
			t.Errorf("cheap: %+v, want infeasible after 3 simulations", c)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	spec := PlanSpec{HW: []string{"cheap"}, TP: []int{1}, MaxNumSeqs: []int{0}, Splits: []string{""}, MaxReplicas: 8,
		SLO: SLO{TTFTQuantile: "p99", TPOTQuantile: "p99"}}
	if _, err := Plan(spec, fakeServing(1)); err == nil || !strings.Contains(err.Error(), "at least one objective") {
		t.Errorf("no SLO: %v", err)
	}
	spec.SLO = SLO{TTFTSeconds: 1, TTFTQuantile: "p95", TPOTQuantile: "p99"}
	if _, err := Plan(spec, fakeServing(1)); err == nil || !strings.Contains(err.Error(), "--ttft-quantile") {
		t.Errorf("bad quantile: %v", err)
	}
	// Too much load for 8 replicas: reported, not an error.
	spec.SLO.TTFTQuantile = "p99"
	c, err := Plan(spec, fakeServing(1000))
	if err != nil || c[0].Meets || !strings.Contains(c[0].Reason, "8 replicas") {
		t.Errorf("overload: %+v, %v", c, err)
	}
	if got := (Deployment{Split: "1:3", Replicas: 2}).Pools(); got != "2:6" {
		t.Errorf("pools of 1:3 × 2 = %s", got)
	}
}
