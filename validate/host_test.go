package validate

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
	"github.com/llmsim/llmsim/validate/bench"
)

// truthHost is a CPU whose curves and overheads the host fit must recover
// from step timings it generates itself.
func truthHost() *hw.Device {
	return &hw.Device{
		Name: "truth-cpu", Kind: hw.CPU,
		Compute: hw.Compute{FLOPSPerSecond: map[string]float64{"fp32": 20e9}, Units: 2},
		Memory:  []hw.MemoryTier{{Name: "dram", CapacityBytes: 16 << 30, BytesPerSecond: 40e9}},
		Efficiency: hw.Efficiency{
			Compute: map[string]hw.Curve{
				hw.ClassGEMM:      {Points: [][2]float64{{1e6, 0.3}, {1e9, 0.8}}},
				hw.ClassAttention: {Points: [][2]float64{{1e5, 0.1}, {1e8, 0.3}}},
			},
			Memory: hw.Curve{Points: [][2]float64{{1e4, 0.1}, {1e7, 0.6}}},
		},
		Overhead: hw.Overhead{KernelSeconds: 2e-6, StepSeconds: 50e-6},
	}
}

// syntheticSteps prices the grid of plan's models on dev, op by op, as if
// the engine had run exactly that fast.
func syntheticSteps(t *testing.T, dev *hw.Device, plan EnginePlan) []EngineStep {
	t.Helper()
	prec := EnginePrecision("")
	var out []EngineStep
	for _, s := range PlanPoints(plan) {
		m, err := models.New(s.Arch)
		if err != nil {
			t.Fatal(err)
		}
		cost := roofline.Step(m.Graph(s.Seqs(), prec, models.Options{}), dev)
		s.Ops = map[string]float64{}
		for _, oc := range cost.Ops {
			s.Ops[oc.Name] += oc.Seconds
		}
		s.Seconds = cost.Seconds
		out = append(out, s)
	}
	return out
}

func TestFitHostRecoversKnownHost(t *testing.T) {
	truth := truthHost()
	plan := CalibrationPlan(false)
	plan.Models = plan.Models[:1] // a dense shape keeps the test short; TestFitHostKinds covers MoE
	steps := syntheticSteps(t, truth, plan)
	base := truthHost()
	base.Efficiency, base.Overhead = hw.Efficiency{}, hw.Overhead{}
	dev, fit, err := FitHost(base, steps, EnginePrecision(""))
	if err != nil {
		t.Fatal(err)
	}
	// The steps are op sums plus exactly 50 µs, so the median of
	// (step − Σ ops) is 50 µs.
	if math.Abs(dev.Overhead.StepSeconds-50e-6) > 1e-12 {
		t.Errorf("step overhead = %v, want 50e-6", dev.Overhead.StepSeconds)
	}
	// The per-op overhead trades off against the small-size end of the
	// vector curves (both slow the µs ops), so only its order is pinned.
	if k := dev.Overhead.KernelSeconds; k < 0.5e-6 || k > 8e-6 {
		t.Errorf("kernel overhead = %v, want a few µs (truth 2e-6)", k)
	}
	if fit.MAPE > 3 {
		t.Errorf("fit to noiseless op times: MAPE %.2f%%, want < 3%%", fit.MAPE)
	}
	// A prefill GEMM of 1e9 FLOPs runs at 0.8 of 20 GFLOP/s in the truth.
	if f := dev.Efficiency.ComputeFraction(1e9, hw.ClassGEMM); math.Abs(f-0.8) > 0.05 {
		t.Errorf("gemm compute fraction at 1e9 FLOPs = %.3f, want 0.8", f)
	}
	c, err := CompareEngine(steps, GraphPricer(dev, EnginePrecision("")))
	if err != nil {
		t.Fatal(err)
	}
	if c.StepMAPE > 2 {
		t.Errorf("recovered host predicts its own steps with MAPE %.2f%%, want < 2%%", c.StepMAPE)
	}
}

