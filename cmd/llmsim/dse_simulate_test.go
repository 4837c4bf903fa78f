package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/configs"
)

// dseSimFile is a simulate-mode DSE over the H100's memory bandwidth: a
// Llama-3-8B served at 20 requests/s, 512-token prompts and 256-token
// outputs, against a 10 ms TPOT SLO.
const dseSimFile = `mode = "simulate"
hw = "h100-sxm"
model = "llama3-8b"
objectives = ["goodput", "tpot_mean", "price"]
[simulate]
rate = 20
num-requests = 100
slo-ttft = 0.5
slo-tpot = 0.01
[[knob]]
name = "memory.bandwidth"
scale = [1, 2]
price_exponent = 0.5
`

var dseSimFlags = []string{"--rate", "20", "--num-requests", "100", "--slo-ttft", "0.5", "--slo-tpot", "0.01", "-o", "json"}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func dseRows(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, stderr, code := run(t, append(append([]string{"dse"}, args...), "-o", "jsonl")...)
	if code != 0 {
		t.Fatal(stderr)
	}
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if e := r["error"].(string); e != "" {
			t.Fatalf("point %v: %s", r["index"], e)
		}
		rows = append(rows, r)
	}
	return rows
}

// simulateFields are DSE columns and where llmsim simulate -o json has them.
var simulateFields = map[string]string{
	"duration_seconds": "duration_seconds", "completed": "requests.completed", "rejected": "requests.rejected",
	"ttft_mean_seconds": "ttft_seconds.mean", "ttft_p99_seconds": "ttft_seconds.p99",
	"tpot_mean_seconds": "tpot_seconds.mean", "tpot_p99_seconds": "tpot_seconds.p99", "e2e_p99_seconds": "e2e_seconds.p99",
	"output_tokens_per_second": "throughput.output_tokens_per_second", "goodput_requests_per_second": "goodput.requests_per_second",
	"attainment": "goodput.attainment", "joules_per_output_token": "energy.joules_per_output_token",
	"usd_per_million_output_tokens": "cost.usd_per_million_output_tokens",
}

