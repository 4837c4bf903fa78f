package engine

import "github.com/llmsim/llmsim/dtype"

// Blocking of the packed GEMM (after BLIS): a kBlock-deep panel of 3 rows of
// A and one of 3 columns of B (3 KiB each) stay in L1 while the micro-kernel
// runs; the packed A block (mBlock×kBlock, 96 KiB) and the packed B block of
// a task (at most nTileMax×kBlock, 384 KiB) stay in the 1 MiB L2 of a core.
const (
	kBlock   = 256
	mBlock   = 96
	nTileMin = 48
	nTileMax = 384
	kUnroll  = 16 // kern3x3 steps per block of its loop
)

// gemvMaxTokens is the number of rows of x up to which one GEMV per row,
// over row blocks of W that stay in L2, beats packing (measured crossover on
// the development host: about 20 rows for fp32, 10 for bf16 and int8, whose
// GEMV widens every code once per row of x).
func gemvMaxTokens(dt dtype.DType) int {
	if dt == dtype.FP32 {
		return 16
	}
	return 8
}

var zeroRow [kBlock]float32

// MatMul computes dst = x·Wᵀ + bias for tokens rows of x (row-major,
// tokens×w.Cols) into dst (tokens×w.Rows). bias may be nil. Work is spread
// over the pool's workers by output columns (and rows when there are few
// columns); low-precision weights are widened while packing or inside the
// GEMV loop, one cache-resident panel at a time.
func MatMul(p *Pool, dst, x []float32, tokens int, w *Matrix, bias []float32) {
	if tokens <= 0 {
		return
	}
	dst = dst[:tokens*w.Rows]
	x = x[:tokens*w.Cols]
	if tokens <= gemvMaxTokens(w.DType) {
		matVec(p, dst, x, tokens, w, bias)
		return
	}
	gemm(p, dst, x, tokens, w, bias)
}

func matVec(p *Pool, dst, x []float32, tokens int, w *Matrix, bias []float32) {
	n, k := w.Rows, w.Cols
	rows := split(n, p.Threads()*8, 4)
	if tokens > 1 {
		// Keep a task's rows in L2 while every token passes over them.
		rowBytes := int(w.Bytes()) / n
		rows = min(rows, max(4, (256<<10)/rowBytes&^3))
	}
	tasks := (n + rows - 1) / rows
	p.Run(tasks, func(_, t int) {
		lo, hi := t*rows, min(n, (t+1)*rows)
		for tok := 0; tok < tokens; tok++ {
			out := dst[tok*n : tok*n+n]
			gemvRows(out, x[tok*k:tok*k+k], w, lo, hi)
			if bias != nil {
				for i := lo; i < hi; i++ {
					out[i] += bias[i]
				}
			}
		}
	})
}

func gemm(p *Pool, dst, x []float32, m int, w *Matrix, bias []float32) {
	n := w.Rows
	threads := p.Threads()
	nTile := min(nTileMax, max(nTileMin, split(n, threads*4, 3)))
	nTasks := (n + nTile - 1) / nTile
	mTile, mTasks := m, 1
	if nTasks < 2*threads {
		mTasks = min((m+mBlock-1)/mBlock, (2*threads+nTasks-1)/nTasks)
		mTile = split(m, mTasks, 3)
		mTasks = (m + mTile - 1) / mTile
	}
	bufLen := (nTile + 2) / 3 * 3 * kBlock
	p.Run(nTasks*mTasks, func(wk, t int) {
		mb, nb := t/nTasks, t%nTasks
		buf := p.buffer(wk, bufLen+mBlock*kBlock)
		gemmBlock(buf, dst, x, mb*mTile, min(m, (mb+1)*mTile), nb*nTile, min(n, (nb+1)*nTile), w, bias)
	})
}

