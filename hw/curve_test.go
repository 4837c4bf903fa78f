package hw

import (
	"math"
	"testing"
)

func TestCurveAt(t *testing.T) {
	// Worked example: halfway between 1e3 and 1e5 in log(size) is 1e4, so
	// the fraction is halfway between 0.1 and 0.5.
	c := Curve{Points: [][2]float64{{1e3, 0.1}, {1e5, 0.5}}}
	cases := []struct {
		x, want float64
	}{
		{1e4, 0.3},
		{1e3, 0.1},
		{1e5, 0.5},
		{10, 0.1},                  // clamped below
		{0, 0.1},                   // sizes <= 0 take the first point
		{1e9, 0.5},                 // clamped above
		{1e3 * math.Sqrt(10), 0.2}, // a quarter of the way in log(size)
	}
	for _, tc := range cases {
		if got := c.At(tc.x); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
	if got := (Curve{}).At(123); got != 1 {
		t.Errorf("empty curve At = %g, want 1", got)
	}
}

func TestEfficiencyFallback(t *testing.T) {
	e := Efficiency{Compute: map[string]Curve{
		"default": {Points: [][2]float64{{1, 0.5}}},
		ClassGEMM: {Points: [][2]float64{{1, 0.8}}},
	}}
	if got := e.ComputeFraction(1e9, ClassGEMM); got != 0.8 {
		t.Errorf("gemm %g", got)
	}
	if got := e.ComputeFraction(1e9, ClassAttention); got != 0.5 {
		t.Errorf("attention falls back to default: %g", got)
	}
	if got := (Efficiency{}).ComputeFraction(1, ClassVector); got != 1 {
		t.Errorf("no curves: %g", got)
	}
}
