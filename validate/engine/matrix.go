package engine

import (
	"fmt"
	"math"

	"github.com/llmsim/llmsim/dtype"
)

// Matrix is a weight matrix of Rows output channels by Cols inputs, stored
// row-major in its storage format: y = x·Wᵀ reads row n of W for output n.
// int8 matrices carry one float32 scale per row (per output channel).
type Matrix struct {
	Rows, Cols int
	DType      dtype.DType
	f32        []float32
	bf16       []uint16
	i8         []int8
	scale      []float32
}

// NewMatrix allocates a zero matrix. Storage formats: fp32, bf16, int8.
func NewMatrix(rows, cols int, dt dtype.DType) (*Matrix, error) {
	if rows < 1 || cols < 1 {
		return nil, fmt.Errorf("matrix %d×%d: sizes must be positive", rows, cols)
	}
	m := &Matrix{Rows: rows, Cols: cols, DType: dt}
	switch dt {
	case dtype.FP32:
		m.f32 = make([]float32, rows*cols)
	case dtype.BF16:
		m.bf16 = make([]uint16, rows*cols)
	case dtype.INT8:
		m.i8 = make([]int8, rows*cols)
		m.scale = make([]float32, rows)
	default:
		return nil, fmt.Errorf("matrix %d×%d: weight storage %q not supported (fp32, bf16, int8)", rows, cols, dt)
	}
	return m, nil
}

// Bytes is the storage size, scales included: what one full read moves.
func (m *Matrix) Bytes() int64 {
	n := int64(m.Rows) * int64(m.Cols)
	switch m.DType {
	case dtype.BF16:
		return 2 * n
	case dtype.INT8:
		return n + 4*int64(m.Rows)
	}
	return 4 * n
}

// SetRow stores v (len Cols) as row r, rounding bf16 to nearest even and
// quantising int8 symmetrically with scale max|v|/127.
func (m *Matrix) SetRow(r int, v []float32) {
	v = v[:m.Cols]
	off := r * m.Cols
	switch m.DType {
	case dtype.FP32:
		copy(m.f32[off:off+m.Cols], v)
	case dtype.BF16:
		dst := m.bf16[off : off+m.Cols]
		for i, x := range v {
			dst[i] = BF16FromFloat32(x)
		}
	case dtype.INT8:
		m.scale[r] = quantiseInt8(m.i8[off:off+m.Cols], v)
	}
}

// Row dequantises row r into dst (len Cols).
func (m *Matrix) Row(r int, dst []float32) {
	dst = dst[:m.Cols]
	off := r * m.Cols
	switch m.DType {
	case dtype.FP32:
		copy(dst, m.f32[off:off+m.Cols])
	case dtype.BF16:
		for i, h := range m.bf16[off : off+m.Cols] {
			dst[i] = Float32FromBF16(h)
		}
	case dtype.INT8:
		s := m.scale[r]
		for i, q := range m.i8[off : off+m.Cols] {
			dst[i] = float32(q) * s
		}
	}
}

// setInt8Row stores already quantised values with their scale.
func (m *Matrix) setInt8Row(r int, q []int8, scale float32) {
	copy(m.i8[r*m.Cols:(r+1)*m.Cols], q)
	m.scale[r] = scale
}

// Randomize sets every element uniform in [-amp, amp), reproducibly from
// seed, using the pool's workers.
func (m *Matrix) Randomize(p *Pool, seed uint64, amp float32) {
	m.fillRandom(p, 0, m.Rows, seed, amp)
}

// fillRandom sets rows [r0, r1), every element uniform in [-amp, amp). Each row has its own
// generator seeded from seed and the row index, so the values do not depend
// on the number of threads, and fp32, bf16 and int8 matrices with the same
// seed hold the same numbers up to rounding.
func (m *Matrix) fillRandom(p *Pool, r0, r1 int, seed uint64, amp float32) {
	const rowsPerTask = 64
	tasks := (r1 - r0 + rowsPerTask - 1) / rowsPerTask
	bufs := make([][]float32, p.Threads())
	p.Run(tasks, func(w, t int) {
		if bufs[w] == nil {
			bufs[w] = make([]float32, m.Cols)
		}
		row := bufs[w]
		for r := t * rowsPerTask; r < min(r1-r0, (t+1)*rowsPerTask); r++ {
			randomRow(row, seed^(uint64(r)+1)*0x9e3779b97f4a7c15, amp)
			m.SetRow(r0+r, row)
		}
	})
}

// randomRow fills v uniform in [-amp, amp) from a splitmix64 stream.
func randomRow(v []float32, state uint64, amp float32) {
	for i := range v {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		u := float32(z>>40) * (1.0 / (1 << 24)) // [0, 1)
		v[i] = (2*u - 1) * amp
	}
}

// quantiseInt8 writes round(v/scale) into q and returns scale = max|v|/127.
func quantiseInt8(q []int8, v []float32) float32 {
	var maxAbs float32
	for _, x := range v {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	if maxAbs == 0 {
		clear(q)
		return 0
	}
	scale := maxAbs / 127
	inv := 1 / scale
	for i, x := range v {
		r := math.Round(float64(x * inv))
		q[i] = int8(max(-127, min(127, r)))
	}
	return scale
}

// BF16FromFloat32 rounds f to bfloat16, to nearest with ties to even.
func BF16FromFloat32(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 { // NaN: keep it a quiet NaN
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// Float32FromBF16 widens a bfloat16 exactly.
func Float32FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// float32FromF16 widens an IEEE half exactly.
func float32FromF16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = frac · 2^-24.
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// Lookup tables that turn a stored code into its float32 value with one load,
// cheaper in a scalar inner loop than moving an integer into a float register.
var (
	bf16Table = func() *[1 << 16]float32 {
		var t [1 << 16]float32
		for i := range t {
			t[i] = Float32FromBF16(uint16(i))
		}
		return &t
	}()
	int8Table = func() *[256]float32 {
		var t [256]float32
		for i := range t {
			t[i] = float32(int8(uint8(i)))
		}
		return &t
	}()
)
