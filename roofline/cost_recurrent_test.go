package roofline

import (
	"testing"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

// The prefill of a matrix-state scan runs in the chunked form on tensor
// cores. Mamba-2 2.7B, one prompt of 256 tokens (one chunk), per layer:
// 80 heads × 256 × (2·256·(128 + 64) + 4·128·64) = 2,684,354,560 FLOPs
// plus 256·(5·80 + 2·5120) = 2,723,840 per-token ones: 2,687,078,400,
// which the toy device's 1 PFLOP/s tensor peak does in 2.687 µs, not the
// 53.7 µs of its 50 TFLOP/s vector lanes. The decode step and Mamba's
// selective scan stay vector work.
func TestChunkedScanRunsOnTensorCores(t *testing.T) {
	dev := toyDevice()
	m2 := load(t, "mamba2-2.7b")
	pre := opByName(t, m2.Graph([]models.Seq{{New: 256}}, bf16, models.Options{}), models.OpSSMScan)
	if pre.FLOPs != 2687078400 || !pre.Chunked || OpClass(pre) != hw.ClassAttention {
		t.Fatalf("Mamba-2 prefill scan: %g FLOPs, chunked %v, class %s", pre.FLOPs, pre.Chunked, OpClass(pre))
	}
	if c := Cost(pre, dev); !near(c.ComputeSeconds, 64*2687078400/1e15) {
		t.Errorf("prefill scan compute %g s, want %g", c.ComputeSeconds, 64*2687078400/1e15)
	}
	dec := opByName(t, m2.Graph([]models.Seq{{Cached: 256, New: 1}}, bf16, models.Options{}), models.OpSSMScan)
	if dec.Chunked || OpClass(dec) != hw.ClassVector {
		t.Errorf("Mamba-2 decode scan: chunked %v, class %s", dec.Chunked, OpClass(dec))
	}
	if c := Cost(dec, dev); !near(c.ComputeSeconds, 64*dec.FLOPs/50e12) {
		t.Errorf("decode scan compute %g s, want the fp32 peak's %g", c.ComputeSeconds, 64*dec.FLOPs/50e12)
	}
	m1 := load(t, "mamba-2.8b")
	sel := opByName(t, m1.Graph([]models.Seq{{New: 256}}, bf16, models.Options{}), models.OpSSMScan)
	if sel.Chunked || OpClass(sel) != hw.ClassVector {
		t.Errorf("Mamba selective scan: chunked %v, class %s", sel.Chunked, OpClass(sel))
	}
	for _, c := range []struct{ model, op string }{
		{"rwkv6-7b", models.OpRWKVWKV}, {"based-1.3b", models.OpLAScan},
	} {
		o := opByName(t, load(t, c.model).Graph([]models.Seq{{New: 128}}, bf16, models.Options{}), c.op)
		if OpClass(o) != hw.ClassAttention {
			t.Errorf("%s prefill %s: class %s", c.model, c.op, OpClass(o))
		}
	}
}
