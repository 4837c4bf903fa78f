package engine

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/llmsim/llmsim/dtype"
)

// A safetensors file is an 8-byte little-endian header length N, N bytes
// of JSON mapping tensor names to {dtype, shape, data_offsets: [begin, end]}
// (offsets relative to the end of the header) plus an optional
// "__metadata__" object, then the raw little-endian tensor data.

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
	file    *stFile
}

type stFile struct {
	path string
	f    *os.File
	base int64 // offset of the data section
}

var stElemBytes = map[string]int64{"F32": 4, "BF16": 2, "F16": 2, "I8": 1}

// maxHeaderBytes bounds the JSON header so a corrupt length cannot make us
// allocate gigabytes.
const maxHeaderBytes = 100 << 20

// openSafetensors reads and checks the header of path and adds its tensors
// to entries.
func openSafetensors(path string, entries map[string]*stEntry) (*stFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	sf := &stFile{path: path, f: f}
	if err := sf.readHeader(entries); err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

func (sf *stFile) readHeader(entries map[string]*stEntry) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("safetensors %s: %s", sf.path, fmt.Sprintf(format, args...))
	}
	info, err := sf.f.Stat()
	if err != nil {
		return fail("%v", err)
	}
	var lenBuf [8]byte
	if _, err := sf.f.ReadAt(lenBuf[:], 0); err != nil {
		return fail("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeaderBytes || int64(n) > info.Size()-8 {
		return fail("header length %d does not fit a file of %d bytes", n, info.Size())
	}
	header := make([]byte, n)
	if _, err := sf.f.ReadAt(header, 8); err != nil {
		return fail("reading header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return fail("header JSON: %v", err)
	}
	sf.base = 8 + int64(n)
	dataBytes := info.Size() - sf.base
	for name, msg := range raw {
		if name == "__metadata__" {
			continue
		}
		en := &stEntry{file: sf}
		if err := json.Unmarshal(msg, en); err != nil {
			return fail("tensor %q: %v", name, err)
		}
		numel := int64(1)
		for _, d := range en.Shape {
			if d < 0 {
				return fail("tensor %q: negative dimension in shape %v", name, en.Shape)
			}
			numel *= d
		}
		b, e := en.Offsets[0], en.Offsets[1]
		if b < 0 || e < b || e > dataBytes {
			return fail("tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, b, e, dataBytes)
		}
		if size, ok := stElemBytes[en.DType]; ok && e-b != numel*size {
			return fail("tensor %q: %s %v needs %d bytes, data_offsets give %d", name, en.DType, en.Shape, numel*size, e-b)
		}
		if prev, dup := entries[name]; dup {
			return fail("tensor %q: also in %s", name, prev.file.path)
		}
		entries[name] = en
	}
	return nil
}

// Load builds an engine whose weights come from safetensors files (one
// checkpoint, possibly sharded over several files) with Hugging Face
// Llama-style tensor names. Tensors are converted to cfg.Weights; int8
// storage re-quantises float tensors per output channel and takes I8
// tensors as they are, with the scales of "<name>_scale" when present.
// Tensors the architecture does not use are ignored.
func Load(cfg Config, paths ...string) (*Engine, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("engine: load: no safetensors files")
	}
	entries := make(map[string]*stEntry)
	for _, p := range paths {
		sf, err := openSafetensors(p, entries)
		if err != nil {
			return nil, err
		}
		defer sf.f.Close()
	}
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	var buf []byte
	for _, t := range e.ts {
		if buf, err = loadTensor(t, entries, buf); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

func loadTensor(t tensor, entries map[string]*stEntry, buf []byte) ([]byte, error) {
	name, en := t.name, entries[t.name]
	for _, a := range t.alt {
		if en != nil {
			break
		}
		name, en = a, entries[a]
	}
	if en == nil {
		return buf, fmt.Errorf("safetensors %s: tensor %q missing", strings.Join(filesOf(entries), ", "), t.name)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("safetensors %s: tensor %q: %s", en.file.path, name, fmt.Sprintf(format, args...))
	}
	size, ok := stElemBytes[en.DType]
	if !ok {
		return buf, fail("dtype %s not supported (F32, BF16, F16, I8)", en.DType)
	}
	want := []int64{int64(t.rows)}
	if t.mat != nil {
		want = append(want, int64(t.cols))
	}
	if fmt.Sprint(en.Shape) != fmt.Sprint(want) {
		return buf, fail("shape %v, the architecture needs %v", en.Shape, want)
	}
	data, err := en.read(buf)
	if err != nil {
		return data, fail("%v", err)
	}
	if t.mat == nil {
		decodeRow(t.vec, data, en.DType)
		return data, nil
	}
	scales := make([]float32, t.rows)
	for i := range scales {
		scales[i] = 1
	}
	if en.DType == "I8" {
		if sc := entries[name+"_scale"]; sc != nil {
			if fmt.Sprint(sc.Shape) != fmt.Sprint([]int64{int64(t.rows)}) || sc.DType != "F32" {
				return data, fail("scale tensor must be F32 [%d], not %s %v", t.rows, sc.DType, sc.Shape)
			}
			raw, err := sc.read(nil)
			if err != nil {
				return data, fail("scale: %v", err)
			}
			decodeRow(scales, raw, "F32")
		}
	}
	row := make([]float32, t.cols)
	rowBytes := int64(t.cols) * size
	for r := 0; r < t.rows; r++ {
		raw := data[int64(r)*rowBytes : int64(r+1)*rowBytes]
		if en.DType == "I8" && t.mat.DType == dtype.INT8 {
			t.mat.setInt8Row(t.rowOff+r, bytesAsInt8(raw), scales[r])
			continue
		}
		decodeRow(row, raw, en.DType)
		if s := scales[r]; s != 1 {
			for i := range row {
				row[i] *= s
			}
		}
		t.mat.SetRow(t.rowOff+r, row)
	}
	return data, nil
}

func (en *stEntry) read(buf []byte) ([]byte, error) {
	n := en.Offsets[1] - en.Offsets[0]
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := en.file.f.ReadAt(buf, en.file.base+en.Offsets[0])
	return buf, err
}

func filesOf(entries map[string]*stEntry) []string {
	seen := map[string]bool{}
	var out []string
	for _, en := range entries {
		if !seen[en.file.path] {
			seen[en.file.path] = true
			out = append(out, en.file.path)
		}
	}
	sort.Strings(out)
	return out
}

func bytesAsInt8(b []byte) []int8 {
	q := make([]int8, len(b))
	for i, v := range b {
		q[i] = int8(v)
	}
	return q
}

// decodeRow widens little-endian elements of raw into dst.
func decodeRow(dst []float32, raw []byte, dt string) {
	le := binary.LittleEndian
	for i := range dst {
		switch dt {
		case "F32":
			dst[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		case "BF16":
			dst[i] = Float32FromBF16(le.Uint16(raw[2*i:]))
		case "F16":
			dst[i] = float32FromF16(le.Uint16(raw[2*i:]))
		case "I8":
			dst[i] = float32(int8(raw[i]))
		}
	}
}

// Save writes the weights to path as safetensors under the names Load
// reads: matrices in their storage format (F32, BF16, or I8 with an F32
// "<name>_scale" tensor per output channel), vectors as F32.
func (e *Engine) Save(path string) error {
	type item struct {
		name  string
		entry stEntry
		write func(w *bufio.Writer) error
	}
	var items []item
	var off int64
	add := func(name, dt string, shape []int64, size int64, write func(w *bufio.Writer) error) {
		items = append(items, item{name, stEntry{DType: dt, Shape: shape, Offsets: [2]int64{off, off + size}}, write})
		off += size
	}
	for _, t := range e.ts {
		if t.mat == nil {
			add(t.name, "F32", []int64{int64(t.rows)}, 4*int64(t.rows), func(w *bufio.Writer) error {
				return writeF32(w, t.vec)
			})
			continue
		}
		m, n := t.mat, int64(t.rows)*int64(t.cols)
		lo, hi := t.rowOff*m.Cols, (t.rowOff+t.rows)*m.Cols
		shape := []int64{int64(t.rows), int64(t.cols)}
		switch m.DType {
		case dtype.FP32:
			add(t.name, "F32", shape, 4*n, func(w *bufio.Writer) error { return writeF32(w, m.f32[lo:hi]) })
		case dtype.BF16:
			add(t.name, "BF16", shape, 2*n, func(w *bufio.Writer) error {
				var b [2]byte
				for _, h := range m.bf16[lo:hi] {
					binary.LittleEndian.PutUint16(b[:], h)
					if _, err := w.Write(b[:]); err != nil {
						return err
					}
				}
				return nil
			})
		case dtype.INT8:
			add(t.name, "I8", shape, n, func(w *bufio.Writer) error {
				for _, q := range m.i8[lo:hi] {
					if err := w.WriteByte(byte(q)); err != nil {
						return err
					}
				}
				return nil
			})
			add(t.name+"_scale", "F32", shape[:1], 4*int64(t.rows), func(w *bufio.Writer) error {
				return writeF32(w, m.scale[t.rowOff:t.rowOff+t.rows])
			})
		}
	}
	header := make(map[string]any, len(items)+1)
	header["__metadata__"] = map[string]string{"format": "pt", "writer": "llmsim/validate/engine"}
	for _, it := range items {
		header[it.name] = it.entry
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	for len(js)%8 != 0 { // keep the data section 8-byte aligned
		js = append(js, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	w.Write(lenBuf[:])
	w.Write(js)
	for _, it := range items {
		if err := it.write(w); err != nil {
			f.Close()
			return fmt.Errorf("safetensors %s: tensor %q: %w", path, it.name, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return nil
}

func writeF32(w *bufio.Writer, v []float32) error {
	var b [4]byte
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
		if _, err := w.Write(b[:]); err != nil {
			return err
		}
	}
	return nil
}
