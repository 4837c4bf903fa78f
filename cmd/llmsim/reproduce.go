package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/llmsim/llmsim/reproduce"
)

const reproduceHelp = `llmsim reproduce — run the scenarios that reproduce the papers' headline
numbers (configs/scenarios) and compare the simulated value with each claim:
KV-cache schemes (kv-*, priced with estimate's op costs) and offloading and
near-data hardware (offload-*, executed by the offload event executor).

  llmsim reproduce                       every built-in scenario, as a table
  llmsim reproduce --kind offload        only the offload-* scenarios
  llmsim reproduce --scenario kv-duo-memory-mha -o json
  llmsim reproduce --scenario offload-h2o-t4
  llmsim reproduce --scenario my-claim.toml

A KV scenario sets up a paper's model, hardware, baseline and KV scheme and
names a metric (llmsim reproduce --metrics lists them); an offload scenario
lists runs (hardware, model, --offload scheme, optional kv_scheme, batch,
prompt, output) and checks (a metric of a run or the ratio of two runs), one
row per check. A row passes when the simulated value is within the tolerance
of the claim ("within"), or not below (at_least) / above (at_most) the claim
by more than the tolerance. The command exits non-zero when a row expected to
pass does not. "llmsim offload reproduce" is "llmsim reproduce --kind offload".

Output fields (JSON names; the table shows the same):
  scenario        scenario name (file name under configs/scenarios)
  check           offload scenarios: which of the scenario's checks
  paper, claim    the paper and its claim in words
  metric          what is compared (offload: a run's metric, or "... ratio"
                  of two runs); compare: within | at_least | at_most
  claimed         the paper's number
  simulated       the simulator's number
  relative_error  simulated / claimed − 1
  tolerance       allowed relative error; absolute_tolerance, when present,
                  is the absolute one that decides (claims printed to few
                  digits, e.g. 0.01 token/s)
  pass            whether the simulated value meets the claim
  expect          pass, or miss for a claim the simulator is known not to
                  reproduce (the gap says why; the table shows "miss (known gap)")
  calibrated      the claim was used to fit a constant of the simulator
                  (consistency, not prediction; the table shows "(cal)")
  setup           model, hardware, formats, workload and the numbers behind
                  the ratio (offload: the runs compared)
  baseline, scheme  KV scheme specs (kv-*) or offload scheme specs (offload-*)
                  of the two sides
  gap             the residual gap between simulation and paper
  source          where the paper states the claim
`

func init() {
	register("reproduce", "compare simulated numbers with the papers' claims (configs/scenarios)", runReproduce)
}

func runReproduce(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reproduce", reproduceHelp, stderr)
	var scenario, format, kind string
	var listMetrics bool
	fs.StringVar(&scenario, "scenario", "", "one scenario: built-in name (kv-* or offload-*) or TOML file (default: all built-in)")
	fs.StringVar(&kind, "kind", "all", "which built-in scenarios to run without --scenario: all, kv or offload")
	fs.StringVarP(&format, "output-format", "o", "table", "table or json")
	fs.BoolVar(&listMetrics, "metrics", false, "list the metrics a scenario can use and exit")
	if err := parseFlags(fs, args, &format, "table", "json"); err != nil {
		return err
	}
	if kind != "all" && kind != "kv" && kind != "offload" {
		return fmt.Errorf("--kind: want all, kv or offload, got %q", kind)
	}
	if listMetrics {
		for _, m := range reproduce.Metrics() {
			fmt.Fprintf(stdout, "%-18s %s\n", m[0], m[1])
		}
		return nil
	}
	var results []reproduce.Result
	var err error
	switch {
	case scenario != "":
		results, err = reproduce.Select(scenario)
	case kind == "kv":
		results, err = reproduce.RunAll()
	case kind == "offload":
		results, err = reproduce.Offloads()
	default:
		results, err = reproduce.Everything()
	}
	if err != nil {
		return err
	}
	if format == "json" {
		if results == nil {
			results = []reproduce.Result{}
		}
		err = writeJSON(stdout, results)
	} else {
		err = writeReproduceTable(stdout, results)
	}
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if !r.Pass && r.Expect != "miss" {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d claims outside their tolerance", failed, len(results))
	}
	return nil
}

func writeReproduceTable(w io.Writer, results []reproduce.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tpaper\tcheck / metric\tclaim\tsimulated\terror\ttolerance\tpass")
	passed := 0
	for _, r := range results {
		pass := "FAIL"
		switch {
		case r.Pass:
			pass, passed = "pass", passed+1
		case r.Expect == "miss":
			pass = "miss (known gap)"
		}
		if r.Calibrated {
			pass += " (cal)"
		}
		what := r.Metric
		if r.Check != "" {
			what = r.Check
		}
		tol := fmt.Sprintf("%.0f%%", 100*r.Tolerance)
		if r.AbsoluteTolerance > 0 {
			tol = fmt.Sprintf("±%g", r.AbsoluteTolerance)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%+.1f%%\t%s\t%s\n", r.Scenario, shortPaper(r.Paper), what,
			compareSign(r.Compare), formatValue(r.Claimed), formatValue(r.Simulated), 100*r.RelativeError, tol, pass)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d of %d pass; rows marked \"miss (known gap)\" are claims the simulator does not reproduce, with the reason under gap\n", passed, len(results))
	for _, r := range results {
		name := r.Scenario
		if r.Check != "" {
			name += " / " + r.Check
		}
		fmt.Fprintf(w, "\n%s — %s\n  claim: %s\n  setup: %s\n", name, r.Paper, r.Claim, r.Setup)
		if r.Baseline != "" || r.Check == "" {
			fmt.Fprintf(w, "  %s vs %s\n", r.Baseline, r.Scheme)
		}
		if r.Gap != "" {
			fmt.Fprintf(w, "  gap:   %s\n", r.Gap)
		}
	}
	return nil
}

func shortPaper(p string) string {
	if i := strings.Index(p, " ("); i > 0 {
		return p[:i]
	}
	return p
}

func compareSign(c string) string {
	switch c {
	case "at_least":
		return "≥"
	case "at_most":
		return "≤"
	}
	return "≈"
}

func formatValue(v float64) string {
	switch {
	case v >= 1e5:
		return fmt.Sprintf("%.3g", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
