package sweep

import (
	"math"
	"reflect"
	"testing"
)

func TestParetoHandExample(t *testing.T) {
	// Latency (minimise) and throughput (maximise):
	// A(1,10) B(2,30) C(3,20) D(4,40) E(2,30) F(5,40) G(NaN,99)
	// C is dominated by B (faster and more throughput); F by D; E equals B
	// (both stay); G has no latency. Front: A, B, D, E.
	pts := [][]float64{{1, 10}, {2, 30}, {3, 20}, {4, 40}, {2, 30}, {5, 40}, {math.NaN(), 99}}
	got := Pareto(pts, []bool{true, false})
	want := []bool{true, true, false, true, true, false, false}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("front %v, want %v", got, want)
	}
	// Three objectives: (1,1,9) (9,9,1) (5,5,5) are mutually
	// non-dominated; (6,6,6) is dominated by (5,5,5).
	got = Pareto([][]float64{{1, 1, 9}, {9, 9, 1}, {5, 5, 5}, {6, 6, 6}}, []bool{true, true, true})
	if want := []bool{true, true, true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("3-objective front %v, want %v", got, want)
	}
}
