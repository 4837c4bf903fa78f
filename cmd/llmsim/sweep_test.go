package main

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/sweep"
)

// The fast sweep evaluator must agree with llmsim estimate point by point.
func TestSweepMatchesEstimate(t *testing.T) {
	params := sweepModes()["estimate"]
	given := map[string][]string{
		"hw":              {"h100-sxm", "a100-80g-sxm", "dgx-h100"},
		"model":           {"llama3-8b", "mixtral-8x7b", "mistral-7b"},
		"dtype":           {"bf16", "fp8", "int4"},
		"eager-attention": {"false", "true"},
		"concat-kv-cache": {"false", "true"},
		"phase":           {"prefill", "decode", "request"},
		"batch":           {"1", "16"},
		"context":         {"0", "3000"},
		"prompt":          {"100"},
		"output":          {"1", "20"},
	}
	space, err := sweep.NewSpace(params, given)
	if err != nil {
		t.Fatal(err)
	}
	mode := sweep.EstimateMode(params, &sweep.Loader{})
	mk, err := mode.Prepare(space)
	if err != nil {
		t.Fatal(err)
	}
	ev := mk()
	idx := make([]int, len(space.Axes))
	out := make([]sweep.Value, len(mode.Metrics))
	col := map[string]int{}
	for i, m := range mode.Metrics {
		col[m] = i
	}
	for i := 0; i < space.Size(); i++ {
		space.Point(i, idx)
		ef := addEstimateFlags(newFlags("estimate", "", os.Stderr))
		v := func(name string) string { return space.Value(space.Axis(name), idx) }
		n := func(name string) int { x, _ := strconv.Atoi(v(name)); return x }
		ef.target.hw, ef.target.model, ef.target.weights = v("hw"), v("model"), v("dtype")
		ef.target.materialisedAttention = v("eager-attention") == "true"
		ef.target.concatKVCache = v("concat-kv-cache") == "true"
		ef.phase, ef.batch, ef.prompt, ef.context, ef.output = v("phase"), n("batch"), n("prompt"), n("context"), n("output")
		tg, err := ef.target.resolve()
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := computeEstimate(tg, *ef)
		gotErr := ev.Eval(space, idx, out)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("point %d: estimate error %v, sweep error %v", i, wantErr, gotErr)
		}
		if wantErr != nil {
			continue
		}
		for name, w := range map[string]float64{
			"seconds": want.Seconds, "ttft_seconds": want.TTFTSeconds, "tpot_seconds": want.TPOTSeconds,
			"tokens_per_second": want.TokensPerSecond, "flops": want.FLOPs, "bytes": want.Bytes,
			"kv_bytes": want.Memory.KVBytes, "activation_bytes": want.Memory.ActivationBytes, "total_bytes": want.Memory.TotalBytes,
			"joules": want.Energy.Joules, "joules_per_token": want.Energy.JoulesPerToken, "usd_per_million_tokens": want.Cost.USDPerMillionTokens,
		} {
			if g := out[col[name]].Num; math.Abs(g-w) > 1e-12*math.Abs(w) {
				t.Fatalf("point %d (%s): %s = %v, estimate says %v", i, space.Columns(), name, g, w)
			}
		}
		if out[col["bound"]].Str != want.Bound || (out[col["fits"]].Num != 0) != want.Memory.Fits || out[col["device"]].Str != want.Device {
			t.Fatalf("point %d: bound/fits/device differ", i)
		}
	}
}

