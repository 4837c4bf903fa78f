package reproduce

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/llmsim/llmsim/offload"
)

// The offloading and near-data scenarios (configs/scenarios/offload-*.toml)
// hold several checks each, run by package offload's event executor; each
// check becomes one Result here so that both kinds share one table.

const offloadPrefix = "offload-"

// RunOffload evaluates an offload scenario: one Result per check, with
// Check naming it, Expect "miss" for a declared known gap and Gap its
// residual note.
func RunOffload(sc *offload.Scenario) ([]Result, error) {
	outs, err := sc.Evaluate()
	if err != nil {
		return nil, err
	}
	runs := map[string]offload.RunSpec{}
	for _, r := range sc.Runs {
		runs[r.ID] = r
	}
	out := make([]Result, len(outs))
	for i, o := range outs {
		c := sc.Checks[i]
		r := Result{
			Scenario: sc.Name, Check: o.Check, Paper: sc.Paper, Claim: o.ClaimText, Metric: c.Metric,
			Compare: "within", Claimed: o.Claim, Simulated: o.Simulated, RelativeError: o.Error,
			Tolerance: o.Tolerance, Pass: o.Pass, Expect: "pass", Calibrated: o.Calibrated,
			Scheme: runs[c.Run].Offload, Gap: o.Residual, Source: sc.Paper,
		}
		if o.Absolute {
			r.AbsoluteTolerance, r.Tolerance = o.Tolerance, o.Tolerance/o.Claim
		}
		if o.AtLeast {
			r.Compare = "at_least"
		}
		if o.KnownGap {
			r.Expect = "miss"
		}
		setup := []string{describeRun(runs[c.Run])}
		if c.Over != "" {
			r.Metric = c.Metric + " ratio"
			if c.Inverse {
				r.Metric = c.Metric + " inverse ratio"
			}
			r.Baseline = runs[c.Over].Offload
			setup = append(setup, "over "+describeRun(runs[c.Over]))
		}
		r.Setup = strings.Join(setup, "; ")
		out[i] = r
	}
	return out, nil
}

func describeRun(r offload.RunSpec) string {
	s := fmt.Sprintf("%s: %s on %s, %s", r.ID, r.Model, r.HW, r.Offload)
	if r.KVScheme != "" {
		s += ", kv " + r.KVScheme
	}
	batch := fmt.Sprint(r.Batch)
	switch r.Batch {
	case 0:
		batch = "scheme's"
	case -1:
		batch = "largest that fits"
	}
	return s + fmt.Sprintf(", batch %s, %d+%d tokens", batch, r.Prompt, r.Output)
}

// Everything runs every built-in scenario, KV-cache (kv-*) then offloading
// (offload-*), each kind in name order.
func Everything() ([]Result, error) {
	out, err := RunAll()
	if err != nil {
		return out, err
	}
	off, err := Offloads()
	return append(out, off...), err
}

// Select runs one scenario of either kind: a built-in name (kv-* or
// offload-*) or a TOML file; a file with [[run]] tables is an offload
// scenario.
func Select(nameOrPath string) ([]Result, error) {
	if isFile(nameOrPath) {
		data, err := os.ReadFile(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("scenario: %w", err)
		}
		var probe map[string]any
		if _, err := toml.Decode(string(data), &probe); err != nil {
			return nil, fmt.Errorf("%s: %w", nameOrPath, err)
		}
		if _, ok := probe["run"]; ok {
			sc, err := offload.ParseScenario(data, nameOrPath)
			if err != nil {
				return nil, err
			}
			return RunOffload(sc)
		}
	} else if strings.HasPrefix(nameOrPath, offloadPrefix) {
		scs, err := offload.Scenarios()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, sc := range scs {
			if sc.Name == nameOrPath {
				return RunOffload(sc)
			}
			names = append(names, sc.Name)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("scenario: unknown scenario %q (built-in offload scenarios: %s)", nameOrPath, strings.Join(names, ", "))
	}
	s, err := Load(nameOrPath)
	if err != nil {
		if !isFile(nameOrPath) {
			err = fmt.Errorf("%w; offload scenarios are named offload-*", err)
		}
		return nil, err
	}
	r, err := Run(s)
	if err != nil {
		return nil, err
	}
	return []Result{r}, nil
}

func isFile(nameOrPath string) bool {
	return strings.ContainsAny(nameOrPath, `/\`) || strings.HasSuffix(nameOrPath, ".toml")
}

// Offloads runs every built-in offload scenario in name order.
func Offloads() ([]Result, error) {
	scs, err := offload.Scenarios()
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, sc := range scs {
		rs, err := RunOffload(sc)
		if err != nil {
			return out, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
