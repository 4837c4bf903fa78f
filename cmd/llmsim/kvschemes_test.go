package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func estimateJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, stderr, code := run(t, append([]string{"estimate", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("estimate %v: exit %d: %s", args, code, stderr)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// --kv-scheme changes what estimate prices: the KV footprint and the step.
func TestEstimateKVScheme(t *testing.T) {
	common := []string{"--hw", "a100-80g-sxm", "--model", "llama3-8b", "--phase", "decode", "--batch", "16", "--context", "7999"}
	full := estimateJSON(t, common...)
	kv := func(e map[string]any) float64 { return e["memory"].(map[string]any)["kv_bytes"].(float64) }
	sec := func(e map[string]any) float64 { return e["seconds"].(float64) }

	// 16 sequences × 8000 tokens × 131,072 B; H2O keeps 1600 of them.
	if want := 16.0 * 8000 * 131072; math.Abs(kv(full)-want) > 1 {
		t.Fatalf("full kv_bytes = %v, want %v", kv(full), want)
	}
	h2o := estimateJSON(t, append(common, "--kv-scheme", "h2o:heavy=0.1,recent=0.1")...)
	if want := 16.0 * 1600 * 131072; math.Abs(kv(h2o)-want) > 1 {
		t.Errorf("h2o kv_bytes = %v, want %v", kv(h2o), want)
	}
	if sec(h2o) >= sec(full) {
		t.Errorf("h2o step %v s is not faster than full %v s", sec(h2o), sec(full))
	}
	if h2o["kv_scheme"] != "h2o:heavy=0.1,recent=0.1" {
		t.Errorf("kv_scheme = %v", h2o["kv_scheme"])
	}
	// KIVI 2-bit without residual: 0.375 / 2 of the bytes.
	kivi := estimateJSON(t, append(common, "--kv-scheme", "kivi:residual=0")...)
	if want := kv(full) * 0.375 / 2; math.Abs(kv(kivi)-want) > 1 {
		t.Errorf("kivi kv_bytes = %v, want %v", kv(kivi), want)
	}
	// The scheme's ops show up in the per-op table.
	names := map[string]bool{}
	for _, o := range kivi["ops"].([]any) {
		names[o.(map[string]any)["name"].(string)] = true
	}
	if !names["kv_quant"] {
		t.Errorf("kivi step lacks kv_quant: %v", names)
	}
	duo := estimateJSON(t, append(common, "--kv-scheme", "duo:retrieval=0.5+kivi")...)
	if kv(duo) >= kv(kivi) || sec(duo) >= sec(full) {
		t.Errorf("duo+kivi: kv %v (kivi %v), %v s (full %v s)", kv(duo), kv(kivi), sec(duo), sec(full))
	}
	_, stderr, code := run(t, "estimate", "--kv-scheme", "h2o:heavy=7")
	if code == 0 || !strings.Contains(stderr, "heavy=7") {
		t.Errorf("bad parameter: exit %d, %q", code, stderr)
	}
}

func TestKVSchemesListsEveryScheme(t *testing.T) {
	out, stderr, code := run(t, "kvschemes", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range list {
		seen[s["name"].(string)] = true
	}
	for _, n := range []string{"full", "window", "h2o", "scissorhands", "keyformer", "snapkv", "d2o", "locret", "duo", "razor", "lserve",
		"longgen", "hybrid", "quant", "kivi", "gear", "bfp", "think", "cskv", "quest", "squeezed", "tokenselect", "doublesparsity",
		"hydragen", "paged", "contiguous", "vattention"} {
		if !seen[n] {
			t.Errorf("kvschemes lacks %s", n)
		}
	}
	table, _, _ := run(t, "kvschemes")
	if !strings.Contains(table, "duo") || !strings.Contains(table, "retrieval") {
		t.Errorf("table lacks duo's parameters:\n%s", table)
	}
}

func TestReproduceKVJSON(t *testing.T) {
	out, stderr, code := run(t, "reproduce", "--scenario", "kv-duo-memory-mha", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rs []map[string]any
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("%d results", len(rs))
	}
	for _, k := range []string{"scenario", "paper", "claim", "simulated", "relative_error", "tolerance", "pass", "setup", "gap"} {
		if _, ok := rs[0][k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
	if rs[0]["pass"] != true {
		t.Errorf("kv-duo-memory-mha does not pass: %v", rs[0])
	}
	table, stderr, code := run(t, "reproduce")
	if code != 0 || !strings.Contains(table, "kv-hydragen") || !strings.Contains(table, "miss (known gap)") {
		t.Errorf("table (exit %d, %s):\n%s", code, stderr, table)
	}
}