func TestCompareEngineWorkedNumbers(t *testing.T) {
	arch := dense("t", 1, 128, 2, 256, 64).Arch
	steps := []EngineStep{
		{Model: "t", Arch: arch, Phase: "decode", Batch: 1, Tokens: 4, Seconds: 2.0, Ops: map[string]float64{"qkv": 1.0, "lm_head": 1.0}},
		{Model: "t", Arch: arch, Phase: "prefill", Batch: 1, Tokens: 4, Seconds: 1.0, Ops: map[string]float64{"qkv": 0.5, "lm_head": 0.5}},
	}
	// A pricer that says 2.2 s (qkv 1.2 + lm_head 1.0) for decode and 0.8 s
	// (0.4 + 0.4) for prefill.
	price := func(m *models.Model, seqs []models.Seq) roofline.StepCost {
		if seqs[0].Cached > 0 {
			return roofline.StepCost{Seconds: 2.2, Ops: []roofline.OpCost{{Name: "qkv", Seconds: 1.2}, {Name: "lm_head", Seconds: 1.0}}}
		}
		return roofline.StepCost{Seconds: 0.8, Ops: []roofline.OpCost{{Name: "qkv", Seconds: 0.4}, {Name: "lm_head", Seconds: 0.4}}}
	}
	c, err := CompareEngine(steps, price)
	if err != nil {
		t.Fatal(err)
	}
	// Steps: +10% and −20%: MAPE 15%, worst −20%.
	if math.Abs(c.StepMAPE-15) > 1e-9 || math.Abs(c.StepWorst+20) > 1e-9 {
		t.Errorf("step MAPE %v worst %v, want 15 and -20", c.StepMAPE, c.StepWorst)
	}
	// qkv: +20% and −20%; lm_head: 0% and −20%.
	if math.Abs(c.OpMAPE["qkv"]-20) > 1e-9 || math.Abs(c.OpMAPE["lm_head"]-10) > 1e-9 {
		t.Errorf("op MAPE %v, want qkv 20 and lm_head 10", c.OpMAPE)
	}
	// qkv took 1.5 of the 3 measured seconds.
	if math.Abs(c.OpShare["qkv"]-0.5) > 1e-9 {
		t.Errorf("qkv share = %v, want 0.5", c.OpShare["qkv"])
	}
}

func TestBuiltinPlansAreDisjoint(t *testing.T) {
	for _, quick := range []bool{true, false} {
		for _, cal := range []bool{true, false} {
			if err := Disjoint(PlanPoints(CalibrationPlan(cal)), PlanPoints(ValidationPlan(quick))); err != nil {
				t.Errorf("calibration(quick=%v) vs validation(quick=%v): %v", cal, quick, err)
			}
		}
	}
	val := PlanPoints(ValidationPlan(true))
	if err := Disjoint(val, val); err == nil {
		t.Error("a plan against itself must not be disjoint")
	}
	// Same shape under another name is caught too.
	renamed := PlanPoints(CalibrationPlan(true))
	for i := range renamed {
		renamed[i].Model = "other"
	}
	if err := Disjoint(PlanPoints(CalibrationPlan(true)), renamed); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("renamed calibration shape: got %v, want a shape error", err)
	}
}