// An --offload axis: every offload point of the sweep is what estimate
// --offload prints for it; the empty value is the plain estimate.
func TestSweepOffloadMatchesEstimate(t *testing.T) {
	space, ev, out, col := estimateSweep(t, map[string][]string{
		"hw": {"t4-flexgen-paper"}, "model": {"opt-6.7b"}, "phase": {"prefill", "decode", "request"},
		"batch": {"1", "4"}, "prompt": {"256"}, "context": {"300"}, "output": {"4"},
		"offload": {"", "zero:tier=cpu", "accelerate:tier=disk", "flexgen:w=50/50/0,c=0/100/0,a=100/0/0,cpuattn=1"},
	})
	idx := make([]int, len(space.Axes))
	seen := 0
	for i := 0; i < space.Size(); i++ {
		space.Point(i, idx)
		v := func(name string) string { return space.Value(space.Axis(name), idx) }
		if err := ev.Eval(space, idx, out); err != nil {
			t.Fatalf("point %d: %v", i, err)
		}
		spec := v("offload")
		ef := addEstimateFlags(newFlags("estimate", "", os.Stderr))
		ef.target.hw, ef.target.model = v("hw"), v("model")
		ef.phase, ef.prompt, ef.context, ef.output = v("phase"), 256, 300, 4
		ef.batch, _ = strconv.Atoi(v("batch"))
		tg, err := ef.target.resolve()
		if err != nil {
			t.Fatal(err)
		}
		if spec == "" {
			want, _ := computeEstimate(tg, *ef)
			if out[col["seconds"]].Num != want.Seconds {
				t.Errorf("point %d: plain estimate %v, sweep %v", i, want.Seconds, out[col["seconds"]].Num)
			}
			continue
		}
		want, err := estimateOffload(tg, *ef, spec)
		if err != nil {
			t.Fatal(err)
		}
		seen++
		for name, w := range map[string]float64{
			"seconds": want.Seconds, "ttft_seconds": want.TTFTSeconds, "tpot_seconds": want.TPOTSeconds,
			"tokens_per_second": want.TokensPerSecond, "flops": want.FLOPs, "bytes": want.Bytes,
			"weights_bytes": want.Memory.WeightsBytes, "total_bytes": want.Memory.TotalBytes,
			"joules": want.Energy.Joules, "joules_per_token": want.Energy.JoulesPerToken, "usd_per_million_tokens": want.Cost.USDPerMillionTokens,
		} {
			if g := out[col[name]].Num; g != w {
				t.Errorf("point %d (%s, %s): %s = %v, estimate --offload says %v", i, spec, v("phase"), name, g, w)
			}
		}
		if out[col["bound"]].Str != want.Bound || (out[col["fits"]].Num != 0) != want.Memory.Fits {
			t.Errorf("point %d: bound %q / fits differ from %q", i, out[col["bound"]].Str, want.Bound)
		}
	}
	if seen != 18 {
		t.Errorf("%d offload points, want 3 schemes × 3 phases × 2 batches", seen)
	}
}

// estimateSweep prepares an estimate-mode sweep over values: the space, one
// evaluator, an output row and the metric columns by name.
func estimateSweep(t *testing.T, values map[string][]string) (*sweep.Space, sweep.Evaluator, []sweep.Value, map[string]int) {
	t.Helper()
	params := sweepModes()["estimate"]
	space, err := sweep.NewSpace(params, values)
	if err != nil {
		t.Fatal(err)
	}
	mode := sweep.EstimateMode(params, &sweep.Loader{})
	mk, err := mode.Prepare(space)
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, m := range mode.Metrics {
		col[m] = i
	}
	return space, mk(), make([]sweep.Value, len(mode.Metrics)), col
}

// Tensor- and pipeline-parallel points of a sweep are `llmsim estimate
// --tp --pp` to the last bit; a split the system cannot hold is a failed
// point with estimate's reason, not a dropped one.
func TestSweepParallelMatchesEstimate(t *testing.T) {
	space, ev, out, col := estimateSweep(t, map[string][]string{
		"hw": {"dgx-h100"}, "model": {"llama3-70b"}, "phase": {"prefill", "decode", "request"},
		"batch": {"8"}, "prompt": {"1024"}, "context": {"2048"}, "output": {"16"},
		"tp": {"1", "2", "8", "16"}, "pp": {"1", "2"}, "collective": {"ring"},
	})
	idx := make([]int, len(space.Axes))
	failed := 0
	for i := 0; i < space.Size(); i++ {
		space.Point(i, idx)
		v := func(name string) string { return space.Value(space.Axis(name), idx) }
		ef := addEstimateFlags(newFlags("estimate", "", os.Stderr))
		ef.target.hw, ef.target.model, ef.target.parallelOn = v("hw"), v("model"), true
		ef.phase, ef.batch, ef.prompt, ef.context, ef.output = v("phase"), 8, 1024, 2048, 16
		ef.target.tp, _ = strconv.Atoi(v("tp"))
		ef.target.pp, _ = strconv.Atoi(v("pp"))
		ef.target.collective = "ring"
		tg, terr := ef.target.resolve()
		err := ev.Eval(space, idx, out)
		if terr != nil || err != nil {
			if terr == nil || err == nil {
				t.Errorf("point %d (tp %s, pp %s): estimate error %v, sweep error %v", i, v("tp"), v("pp"), terr, err)
			}
			failed++
			continue
		}
		want, err := computeEstimate(tg, *ef)
		if err != nil {
			t.Fatal(err)
		}
		for name, w := range map[string]float64{
			"seconds": want.Seconds, "ttft_seconds": want.TTFTSeconds, "tpot_seconds": want.TPOTSeconds,
			"tokens_per_second": want.TokensPerSecond, "flops": want.FLOPs, "bytes": want.Bytes,
			"weights_bytes": want.Memory.WeightsBytes, "kv_bytes": want.Memory.KVBytes, "total_bytes": want.Memory.TotalBytes,
			"joules": want.Energy.Joules, "usd_per_million_tokens": want.Cost.USDPerMillionTokens,
		} {
			if g := out[col[name]].Num; g != w {
				t.Errorf("point %d (tp %s, pp %s, %s): %s = %v, estimate says %v", i, v("tp"), v("pp"), v("phase"), name, g, w)
			}
		}
		if out[col["bound"]].Str != want.Bound {
			t.Errorf("point %d: bound %q, estimate %q", i, out[col["bound"]].Str, want.Bound)
		}
	}
	// TP 16 does not fit the 8 GPUs of a DGX H100 (with either PP), nor
	// does TP 8 × PP 2.
	if failed != 3*3 {
		t.Errorf("%d failed points, want 9 (tp 16 × pp 1/2 and tp 8 × pp 2, three phases)", failed)
	}
}

