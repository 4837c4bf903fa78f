package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// validate --serving reproduces the committed H200 serving comparison: one
// calibration level, four validation levels, and MAPE over those four.
func TestValidateServingCLI(t *testing.T) {
	var out bytes.Buffer
	args := []string{"--serving", "../../validate/gpu/data/h200-serving", "--hw", "h200", "-o", "json"}
	if err := runValidate(args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Engine struct {
			PrefillPerLayerSeconds float64 `json:"prefill_per_layer_seconds"`
		} `json:"engine"`
		Levels []struct {
			Role         string             `json:"role"`
			ErrorPercent map[string]float64 `json:"error_percent"`
		} `json:"levels"`
		MAPE map[string]float64 `json:"mape_percent"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	var sum float64
	roles := map[string]int{}
	for _, l := range rep.Levels {
		roles[l.Role]++
		if l.Role == "validation" {
			sum += abs(l.ErrorPercent["tpot_mean"])
		}
	}
	if roles["calibration"] != 1 || roles["validation"] != 4 {
		t.Errorf("roles %v, want 1 calibration and 4 validation levels", roles)
	}
	if d := sum/4 - rep.MAPE["tpot_mean"]; d > 1e-9 || d < -1e-9 {
		t.Errorf("TPOT MAPE %g is not the mean of the validation levels' %g", rep.MAPE["tpot_mean"], sum/4)
	}
	if rep.Engine.PrefillPerLayerSeconds <= 0 {
		t.Error("no prefill dispatch fitted")
	}
	err := runValidate([]string{"--serving", "x", "--engine", "cpu"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--engine") {
		t.Errorf("--serving with --engine: %v", err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
