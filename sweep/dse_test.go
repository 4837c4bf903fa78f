package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeDSE(t *testing.T, text string) *DSESpec {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dse.toml")
	os.WriteFile(path, []byte(text), 0o644)
	spec, err := ReadDSE(path)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestDSEFrontHandExample(t *testing.T) {
	// Twice the bandwidth at the lowest price is faster and cheaper than
	// every other variant: it alone is on the (latency, price) front.
	spec := writeDSE(t, `
hw = "h100-sxm"
objectives = ["latency", "price"]
[workload]
phase = "decode"
batch = 8
[[knob]]
name = "memory.bandwidth"
scale = [1, 2]
[[knob]]
name = "price"
values = [1, 2, 4]
`)
	d, err := NewDSE(spec, &Loader{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := d.Run(context.Background(), &buf, Options{Format: JSONL}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 || d.FrontSize() != 1 {
		t.Fatalf("%d points, front %d; want 6 and 1", len(lines), d.FrontSize())
	}
	var lat []float64
	for _, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		lat = append(lat, r["seconds"].(float64))
		front := r["pareto"].(bool)
		want := r["price"].(float64) == 1 && r["memory.bandwidth"].(float64) == 2*3.35e12
		if front != want || r["usd_per_hour"].(float64) != r["price"].(float64) {
			t.Errorf("point %v: pareto %v, want %v", r["key"], front, want)
		}
	}
	// Points 0-2 have the base bandwidth, 3-5 twice it: decode is memory-bound.
	if !(lat[3] < lat[0] && lat[3] > lat[0]/2) {
		t.Errorf("doubling bandwidth: %v s → %v s, want faster but not below half", lat[0], lat[3])
	}
}

func TestDSEPriceExponentAndErrors(t *testing.T) {
	spec := writeDSE(t, `
objectives = ["cost"]
[[knob]]
name = "memory.bandwidth"
scale = [4]
price_exponent = 0.5
`)
	d, err := NewDSE(spec, &Loader{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	d.Run(context.Background(), &buf, Options{Format: JSONL})
	var r map[string]any
	json.Unmarshal(buf.Bytes(), &r)
	base, _ := (&Loader{}).Hardware("h100-sxm")
	if want := 2 * base.Primary().Device.Price.USDPerHour; r["usd_per_hour"].(float64) != want {
		t.Errorf("price with 4× bandwidth and exponent 0.5 = %v, want %v", r["usd_per_hour"], want)
	}
	for _, c := range []struct{ text, want string }{
		{"objectives = [\"speed\"]\n[[knob]]\nname = \"price\"\nvalues = [1]", `unknown objective "speed"`},
		{"objectives = [\"cost\"]\n[[knob]]\nname = \"hbm\"\nvalues = [1]", `unknown knob "hbm"`},
		{"objectives = [\"cost\"]\n[[knob]]\nname = \"pim.banks\"\nvalues = [8]", "has no [pim] section"},
		{"objectives = [\"cost\"]\n[[knob]]\nname = \"price\"\nscale = \"4..1:x2\"", "reversed range"},
	} {
		path := filepath.Join(t.TempDir(), "x.toml")
		os.WriteFile(path, []byte(c.text), 0o644)
		spec, err := ReadDSE(path)
		if err == nil {
			_, err = NewDSE(spec, &Loader{})
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
}

// With tp the points are tensor-parallel estimates, so the GPU-GPU link is
// on the critical path: a faster NVLink knob shortens the step by the
// collectives' saving and nothing else, and the deployment's price is the
// four GPUs'.
func TestDSELinkKnobUnderTP(t *testing.T) {
	spec := writeDSE(t, `
hw = "dgx-h100"
model = "llama3-70b"
tp = 4
objectives = ["latency", "price"]
[workload]
phase = "decode"
batch = 16
context = 2048
[[knob]]
name = "link.bandwidth"
scale = [1, 4]
`)
	d, err := NewDSE(spec, &Loader{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := d.Run(context.Background(), &buf, Options{Format: JSONL}); err != nil {
		t.Fatal(err)
	}
	var secs, price []float64
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if e, _ := r["error"].(string); e != "" {
			t.Fatal(e)
		}
		secs, price = append(secs, r["seconds"].(float64)), append(price, r["usd_per_hour"].(float64))
	}
	if len(secs) != 2 || !(secs[1] < secs[0]) {
		t.Fatalf("latency %v: a 4× faster link must shorten a TP-4 step", secs)
	}
	tg, err := (&Loader{}).Resolve(TargetSpec{HW: "dgx-h100", Model: "llama3-70b", Weights: "bf16", KVScheme: "full"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParallelEstimate(tg, Split{TP: 4, PP: 1}, Work{Phase: "decode", Batch: 16, Prompt: 512, Context: 2048, Output: 128})
	if err != nil {
		t.Fatal(err)
	}
	if secs[0] != want.Seconds {
		t.Errorf("scale-1 point %v s, estimate --tp 4 says %v", secs[0], want.Seconds)
	}
	if price[0] != 4*tg.Device.Price.USDPerHour {
		t.Errorf("price %v $/h, want 4 GPUs × %v", price[0], tg.Device.Price.USDPerHour)
	}
	if _, err := NewDSE(&DSESpec{HW: "dgx-h100", Model: "llama3-8b", TP: 2, Offload: "zero:tier=cpu", Objectives: []string{"latency"}}, &Loader{}); err == nil {
		t.Error("offload with tp accepted")
	}
}

// concat-kv-cache in a DSE file prices the points as estimate
// --concat-kv-cache does: the cache copy makes a long-context decode slower.
func TestDSEConcatKVCache(t *testing.T) {
	run := func(concat string) float64 {
		spec := writeDSE(t, `
hw = "h100-sxm"
concat-kv-cache = `+concat+`
objectives = ["latency"]
[workload]
phase = "decode"
batch = 16
context = 4096
[[knob]]
name = "memory.bandwidth"
scale = [1]
`)
		d, err := NewDSE(spec, &Loader{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := d.Run(context.Background(), &buf, Options{Format: JSONL}); err != nil {
			t.Fatal(err)
		}
		var r map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &r); err != nil {
			t.Fatal(err)
		}
		if r["concat-kv-cache"] != (concat == "true") {
			t.Errorf("column concat-kv-cache = %v, want %s", r["concat-kv-cache"], concat)
		}
		return r["seconds"].(float64)
	}
	if off, on := run("false"), run("true"); !(on > off) {
		t.Errorf("decode %v s with the concatenating cache, %v s without: want slower", on, off)
	}
}