func TestSweepParamsAreEstimateFlags(t *testing.T) {
	var names []string
	for _, p := range sweepModes()["estimate"] {
		names = append(names, p.Name+"="+p.Default)
	}
	want := "hw=h100-sxm model=llama3-8b dtype=bf16 act-dtype= kv-dtype= kv-scheme=full eager-attention=false concat-kv-cache=false phase=decode batch=1 prompt=512 context=1024 output=128 tp=1 pp=1 collective=auto offload="
	if got := strings.Join(names, " "); got != want {
		t.Errorf("estimate sweep parameters:\n got %s\nwant %s", got, want)
	}
}

func TestSweepCLIErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "64..8"}, "--batch"},
		{[]string{"--context", "1k..x"}, "--context"},
		{[]string{"--rate", "5"}, "--rate: not a parameter of estimate sweeps"},
		{[]string{"--mode", "simulate", "--batch", "4"}, "--batch: not a parameter of simulate sweeps"},
		{[]string{"--hw", "h100-sxm,warp-drive"}, "--hw warp-drive"},
		{[]string{"--shard", "4/4"}, "--shard"},
		{[]string{"--mode", "train"}, "--mode"},
		{[]string{"--out", "x.txt"}, "--out x.txt"},
	} {
		_, stderr, code := run(t, append([]string{"sweep"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("sweep %v: exit %d, stderr %q, want it to mention %q", c.args, code, stderr, c.want)
		}
	}
}

func TestSweepFileResumeAndMerge(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "sweep.toml")
	os.WriteFile(file, []byte(`mode = "estimate"
[params]
hw = ["h100-sxm", "a100-80g-sxm"]
batch = "1..64:x4"
context = [1024, "2k"]
`), 0o644)
	all := filepath.Join(dir, "all.csv")
	if _, stderr, code := run(t, "sweep", "--file", file, "--out", all); code != 0 {
		t.Fatal(stderr)
	}
	want, _ := os.ReadFile(all)
	rows, err := csv.NewReader(strings.NewReader(string(want))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2*4*2 {
		t.Fatalf("%d rows, want header + 16", len(rows))
	}
	// Flags override the file: one batch value only.
	if out, _, _ := run(t, "sweep", "--file", file, "--batch", "8", "--dry-run"); !strings.Contains(out, "4 points") {
		t.Errorf("dry run with --batch 8: %s", out)
	}
	// Rerunning skips everything; a resumed file equals a fresh one.
	_, stderr, _ := run(t, "sweep", "--file", file, "--out", all)
	if !strings.Contains(stderr, "0 points evaluated (0 failed), 16 already done") {
		t.Errorf("rerun: %s", stderr)
	}
	var parts []string
	for k := 0; k < 3; k++ {
		p := filepath.Join(dir, "part"+strconv.Itoa(k)+".csv")
		if _, stderr, code := run(t, "sweep", "--file", file, "--shard", strconv.Itoa(k)+"/3", "--out", p); code != 0 {
			t.Fatal(stderr)
		}
		parts = append(parts, p)
	}
	merged := filepath.Join(dir, "merged.csv")
	if _, stderr, code := run(t, append([]string{"merge", "--out", merged}, parts...)...); code != 0 {
		t.Fatal(stderr)
	}
	got, _ := os.ReadFile(merged)
	if string(got) != string(want) {
		t.Error("merged shards differ from the unsharded sweep")
	}
	os.WriteFile(file, []byte("mode = \"estimate\"\n[params]\nbatchsize = 4\n"), 0o644)
	if _, stderr, _ := run(t, "sweep", "--file", file); !strings.Contains(stderr, "batchsize: not a parameter") {
		t.Errorf("unknown file parameter: %s", stderr)
	}
}

func TestSweepSimulateMode(t *testing.T) {
	out, stderr, code := run(t, "sweep", "--mode", "simulate", "--rate", "2,4", "--num-requests", "40", "-o", "csv")
	if code != 0 {
		t.Fatal(stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	h := map[string]int{}
	for i, c := range rows[0] {
		h[c] = i
	}
	for _, r := range rows[1:] {
		if r[h["error"]] != "" || r[h["completed"]] != "40" || r[h["num-requests"]] != "40" {
			t.Errorf("row %v", r)
		}
	}
}
