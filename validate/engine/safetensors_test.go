package engine

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/llmsim/llmsim/dtype"
)

type rawTensor struct {
	DType string
	Shape []int64
	Data  []byte
}

// writeST writes a safetensors file by hand, independently of Save.
func writeST(t *testing.T, path string, ts map[string]rawTensor) {
	t.Helper()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	var data []byte
	for _, n := range names {
		r := ts[n]
		header[n] = map[string]any{"dtype": r.DType, "shape": r.Shape, "data_offsets": []int{len(data), len(data) + len(r.Data)}}
		data = append(data, r.Data...)
	}
	js, _ := json.Marshal(header)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(append(out, js...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readST parses a safetensors file by hand, independently of Load.
func readST(t *testing.T, path string) map[string]rawTensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	out := map[string]rawTensor{}
	for name, msg := range header {
		if name == "__metadata__" {
			continue
		}
		var en struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		json.Unmarshal(msg, &en)
		out[name] = rawTensor{en.DType, en.Shape, b[8+int64(n)+en.Offsets[0] : 8+int64(n)+en.Offsets[1]]}
	}
	return out
}

func prefillLogits(t *testing.T, e *Engine) []float32 {
	t.Helper()
	if _, _, err := e.Prefill(prompts(e.s.Vocab)); err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), e.Logits(1)...)
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: logit %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestSaveLoad: a checkpoint written by Save loads back into the same
// weights in every format; an fp32 checkpoint loaded as bf16 or int8 equals
// the random engine of that format (same rounding); Mixtral expert names
// and F16 tensors load too.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	for _, a := range testArchs() {
		for _, dt := range formats {
			src := newTestEngine(t, a, dt, 0)
			path := filepath.Join(dir, a.Name+"-"+string(dt)+".safetensors")
			if err := src.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(Config{Arch: a, Weights: dt}, path)
			if err != nil {
				t.Fatal(err)
			}
			sameBits(t, a.Name+"/"+string(dt)+" round trip", prefillLogits(t, got), prefillLogits(t, src))
			got.Close()
		}
		fp32 := filepath.Join(dir, a.Name+"-fp32.safetensors")
		for _, dt := range []dtype.DType{dtype.BF16, dtype.INT8} {
			got, err := Load(Config{Arch: a, Weights: dt}, fp32)
			if err != nil {
				t.Fatal(err)
			}
			sameBits(t, a.Name+" fp32 file as "+string(dt), prefillLogits(t, got), prefillLogits(t, newTestEngine(t, a, dt, 0)))
			got.Close()
		}
	}

	// Mixtral names, F16 and BF16 tensors, shards.
	a := testArchs()[5] // moe
	src := newTestEngine(t, a, dtype.BF16, 0)
	path := filepath.Join(dir, "moe.safetensors")
	if err := src.Save(path); err != nil {
		t.Fatal(err)
	}
	ts := readST(t, path)
	shard1, shard2 := map[string]rawTensor{}, map[string]rawTensor{}
	for name, r := range ts {
		if strings.Contains(name, "mlp.experts.") {
			name = strings.Replace(name, "mlp.experts.", "block_sparse_moe.experts.", 1)
			name = strings.NewReplacer("gate_proj", "w1", "up_proj", "w3", "down_proj", "w2").Replace(name)
		}
		if strings.HasSuffix(name, "norm.weight") { // written as F16 below
			continue
		}
		if strings.Contains(name, "layers.1") {
			shard2[name] = r
		} else {
			shard1[name] = r
		}
	}
	for _, tn := range src.ts {
		if strings.HasSuffix(tn.name, "norm.weight") {
			// Norm weights as F16: values 1±0.1 lose a little precision, so set
			// the source to the F16-rounded values before comparing.
			raw := make([]byte, 2*len(tn.vec))
			for i, v := range tn.vec {
				h := f16FromFloat32(v)
				tn.vec[i] = float32FromF16(h)
				binary.LittleEndian.PutUint16(raw[2*i:], h)
			}
			shard1[tn.name] = rawTensor{"F16", []int64{int64(len(tn.vec))}, raw}
		}
	}
	p1, p2 := filepath.Join(dir, "model-00001-of-00002.safetensors"), filepath.Join(dir, "model-00002-of-00002.safetensors")
	writeST(t, p1, shard1)
	writeST(t, p2, shard2)
	got, err := Load(Config{Arch: a, Weights: dtype.BF16}, p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	sameBits(t, "mixtral names, f16 norms, two shards", prefillLogits(t, got), prefillLogits(t, src))
}

// f16FromFloat32 rounds toward zero to an IEEE half (normal range only);
// enough to produce test data.
func f16FromFloat32(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int(u>>23&0xff) - 127 + 15
	return sign | uint16(exp)<<10 | uint16(u>>13&0x3ff)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	a := testArchs()[0]
	src := newTestEngine(t, a, dtype.FP32, 0)
	good := filepath.Join(dir, "good.safetensors")
	if err := src.Save(good); err != nil {
		t.Fatal(err)
	}
	ts := readST(t, good)
	write := func(name string, mutate func(map[string]rawTensor)) string {
		m := map[string]rawTensor{}
		for k, v := range ts {
			m[k] = v
		}
		mutate(m)
		p := filepath.Join(dir, name)
		writeST(t, p, m)
		return p
	}
	const q = "model.layers.1.self_attn.q_proj.weight"
	missing := write("missing.safetensors", func(m map[string]rawTensor) { delete(m, q) })
	const k = "model.layers.0.self_attn.k_proj.weight"
	shape := write("shape.safetensors", func(m map[string]rawTensor) {
		r := m[k]
		r.Shape = []int64{r.Shape[1], r.Shape[0]}
		m[k] = r
	})
	unsupported := write("f64.safetensors", func(m map[string]rawTensor) {
		r := m[q]
		r.DType = "F64"
		m[q] = r
	})
	truncated := filepath.Join(dir, "truncated.safetensors")
	b, _ := os.ReadFile(good)
	os.WriteFile(truncated, b[:len(b)-10], 0o644)
	badLen := filepath.Join(dir, "badlen.safetensors")
	os.WriteFile(badLen, binary.LittleEndian.AppendUint64(nil, 1<<40), 0o644)
	badJSON := filepath.Join(dir, "badjson.safetensors")
	os.WriteFile(badJSON, append(binary.LittleEndian.AppendUint64(nil, 5), "{oops"...), 0o644)

	cases := []struct {
		path string
		want []string
	}{
		{missing, []string{"missing.safetensors", q, "missing"}},
		{shape, []string{"shape.safetensors", k, "shape [48 24]"}},
		{unsupported, []string{"f64.safetensors", q, "F64"}},
		{truncated, []string{"truncated.safetensors", "data_offsets"}},
		{badLen, []string{"badlen.safetensors", "header length"}},
		{badJSON, []string{"badjson.safetensors", "JSON"}},
		{filepath.Join(dir, "absent.safetensors"), []string{"absent.safetensors"}},
	}
	for _, c := range cases {
		_, err := Load(Config{Arch: a}, c.path)
		if err == nil {
			t.Errorf("%s: no error", c.path)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", filepath.Base(c.path), err, w)
			}
		}
	}
}
