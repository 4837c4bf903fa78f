package validate

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// truth is a device whose curves the fit must recover from its own timings.
func truth() *hw.Device {
	return &hw.Device{
		Name:    "truth",
		Kind:    hw.GPU,
		Compute: hw.Compute{FLOPSPerSecond: map[string]float64{"bf16": 1e15, "fp32": 60e12}},
		Memory:  []hw.MemoryTier{{Name: "hbm", CapacityBytes: 80e9, BytesPerSecond: 3e12}},
		Efficiency: hw.Efficiency{
			Compute: map[string]hw.Curve{hw.ClassGEMM: {Points: [][2]float64{{1e8, 0.2}, {1e10, 0.6}, {1e12, 0.8}}}},
			Memory:  hw.Curve{Points: [][2]float64{{1e5, 0.15}, {1e7, 0.6}, {1e9, 0.9}}},
		},
		Overhead: hw.Overhead{KernelSeconds: 3e-6},
	}
}

func gemmOp(m, n, k int) models.Op {
	fm, fn, fk := float64(m), float64(n), float64(k)
	return models.Op{Name: "gemm", Kind: models.KindGEMM, Repeat: 1, M: m, N: n, K: k,
		FLOPs: 2 * fm * fn * fk, WeightBytes: 2 * fn * fk, ActivationReadBytes: 2 * fm * fk,
		ActivationWriteBytes: 2 * fm * fn, Compute: dtype.BF16}
}

func TestFitKernelsRecoversKnownDevice(t *testing.T) {
	dev := truth()
	var samples []KernelSample
	for _, m := range []int{1, 4, 16, 64, 256, 1024, 4096, 16384} {
		for _, nk := range [][2]int{{4096, 4096}, {14336, 4096}, {1024, 1024}} {
			op := gemmOp(m, nk[0], nk[1])
			samples = append(samples, KernelSample{Op: op, Seconds: roofline.Cost(&op, dev).Seconds})
		}
	}
	for b := 1e4; b <= 4e9; b *= 3 {
		op := models.Op{Name: "copy", Kind: models.KindElemwise, Repeat: 1, ActivationReadBytes: b / 2, ActivationWriteBytes: b / 2, Compute: dtype.BF16}
		samples = append(samples, KernelSample{Op: op, Seconds: roofline.Cost(&op, dev).Seconds})
	}
	base := truth()
	base.Efficiency, base.Overhead = hw.Efficiency{}, hw.Overhead{}
	fitted, rep, err := FitKernels(base, samples)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MAPE > 3 || math.Abs(rep.WorstError) > 12 {
		t.Errorf("fit to noiseless samples: MAPE %.2f%%, worst %.2f%%; want < 3%% and < 12%%", rep.MAPE, rep.WorstError)
	}
	if math.Abs(fitted.Overhead.KernelSeconds-3e-6) > 1.01e-6 {
		t.Errorf("kernel overhead = %v, want about 3e-6", fitted.Overhead.KernelSeconds)
	}
	if f := fitted.Efficiency.MemoryFraction(1e9, string(models.KindElemwise)); math.Abs(f-0.9) > 0.06 {
		t.Errorf("memory fraction at 1 GB = %.3f, want about 0.9", f)
	}
}

func TestErrors(t *testing.T) {
	mape, worst := Errors([]float64{0.1, -0.2, 0.05})
	if math.Abs(mape-35.0/3) > 1e-9 || math.Abs(worst+20) > 1e-9 {
		t.Errorf("Errors = %v, %v; want 11.67, -20", mape, worst)
	}
}
