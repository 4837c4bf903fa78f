package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestOffloadJSONHasDocumentedFields(t *testing.T) {
	out, stderr, code := run(t, "offload", "--hw", "t4-flexgen-paper", "--model", "opt-30b",
		"--offload", "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1", "--output", "8", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"prefill_seconds", "decode_seconds", "seconds", "tokens_per_second", "decode_tokens_per_second",
		"memory", "resources", "breakdown_seconds", "energy", "fits"} {
		if _, ok := r[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if b := r["batch"].(float64); b != 144 {
		t.Errorf("batch %v, want 48 × 3", b)
	}
	e := r["energy"].(map[string]any)
	for _, k := range []string{"joules_per_token", "average_watts", "usd_per_million_tokens", "devices"} {
		if _, ok := e[k]; !ok {
			t.Errorf("energy lacks %q", k)
		}
	}
	// Throughput is generated tokens over the run.
	if tps, s := r["tokens_per_second"].(float64), r["seconds"].(float64); math.Abs(tps*s-144*8) > 1e-6 {
		t.Errorf("tokens/s × seconds = %v, want 1152", tps*s)
	}
	tiers := r["memory"].([]any)
	if len(tiers) != 3 {
		t.Fatalf("%d memory tiers, want gpu, cpu, disk", len(tiers))
	}
}

func TestOffloadTableListAndErrors(t *testing.T) {
	out, stderr, code := run(t, "offload", "--model", "opt-6.7b", "--offload", "accelerate:tier=gpu", "--batch", "2", "--output", "4")
	if code != 0 || !strings.Contains(out, "memory per tier") || !strings.Contains(out, "J/token") {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	out, _, code = run(t, "offload", "list")
	if code != 0 || !strings.Contains(out, "flexgen") || !strings.Contains(out, "instinfer") {
		t.Fatalf("list: exit %d: %s", code, out)
	}
	_, stderr, code = run(t, "offload", "--offload", "flexgen:w=10/10/10")
	if code == 0 || !strings.Contains(stderr, "sum to") {
		t.Fatalf("bad split accepted: exit %d: %s", code, stderr)
	}
}

func TestOffloadReproduceFlexGen(t *testing.T) {
	out, stderr, code := run(t, "offload", "reproduce", "--scenario", "offload-flexgen-t4")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, stderr)
	}
	if !strings.Contains(out, "FlexGen OPT-175B") || strings.Contains(out, "FAIL") || !strings.Contains(out, "(cal)") {
		t.Fatalf("unexpected table:\n%s", out)
	}
}
