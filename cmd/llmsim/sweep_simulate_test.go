package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The prefix-cache columns of simulate sweeps equal simulate's
// prefix_cache block (0 without sharing), and --help lists them.
func TestSweepSimulatePrefixColumns(t *testing.T) {
	out, stderr, code := run(t, "sweep", "--mode", "simulate", "--workload", "rag", "--num-requests", "40", "--rate", "5",
		"--prefix-caching", "false,true", "-o", "jsonl", "--progress", "never")
	if code != 0 {
		t.Fatal(stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	sim, _ := simulateJSON(t, "--workload", "rag", "--num-requests", "40", "--rate", "5", "--prefix-caching")
	p := sim["prefix_cache"].(map[string]any)
	for i, want := range [][2]float64{{0, 0}, {p["hit_rate"].(float64), p["hit_tokens"].(float64)}} {
		var row map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &row); err != nil {
			t.Fatal(err)
		}
		rate, saved := row["prefix_hit_rate"].(float64), row["prefix_tokens_saved"].(float64)
		if math.Abs(rate-want[0]) > 1e-12 || saved != want[1] {
			t.Errorf("row %d: hit rate %g, saved %g; simulate says %g, %g", i, rate, saved, want[0], want[1])
		}
	}
	if want := p["hit_tokens"].(float64); want <= 0 {
		t.Fatalf("RAG with prefix caching saved nothing: %v", p)
	}
	for _, k := range []string{"prefix_hit_rate", "prefix_tokens_saved"} {
		if !strings.Contains(simulateMetricsHelp, k) {
			t.Errorf("SIMULATE METRICS does not explain %s", k)
		}
	}
}
