package hw

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
)

// Datasheet facts of the built-ins, checkable against the cited sources.
func TestBuiltinDeviceFacts(t *testing.T) {
	cases := []struct {
		device         string
		kind           Kind
		dtype          dtype.DType
		peak           float64 // dense FLOP/s
		capacityBytes  float64
		bytesPerSecond float64
	}{
		{"h100-sxm", GPU, dtype.BF16, 989.4e12, 80 << 30, 3.35e12},
		{"h100-sxm", GPU, dtype.FP8, 1978.9e12, 80 << 30, 3.35e12},
		{"h100-pcie", GPU, dtype.BF16, 756.5e12, 80 << 30, 2.0e12},
		{"h200", GPU, dtype.BF16, 989.4e12, 141 << 30, 4.8e12},
		{"a100-80g-sxm", GPU, dtype.BF16, 312e12, 80 << 30, 2.039e12},
		{"a100-40g-sxm", GPU, dtype.FP16, 312e12, 40 << 30, 1.555e12},
		{"v100s", GPU, dtype.FP16, 130e12, 32 << 30, 1.134e12},
		{"rtx-a6000", GPU, dtype.BF16, 154.8e12, 48 << 30, 768e9},
		{"rtx-4090", GPU, dtype.BF16, 165.2e12, 24 << 30, 1.008e12},
		{"t4", GPU, dtype.FP16, 65e12, 16 << 30, 320e9},
		{"l40s", GPU, dtype.BF16, 362.05e12, 48 << 30, 864e9},
		{"xeon-8480", CPU, dtype.BF16, 112 * 1024 * 2.0e9, 2 << 40, 2 * 8 * 4800e6 * 8},
		{"apple-m2-max", CPU, dtype.FP16, 13.6e12, 64 << 30, 400e9},
		{"hbm-pim", PIM, dtype.FP16, 128 * 16 * 2 * 300e6, 6 << 30, 1024 * 2.4e9 / 8},
		{"gddr6-aim", PIM, dtype.BF16, 32 * 16 * 2 * 1e9, 1 << 30, 64e9},
		{"alveo-u280", FPGA, dtype.FP16, 9024 * 2 * 225e6, 8 << 30, 460e9},
		{"versal-vhk158", FPGA, dtype.FP16, 7392 * 2 * 300e6, 32 << 30, 819.2e9},
		{"smartssd", CSD, dtype.FP16, 1968 * 2 * 300e6, 4 << 30, 19.2e9},
		{"nvme-ssd", SSD, "", 0, 2e12, 7.45e9},
		{"ufs-phone", Flash, "", 0, 512e9, 4.2e9},
	}
	for _, c := range cases {
		d, err := LoadDevice(c.device)
		if err != nil {
			t.Fatalf("%s: %v", c.device, err)
		}
		if d.Kind != c.kind {
			t.Errorf("%s: kind %s, want %s", c.device, d.Kind, c.kind)
		}
		if c.dtype != "" && !near(d.DTypePeak(c.dtype), c.peak) {
			t.Errorf("%s: %s peak %g, want %g", c.device, c.dtype, d.DTypePeak(c.dtype), c.peak)
		}
		m := d.MainMemory()
		if m.CapacityBytes != c.capacityBytes || !near(m.BytesPerSecond, c.bytesPerSecond) {
			t.Errorf("%s: memory %g B at %g B/s, want %g at %g", c.device, m.CapacityBytes, m.BytesPerSecond, c.capacityBytes, c.bytesPerSecond)
		}
	}
}

