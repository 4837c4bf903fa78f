package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func jsonOf(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, stderr, code := run(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// --phase request under --offload is `llmsim offload` for the same work,
// printed with estimate's field names.
func TestEstimateOffloadRequestMatchesOffload(t *testing.T) {
	common := []string{"--hw", "t4-flexgen-paper", "--model", "opt-30b",
		"--offload", "flexgen:w=20/80/0,c=0/100/0,a=0/100/0,gbs=48,ngb=3,cpuattn=1", "--batch", "144", "--prompt", "512", "--output", "8", "-o", "json"}
	e := jsonOf(t, append([]string{"estimate", "--phase", "request"}, common...)...)
	o := jsonOf(t, append([]string{"offload"}, common...)...)
	for _, c := range [][2]string{{"seconds", "seconds"}, {"ttft_seconds", "prefill_seconds"}, {"tokens_per_second", "tokens_per_second"}, {"flops", "flops"}} {
		if e[c[0]] != o[c[1]] {
			t.Errorf("estimate %s = %v, offload %s = %v", c[0], e[c[0]], c[1], o[c[1]])
		}
	}
	// TPOT is the decode time over the 7 decode steps.
	if tpot, dec := e["tpot_seconds"].(float64), o["decode_seconds"].(float64); math.Abs(tpot*7-dec) > 1e-9*dec {
		t.Errorf("tpot %v × 7 != decode %v", tpot, dec)
	}
	oe := o["energy"].(map[string]any)
	if ee := e["energy"].(map[string]any); ee["joules"] != oe["joules"] || ee["joules_per_token"] != oe["joules_per_token"] {
		t.Errorf("energy %v vs offload %v", ee, oe)
	}
	if c := e["cost"].(map[string]any); c["usd_per_million_tokens"] != oe["usd_per_million_tokens"] {
		t.Errorf("cost %v vs offload %v", c, oe["usd_per_million_tokens"])
	}
	mem := e["memory"].(map[string]any)
	if mem["fits"] != true || mem["capacity_bytes"].(float64) != 16*(1<<30) {
		// The T4's 16 GiB; tiers net of the device reserve are in offload.tiers.
		t.Logf("memory %v", mem)
	}
	off := e["offload"].(map[string]any)
	if off["scheme"] != o["scheme"] || len(off["tiers"].([]any)) != 3 || len(off["resources"].([]any)) != 6 {
		t.Errorf("offload object %v", off)
	}
	if e["bound"] != "device" || off["busiest"] != "gpu" {
		// At 8 output tokens the prefill of 144 × 512 tokens keeps the T4
		// busier than the host's attention.
		t.Errorf("bound %v, busiest %v, want device / gpu", e["bound"], off["busiest"])
	}
}

// A ZeRO-Inference decode step of OPT-6.7B fetches all 13.3 GB of bf16
// weights over PCIe 3.0 (16 GB/s × 0.865) at ZeRO's 0.65 of it — 1.48 s —
// and computes each layer after its fetch; --phase decode executes that
// step, the decode step of `llmsim offload --output 2`.
func TestEstimateOffloadDecodeByHand(t *testing.T) {
	e := jsonOf(t, "estimate", "--hw", "t4-flexgen-paper", "--model", "opt-6.7b", "--offload", "zero:tier=cpu",
		"--phase", "decode", "--batch", "16", "--context", "512", "-o", "json")
	fetch := 2 * 6658465792 / (16e9 * 0.865 * 0.65)
	sec := e["seconds"].(float64)
	if sec < fetch || sec > 1.1*fetch {
		t.Errorf("decode step %.4g s, want the %.4g s weight fetch plus under 10%% of compute", sec, fetch)
	}
	if tps := e["tokens_per_second"].(float64); math.Abs(tps*sec-16) > 1e-9 {
		t.Errorf("tokens/s × seconds = %v, want the batch of 16", tps*sec)
	}
	if e["bound"] != "link" {
		t.Errorf("bound %v, want link", e["bound"])
	}
	o := jsonOf(t, "offload", "--hw", "t4-flexgen-paper", "--model", "opt-6.7b", "--offload", "zero:tier=cpu",
		"--batch", "16", "--prompt", "512", "--output", "2", "-o", "json")
	if dec := o["decode_seconds"].(float64); dec != sec {
		t.Errorf("estimate decode %v s, offload's decode step %v s", sec, dec)
	}
}

func TestEstimateOffloadErrors(t *testing.T) {
	// A GPU and its host, no storage.
	noDisk := filepath.Join(t.TempDir(), "gpu-host.toml")
	if err := os.WriteFile(noDisk, []byte(`name = "gpu-host"
host = "cpu"
accelerator = "gpu"

[[device]]
name = "gpu"
use = "t4"
count = 1

[[device]]
name = "cpu"
use = "n1-highmem-32-torch"
count = 1

[[link]]
name = "pcie"
between = ["gpu", "cpu"]
bytes_per_second = 16e9
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--offload", "nope"}, `--offload: offload: unknown scheme "nope"`},
		{[]string{"--hw", "h100-sxm", "--model", "opt-30b", "--offload", "flexgen:w=20/80/0,c=0/100/0,a=0/100/0", "--phase", "request"}, "needs a host CPU"},
		{[]string{"--hw", noDisk, "--model", "opt-6.7b", "--offload", "flexgen:w=0/50/50"}, "no ssd or flash"},
		{[]string{"--hw", "dgx-h100", "--offload", "gpu", "--tp", "2"}, "not combined with --tp/--pp"},
		{[]string{"--hw", "t4-flexgen-paper", "--model", "opt-6.7b", "--offload", "gpu", "-o", "csv"}, "-o csv"},
		{[]string{"--hw", "t4-flexgen-paper", "--model", "opt-6.7b", "--offload", "flexgen:search=1", "--phase", "decode"}, "flexgen:search=1"},
	} {
		_, stderr, code := run(t, append([]string{"estimate"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
	out, stderr, _ := run(t, "estimate", "--help")
	if help := out + stderr; !strings.Contains(help, "--offload") || !strings.Contains(help, "busiest") {
		t.Error("estimate --help does not document --offload and its output")
	}
}
