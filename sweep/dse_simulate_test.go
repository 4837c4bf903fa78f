package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/llmsim/llmsim/hw"
)

// fakeSimulator stands for llmsim simulate with a server whose arithmetic
// can be checked by hand: TPOT is 1e11 B / the variant's bandwidth
// (0.02985 s on an H100's 3.35e12 B/s), goodput is --rate / --max-num-seqs
// (default 8), --max-num-seqs 1 rejects 5 of the 10 requests and 99 fails.
// It records the arguments of every call.
type fakeSimulator struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeSimulator) simulator() *DSESimulator {
	params := []Param{{Name: "rate", Kind: Float, Default: "10"}, {Name: "max-num-seqs", Kind: Int, Default: "8"},
		{Name: "tp", Kind: Int, Default: "1"}, {Name: "offload", Kind: String}}
	for _, n := range targetAxes { // simulate's flags include the target's
		params = append(params, Param{Name: n, Kind: kindOf(n)})
	}
	return &DSESimulator{
		Params:  params,
		Metrics: []string{"usd_per_hour", "completed", "rejected", "tpot_mean_seconds", "goodput_requests_per_second"},
		Run: func(sys *hw.System, args []string, out []Value) error {
			f.mu.Lock()
			f.calls = append(f.calls, strings.Join(args, " "))
			f.mu.Unlock()
			rate, seqs := 10.0, 8.0
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "--rate="); ok {
					rate, _ = strconv.ParseFloat(v, 64)
				}
				if v, ok := strings.CutPrefix(a, "--max-num-seqs="); ok {
					seqs, _ = strconv.ParseFloat(v, 64)
				}
			}
			if seqs == 99 {
				return errors.New("boom")
			}
			dev := sys.Primary().Device
			rejected := 0.0
			if seqs == 1 {
				rejected = 5
			}
			vals := []float64{dev.Price.USDPerHour, 10 - rejected, rejected, 1e11 / dev.Memory[0].BytesPerSecond, rate / seqs}
			for i, v := range vals {
				out[i] = Number(v)
			}
			return nil
		},
	}
}

func readDSEText(t *testing.T, text string) (*DSESpec, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dse.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return ReadDSE(path)
}

func runSimDSE(t *testing.T, text string, sim *DSESimulator) (*DSE, []map[string]any) {
	t.Helper()
	spec, err := readDSEText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDSEWith(spec, &Loader{}, sim)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := d.Run(context.Background(), &buf, Options{Format: JSONL, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return d, rows
}

// Each (variant, rate) point is simulated once, on the variant's system,
// with the target flags and the [simulate] keys; the rate list is an axis.
func TestDSESimulateVariantsAndArgs(t *testing.T) {
	fake := &fakeSimulator{}
	d, rows := runSimDSE(t, `
mode = "simulate"
objectives = ["tpot_mean", "goodput", "price"]
[simulate]
rate = [5, 10]
[[knob]]
name = "memory.bandwidth"
scale = [1, 2]
price_exponent = 1
`, fake.simulator())
	if len(rows) != 4 || len(fake.calls) != 4 {
		t.Fatalf("%d points, %d simulations; want 4 and 4 (one each)", len(rows), len(fake.calls))
	}
	want0 := "--hw=h100-sxm --model=llama3-8b --dtype=bf16 --act-dtype= --kv-dtype= --kv-scheme=full --eager-attention=false --concat-kv-cache=false --rate=5"
	found := false
	for _, c := range fake.calls {
		found = found || c == want0
	}
	if !found {
		t.Errorf("no simulation ran with %q; calls %q", want0, fake.calls)
	}
	base, _ := (&Loader{}).Hardware("h100-sxm")
	price := base.Primary().Device.Price.USDPerHour
	for i, r := range rows {
		scale := float64(1 + i/2) // the knob varies slowest
		if got, want := r["tpot_mean_seconds"].(float64), 1e11/(3.35e12*scale); got != want {
			t.Errorf("point %d: TPOT %v, want %v", i, got, want)
		}
		if got := r["usd_per_hour"].(float64); got != price*scale {
			t.Errorf("point %d: price %v, want %v × %v", i, got, price, scale)
		}
		if got, want := r["rate"].(float64), float64(5*(1+i%2)); got != want {
			t.Errorf("point %d: rate column %v, want %v", i, got, want)
		}
		// Rate 10 beats rate 5 on goodput at the same TPOT and price.
		if front := r["pareto"].(bool); front != (i%2 == 1) {
			t.Errorf("point %d: pareto %v", i, front)
		}
	}
	if d.FrontSize() != 2 {
		t.Errorf("front of %d points, want 2", d.FrontSize())
	}
}

// A simulation that rejects requests stays off the front unless
// allow_overflow; one that fails is a point with its error.
func TestDSESimulateFeasibility(t *testing.T) {
	for _, allow := range []bool{false, true} {
		text := "mode = \"simulate\"\nallow_overflow = " + strconv.FormatBool(allow) + `
objectives = ["goodput", "price"]
[simulate]
max-num-seqs = [1, 8, 99]
[[knob]]
name = "memory.bandwidth"
scale = [1]
`
		_, rows := runSimDSE(t, text, (&fakeSimulator{}).simulator())
		// max-num-seqs 1: goodput 10 with 5 rejections; 8: goodput 1.25.
		if rows[0]["pareto"].(bool) != allow || rows[1]["pareto"].(bool) != !allow {
			t.Errorf("allow_overflow %v: pareto %v, %v", allow, rows[0]["pareto"], rows[1]["pareto"])
		}
		if rows[2]["error"] != "boom" || rows[2]["pareto"] != nil {
			t.Errorf("failed simulation: error %v, pareto %v", rows[2]["error"], rows[2]["pareto"])
		}
	}
}

func TestDSESimulateErrors(t *testing.T) {
	knob := "\n[[knob]]\nname = \"memory.bandwidth\"\nscale = [1]\n"
	sim := (&fakeSimulator{}).simulator()
	for _, c := range []struct{ text, want string }{
		{"mode = \"simulate\"\nobjectives = [\"goodput\"]\n[simulate]\nrat = 2", "[simulate] rat: unknown key"},
		{"mode = \"simulate\"\nobjectives = [\"goodput\"]\n[simulate]\nmodel = \"opt-1.3b\"", "[simulate] model: give it at the top level"},
		{"mode = \"simulate\"\ntp = 2\nobjectives = [\"goodput\"]\n[simulate]\ntp = [1, 2]", "[simulate] tp: also given at the top level"},
		{"mode = \"simulate\"\nobjectives = [\"latency\"]", "latency is an objective of estimate mode, not of simulate mode"},
		{"objectives = [\"ttft_p99\"]", "ttft_p99 is an objective of simulate mode, not of estimate mode"},
		{"mode = \"simulate\"\nobjectives = [\"goodput\"]\n[workload]\nbatch = 8", "[workload]: estimate mode's work"},
		{"objectives = [\"latency\"]\n[simulate]\nrate = 2", `[simulate]: llmsim simulate flags need mode = "simulate"`},
		{"mode = \"serve\"\nobjectives = [\"latency\"]", `unknown mode "serve"`},
	} {
		spec, err := readDSEText(t, c.text+knob)
		if err == nil {
			_, err = NewDSEWith(spec, &Loader{}, sim)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
	spec, err := readDSEText(t, "mode = \"simulate\"\nobjectives = [\"goodput\"]"+knob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDSE(spec, &Loader{}); err == nil {
		t.Error("simulate mode without a simulator accepted")
	}
}