// gemmBlock computes rows [m0, m1) × columns [n0, n1) of dst.
func gemmBlock(buf, dst, x []float32, m0, m1, n0, n1 int, w *Matrix, bias []float32) {
	n, k := w.Rows, w.Cols
	for i := m0; i < m1; i++ {
		row := dst[i*n+n0 : i*n+n1]
		if bias != nil {
			copy(row, bias[n0:n1])
		} else {
			clear(row)
		}
	}
	colPanels := (n1 - n0 + 2) / 3
	for pc := 0; pc < k; pc += kBlock {
		kc := min(kBlock, k-pc)
		kcp := (kc + kUnroll - 1) / kUnroll * kUnroll
		bp := buf[:colPanels*3*kcp]
		for jp := 0; jp < colPanels; jp++ {
			packB(bp[jp*3*kcp:(jp+1)*3*kcp], w, n0+jp*3, n1, pc, kc)
		}
		for ic := m0; ic < m1; ic += mBlock {
			mc := min(mBlock, m1-ic)
			rowPanels := (mc + 2) / 3
			ap := buf[len(bp) : len(bp)+rowPanels*3*kcp]
			for ip := 0; ip < rowPanels; ip++ {
				packA(ap[ip*3*kcp:(ip+1)*3*kcp], x, k, ic+ip*3, ic+mc, pc, kc)
			}
			for jp := 0; jp < colPanels; jp++ {
				bpan := bp[jp*3*kcp : (jp+1)*3*kcp]
				c0 := n0 + jp*3
				for ip := 0; ip < rowPanels; ip++ {
					var acc [9]float32
					kern3x3(kcp, ap[ip*3*kcp:(ip+1)*3*kcp], bpan, &acc)
					storeTile(dst, n, &acc, ic+ip*3, ic+mc, c0, n1)
				}
			}
		}
	}
}

// storeTile adds a 3×3 tile at (r0, c0) to dst, clipped to rows < r1 and
// columns < c1.
func storeTile(dst []float32, ldc int, acc *[9]float32, r0, r1, c0, c1 int) {
	if r0+3 <= r1 && c0+3 <= c1 {
		for i := 0; i < 3; i++ {
			d := dst[(r0+i)*ldc+c0 : (r0+i)*ldc+c0+3 : (r0+i)*ldc+c0+3]
			d[0] += acc[i*3]
			d[1] += acc[i*3+1]
			d[2] += acc[i*3+2]
		}
		return
	}
	for i := 0; i < 3 && r0+i < r1; i++ {
		for j := 0; j < 3 && c0+j < c1; j++ {
			dst[(r0+i)*ldc+c0+j] += acc[i*3+j]
		}
	}
}

// packA interleaves rows r, r+1, r+2 (those < rEnd; zeros otherwise) of x,
// columns [pc, pc+kc), into ap as ap[kk*3+i]; ap's tail past kc is zeroed.
func packA(ap, x []float32, k, r, rEnd, pc, kc int) {
	var rows [3][]float32
	for i := range rows {
		if r+i < rEnd {
			rows[i] = x[(r+i)*k+pc : (r+i)*k+pc+kc]
		} else {
			rows[i] = zeroRow[:kc]
		}
	}
	a0, a1, a2 := rows[0], rows[1][:len(rows[0])], rows[2][:len(rows[0])]
	for kk := range a0 {
		d := ap[kk*3 : kk*3+3 : kk*3+3]
		d[0], d[1], d[2] = a0[kk], a1[kk], a2[kk]
	}
	clear(ap[kc*3:])
}

// packB writes W rows c, c+1, c+2 (those < cEnd; zeros otherwise), columns
// [pc, pc+kc), widened to float32, into bp as bp[kk*3+j]; the tail is zeroed.
func packB(bp []float32, w *Matrix, c, cEnd, pc, kc int) {
	k := w.Cols
	for j := 0; j < 3; j++ {
		if c+j >= cEnd {
			for kk := 0; kk < kc; kk++ {
				bp[kk*3+j] = 0
			}
			continue
		}
		off := (c+j)*k + pc
		switch w.DType {
		case dtype.FP32:
			for kk, v := range w.f32[off : off+kc] {
				bp[kk*3+j] = v
			}
		case dtype.BF16:
			t := bf16Table
			for kk, h := range w.bf16[off : off+kc] {
				bp[kk*3+j] = t[h]
			}
		case dtype.INT8:
			t, s := int8Table, w.scale[c+j]
			for kk, q := range w.i8[off : off+kc] {
				bp[kk*3+j] = t[uint8(q)] * s
			}
		}
	}
	clear(bp[kc*3:])
}
