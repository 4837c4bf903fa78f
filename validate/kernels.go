package validate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/models"
)

// ReadKernels reads a kernels.csv of validate/gpu/measure.py into samples.
// GEMMs and attention are rebuilt from their shapes with the same formulas
// the model graphs use (attention through models.Graph of a one-layer
// model), so a fit prices exactly what a step will ask for; memory and
// element-wise kernels use the file's bytes and FLOPs. Rows whose op or
// dtype llmsim does not model are skipped and counted, and so are rows whose
// data stayed in L2 (backend tag "l2": they do not measure main memory) and
// attention rows of another backend than attention (e.g. "cudnn", the one
// the measured steps ran; empty keeps all).
func ReadKernels(path, attention string) (samples []KernelSample, skipped int, err error) {
	t, err := readTable(path)
	if err != nil {
		return nil, 0, err
	}
	if err := t.need("op", "dtype", "seconds"); err != nil {
		return nil, 0, err
	}
	for i := range t.rows {
		op, ok, err := kernelOp(t, i)
		if err != nil {
			return nil, 0, err
		}
		tags := strings.Split(t.str(i, "backend"), ";")
		if slices.Contains(tags, "l2") || (attention != "" && op.Kind == models.KindAttention && tags[0] != attention) {
			ok = false
		}
		if !ok {
			skipped++
			continue
		}
		s, err := t.num(i, "seconds")
		if err != nil {
			return nil, 0, err
		}
		if s <= 0 {
			return nil, 0, fmt.Errorf("%s:%d: seconds: must be positive, got %v", t.file, t.line[i], s)
		}
		samples = append(samples, KernelSample{Op: op, Seconds: s})
	}
	return samples, skipped, nil
}

func kernelOp(t *table, i int) (models.Op, bool, error) {
	var vals = map[string]int{}
	for _, c := range []string{"m", "n", "k", "batch", "q_len", "kv_len", "heads", "kv_heads", "head_dim"} {
		v, err := t.int(i, c)
		if err != nil {
			return models.Op{}, false, err
		}
		vals[c] = v
	}
	bytes, err := t.num(i, "bytes")
	if err != nil {
		return models.Op{}, false, err
	}
	flops, err := t.num(i, "flops")
	if err != nil {
		return models.Op{}, false, err
	}
	dt, err := dtype.Parse(t.str(i, "dtype"))
	if err != nil || dt != dtype.BF16 {
		return models.Op{}, false, nil
	}
	name := t.str(i, "op")
	switch name {
	case "gemm":
		m, n, k := float64(vals["m"]), float64(vals["n"]), float64(vals["k"])
		if m*n*k == 0 {
			return models.Op{}, false, fmt.Errorf("%s:%d: gemm needs m, n and k", t.file, t.line[i])
		}
		return models.Op{Name: "gemm", Kind: models.KindGEMM, Repeat: 1, M: vals["m"], N: vals["n"], K: vals["k"],
			FLOPs: 2 * m * n * k, WeightBytes: 2 * n * k, ActivationReadBytes: 2 * m * k, ActivationWriteBytes: 2 * m * n,
			Compute: dtype.BF16}, true, nil
	case "attn_prefill", "attn_decode":
		return attentionOp(name, vals)
	case "copy", "read", "rmsnorm", "silu_mul", "rope", "add":
		if bytes <= 0 {
			return models.Op{}, false, fmt.Errorf("%s:%d: bytes: must be positive for %s", t.file, t.line[i], name)
		}
		kind := models.KindElemwise
		switch name {
		case "rmsnorm":
			kind = models.KindNorm
		case "rope":
			kind = models.KindRoPE
		}
		return models.Op{Name: name, Kind: kind, Repeat: 1, FLOPs: flops,
			ActivationReadBytes: bytes / 2, ActivationWriteBytes: bytes / 2, Compute: dtype.BF16}, true, nil
	}
	return models.Op{}, false, nil
}

// attentionOp builds the attention op of a one-layer model with the row's
// head geometry: prefill rows are batch sequences of q_len new tokens,
// decode rows batch sequences of one new token after kv_len-1 cached ones.
// The op is what the bare SDPA kernel moves — Q, the K and V it attends
// over, the output — so the graph's extra traffic around it (the new
// tokens' K and V read as activations and written to the cache, which a
// step pays in its cache-write kernel) is left out: for a prefill that is
// twice the kernel's K/V bytes, for a decode one token's.
func attentionOp(name string, v map[string]int) (models.Op, bool, error) {
	h, kvh, d := v["heads"], v["kv_heads"], v["head_dim"]
	if h == 0 || kvh == 0 || d == 0 || v["batch"] == 0 {
		return models.Op{}, false, nil
	}
	m, err := models.New(models.Arch{Name: "probe", Family: "llama", Layers: 1, Hidden: h * d, Heads: h, KVHeads: kvh, HeadDim: d,
		Intermediate: 4 * h * d, Vocab: 8, MaxContext: 1 << 26, Norm: "rmsnorm", Activation: "swiglu", Position: "rope", DType: "bf16"})
	if err != nil {
		return models.Op{}, false, err
	}
	seqs := make([]models.Seq, v["batch"])
	for j := range seqs {
		if name == "attn_prefill" {
			seqs[j] = models.Seq{New: max(v["q_len"], 1)}
		} else {
			seqs[j] = models.Seq{Cached: max(v["kv_len"]-1, 0), New: 1}
		}
	}
	var g models.Graph
	m.GraphInto(&g, seqs, models.Precision{Weights: dtype.BF16, Activations: dtype.BF16, KV: dtype.BF16}, models.Options{})
	for _, op := range g.Ops {
		if op.Kind == models.KindAttention {
			op.Name = name
			newKV := op.KVWriteBytes // the new tokens' K and V, in the cache format (bf16 here, as the activations)
			op.KVWriteBytes = 0
			op.ActivationReadBytes -= newKV
			return op, true, nil
		}
	}
	return models.Op{}, false, nil
}
