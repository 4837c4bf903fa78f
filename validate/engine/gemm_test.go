package engine

import (
	"fmt"
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
)

// naiveMatMul is the reference: float64 sums over the dequantised weights.
func naiveMatMul(x []float32, m int, w *Matrix, bias []float32) []float32 {
	out := make([]float32, m*w.Rows)
	row := make([]float32, w.Cols)
	for n := 0; n < w.Rows; n++ {
		w.Row(n, row)
		for i := 0; i < m; i++ {
			var s float64
			for k, v := range row {
				s += float64(x[i*w.Cols+k]) * float64(v)
			}
			if bias != nil {
				s += float64(bias[n])
			}
			out[i*w.Rows+n] = float32(s)
		}
	}
	return out
}

// relErr is ‖got−want‖₂ / ‖want‖₂.
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func TestMatMul(t *testing.T) {
	p := NewPool(0)
	defer p.Close()
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 7, 5}, {2, 9, 33}, {3, 3, 16}, {4, 10, 17}, {5, 50, 300},
		{17, 131, 257}, {100, 97, 520}, {200, 400, 64}, {7, 1000, 3},
	}
	for _, dt := range []dtype.DType{dtype.FP32, dtype.BF16, dtype.INT8} {
		for _, s := range shapes {
			for _, withBias := range []bool{false, true} {
				name := fmt.Sprintf("%s/%dx%dx%d/bias=%v", dt, s.m, s.n, s.k, withBias)
				w, err := NewMatrix(s.n, s.k, dt)
				if err != nil {
					t.Fatal(err)
				}
				w.fillRandom(p, 0, w.Rows, 7, 0.5)
				x := make([]float32, s.m*s.k)
				randomRow(x, 11, 1)
				var bias []float32
				if withBias {
					bias = make([]float32, s.n)
					randomRow(bias, 13, 1)
				}
				got := make([]float32, s.m*s.n)
				MatMul(p, got, x, s.m, w, bias)
				want := naiveMatMul(x, s.m, w, bias)
				if e := relErr(got, want); e > 1e-5 {
					t.Errorf("%s: relative error %.2g > 1e-5", name, e)
				}
			}
		}
	}
}
