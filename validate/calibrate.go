package validate

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/llmsim/llmsim/hw"
)

// GPUCalibration is the result of fitting a device to a measured GPU dataset
// (validate/gpu/measure.py output): curves and kernel overhead from the
// kernel microbenchmarks, step overhead from the calibration steps, and the
// error on the validation steps, which took no part in the fit.
type GPUCalibration struct {
	Device      *hw.Device
	Kernels     FitReport
	Calibration Comparison // steps used to fit the step overhead
	Validation  Comparison // held-out steps
	Skipped     int        // kernel rows of formats llmsim does not fit (e.g. fp8)
}

// StepFilter selects steps; calibration and validation sets must not share a
// point.
type StepFilter func(StepPoint) bool

// ByModels selects steps of the named models.
func ByModels(names ...string) StepFilter {
	return func(p StepPoint) bool {
		for _, n := range names {
			if p.Model == n {
				return true
			}
		}
		return false
	}
}

// CalibrateGPU fits base to the dataset in dir (kernels.csv, steps.csv).
// Steps measured with mode are used; calib picks the calibration steps and
// every other step validates. attention names the attention backend whose
// kernels to fit (the one the steps ran). extraKernels are more kernels.csv
// files of the same GPU fitted together with dir's (e.g. a later run over
// short caches).
func CalibrateGPU(base *hw.Device, dir, mode, attention string, minPrefillTokens int, calib StepFilter, extraKernels ...string) (*GPUCalibration, error) {
	var kernels []KernelSample
	var skipped int
	for _, f := range append([]string{filepath.Join(dir, "kernels.csv")}, extraKernels...) {
		k, s, err := ReadKernels(f, attention)
		if err != nil {
			return nil, err
		}
		kernels, skipped = append(kernels, k...), skipped+s
	}
	steps, err := ReadSteps(filepath.Join(dir, "steps.csv"))
	if err != nil {
		return nil, err
	}
	dev, rep, err := FitKernels(base, kernels)
	if err != nil {
		return nil, err
	}
	var cal, val []StepPoint
	for _, p := range SelectMode(steps, mode, minPrefillTokens) {
		if calib(p) {
			cal = append(cal, p)
		} else {
			val = append(val, p)
		}
	}
	if len(cal) == 0 || len(val) == 0 {
		return nil, fmt.Errorf("%s: need both calibration (%d) and validation (%d) steps in mode %q", dir, len(cal), len(val), mode)
	}
	// The step overhead is what a graph-launched decode step adds to its
	// kernels; prefill steps are eager and would fold host dispatch in.
	var calDecode []StepPoint
	for _, p := range cal {
		if p.Phase == "decode" {
			calDecode = append(calDecode, p)
		}
	}
	if err := FitStepOverhead(dev, calDecode); err != nil {
		return nil, err
	}
	out := &GPUCalibration{Device: dev, Kernels: rep, Skipped: skipped}
	pr := NewPredictor(dev)
	if out.Calibration, err = pr.CompareSteps(cal); err != nil {
		return nil, err
	}
	if out.Validation, err = pr.CompareSteps(val); err != nil {
		return nil, err
	}
	return out, nil
}

// SelectMode keeps decode steps launched in mode and the prefill steps of at
// least minPrefillTokens tokens. Prefill is measured eagerly: PyTorch
// dispatches each of ~1,000-1,700 kernels from Python at some 10-20 µs, so
// below a few thousand tokens the GPU waits on the host and the step times
// the host, not the device (software overhead belongs to the engine
// profiles of sim, not to a device description). An empty mode keeps every
// decode step.
func SelectMode(steps []StepPoint, mode string, minPrefillTokens int) []StepPoint {
	var out []StepPoint
	for _, p := range steps {
		if p.Phase == "prefill" {
			if p.Batch*p.Prompt >= minPrefillTokens {
				out = append(out, p)
			}
		} else if mode == "" || p.Mode == mode {
			out = append(out, p)
		}
	}
	return out
}

// WriteTOML writes the fitted sections of a device description: efficiency
// curves, overheads and the calibration record.
func WriteTOML(w io.Writer, dev *hw.Device) error {
	var b strings.Builder
	curve := func(name string, c hw.Curve) {
		fmt.Fprintf(&b, "[%s]\npoints = [", name)
		for i, p := range c.Points {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "[%.4g, %.4g]", p[0], p[1])
		}
		b.WriteString("]  # fitted: llmsim calibrate gpu\n\n")
	}
	curve("efficiency.memory", dev.Efficiency.Memory)
	for _, c := range sortedCurveKeys(dev.Efficiency.MemoryByClass) {
		curve("efficiency.memory_by_class."+c, dev.Efficiency.MemoryByClass[c])
	}
	for _, c := range sortedCurveKeys(dev.Efficiency.Compute) {
		curve("efficiency.compute."+c, dev.Efficiency.Compute[c])
	}
	fmt.Fprintf(&b, "[overhead]\nkernel_seconds = %.4g  # fitted: per-kernel overhead\nstep_seconds = %.4g  # fitted: median step residual\n", dev.Overhead.KernelSeconds, dev.Overhead.StepSeconds)
	if s := dev.Overhead.AttentionItemSeconds; s > 0 {
		fmt.Fprintf(&b, "attention_item_seconds = %.4g  # per decode-attention work item (sequence × KV head), of one compute unit\n", s)
	}
	if s := dev.Overhead.AttentionTileSeconds; s > 0 {
		fmt.Fprintf(&b, "attention_tile_seconds = %.4g  # per prefill-attention query tile (128 queries × query head), of one compute unit\n", s)
	}
	b.WriteString("\n")
	if c := dev.Calibration; c != nil {
		fmt.Fprintf(&b, "[calibration]\nmethod = %q\ndate = %q\ndataset = %q\nmachine = %q\n", c.Method, c.Date, c.Dataset, c.Machine)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedCurveKeys(m map[string]hw.Curve) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