func TestCeilingsPickBestRuns(t *testing.T) {
	res := []bench.Result{
		{Kind: "read", Threads: 2, Bytes: 64 << 20, BytesPerSecond: 12e9},
		{Kind: "copy", Threads: 2, Bytes: 128 << 20, BytesPerSecond: 23e9},
		{Kind: "copy", Threads: 1, BytesPerSecond: 30e9}, // other thread count: ignored
		{Kind: "gemm", Threads: 2, DType: dtype.FP32, M: 256, N: 2048, K: 2048, FLOPsPerSecond: 13e9},
		{Kind: "gemm", Threads: 2, DType: dtype.FP32, M: 1, N: 2048, K: 2048, FLOPsPerSecond: 8e9},
		{Kind: "gemm", Threads: 2, DType: dtype.BF16, M: 16, N: 2048, K: 2048, FLOPsPerSecond: 5e9},
	}
	c, err := Ceilings(res, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.BytesPerSecond != 23e9 || c.Memory.Kind != "copy" {
		t.Errorf("bandwidth %v from %s, want 23e9 from copy", c.BytesPerSecond, c.Memory.Kind)
	}
	dev := c.Device("h")
	if dev.Compute.FLOPSPerSecond["fp32"] != 13e9 || dev.Compute.FLOPSPerSecond["bf16"] != 5e9 || dev.Kind != hw.CPU {
		t.Errorf("peaks %v kind %s, want fp32 13e9, bf16 5e9, cpu", dev.Compute.FLOPSPerSecond, dev.Kind)
	}
	if _, err := Ceilings(res, 4); err == nil {
		t.Error("no runs at 4 threads: want an error")
	}
}

func TestWriteHostTOMLLoads(t *testing.T) {
	truth := truthHost()
	plan := CalibrationPlan(true)
	steps := syntheticSteps(t, truth, plan)
	ceil := HostCeilings{Threads: 2, BytesPerSecond: 40e9, Memory: bench.Result{Kind: "copy", Threads: 2, Bytes: 128 << 20},
		FLOPSPerSecond: map[dtype.DType]float64{dtype.FP32: 20e9},
		GEMM:           map[dtype.DType]bench.Result{dtype.FP32: {Kind: "gemm", DType: dtype.FP32, M: 256, N: 1024, K: 1024, FLOPsPerSecond: 20e9}},
		CPUModel:       "Test CPU", LLCBytes: 16 << 20, MemoryBytes: 8 << 30}
	dev, fit, err := FitHost(ceil.Device("unit-host"), steps, EnginePrecision(""))
	if err != nil {
		t.Fatal(err)
	}
	cal := &HostCalibration{Device: dev, Ceilings: ceil, Plan: plan, Steps: steps, Fit: fit,
		Date: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), GoVersion: "go1.26.8"}
	dev.Calibration = &hw.Calibration{Method: "test", Date: "2026-12-01", Dataset: PlanSummary(plan), Machine: "Test CPU"}
	var b bytes.Buffer
	if err := WriteHostTOML(&b, cal); err != nil {
		t.Fatal(err)
	}
	got, err := hw.ParseDevice(b.Bytes(), "unit-host.toml")
	if err != nil {
		t.Fatalf("written description does not load: %v\n%s", err, b.String())
	}
	if got.MainMemory().BytesPerSecond != 40e9 || got.Compute.FLOPSPerSecond["fp32"] != 20e9 || got.Compute.Units != 2 {
		t.Errorf("loaded bandwidth %v, fp32 %v, units %d", got.MainMemory().BytesPerSecond, got.Compute.FLOPSPerSecond["fp32"], got.Compute.Units)
	}
	if got.Calibration == nil || got.Calibration.Date != "2026-12-01" || !strings.Contains(got.Calibration.Dataset, "cal-gqa-384") {
		t.Errorf("calibration record %+v", got.Calibration)
	}
	for _, want := range []string{"Test CPU", "go1.26.8", "cal-moe-384", "# Calibration points"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("file lacks %q", want)
		}
	}
	// The loaded file prices a step as the fitted device does (curves
	// are written to 4 significant digits).
	m, _ := models.New(plan.Models[0].Arch)
	g := m.Graph([]models.Seq{{Cached: 20, New: 1}}, EnginePrecision(""), models.Options{})
	a, z := roofline.StepSeconds(g, dev), roofline.StepSeconds(g, got)
	if math.Abs(z/a-1) > 1e-3 {
		t.Errorf("loaded file prices a decode step at %v, fitted device at %v", z, a)
	}
}
