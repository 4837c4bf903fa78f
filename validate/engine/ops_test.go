package engine

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/models"
)

// Per-op checks against the float64 helpers of the reference, each with a
// relative error bound of 1e-5 (float32 arithmetic on O(1) values).

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func check(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if err := logitErr(got, want); err > 1e-5 {
		t.Errorf("%s: relative error %.2g > 1e-5", what, err)
	}
}

func TestNorms(t *testing.T) {
	x, w, b := make([]float32, 300), make([]float32, 300), make([]float32, 300)
	randomRow(x, 1, 3)
	randomRow(w, 2, 1)
	randomRow(b, 3, 1)
	got := make([]float32, 300)
	rmsNorm(got, x, w, 1e-5)
	check(t, "rmsnorm", got, refNorm("rmsnorm", f64(x), w, nil, 1e-5))
	layerNorm(got, x, w, b, 1e-5)
	check(t, "layernorm", got, refNorm("layernorm", f64(x), w, b, 1e-5))
}

func TestRoPE(t *testing.T) {
	a := models.Arch{Layers: 1, Hidden: 32, Heads: 2, KVHeads: 1, Intermediate: 8, Vocab: 4}
	e := newTestEngine(t, a, "", 0)
	stride := e.s.qDim + 2*e.s.kvDim
	qkv := make([]float32, 3*stride)
	randomRow(qkv, 5, 1)
	orig := f64(qkv)
	st := &step{pos: []int{0, 7, 1000}, tokens: 3, maxPos: 1000}
	e.rope(qkv, st)
	d := e.s.headDim
	for tk, p := range st.pos {
		for h := 0; h < e.s.Heads+e.s.KVHeads; h++ {
			want := append([]float64(nil), orig[tk*stride+h*d:tk*stride+(h+1)*d]...)
			refRope(want, p, 10000)
			check(t, "rope", qkv[tk*stride+h*d:tk*stride+(h+1)*d], want)
		}
	}
	// The value heads are not rotated.
	for i := 3 * d; i < stride; i++ {
		if float64(qkv[i]) != orig[i] {
			t.Fatalf("rope changed value element %d", i)
		}
	}
}

func TestAttendOne(t *testing.T) {
	const d, n = 16, 50
	q, keys, vals := make([]float32, d), make([]float32, n*d), make([]float32, n*d)
	randomRow(q, 1, 2)
	randomRow(keys, 2, 2)
	randomRow(vals, 3, 1)
	out := make([]float32, d)
	attendOne(out, q, keys, vals, make([]float32, n), float32(1/math.Sqrt(d)))
	scores := make([]float64, n)
	for j := range scores {
		for i := 0; i < d; i++ {
			scores[j] += float64(q[i]) * float64(keys[j*d+i]) / math.Sqrt(d)
		}
	}
	p := softmax(scores)
	want := make([]float64, d)
	for j := range p {
		for i := range want {
			want[i] += p[j] * float64(vals[j*d+i])
		}
	}
	check(t, "attention", out, want)
}

func TestActivations(t *testing.T) {
	x := make([]float32, 200)
	randomRow(x, 9, 6)
	for _, kind := range []string{"swiglu", "gelu", "relu"} {
		got := make([]float32, len(x))
		want := make([]float64, len(x))
		for i, v := range x {
			got[i] = activation(kind, v)
			want[i] = refAct(kind, float64(v))
		}
		check(t, kind, got, want)
	}
}

func TestRoute(t *testing.T) {
	logits := []float32{0.1, 2, -1, 1.5, 3, 3, 0, -2}
	choice, weight := make([]int, 4), make([]float32, 4)
	route(logits, 2, 4, 2, choice, weight)
	// Token 0: experts 1 (2) and 3 (1.5); token 1: a tie of 0 and 1 (3, 3).
	if choice[0] != 1 || choice[1] != 3 || choice[2] != 0 || choice[3] != 1 {
		t.Fatalf("choices %v, want [1 3 0 1]", choice)
	}
	w0 := 1 / (1 + math.Exp(-0.5))
	check(t, "route weights", weight, []float64{w0, 1 - w0, 0.5, 0.5})
}
