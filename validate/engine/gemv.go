package engine

import "github.com/llmsim/llmsim/dtype"

// The GEMV kernels compute dst[n] = x·W[n] for rows n in [lo, hi) of W. They
// take four rows at a time so each activation load feeds four products, and
// keep one accumulator per row; the partial sums of four products are added
// as a tree so the accumulator chain is one add per four elements. bf16 and
// int8 codes are widened through a lookup table inside the loop. The rows
// are resliced to the length of x so that only x's indexing is checked; the
// K mod 4 tail columns and the hi−lo mod 4 tail rows go through plain dot
// products.

func gemvRows(dst, x []float32, w *Matrix, lo, hi int) {
	k := w.Cols
	x = x[:k]
	xs := x[:k&^3]
	split := lo + (hi-lo)&^3
	switch w.DType {
	case dtype.FP32:
		gemvF32(dst, xs, w.f32, k, lo, split)
	case dtype.BF16:
		gemvBF16(dst, xs, w.bf16, k, lo, split)
	case dtype.INT8:
		gemvInt8(dst, xs, w.i8, w.scale, k, lo, split)
	}
	if len(xs) < k {
		for n := lo; n < split; n++ {
			dst[n] += w.dot(n, len(xs), x[len(xs):])
		}
	}
	for n := split; n < hi; n++ {
		dst[n] = w.dot(n, 0, x)
	}
}

// dot is x·W[n][off:off+len(x)].
func (w *Matrix) dot(n, off int, x []float32) float32 {
	row := n*w.Cols + off
	var s float32
	switch w.DType {
	case dtype.FP32:
		return dotF32(x, w.f32[row:row+len(x)])
	case dtype.BF16:
		for i, h := range w.bf16[row : row+len(x)] {
			s += x[i] * bf16Table[h]
		}
	case dtype.INT8:
		for i, q := range w.i8[row : row+len(x)] {
			s += x[i] * int8Table[uint8(q)]
		}
		s *= w.scale[n]
	}
	return s
}

// rows4 returns the first cols elements of rows n..n+3 of a row-major
// matrix with k columns.
func rows4[T any](w []T, n, k, cols int) (a, b, c, d []T) {
	a, b, c, d = w[n*k:n*k+k], w[(n+1)*k:(n+1)*k+k], w[(n+2)*k:(n+2)*k+k], w[(n+3)*k:(n+3)*k+k]
	return a[:cols], b[:cols], c[:cols], d[:cols]
}

// gemvF32 handles rows [lo, hi), hi−lo a multiple of 4, over the len(xs)
// (a multiple of 4) first columns.
func gemvF32(dst, xs, w []float32, k, lo, hi int) {
	for n := lo; n < hi; n += 4 {
		w0, w1, w2, w3 := rows4(w, n, k, len(xs))
		var s0, s1, s2, s3 float32
		for i := 0; i+3 < len(xs); i += 4 {
			x0, x1, x2, x3 := xs[i], xs[i+1], xs[i+2], xs[i+3]
			s0 += (x0*w0[i] + x1*w0[i+1]) + (x2*w0[i+2] + x3*w0[i+3])
			s1 += (x0*w1[i] + x1*w1[i+1]) + (x2*w1[i+2] + x3*w1[i+3])
			s2 += (x0*w2[i] + x1*w2[i+1]) + (x2*w2[i+2] + x3*w2[i+3])
			s3 += (x0*w3[i] + x1*w3[i+1]) + (x2*w3[i+2] + x3*w3[i+3])
		}
		d := dst[n : n+4 : n+4]
		d[0], d[1], d[2], d[3] = s0, s1, s2, s3
	}
}

func gemvBF16(dst, xs []float32, w []uint16, k, lo, hi int) {
	t := bf16Table
	for n := lo; n < hi; n += 4 {
		w0, w1, w2, w3 := rows4(w, n, k, len(xs))
		var s0, s1, s2, s3 float32
		for i := 0; i+3 < len(xs); i += 4 {
			x0, x1, x2, x3 := xs[i], xs[i+1], xs[i+2], xs[i+3]
			s0 += (x0*t[w0[i]] + x1*t[w0[i+1]]) + (x2*t[w0[i+2]] + x3*t[w0[i+3]])
			s1 += (x0*t[w1[i]] + x1*t[w1[i+1]]) + (x2*t[w1[i+2]] + x3*t[w1[i+3]])
			s2 += (x0*t[w2[i]] + x1*t[w2[i+1]]) + (x2*t[w2[i+2]] + x3*t[w2[i+3]])
			s3 += (x0*t[w3[i]] + x1*t[w3[i+1]]) + (x2*t[w3[i+2]] + x3*t[w3[i+3]])
		}
		d := dst[n : n+4 : n+4]
		d[0], d[1], d[2], d[3] = s0, s1, s2, s3
	}
}

func gemvInt8(dst, xs []float32, w []int8, scale []float32, k, lo, hi int) {
	t := int8Table
	for n := lo; n < hi; n += 4 {
		w0, w1, w2, w3 := rows4(w, n, k, len(xs))
		var s0, s1, s2, s3 float32
		for i := 0; i+3 < len(xs); i += 4 {
			x0, x1, x2, x3 := xs[i], xs[i+1], xs[i+2], xs[i+3]
			s0 += (x0*t[uint8(w0[i])] + x1*t[uint8(w0[i+1])]) + (x2*t[uint8(w0[i+2])] + x3*t[uint8(w0[i+3])])
			s1 += (x0*t[uint8(w1[i])] + x1*t[uint8(w1[i+1])]) + (x2*t[uint8(w1[i+2])] + x3*t[uint8(w1[i+3])])
			s2 += (x0*t[uint8(w2[i])] + x1*t[uint8(w2[i+1])]) + (x2*t[uint8(w2[i+2])] + x3*t[uint8(w2[i+3])])
			s3 += (x0*t[uint8(w3[i])] + x1*t[uint8(w3[i+1])]) + (x2*t[uint8(w3[i+2])] + x3*t[uint8(w3[i+3])])
		}
		d, sc := dst[n:n+4:n+4], scale[n:n+4:n+4]
		d[0], d[1], d[2], d[3] = s0*sc[0], s1*sc[1], s2*sc[2], s3*sc[3]
	}
}

func dotF32(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		a := x[i : i+8 : i+8]
		b := y[i : i+8 : i+8]
		s0 += (a[0]*b[0] + a[1]*b[1]) + (a[2]*b[2] + a[3]*b[3])
		s1 += (a[4]*b[4] + a[5]*b[5]) + (a[6]*b[6] + a[7]*b[7])
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return s0 + s1
}
