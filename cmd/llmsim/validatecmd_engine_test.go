package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateEngineQuick is the CI run of the CPU-engine validation: it
// calibrates this host (quick), runs the engine over the quick validation
// grid, and checks the documented JSON, the split and a bound loose enough
// for a shared, loaded 2-core machine yet tight enough to catch a broken
// cost model (a dropped op, or FLOPs or bytes off by 2×, cannot fit all
// points within it after calibration). One thread: on a machine where other
// processes take the second core, a two-thread engine waits on its slowest
// worker and its timings stop saying anything about the model.
func TestValidateEngineQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CPU engine for ~20 s")
	}
	plot := filepath.Join(t.TempDir(), "steps.svg")
	saved := filepath.Join(t.TempDir(), "steps.json")
	out, stderr, code := run(t, "validate", "--engine", "cpu", "--quick", "--threads", "1", "-o", "json", "--plot", plot, "--save-steps", saved)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The timings are of this machine, which `go test ./...` shares with
	// other packages' tests: once in CI a quick run saw 35.9% where runs
	// alone see ~3%. A run over the bound is repeated once; a broken cost
	// model misses both.
	if m := quickMAPE(t, out); m >= 35 {
		t.Logf("quick validation at %.1f%% MAPE (machine busy?); running it again", m)
		if out, stderr, code = run(t, "validate", "--engine", "cpu", "--quick", "--threads", "1", "-o", "json", "--plot", plot, "--save-steps", saved); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	type point struct {
		Model      string  `json:"model"`
		Phase      string  `json:"phase"`
		Batch      int     `json:"batch"`
		Tokens     int     `json:"tokens"`
		MeasuredS  float64 `json:"measured_s"`
		PredictedS float64 `json:"predicted_s"`
	}
	var r struct {
		Points            []point            `json:"points"`
		StepMAPE          *float64           `json:"step_mape"`
		StepWorst         *float64           `json:"step_worst"`
		OpMAPE            map[string]float64 `json:"op_mape"`
		CalibrationPoints []point            `json:"calibration_points"`
		ValidationPoints  []point            `json:"validation_points"`
		Seconds           float64            `json:"seconds"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.StepMAPE == nil || r.StepWorst == nil || len(r.Points) == 0 || len(r.OpMAPE) == 0 {
		t.Fatalf("JSON lacks points, step_mape, step_worst or op_mape:\n%s", out)
	}
	t.Logf("quick validation: %d points, step MAPE %.1f%%, worst %+.1f%%, %.0f s", len(r.Points), *r.StepMAPE, *r.StepWorst, r.Seconds)
	if *r.StepMAPE >= 35 {
		t.Errorf("step MAPE %.1f%% on the quick validation grid, want < 35%%:\n%s", *r.StepMAPE, stderr)
	}
	if r.Seconds >= 60 {
		t.Errorf("quick validation took %.0f s, want < 60 s", r.Seconds)
	}
	// The ops every dense decoder step runs are all priced.
	for _, op := range []string{"embed", "attn_norm", "qkv", "rope", "attn", "o_proj", "residual", "mlp_norm", "gate_up", "act", "down", "lm_head", "sample", "experts", "router"} {
		if _, ok := r.OpMAPE[op]; !ok {
			t.Errorf("op_mape lacks %q", op)
		}
	}
	if len(r.CalibrationPoints) == 0 || len(r.ValidationPoints) != len(r.Points) {
		t.Fatalf("%d calibration points, %d validation points for %d points", len(r.CalibrationPoints), len(r.ValidationPoints), len(r.Points))
	}
	calModels := map[string]bool{}
	for _, p := range r.CalibrationPoints {
		calModels[p.Model] = true
		if p.MeasuredS <= 0 {
			t.Errorf("calibration point %+v has no time", p)
		}
	}
	for _, p := range r.Points {
		if calModels[p.Model] {
			t.Errorf("validation point %+v uses a calibration model", p)
		}
		if p.MeasuredS <= 0 || p.PredictedS <= 0 {
			t.Errorf("point %+v: times must be positive", p)
		}
	}
	svg, err := os.ReadFile(plot)
	if err != nil || !strings.Contains(string(svg), "<svg") {
		t.Errorf("plot %s: %v (%d bytes)", plot, err, len(svg))
	}
	// Refitting on the saved steps runs no engine and prices the same
	// measurements.
	out, stderr, code = run(t, "validate", "--engine", "cpu", "--load-steps", saved, "--refit", "--hw", "dev-host-calibrated", "-o", "json")
	if code != 0 {
		t.Fatalf("--load-steps --refit: exit %d: %s", code, stderr)
	}
	var re struct {
		Points   []point `json:"points"`
		StepMAPE float64 `json:"step_mape"`
	}
	if err := json.Unmarshal([]byte(out), &re); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(re.Points) != len(r.Points) || re.StepMAPE >= 35 {
		t.Fatalf("refit on saved steps: %d points (want %d), step MAPE %.1f%%", len(re.Points), len(r.Points), re.StepMAPE)
	}
	for i, p := range re.Points {
		if p.MeasuredS != r.Points[i].MeasuredS {
			t.Errorf("point %d measured %v after loading, %v when run", i, p.MeasuredS, r.Points[i].MeasuredS)
		}
	}
}

func TestValidateEngineRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine", "gpu"}, "--engine"},
		{[]string{"--engine", "cpu", "--hw", "h100-sxm"}, "--hw"},
		{[]string{"--engine", "cpu", "--data", "validate/gpu/data/h100"}, "--data and --engine"},
		{[]string{"--engine", "cpu", "--threads", "-2"}, "--threads"},
		{[]string{"--engine", "cpu", "--model", "no-such-model"}, "--model"},
		{[]string{"--quick"}, "--quick needs --engine cpu"},
		{[]string{"--engine", "cpu", "--hw", "no-such-file.toml"}, "--hw"},
		{[]string{"--engine", "cpu", "--refit"}, "--refit needs --load-steps"},
		{[]string{"--engine", "cpu", "--load-steps", "x.json"}, "--load-steps needs --hw"},
		{[]string{"--engine", "cpu", "--load-steps", "no-such.json", "--hw", "dev-host-calibrated"}, "--load-steps"},
		{[]string{"--load-steps", "x.json"}, "--load-steps needs --engine cpu"},
	} {
		_, stderr, code := run(t, append([]string{"validate"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("validate %v: exit %d, stderr %q; want an error naming %q", c.args, code, stderr, c.want)
		}
	}
}

func TestCalibrateHostRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"host", "--threads", "-1"}, "--threads"},
		{[]string{"host", "extra"}, "unexpected argument"},
		{[]string{"host", "--wait-idle", "-1s"}, "--wait-idle"},
		{[]string{"fpga"}, "usage"},
	} {
		_, stderr, code := run(t, append([]string{"calibrate"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("calibrate %v: exit %d, stderr %q; want an error naming %q", c.args, code, stderr, c.want)
		}
	}
}

// quickMAPE is the step_mape of a validate --engine JSON output.
func quickMAPE(t *testing.T, out string) float64 {
	t.Helper()
	var r struct {
		StepMAPE float64 `json:"step_mape"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r.StepMAPE
}
