package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestEstimateJSONHasDocumentedFields(t *testing.T) {
	out, stderr, code := run(t, "estimate", "--hw", "h100-sxm", "--model", "llama3-8b", "--phase", "decode",
		"--batch", "32", "--context", "4096", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seconds", "tokens_per_second", "flops", "bytes", "bound", "params", "memory", "ops", "energy", "cost"} {
		if _, ok := e[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	mem := e["memory"].(map[string]any)
	for _, k := range []string{"weights_bytes", "kv_bytes", "activation_bytes", "total_bytes", "fits", "capacity_bytes"} {
		if _, ok := mem[k]; !ok {
			t.Errorf("memory lacks %q", k)
		}
	}
	// KV of 32 sequences × 4097 tokens × 131,072 B/token (Llama-3-8B, bf16).
	if kv := mem["kv_bytes"].(float64); math.Abs(kv-32*4097*131072) > 1 {
		t.Errorf("kv_bytes = %v, want %v", kv, 32*4097*131072)
	}
	if e["bound"] != "memory" {
		t.Errorf("decode at batch 32 should be memory-bound, got %v", e["bound"])
	}
	ops := e["ops"].([]any)
	first := ops[0].(map[string]any)
	for _, k := range []string{"name", "device", "seconds", "flops", "bytes", "intensity", "bound"} {
		if _, ok := first[k]; !ok {
			t.Errorf("op lacks %q", k)
		}
	}
	// Throughput is batch / step latency.
	if tps, s := e["tokens_per_second"].(float64), e["seconds"].(float64); math.Abs(tps*s-32) > 1e-6 {
		t.Errorf("tokens_per_second × seconds = %v, want 32", tps*s)
	}
}

func TestEstimateRequestPhases(t *testing.T) {
	out, stderr, code := run(t, "estimate", "--phase", "request", "--prompt", "512", "--output", "64", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var e struct {
		Seconds, TTFTSeconds, TPOTSeconds float64
	}
	var raw map[string]float64
	json.Unmarshal([]byte(out), &raw)
	e.Seconds, e.TTFTSeconds, e.TPOTSeconds = raw["seconds"], raw["ttft_seconds"], raw["tpot_seconds"]
	if math.Abs(e.TTFTSeconds+63*e.TPOTSeconds-e.Seconds) > 1e-9*e.Seconds {
		t.Errorf("e2e %v != ttft %v + 63 × tpot %v", e.Seconds, e.TTFTSeconds, e.TPOTSeconds)
	}
}

func TestBadInputGivesClearErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("name = \"x\"\nkind = \"gpu\"\nbogus_key = 3\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"estimate", "--phase", "both"}, "--phase"},
		{[]string{"estimate", "--batch", "0"}, "--batch"},
		{[]string{"estimate", "--dtype", "fp7"}, "--dtype"},
		{[]string{"estimate", "--hw", "no-such-gpu"}, "no-such-gpu"},
		{[]string{"estimate", "--model", "no-such-model"}, "no-such-model"},
		{[]string{"estimate", "-o", "xml"}, "xml"},
		{[]string{"estimate", "--hw", bad}, "bad.toml"},
		{[]string{"estimate", "--phase", "prefill", "--prompt", "10000000"}, "context limit"},
		{[]string{"nosuchcommand"}, "unknown command"},
	} {
		_, stderr, code := run(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", c.args, code, stderr, c.want)
		}
	}
}

func TestCatalogAndRoofline(t *testing.T) {
	for _, args := range [][]string{{"hw", "list"}, {"models", "list"}, {"hw", "show", "h100-sxm"}, {"models", "show", "llama3-8b", "-o", "json"}} {
		out, stderr, code := run(t, args...)
		if code != 0 || out == "" {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
	svg := filepath.Join(t.TempDir(), "r.svg")
	out, stderr, code := run(t, "roofline", "--phase", "prefill", "--batch", "2", "--prompt", "1024", "--plot", svg)
	if code != 0 || !strings.Contains(out, "ridge") {
		t.Fatalf("roofline: exit %d, %s", code, stderr)
	}
	if b, err := os.ReadFile(svg); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("roofline plot not written as SVG: %v", err)
	}
}

func TestHelpExplainsFields(t *testing.T) {
	_, stderr, code := run(t, "estimate", "--help")
	if code != 0 || !strings.Contains(stderr, "tokens_per_second") || !strings.Contains(stderr, "--context") {
		t.Errorf("estimate --help: exit %d, missing field docs:\n%s", code, stderr)
	}
}
