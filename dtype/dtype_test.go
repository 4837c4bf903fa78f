package dtype

import "testing"

func TestParseAndBytes(t *testing.T) {
	for _, c := range []struct {
		in    string
		want  DType
		bytes float64
	}{
		{"bf16", BF16, 2}, {"BFloat16", BF16, 2}, {"fp32", FP32, 4}, {"half", FP16, 2},
		{"e4m3", FP8, 1}, {"int8", INT8, 1}, {"int4", INT4, 0.5}, {"int2", INT2, 0.25},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want || got.Bytes() != c.bytes {
			t.Errorf("Parse(%q) = %v (%v bytes), %v; want %v (%v bytes)", c.in, got, got.Bytes(), err, c.want, c.bytes)
		}
	}
	if _, err := Parse("fp7"); err == nil {
		t.Error("Parse(fp7) succeeded, want an error listing the known formats")
	}
	if INT4.ComputeType() != BF16 || FP8.ComputeType() != FP8 {
		t.Error("int4 must compute in bf16, fp8 in fp8")
	}
}