func TestH100Exact(t *testing.T) {
	d, err := LoadDevice("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	// Dense BF16 is half the datasheet's 1,979 TFLOPS "with sparsity".
	if got := d.DTypePeak(dtype.BF16); got != 989.4e12 {
		t.Errorf("bf16 peak %g", got)
	}
	if got := d.MainMemory().CapacityBytes; got != 85_899_345_920 {
		t.Errorf("capacity %g, want 85,899,345,920 (80 GiB)", got)
	}
	// Sub-8-bit weights fall back to the bf16 compute rate.
	if got := d.DTypePeak(dtype.INT4); got != 989.4e12 {
		t.Errorf("int4 falls back to %g", got)
	}
	// Calibrated against validate/gpu/data/h100/kernels.csv: bf16 GEMMs peaked
	// at 786 TFLOP/s and ran at 700-790 on large shapes; M=1 GEMVs streamed
	// weights at up to 2.85 TB/s.
	if f := d.Efficiency.ComputeFraction(1e13, ClassGEMM); f*989.4e12 < 690e12 || f*989.4e12 > 790e12 {
		t.Errorf("large GEMM reaches %.0f TFLOP/s, want 690-790 (measured)", f*989.4)
	}
	if f := d.Efficiency.MemoryFraction(1<<30, ClassGEMM); f*3.35e12 < 2.6e12 || f*3.35e12 > 3.0e12 {
		t.Errorf("1 GiB weight stream reaches %.2f TB/s, want 2.6-3.0 (measured)", f*3.35)
	}
	// The measured unfused PyTorch RMSNorm moves 0.5 MB in 24 µs: a few
	// percent of bandwidth, far below a streaming GEMV.
	if f := d.Efficiency.MemoryFraction(5.3e5, "norm", ClassVector); f > 0.05 {
		t.Errorf("small norm kernel fraction %.3f, want < 0.05", f)
	}
	if d.Calibration == nil || d.Calibration.Dataset != "validate/gpu/data/h100" {
		t.Errorf("h100-sxm must record its calibration dataset, got %+v", d.Calibration)
	}
}

func TestBuiltinSystemFacts(t *testing.T) {
	cases := []struct {
		system      string
		accelerator string
		count       int
		host        string
		linkA       string
		linkB       string
		linkBytes   float64
	}{
		{"dgx-h100", "h100-sxm", 8, "xeon-8480", "gpu", "gpu", 450e9},
		{"dgx-h200", "h200", 8, "xeon-8480", "gpu", "gpu", 450e9},
		{"dgx-a100", "a100-80g-sxm", 8, "epyc-7742", "gpu", "gpu", 300e9},
		{"h100-node", "h100-sxm", 1, "xeon-8480", "gpu", "cpu", 64e9},
		{"t4-flexgen", "t4", 1, "n1-highmem-32", "gpu", "cpu", 16e9},
		{"a6000-csd", "rtx-a6000", 1, "xeon-8480", "csd", "gpu", 4e9},
		{"m2-laptop", "apple-m2-max", 1, "apple-m2-max", "ssd", "soc", 8e9},
	}
	for _, c := range cases {
		s, err := Load(c.system)
		if err != nil {
			t.Fatalf("%s: %v", c.system, err)
		}
		p := s.Primary()
		if p.Device.Name != c.accelerator || p.Count != c.count {
			t.Errorf("%s: accelerator %d × %s, want %d × %s", c.system, p.Count, p.Device.Name, c.count, c.accelerator)
		}
		if h := s.HostGroup(); h == nil || h.Device.Name != c.host {
			t.Errorf("%s: host %+v, want %s", c.system, h, c.host)
		}
		if l := s.LinkBetween(c.linkA, c.linkB); l == nil || l.BytesPerSecond != c.linkBytes {
			t.Errorf("%s: link %s-%s = %+v, want %g B/s", c.system, c.linkA, c.linkB, l, c.linkBytes)
		}
	}
	dgx, _ := Load("dgx-h100")
	if l := dgx.LinkBetween("gpu", "gpu"); l.Topology != "switch" || !l.PeerToPeer || l.Name != "nvlink4" {
		t.Errorf("dgx-h100 NVLink: %+v", l)
	}
	csd, _ := Load("a6000-csd")
	if l := csd.LinkBetween("gpu", "csd"); !l.PeerToPeer || !csd.Group("csd").Device.CSD.PeerToPeer {
		t.Error("a6000-csd: GPU<->CSD must be peer-to-peer")
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }
