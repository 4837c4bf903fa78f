// Package dtype names the numeric formats that weights, activations and the
// KV cache are stored in, and how many bytes an element of each costs.
package dtype

import (
	"fmt"
	"sort"
	"strings"
)

// DType is a storage format such as bf16 or int4. The zero value is invalid.
type DType string

// The formats llmsim understands. Sub-byte formats cost a fraction of a byte
// per element; group scales of quantized formats are accounted by the caller
// (models or the KV scheme), not here.
const (
	FP32 DType = "fp32"
	TF32 DType = "tf32"
	BF16 DType = "bf16"
	FP16 DType = "fp16"
	FP8  DType = "fp8"
	INT8 DType = "int8"
	FP6  DType = "fp6"
	FP4  DType = "fp4"
	INT4 DType = "int4"
	INT3 DType = "int3"
	INT2 DType = "int2"
	INT1 DType = "int1"
)

var bits = map[DType]int{
	FP32: 32, TF32: 32, BF16: 16, FP16: 16, FP8: 8, INT8: 8, FP6: 6,
	FP4: 4, INT4: 4, INT3: 3, INT2: 2, INT1: 1,
}

// Parse reads a format name, case-insensitively. Aliases: float32, float16,
// bfloat16, half, e4m3/e5m2 (fp8).
func Parse(s string) (DType, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "float32", "float":
		name = "fp32"
	case "float16", "half":
		name = "fp16"
	case "bfloat16":
		name = "bf16"
	case "e4m3", "e5m2", "float8":
		name = "fp8"
	}
	d := DType(name)
	if _, ok := bits[d]; !ok {
		return "", fmt.Errorf("unknown dtype %q (known: %s)", s, strings.Join(Names(), ", "))
	}
	return d, nil
}

// Names lists the known formats, sorted.
func Names() []string {
	out := make([]string, 0, len(bits))
	for d := range bits {
		out = append(out, string(d))
	}
	sort.Strings(out)
	return out
}

// Valid reports whether d is a known format.
func (d DType) Valid() bool { _, ok := bits[d]; return ok }

// Bits is the storage width of one element.
func (d DType) Bits() int { return bits[d] }

// Bytes is the storage size of one element in bytes (0.5 for int4).
func (d DType) Bytes() float64 { return float64(bits[d]) / 8 }

// ComputeType is the format whose peak rate a device uses for arithmetic on
// data stored as d. Weight-only formats below 8 bits are dequantised and
// computed in 16-bit on hardware without native low-bit units; the device
// description decides whether it has them, so this is only the fallback.
func (d DType) ComputeType() DType {
	switch d {
	case INT4, INT3, INT2, INT1, FP6, FP4:
		return BF16
	}
	return d
}
