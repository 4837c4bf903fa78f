package engine

import (
	"math"
)

// parallelRows calls fn over [0, n) split into chunks, inline when the work
// (n·cost, roughly flops) is too small to be worth waking the pool.
func (e *Engine) parallelRows(n, cost int, fn func(lo, hi int)) {
	const inline = 1 << 15
	if n <= 1 || n*cost < inline {
		fn(0, n)
		return
	}
	chunk := split(n, e.pool.Threads()*4, 1)
	e.pool.Run((n+chunk-1)/chunk, func(_, t int) {
		fn(t*chunk, min(n, (t+1)*chunk))
	})
}

// norm writes the RMSNorm or LayerNorm of each row of x (rows×Hidden) to dst.
func (e *Engine) norm(dst, x []float32, rows int, w, b []float32) {
	h, eps := e.s.Hidden, e.eps
	layer := e.s.Norm == "layernorm"
	e.parallelRows(rows, 4*h, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, out := x[r*h:(r+1)*h], dst[r*h:(r+1)*h]
			if layer {
				layerNorm(out, in, w, b, eps)
			} else {
				rmsNorm(out, in, w, eps)
			}
		}
	})
}

func rmsNorm(dst, x, w []float32, eps float64) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+eps))
	w = w[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v * inv * w[i]
	}
}

func layerNorm(dst, x, w, b []float32, eps float64) {
	var sum, ss float64
	for _, v := range x {
		sum += float64(v)
	}
	mean := sum / float64(len(x))
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+eps))
	m := float32(mean)
	w, b, dst = w[:len(x)], b[:len(x)], dst[:len(x)]
	for i, v := range x {
		dst[i] = (v-m)*inv*w[i] + b[i]
	}
}

// ropeTable holds cos and sin of pos·θ^(−2i/headDim) for i < headDim/2, one
// row per position, computed in float64 and extended on demand.
type ropeTable struct {
	half     int
	invFreq  []float64
	cos, sin []float32
}

func newRopeTable(headDim int, theta float64) *ropeTable {
	t := &ropeTable{half: headDim / 2, invFreq: make([]float64, headDim/2)}
	for i := range t.invFreq {
		t.invFreq[i] = math.Pow(theta, -2*float64(i)/float64(headDim))
	}
	return t
}

func (t *ropeTable) ensure(positions int) {
	for p := len(t.cos) / t.half; p < positions; p++ {
		for _, f := range t.invFreq {
			s, c := math.Sincos(float64(p) * f)
			t.cos = append(t.cos, float32(c))
			t.sin = append(t.sin, float32(s))
		}
	}
}

// rope rotates the q and k heads of every token in place (rotate-half
// convention of Hugging Face Llama: pairs i and i+headDim/2).
func (e *Engine) rope(qkv []float32, st *step) {
	s := &e.s
	e.rot.ensure(st.maxPos + 1)
	stride := s.qDim + 2*s.kvDim
	heads := s.Heads + s.KVHeads
	d, half := s.headDim, s.headDim/2
	e.parallelRows(st.tokens, heads*d*3, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			p := st.pos[t]
			cos := e.rot.cos[p*half : (p+1)*half]
			sin := e.rot.sin[p*half : (p+1)*half]
			row := qkv[t*stride : t*stride+heads*d]
			for h := 0; h < heads; h++ {
				x := row[h*d : (h+1)*d]
				x1, x2 := x[:half], x[half:half+half]
				for i, c := range cos {
					a, b := x1[i], x2[i]
					x1[i] = a*c - b*sin[i]
					x2[i] = b*c + a*sin[i]
				}
			}
		}
	})
}

