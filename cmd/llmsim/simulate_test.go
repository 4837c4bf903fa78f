package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func simulateJSON(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	out, stderr, code := run(t, append([]string{"simulate", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	return m, out
}

func TestSimulateJSONHasDocumentedFieldsAndIsDeterministic(t *testing.T) {
	args := []string{"--num-requests", "200", "--rate", "30", "--prompt-tokens", "uniform:64..2048",
		"--output-tokens", "lognormal:mean=200,std=150", "--seed", "9", "--slo-ttft", "0.2", "--slo-tpot", "0.03"}
	m, first := simulateJSON(t, args...)
	_, second := simulateJSON(t, args...)
	if first != second {
		t.Fatal("same seed, different JSON")
	}
	for _, k := range []string{"config", "duration_seconds", "requests", "ttft_seconds", "tpot_seconds", "itl_seconds",
		"e2e_seconds", "queue_seconds", "throughput", "goodput", "energy", "cost", "replicas"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
		if !strings.Contains(simulateHelp, "\n  "+k) {
			t.Errorf("--help does not explain %q", k)
		}
	}
	for _, k := range []string{"mean", "p50", "p90", "p99"} {
		if _, ok := m["ttft_seconds"].(map[string]any)[k]; !ok {
			t.Errorf("ttft_seconds lacks %q", k)
		}
	}
	rq := m["requests"].(map[string]any)
	if rq["completed"].(float64)+rq["rejected"].(float64) != 200 {
		t.Fatalf("requests %v", rq)
	}
	if g := m["goodput"].(map[string]any); g["attainment"].(float64) <= 0 || g["attainment"].(float64) > 1 {
		t.Fatalf("goodput %v", g)
	}
}

// One request with the "device" engine costs what `estimate --phase
// request` says.
func TestSimulateOneRequestEqualsEstimate(t *testing.T) {
	oneRequestEqualsEstimate(t)
}

// oneRequestEqualsEstimate simulates one 1024+100 request with the
// "device" engine and compares its TTFT and E2E with estimate --phase
// request under the same extra flags; it returns simulate's JSON.
func oneRequestEqualsEstimate(t *testing.T, extra ...string) map[string]any {
	t.Helper()
	sim, _ := simulateJSON(t, append([]string{"--engine", "device", "--num-requests", "1", "--prompt-tokens", "1024", "--output-tokens", "100"}, extra...)...)
	out, stderr, code := run(t, append([]string{"estimate", "--phase", "request", "--prompt", "1024", "--output", "100", "-o", "json"}, extra...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	var est map[string]any
	if err := json.Unmarshal([]byte(out), &est); err != nil {
		t.Fatal(err)
	}
	ttft := sim["ttft_seconds"].(map[string]any)["mean"].(float64)
	e2e := sim["e2e_seconds"].(map[string]any)["mean"].(float64)
	if math.Abs(ttft-est["ttft_seconds"].(float64)) > 1e-9 || math.Abs(e2e-est["seconds"].(float64)) > 1e-9 {
		t.Errorf("%v: simulate TTFT %g E2E %g, estimate %g %g", extra, ttft, e2e, est["ttft_seconds"], est["seconds"])
	}
	return sim
}

// Under a KV-cache scheme too: the simulator prices each iteration on the
// graph the scheme rewrites, as estimate does.
func TestSimulateOneRequestEqualsEstimateWithSchemes(t *testing.T) {
	for _, scheme := range []string{"h2o", "kivi:bits=2", "duo:retrieval=0.25", "quest:tokens=256", "window:sink=4,recent=252"} {
		sim := oneRequestEqualsEstimate(t, "--kv-scheme", scheme)
		if got := sim["config"].(map[string]any)["kv_scheme"].(string); !strings.HasPrefix(got, strings.Split(scheme, ":")[0]) {
			t.Errorf("config.kv_scheme %q for %s", got, scheme)
		}
	}
}

// The RAG preset's shared prefixes hit once cached: the JSON reports it,
// and --help explains the block.
func TestSimulatePrefixCaching(t *testing.T) {
	m, _ := simulateJSON(t, "--workload", "rag", "--num-requests", "100", "--rate", "5", "--prefix-caching")
	p, ok := m["prefix_cache"].(map[string]any)
	if !ok || p["hit_rate"].(float64) < 0.5 || p["hit_tokens"].(float64) <= 0 {
		t.Fatalf("prefix_cache %v", m["prefix_cache"])
	}
	if !strings.Contains(simulateHelp, "\n  prefix_cache") {
		t.Error("--help does not explain prefix_cache")
	}
	if m, _ := simulateJSON(t, "--workload", "rag", "--num-requests", "20"); m["prefix_cache"] != nil {
		t.Error("prefix_cache reported without prefix sharing")
	}
}

func TestSimulateWritesCSVAndTrace(t *testing.T) {
	dir := t.TempDir()
	csvPath, tracePath := filepath.Join(dir, "r.csv"), filepath.Join(dir, "t.json")
	_, stderr, code := run(t, "simulate", "--workload", "chat", "--num-requests", "50", "--rate", "5",
		"--requests-csv", csvPath, "--trace", tracePath)
	if code != 0 {
		t.Fatal(stderr)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 51 || rows[0][0] != "id" {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	data, err := os.ReadFile(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || len(tr.TraceEvents) == 0 {
		t.Fatalf("trace: %v, %d events", err, len(tr.TraceEvents))
	}
}

func TestSimulateTableAndDeployments(t *testing.T) {
	for _, args := range [][]string{
		{"--num-requests", "30"},
		{"--hw", "dgx-h100", "--tp", "2", "--replicas", "2", "--router", "least-kv", "--num-requests", "30"},
		{"--hw", "dgx-h100", "--disaggregate", "1:2", "--num-requests", "30"},
		{"--hw", "h100-node", "--preemption", "swap", "--engine", "trtllm-like", "--num-requests", "30"},
		{"--engine", "hf-eager-like", "--num-requests", "10", "--arrival", "closed:clients=4"},
		{"--priority", "prefill-first", "--num-requests", "30"},
	} {
		out, stderr, code := run(t, append([]string{"simulate"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{"TTFT", "throughput", "goodput", "energy", "KV blocks"} {
			if !strings.Contains(out, want) {
				t.Fatalf("%v: table lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestSimulateRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "nope"}, "unknown engine profile"},
		{[]string{"--preemption", "swap"}, "no link between its accelerator and a host"},
		{[]string{"--tp", "3", "--hw", "dgx-h100"}, "does not divide"},
		{[]string{"--disaggregate", "x"}, "want P:D"},
		{[]string{"--router", "random"}, "router"},
		{[]string{"--chunk-size", "0", "--max-num-batched-tokens", "100"}, "below the max model length"},
		{[]string{"-o", "csv"}, "unknown format"},
		{[]string{"--kv-scheme", "h2o", "--prefix-caching"}, "--prefix-caching cannot share prefix blocks under --kv-scheme h2o"},
		{[]string{"--kv-scheme", "paged:block=32", "--block-size", "16"}, "--block-size is 16"},
		{[]string{"--kv-scheme", "contiguous", "--kv-alloc", "paged"}, "--kv-alloc is \"paged\""},
		{[]string{"--prefix-caching", "--batching", "static"}, "needs continuous batching"},
		{[]string{"--kv-scheme", "nope"}, "--kv-scheme"},
	} {
		_, stderr, code := run(t, append([]string{"simulate"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// Under an offloading scheme a lone request costs what `estimate --offload
// --phase request` says: the scheme's run executes the prefill and one
// decode step per further token, exactly the iterations the replica
// prices with the scheme's step pricer (TTFT and E2E within 1 ns).
func TestSimulateOneRequestEqualsEstimateOffload(t *testing.T) {
	for _, tc := range []struct{ model, spec, tier string }{
		{"opt-6.7b", "zero:tier=cpu", "gpu gddr6"},
		{"opt-1.3b", "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,cpuattn=1", "cpu ddr4"},
	} {
		target := []string{"--hw", "t4-flexgen-paper", "--model", tc.model, "--offload", tc.spec}
		sim, _ := simulateJSON(t, append(target, "--engine", "device", "--num-requests", "1", "--prompt-tokens", "512", "--output-tokens", "6")...)
		est := estimateJSON(t, append(target, "--phase", "request", "--batch", "1", "--prompt", "512", "--output", "6")...)
		ttft := sim["ttft_seconds"].(map[string]any)["mean"].(float64)
		e2e := sim["e2e_seconds"].(map[string]any)["mean"].(float64)
		if math.Abs(ttft-est["ttft_seconds"].(float64)) > 1e-9 || math.Abs(e2e-est["seconds"].(float64)) > 1e-9 {
			t.Errorf("%s: simulate TTFT %.9f E2E %.9f, estimate %.9f %.9f", tc.spec, ttft, e2e, est["ttft_seconds"], est["seconds"])
		}
		if got := sim["replicas"].([]any)[0].(map[string]any)["kv_tier"]; got != tc.tier {
			t.Errorf("%s: kv_tier %v, want %s", tc.spec, got, tc.tier)
		}
		if got := sim["config"].(map[string]any)["offload"].(string); !strings.HasPrefix(got, strings.Split(tc.spec, ":")[0]) {
			t.Errorf("config.offload %q", got)
		}
	}
	if !strings.Contains(simulateHelp, "--offload") || !strings.Contains(simulateHelp, "kv_tier") {
		t.Error("--help does not explain --offload and kv_tier")
	}
}

// Schemes without a serving meaning are refused naming the flag.
func TestSimulateOffloadErrors(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"--hw t4-flexgen-paper --model opt-1.3b --offload flexgen:search=1", "--offload flexgen:search=1: search=1 chooses its own policy"},
		{"--hw dgx-a100 --model llama2-7b --offload coe", "schemes that do: accelerate"},
		{"--hw h100-sxm --model llama3-8b --offload zero", "give a system with a host tier"},
		{"--hw t4-flexgen-paper --model opt-1.3b --offload zero --preemption swap", "--preemption swap would copy"},
		{"--hw t4-flexgen-paper --model opt-1.3b --offload nosuch", "--offload: offload: unknown scheme"},
		{"--hw h200-node --model llama3-8b --host-share 2 --replicas 2", "--host-share 2: replicas share a host's CPU, memory and disks only under an offloading scheme"},
		{"--hw h200-node --model llama3-8b --offload flexgen:w=100/0/0,c=0/100/0,a=100/0/0,cpuattn=1 --host-share 2 --replicas 3", "3 replicas do not fill hosts of 2 (--host-share)"},
		{"--hw h200-node --model llama3-8b --offload flexgen:w=100/0/0,c=0/100/0,a=100/0/0,cpuattn=1 --host-share 0", "--host-share 0: must be ≥ 1"},
	} {
		_, stderr, code := run(t, append([]string{"simulate", "--num-requests", "1"}, strings.Fields(tc.args)...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q; want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// A model without attention layers serves with its state reserved per
// sequence, and a lone request equals the estimate.
func TestSimulateRecurrentEqualsEstimate(t *testing.T) {
	sim, _ := simulateJSON(t, "--model", "mamba-2.8b", "--engine", "device", "--max-model-len", "16384", "--num-requests", "1",
		"--prompt-tokens", "2048", "--output-tokens", "64")
	est := estimateJSON(t, "--model", "mamba-2.8b", "--phase", "request", "--prompt", "2048", "--output", "64")
	ttft := sim["ttft_seconds"].(map[string]any)["mean"].(float64)
	e2e := sim["e2e_seconds"].(map[string]any)["mean"].(float64)
	if math.Abs(ttft-est["ttft_seconds"].(float64)) > 1e-9 || math.Abs(e2e-est["seconds"].(float64)) > 1e-9 {
		t.Fatalf("simulate TTFT %.9f E2E %.9f, estimate %.9f %.9f", ttft, e2e, est["ttft_seconds"], est["seconds"])
	}
	if rep := sim["replicas"].([]any)[0].(map[string]any); rep["kv_block_tokens"].(float64) != 0 || rep["kv_blocks"].(float64) < 1000 {
		t.Fatalf("replica %v", rep)
	}
}

// --host-share 2 puts two offloaded replicas on one host: the JSON says so,
// every request completes, and the host's idle power counts once.
func TestSimulateHostShare(t *testing.T) {
	args := []string{"simulate", "--hw", "h200-node", "--model", "llama3-8b", "--offload", "flexgen:w=100/0/0,c=0/100/0,a=100/0/0,cpuattn=1",
		"--replicas", "2", "--num-requests", "20", "--rate", "4", "--prompt-tokens", "2000", "--output-tokens", "32", "-o", "json"}
	var res [2]struct {
		Config struct {
			HostShare int `json:"host_share"`
		} `json:"config"`
		Requests struct{ Completed int }  `json:"requests"`
		Energy   struct{ Joules float64 } `json:"energy"`
	}
	for i, share := range []string{"1", "2"} {
		out, stderr, code := run(t, append(args, "--host-share", share)...)
		if code != 0 {
			t.Fatalf("--host-share %s: exit %d: %s", share, code, stderr)
		}
		if err := json.Unmarshal([]byte(out), &res[i]); err != nil {
			t.Fatal(err)
		}
	}
	if res[0].Config.HostShare != 0 || res[1].Config.HostShare != 2 {
		t.Errorf("host_share %d and %d, want omitted and 2", res[0].Config.HostShare, res[1].Config.HostShare)
	}
	if res[0].Requests.Completed != 20 || res[1].Requests.Completed != 20 || res[1].Energy.Joules >= res[0].Energy.Joules {
		t.Errorf("completed %d / %d, energy %.0f / %.0f J: want all 20 and less energy on one host", res[0].Requests.Completed, res[1].Requests.Completed, res[0].Energy.Joules, res[1].Energy.Joules)
	}
}
