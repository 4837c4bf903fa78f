package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

const offloadDataDir = "../../validate/gpu/data/h200-offload"

// validate --offload reproduces the committed H200 weight-streaming
// comparison, and each prediction is what estimate --offload prints.
func TestValidateOffloadCLI(t *testing.T) {
	var out bytes.Buffer
	args := []string{"--offload", offloadDataDir, "--hw", "h200-node", "--model", "llama3-8b", "-o", "json"}
	if err := runValidate(args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Hardware    string  `json:"hardware"`
		Model       string  `json:"model"`
		WeightBytes float64 `json:"weight_bytes"`
		Points      []struct {
			Phase     string  `json:"phase"`
			Batch     int     `json:"batch"`
			Overlap   bool    `json:"overlap"`
			Scheme    string  `json:"scheme"`
			Measured  float64 `json:"measured_seconds"`
			Predicted float64 `json:"predicted_seconds"`
			Error     float64 `json:"error"`
		} `json:"points"`
		MAPE   float64 `json:"mape_percent"`
		Worst  float64 `json:"worst_percent"`
		Copies []struct {
			Pinned bool `json:"pinned"`
		} `json:"copies"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Hardware != "h200-node" || rep.Model != "llama3-8b" || rep.WeightBytes != 16060522496 {
		t.Errorf("hardware %q, model %q, weight bytes %.0f", rep.Hardware, rep.Model, rep.WeightBytes)
	}
	if len(rep.Points) != 24 || len(rep.Copies) != 8 {
		t.Fatalf("%d points and %d copies, want 24 (12 fp16, 12 4-bit) and 8", len(rep.Points), len(rep.Copies))
	}
	var sum float64
	for _, p := range rep.Points {
		if d := p.Predicted/p.Measured - 1 - p.Error; math.Abs(d) > 1e-12 {
			t.Errorf("%s batch %d: error %g is not predicted/measured - 1", p.Phase, p.Batch, p.Error)
		}
		sum += math.Abs(p.Error)
	}
	if d := 100*sum/24 - rep.MAPE; math.Abs(d) > 1e-9 || rep.MAPE > 15 || math.Abs(rep.Worst) > 40 {
		t.Errorf("MAPE %g%% (mean of the points %g%%), worst %g%%", rep.MAPE, 100*sum/24, rep.Worst)
	}

	// The prefill point with the largest error, priced by estimate.
	p := rep.Points[5]
	if p.Phase != "prefill" || p.Batch != 32 || !p.Overlap {
		t.Fatalf("point 5 is %s batch %d overlap %v, want the committed order", p.Phase, p.Batch, p.Overlap)
	}
	out.Reset()
	est := []string{"--hw", "h200-node", "--model", "llama3-8b", "--phase", "prefill", "--batch", "32",
		"--prompt", "512", "--context", "512", "--offload", p.Scheme, "-o", "json"}
	if err := runEstimate(est, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Seconds float64 `json:"seconds"`
	}
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.Seconds != p.Predicted {
		t.Errorf("estimate --offload %s: %g s, validate predicted %g s", p.Scheme, e.Seconds, p.Predicted)
	}
}

func TestValidateOffloadTable(t *testing.T) {
	var out bytes.Buffer
	if err := runValidate([]string{"--offload", offloadDataDir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"llama3-8b on h200-node", "phase", "decode", "24 points", "MAPE", "worst", "4-bit weights: MAPE"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
}

func TestValidateOffloadErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "no-such-run")
	err := runValidate([]string{"--offload", bad}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("missing directory: %v, want an error naming %s", err, bad)
	}
	for _, other := range [][]string{{"--serving", "x"}, {"--engine", "cpu"}} {
		err := runValidate(append([]string{"--offload", offloadDataDir}, other...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--offload") || !strings.Contains(err.Error(), other[0]) {
			t.Errorf("--offload with %s: %v, want an error naming both flags", other[0], err)
		}
	}
}
