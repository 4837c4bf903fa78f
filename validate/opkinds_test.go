package validate

import (
	"math"
	"testing"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// The activation and routed experts have kinds of their own so that a
// calibrated CPU can price them apart; a description without those curves
// (every GPU file) must price them exactly as the elementwise and gemm ops
// they were before.
func TestActivationAndExpertsFallBack(t *testing.T) {
	h100, err := hw.LoadDevice("h100-sxm")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h100.Efficiency.Compute["elementwise"]; !ok {
		t.Fatal("h100-sxm has no elementwise curve: the test needs one to tell the fall-back from the vector class")
	}
	act := models.Op{Name: "act", Kind: models.KindActivation, Repeat: 32, FLOPs: 5 * 4096 * 14336,
		ActivationReadBytes: 2 * 4096 * 14336 * 2, ActivationWriteBytes: 4096 * 14336 * 2, Compute: dtype.BF16}
	asElemwise := act
	asElemwise.Kind = models.KindElemwise
	if a, e := roofline.Cost(&act, h100), roofline.Cost(&asElemwise, h100); a.Seconds != e.Seconds || a.Bound != e.Bound {
		t.Errorf("act on h100-sxm: %v s (%s) as activation, %v s (%s) as elementwise; want identical", a.Seconds, a.Bound, e.Seconds, e.Bound)
	}
	experts := models.Op{Name: "experts", Kind: models.KindExperts, Repeat: 32, M: 4, N: 14336, K: 4096,
		FLOPs: 2 * 4 * 3 * 4096 * 14336, WeightBytes: 8 * 3 * 4096 * 14336 * 2, Compute: dtype.BF16}
	asGEMM := experts
	asGEMM.Kind = models.KindGEMM
	if a, g := roofline.Cost(&experts, h100), roofline.Cost(&asGEMM, h100); a.Seconds != g.Seconds || a.Bound != g.Bound {
		t.Errorf("experts on h100-sxm: %v s as experts, %v s as gemm; want identical", a.Seconds, g.Seconds)
	}

	// A device with its own activation curve uses it: 1e9 FLOPs at 0.1 of
	// 10 GFLOP/s take 1 s; as elementwise at 0.5, 0.2 s.
	cpu := &hw.Device{Name: "c", Kind: hw.CPU,
		Compute: hw.Compute{FLOPSPerSecond: map[string]float64{"fp32": 10e9}, Units: 1},
		Memory:  []hw.MemoryTier{{Name: "dram", CapacityBytes: 1 << 30, BytesPerSecond: 10e9}},
		Efficiency: hw.Efficiency{Compute: map[string]hw.Curve{
			"activation":  {Points: [][2]float64{{1, 0.1}}},
			"elementwise": {Points: [][2]float64{{1, 0.5}}},
			"experts":     {Points: [][2]float64{{1, 0.25}}},
			"gemm":        {Points: [][2]float64{{1, 1}}},
		}},
	}
	op := models.Op{Name: "act", Kind: models.KindActivation, Repeat: 1, FLOPs: 1e9, Compute: dtype.FP32}
	if got := roofline.Cost(&op, cpu).Seconds; math.Abs(got-1) > 1e-12 {
		t.Errorf("activation with its own curve: %v s, want 1", got)
	}
	op.Kind = models.KindElemwise
	if got := roofline.Cost(&op, cpu).Seconds; math.Abs(got-0.2) > 1e-12 {
		t.Errorf("elementwise: %v s, want 0.2", got)
	}
	// Routed experts: 1e9 FLOPs at 0.25 of 10 GFLOP/s = 0.4 s; a dense GEMM
	// at 1.0 = 0.1 s.
	op.Kind = models.KindExperts
	if got := roofline.Cost(&op, cpu).Seconds; math.Abs(got-0.4) > 1e-12 {
		t.Errorf("experts with their own curve: %v s, want 0.4", got)
	}
	op.Kind = models.KindGEMM
	if got := roofline.Cost(&op, cpu).Seconds; math.Abs(got-0.1) > 1e-12 {
		t.Errorf("gemm: %v s, want 0.1", got)
	}
}

func TestGraphKindsOfActAndExperts(t *testing.T) {
	m, err := models.New(moe("k", 2, 256, 2, 4, 2, 128, 1, 512).Arch)
	if err != nil {
		t.Fatal(err)
	}
	d, err := models.New(dense("d", 2, 256, 2, 512, 512).Arch)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]models.OpKind{models.OpAct: models.KindActivation, models.OpExperts: models.KindExperts,
		models.OpSharedExpert: models.KindGEMM, models.OpResidual: models.KindElemwise, models.OpGateUp: models.KindGEMM}
	seen := map[string]bool{}
	for _, mod := range []*models.Model{m, d} {
		for _, op := range mod.Graph([]models.Seq{{New: 4}}, EnginePrecision(""), models.Options{}).Ops {
			if k, ok := want[op.Name]; ok {
				seen[op.Name] = true
				if op.Kind != k {
					t.Errorf("%s: kind %q, want %q", op.Name, op.Kind, k)
				}
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("saw ops %v, want all of %v", seen, want)
	}
	for k, base := range map[models.OpKind]models.OpKind{models.KindActivation: models.KindElemwise,
		models.KindExperts: models.KindGEMM, models.KindNorm: models.KindNorm, models.KindRouter: models.KindRouter} {
		if got := k.Base(); got != base {
			t.Errorf("%s.Base() = %s, want %s", k, got, base)
		}
	}
	if roofline.Class(models.KindExperts) != hw.ClassGEMM || roofline.Class(models.KindActivation) != hw.ClassVector {
		t.Errorf("classes: experts %s, activation %s; want gemm, vector",
			roofline.Class(models.KindExperts), roofline.Class(models.KindActivation))
	}
}

// FitHost fits the activation and routed experts under curves of their own
// (the engine's SiLU costs an exp per element, its experts are one small
// GEMM per chosen expert) and keeps the residual add on elementwise.
func TestFitHostKinds(t *testing.T) {
	truth := truthHost()
	plan := CalibrationPlan(true)
	steps := syntheticSteps(t, truth, plan)
	base := truthHost()
	base.Efficiency, base.Overhead = hw.Efficiency{}, hw.Overhead{}
	dev, fit, err := FitHost(base, steps, EnginePrecision(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"activation", "elementwise", "experts", hw.ClassGEMM, "norm"} {
		if _, ok := dev.Efficiency.Compute[k]; !ok {
			t.Errorf("no compute curve %q fitted (have %v)", k, sortedCurveKeys(dev.Efficiency.Compute))
		}
	}
	if fit.MAPE > 5 {
		t.Errorf("fit to noiseless op times: MAPE %.2f%%, want < 5%%", fit.MAPE)
	}
}