// sameAsSimulate checks a DSE point against llmsim simulate with args.
func sameAsSimulate(t *testing.T, row map[string]any, args ...string) {
	t.Helper()
	out, stderr, code := run(t, append([]string{"simulate"}, args...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	var sim map[string]any
	if err := json.Unmarshal([]byte(out), &sim); err != nil {
		t.Fatal(err)
	}
	for col, path := range simulateFields {
		var v any = sim
		for _, k := range strings.Split(path, ".") {
			v = v.(map[string]any)[k]
		}
		if v == nil || row[col] != v {
			t.Errorf("point %v: %s = %v, llmsim simulate %s says %v", row["index"], col, row[col], strings.Join(args, " "), v)
		}
	}
}

// Doubling the HBM bandwidth of a memory-bound decode roughly halves TPOT
// (13.4 → 7.5 ms): the 10 ms TPOT SLO goes from met by no request to met
// by all. Each point is exactly llmsim simulate with the same flags on the
// variant: the base on h100-sxm, the other on an H100 TOML with the
// bandwidth doubled and the price × √2 (price_exponent 0.5).
func TestDSESimulateMatchesSimulate(t *testing.T) {
	rows := dseRows(t, writeTemp(t, "hbm.toml", dseSimFile))
	if len(rows) != 2 {
		t.Fatalf("%d points, want 2", len(rows))
	}
	sameAsSimulate(t, rows[0], append([]string{"--hw", "h100-sxm", "--model", "llama3-8b"}, dseSimFlags...)...)

	price := rows[1]["usd_per_hour"].(float64)
	if want := 12.29 * math.Sqrt2; math.Abs(price-want) > 1e-12*want || rows[0]["usd_per_hour"] != 12.29 {
		t.Errorf("usd_per_hour %v, %v; want 12.29 and 12.29 × √2 = %v", rows[0]["usd_per_hour"], price, want)
	}
	base, err := configs.FS.ReadFile("hw/h100-sxm.toml")
	if err != nil {
		t.Fatal(err)
	}
	variant := strings.Replace(string(base), "bytes_per_second = 3.35e12", "bytes_per_second = 6.7e12", 1)
	variant = strings.Replace(variant, "usd_per_hour = 12.29", "usd_per_hour = "+strconv.FormatFloat(price, 'g', -1, 64), 1)
	if variant == string(base) {
		t.Fatal("h100-sxm.toml changed: the test cannot find its bandwidth and price lines")
	}
	sameAsSimulate(t, rows[1], append([]string{"--hw", writeTemp(t, "h100-2x.toml", variant), "--model", "llama3-8b"}, dseSimFlags...)...)

	tpot0, tpot1 := rows[0]["tpot_mean_seconds"].(float64), rows[1]["tpot_mean_seconds"].(float64)
	if !(tpot1 < tpot0 && tpot1 > tpot0/2) {
		t.Errorf("mean TPOT %v s → %v s with 2× bandwidth: want lower, not below half", tpot0, tpot1)
	}
	if rows[0]["attainment"] != 0.0 || rows[1]["attainment"] != 1.0 {
		t.Errorf("attainment of the 10 ms TPOT SLO: %v, %v; want 0 and 1", rows[0]["attainment"], rows[1]["attainment"])
	}
	// The cheaper variant has worse goodput: both are on the front.
	if rows[0]["pareto"] != true || rows[1]["pareto"] != true {
		t.Errorf("pareto %v, %v; want both", rows[0]["pareto"], rows[1]["pareto"])
	}
}

// tp passes through as simulate --tp: two GPUs per replica, both paid for,
// and the base point is simulate --hw dgx-h100 --tp 2.
func TestDSESimulateTensorParallel(t *testing.T) {
	rows := dseRows(t, writeTemp(t, "tp.toml", `mode = "simulate"
hw = "dgx-h100"
model = "llama3-8b"
tp = 2
objectives = ["tpot_mean", "price"]
[simulate]
rate = 20
num-requests = 50
[[knob]]
name = "link.bandwidth"
scale = [1, 4]
`))
	sameAsSimulate(t, rows[0], "--hw", "dgx-h100", "--tp", "2", "--rate", "20", "--num-requests", "50", "-o", "json")
	for _, r := range rows {
		if r["gpus"] != 2.0 || r["tp"] != 2.0 || r["usd_per_hour"] != 2*12.29 {
			t.Errorf("point %v: gpus %v, tp %v, usd_per_hour %v; want 2, 2, 2 × 12.29", r["index"], r["gpus"], r["tp"], r["usd_per_hour"])
		}
	}
	if !(rows[1]["tpot_mean_seconds"].(float64) < rows[0]["tpot_mean_seconds"].(float64)) {
		t.Errorf("mean TPOT %v → %v with a 4× NVLink: the all-reduces must get faster", rows[0]["tpot_mean_seconds"], rows[1]["tpot_mean_seconds"])
	}
}

// Same file, same bytes: one worker or two, the output file and the
// printed front are identical.
func TestDSESimulateDeterministic(t *testing.T) {
	path := writeTemp(t, "hbm.toml", strings.Replace(dseSimFile, "rate = 20", "rate = [10, 20]", 1))
	var outs [][]byte
	var fronts []string
	for _, workers := range []string{"1", "2"} {
		csv := filepath.Join(t.TempDir(), "dse.csv")
		stdout, stderr, code := run(t, "dse", path, "--out", csv, "--workers", workers)
		if code != 0 {
			t.Fatal(stderr)
		}
		b, _ := os.ReadFile(csv)
		outs, fronts = append(outs, b), append(fronts, stdout)
	}
	if lines := bytes.Count(outs[0], []byte("\n")); lines != 5 {
		t.Errorf("%d lines, want a header and 4 points", lines)
	}
	if !bytes.Equal(outs[0], outs[1]) || fronts[0] != fronts[1] {
		t.Errorf("two runs differ:\n%s\n%s", outs[0], outs[1])
	}
	if !strings.Contains(fronts[0], "dse: 4 points (0 failed)") {
		t.Errorf("summary: %s", fronts[0])
	}
}

// Errors name the file and the key or objective.
func TestDSESimulateFileErrors(t *testing.T) {
	knob := "\n[[knob]]\nname = \"memory.bandwidth\"\nscale = [1]\n"
	for _, c := range []struct{ text, want string }{
		{"mode = \"simulate\"\nobjectives = [\"goodput\"]\n[simulate]\nratee = 20", "[simulate] ratee: unknown key"},
		{"objectives = [\"goodput\"]", "goodput is an objective of simulate mode, not of estimate mode"},
		{"mode = \"simulate\"\nobjectives = [\"memory\"]", "memory is an objective of estimate mode, not of simulate mode"},
	} {
		path := writeTemp(t, "bad.toml", c.text+knob)
		_, stderr, code := run(t, "dse", path)
		if code == 0 || !strings.Contains(stderr, path+": ") || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, %s; want the file and %q", c.text, code, stderr, c.want)
		}
	}
}