// attention appends this step's keys and values of layer l to each
// sequence's cache, then computes causal softmax attention of every new
// token over its sequence's cache, one task per (sequence, query head).
func (e *Engine) attention(out, qkv []float32, l int, st *step) {
	s := &e.s
	d, stride := s.headDim, s.qDim+2*s.kvDim
	for b, sq := range st.seqs {
		for t := st.start[b]; t < st.start[b+1]; t++ {
			row := qkv[t*stride:]
			for h := 0; h < s.KVHeads; h++ {
				c := l*s.KVHeads + h
				sq.k[c] = append(sq.k[c], row[s.qDim+h*d:s.qDim+(h+1)*d]...)
				sq.v[c] = append(sq.v[c], row[s.qDim+s.kvDim+h*d:s.qDim+s.kvDim+(h+1)*d]...)
			}
		}
	}
	window := 0
	if s.windowed(l) {
		window = s.SlidingWindow
	}
	scale := float32(1 / math.Sqrt(float64(d)))
	group := s.Heads / s.KVHeads
	e.pool.Run(len(st.seqs)*s.Heads, func(w, task int) {
		b, qh := task/s.Heads, task%s.Heads
		sq := st.seqs[b]
		c := l*s.KVHeads + qh/group
		keys, vals := sq.k[c], sq.v[c]
		scores := e.pool.buffer(w, len(keys)/d)
		for t := st.start[b]; t < st.start[b+1]; t++ {
			p := st.pos[t]
			lo := 0
			if window > 0 {
				lo = max(0, p-window+1)
			}
			attendOne(out[t*s.qDim+qh*d:t*s.qDim+(qh+1)*d], qkv[t*stride+qh*d:t*stride+(qh+1)*d],
				keys[lo*d:(p+1)*d], vals[lo*d:(p+1)*d], scores[:p+1-lo], scale)
		}
	})
}

// attendOne writes softmax(q·Kᵀ·scale)·V to out for keys and values stored
// position-major, one head's row of len(q) per position.
func attendOne(out, q, keys, vals, scores []float32, scale float32) {
	d := len(q)
	maxScore := float32(math.Inf(-1))
	for j := range scores {
		sc := dotF32(q, keys[j*d:(j+1)*d]) * scale
		scores[j] = sc
		maxScore = max(maxScore, sc)
	}
	var sum float64
	for j, sc := range scores {
		p := float32(math.Exp(float64(sc - maxScore)))
		scores[j] = p
		sum += float64(p)
	}
	inv := float32(1 / sum)
	clear(out)
	for j, p := range scores {
		axpy(out, p*inv, vals[j*d:(j+1)*d])
	}
}

// axpy adds a·x to y.
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		yy, xx := y[i:i+4:i+4], x[i:i+4:i+4]
		yy[0] += a * xx[0]
		yy[1] += a * xx[1]
		yy[2] += a * xx[2]
		yy[3] += a * xx[3]
	}
	for ; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

// activate applies the MLP activation to rows of up (gate then up halves
// when gated, width 2·inter; else width inter) and writes rows×inter to dst.
func (e *Engine) activate(dst, up []float32, rows, inter int) {
	act, gated := e.s.Activation, e.s.gated
	width := inter
	if gated {
		width *= 2
	}
	e.parallelRows(rows, inter*20, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, out := up[r*width:(r+1)*width], dst[r*inter:(r+1)*inter]
			if gated {
				gate, u := in[:inter], in[inter:]
				for i, g := range gate {
					out[i] = activation(act, g) * u[i]
				}
				continue
			}
			for i, v := range in {
				out[i] = activation(act, v)
			}
		}
	})
}

// activation is SiLU for swiglu, exact (erf) GELU for geglu and gelu, ReLU.
func activation(kind string, x float32) float32 {
	switch kind {
	case "swiglu":
		return x / (1 + float32(math.Exp(-float64(x))))
	case "relu":
		return max(x, 0)
	}
	return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
}

// add sets x += y over n elements.
func (e *Engine) add(x, y []float32, n int) {
	e.parallelRows(n, 1, func(lo, hi int) {
		xs, ys := x[lo:hi], y[lo:hi]
		for i := range xs {
			xs[i] += ys[i]
		}
	})
}

// argmax is the index of the largest value, the first one on ties.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
