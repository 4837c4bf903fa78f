package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPlanCLI(t *testing.T) {
	out, stderr, code := run(t, "plan", "--hw", "h100-sxm,a100-80g-sxm", "--rate", "20", "--num-requests", "300",
		"--slo-ttft", "0.5", "--slo-tpot", "0.05", "-o", "json")
	if code != 0 {
		t.Fatal(stderr)
	}
	var p planOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Candidates) != 2 {
		t.Fatalf("%d candidates, want 2", len(p.Candidates))
	}
	best := p.Candidates[0]
	if !best.MeetsSLO || best.TTFTQuantile > 0.5 || best.TPOTQuantile > 0.05 || best.USDPerHour > p.Candidates[1].USDPerHour {
		t.Errorf("best %+v is not the cheapest that meets the SLOs", best)
	}
	// The same search again gives the same answer.
	if again, _, _ := run(t, "plan", "--hw", "h100-sxm,a100-80g-sxm", "--rate", "20", "--num-requests", "300",
		"--slo-ttft", "0.5", "--slo-tpot", "0.05", "-o", "json"); again != out {
		t.Error("plan is not deterministic")
	}
}

func TestPlanCLIErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "5"}, "give at least one objective"},
		{[]string{"--slo-ttft", "1", "--ttft-quantile", "p95"}, "--ttft-quantile"},
		{[]string{"--slo-ttft", "1", "--tp", "0"}, "--tp"},
		{[]string{"--slo-ttft", "1", "--splits", "2to1"}, "--splits"},
		// A TPOT below what one decode step takes is infeasible at any scale.
		{[]string{"--hw", "h100-sxm", "--num-requests", "100", "--slo-tpot", "0.0005", "--max-replicas", "4"}, "no deployment meets the SLOs"},
	} {
		_, stderr, code := run(t, append([]string{"plan"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("plan %v: exit %d, %q; want %q", c.args, code, stderr, c.want)
		}
	}
}
