package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// One table for both kinds: an offload scenario's checks are rows with the
// KV scenarios' fields, a declared gap is expect "miss" with its note.
func TestReproduceOffloadRows(t *testing.T) {
	out, stderr, code := run(t, "reproduce", "--scenario", "offload-h2o-t4", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rs []map[string]any
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatal(err)
	}
	misses := 0
	for _, r := range rs {
		for _, k := range []string{"scenario", "check", "paper", "claim", "simulated", "relative_error", "tolerance", "pass", "expect", "gap", "setup"} {
			if _, ok := r[k]; !ok {
				t.Errorf("row lacks %q: %v", k, r)
			}
		}
		if r["expect"] == "miss" {
			misses++
		}
	}
	if misses == 0 {
		t.Error("H2O's 29× over ZeRO-Inference is a declared known gap; no row expects a miss")
	}
	table, stderr, code := run(t, "offload", "reproduce", "--scenario", "offload-h2o-t4")
	if code != 0 || !strings.Contains(table, "miss (known gap)") || !strings.Contains(table, "gap:") {
		t.Errorf("alias table (exit %d, %s):\n%s", code, stderr, table)
	}
	for _, bad := range [][]string{{"--scenario", "offload-nope"}, {"--kind", "disk"}} {
		if _, stderr, code := run(t, append([]string{"reproduce"}, bad...)...); code == 0 || stderr == "" {
			t.Errorf("reproduce %v: exit %d", bad, code)
		}
	}
}
