package validate

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

const offloadData = "gpu/data/h200-offload"

func compareOffloadH200(t *testing.T) *OffloadComparison {
	t.Helper()
	sys, err := hw.Load("h200-node")
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load("llama3-8b")
	if err != nil {
		t.Fatal(err)
	}
	c, err := CompareOffload(offloadData, sys, m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The committed H200 weight-streaming steps: 12 uncompressed and 12 with
// FlexGen's 4-bit weights; prefill compute over-predicted by the H200
// calibration, transfer-bound decode close.
func TestCompareOffloadH200(t *testing.T) {
	c := compareOffloadH200(t)
	for _, p := range c.Points {
		t.Logf("%-7s b=%-2d overlap=%-5v cw=%-5v %-6s measured %.4f predicted %.4f %+.1f%%", p.Phase, p.Batch, p.Overlap, p.Compressed, p.Bound, p.Measured, p.Predicted, 100*p.Error)
	}
	t.Logf("MAPE %.2f%% worst %+.2f%% (plain %.2f%% / %+.2f%%, compressed %.2f%% / %+.2f%%)", c.MAPE, c.Worst, c.MAPEPlain, c.WorstPlain, c.MAPECompressed, c.WorstCompressed)
	if len(c.Points) != 24 {
		t.Fatalf("%d points, want 24", len(c.Points))
	}
	if c.MAPEPlain > 10 || math.Abs(c.WorstPlain) > 30 || c.MAPECompressed > 15 || math.Abs(c.WorstCompressed) > 30 {
		t.Errorf("plain MAPE %.1f%% worst %+.1f%% (want ≤ 10%%, ±30%%); compressed %.1f%% / %+.1f%% (want ≤ 15%%, ±30%%)", c.MAPEPlain, c.WorstPlain, c.MAPECompressed, c.WorstCompressed)
	}
	// Llama-3-8B: 8,030,261,248 parameters × 2 bytes.
	if c.WeightBytes != 16060522496 {
		t.Errorf("weight bytes %.0f, want 16060522496", c.WeightBytes)
	}
	if c.MAPE > 15 || math.Abs(c.Worst) > 40 {
		t.Errorf("MAPE %.1f%% (want ≤ 15%%), worst %+.1f%% (want within ±40%%)", c.MAPE, c.Worst)
	}
	for _, p := range c.Points {
		if lim := map[bool]float64{false: 0.05, true: 0.10}[p.Compressed]; p.Phase == "decode" && p.Overlap && math.Abs(p.Error) > lim {
			t.Errorf("decode batch %d with overlap (cw %v): error %+.1f%%, want within %.0f%%", p.Batch, p.Compressed, 100*p.Error, 100*lim)
		}
	}
}

// Physics any link or overlap model must keep: overlapping loads with
// compute never makes a step slower, and a decode step cannot stream the
// weights faster than the fastest measured pinned copy.
func TestCompareOffloadInvariants(t *testing.T) {
	c := compareOffloadH200(t)
	var pinnedBytesPerSecond float64
	for _, cp := range c.Copies {
		if cp.Pinned {
			pinnedBytesPerSecond = math.Max(pinnedBytesPerSecond, cp.HostToDeviceBytesPerSecond)
		}
	}
	if pinnedBytesPerSecond < 50e9 || pinnedBytesPerSecond > 64e9 {
		t.Fatalf("fastest pinned copy %.3g B/s, want the measured 54.9 GB/s", pinnedBytesPerSecond)
	}
	type key struct {
		phase                  string
		batch, prompt, context int
		compressed             bool
	}
	serial := map[key]float64{}
	for _, p := range c.Points {
		if !p.Overlap {
			serial[key{p.Phase, p.Batch, p.Prompt, p.Context, p.Compressed}] = p.Predicted
		}
	}
	for _, p := range c.Points {
		// The weights' transfer at the measured pinned rate: 0.29 s, or
		// 0.28125 of it compressed.
		floor := c.WeightBytes / pinnedBytesPerSecond
		if p.Compressed {
			floor *= 0.28125
		}
		if p.Predicted < floor*(1-1e-9) {
			t.Errorf("%s batch %d: predicted %.4f s, below the %.4f s that the weights take at the measured pinned rate", p.Phase, p.Batch, p.Predicted, floor)
		}
		if p.Phase == "decode" && !p.Compressed && p.Bound != "link" {
			t.Errorf("decode batch %d: bound by %s, want link", p.Batch, p.Bound)
		}
		s, ok := serial[key{p.Phase, p.Batch, p.Prompt, p.Context, p.Compressed}]
		if p.Overlap && (!ok || p.Predicted > s) {
			t.Errorf("%s batch %d: overlapped %.4f s, serial %.4f s (present %v): overlap must not be slower", p.Phase, p.Batch, p.Predicted, s, ok)
		}
		// Where compute is substantial (the prefills of batch ≥ 8: 0.12-0.89
		// s of it beside 0.29 s of transfer), overlap hides a good part of
		// the smaller of the two; measured, it saves 0.09-0.23 s.
		if compute := s - floor; p.Overlap && compute > 0.05 && s-p.Predicted < 0.4*math.Min(floor, compute) {
			t.Errorf("%s batch %d: overlap saves %.4f s of a %.4f s serial step, want ≥ 0.4 × min(transfer %.4f, compute %.4f)",
				p.Phase, p.Batch, s-p.Predicted, s, floor, compute)
		}
		// Without overlap each unit waits for its load: the step is at
		// least the transfer plus some compute.
		if !p.Overlap && p.Predicted < floor*1.01 {
			t.Errorf("%s batch %d without overlap: %.4f s, hardly above the transfer alone (%.4f s)", p.Phase, p.Batch, p.Predicted, floor)
		}
	}
}

// Steps measured on another model shape are refused.
func TestCompareOffloadWrongShape(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"offload_link.csv", "offload_steps.csv", "offload_steps_cw.csv"} {
		b, err := os.ReadFile(filepath.Join(offloadData, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := hw.Load("h200-node")
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Load("llama2-7b")
	if err != nil {
		t.Fatal(err)
	}
	_, err = CompareOffload(dir, sys, m)
	if err == nil || !strings.Contains(err.Error(), "weight_bytes") {
		t.Fatalf("llama2-7b against Llama-3-8B steps: %v, want a weight_bytes error", err)
	}
	if _, err := CompareOffload(filepath.Join(dir, "missing"), sys, m); err == nil {
		t.Fatal("a missing directory gave no error")
	}
}
