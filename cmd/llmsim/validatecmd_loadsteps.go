package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/validate"
)

// savedSteps is the file --save-steps writes and --load-steps reads.
type savedSteps struct {
	Calibration []validate.EngineStep `json:"calibration"`
	Validation  []validate.EngineStep `json:"validation"`
}

// runLoadedValidation validates on steps measured earlier (--load-steps):
// the --hw description as it is, or with --refit its ceilings refitted to
// the file's calibration steps. Nothing runs on the engine, so a change to
// the graph, the roofline or the fit is re-validated in seconds, on the
// same measurements.
func runLoadedValidation(e *engineFlags, format string, stdout, stderr io.Writer, start time.Time) error {
	for _, bad := range []struct {
		set  bool
		flag string
	}{{e.model != "", "model"}, {e.quick, "quick"}, {e.saveSteps != "", "save-steps"}} {
		if bad.set {
			return fmt.Errorf("--load-steps and --%s: the steps come from the file", bad.flag)
		}
	}
	if !e.hwGiven {
		return fmt.Errorf("--load-steps needs --hw: the description to validate (with --refit, the one whose ceilings are refitted)")
	}
	b, err := os.ReadFile(e.loadSteps)
	if err != nil {
		return fmt.Errorf("--load-steps: %w", err)
	}
	var saved savedSteps
	if err := json.Unmarshal(b, &saved); err != nil {
		return fmt.Errorf("--load-steps %s: %w", e.loadSteps, err)
	}
	if len(saved.Validation) == 0 {
		return fmt.Errorf("--load-steps %s: no validation steps", e.loadSteps)
	}
	if err := validate.Disjoint(saved.Calibration, saved.Validation); err != nil {
		return fmt.Errorf("--load-steps %s: %w", e.loadSteps, err)
	}
	dev, err := hw.LoadDevice(e.hw)
	if err != nil {
		return fmt.Errorf("--hw: %w", err)
	}
	if dev.Kind != hw.CPU {
		return fmt.Errorf("--hw: %s is a %s; --engine cpu needs a CPU description of this host", e.hw, dev.Kind)
	}
	res := engineResult{hw: e.hw, plan: validate.EnginePlan{Threads: dev.Compute.Units}}
	if e.refit {
		if len(saved.Calibration) == 0 {
			return fmt.Errorf("--refit: %s has no calibration steps (it was saved by a run with --hw; save them from a run that calibrates in-process)", e.loadSteps)
		}
		prec := validate.EnginePrecision(res.plan.Weights)
		fitted, fit, err := validate.FitHost(dev, saved.Calibration, prec)
		if err != nil {
			return err
		}
		cal := &validate.HostCalibration{Device: fitted, Steps: saved.Calibration, Fit: fit}
		if cal.Calibration, err = validate.CompareEngine(saved.Calibration, validate.GraphPricer(fitted, prec)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "refit %s to %d calibration steps of %s: %d op samples, %d parameters, op MAPE %.1f%%; calibration step MAPE %.1f%%\n",
			e.hw, len(saved.Calibration), e.loadSteps, fit.Samples, fit.Parameters, fit.MAPE, cal.Calibration.StepMAPE)
		dev, res.cal, res.hw = fitted, cal, e.hw+" refitted to "+e.loadSteps
	}
	return reportEngine(e, format, stdout, res, dev, saved.Validation, start)
}
