package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/llmsim/llmsim/reproduce"
)

const reproduceHelp = `llmsim reproduce — run the scenarios that reproduce the papers' headline
numbers (configs/scenarios) and compare the simulated value with each claim.

  llmsim reproduce                       every built-in scenario, as a table
  llmsim reproduce --scenario duo-memory-mha -o json
  llmsim reproduce --scenario my-claim.toml

A scenario sets up a paper's model, hardware, baseline and KV scheme and
names a metric (llmsim reproduce --metrics lists them). It passes when the
simulated value is within the tolerance of the claim ("within"), or not
below (at_least) / above (at_most) the claim by more than the tolerance.
The command exits non-zero when a scenario expected to pass does not.
Offloading and near-data claims run under "llmsim offload reproduce".

Output fields (JSON names; the table shows the same):
  scenario        scenario name (file name under configs/scenarios)
  paper, claim    the paper and its claim in words
  metric          what is compared; compare: within | at_least | at_most
  claimed         the paper's number
  simulated       the simulator's number
  relative_error  simulated / claimed − 1
  tolerance       allowed relative error
  pass            whether the simulated value meets the claim
  expect          pass, or miss for a claim the simulator is known not to
                  reproduce (the gap says why; the table shows "miss (known gap)")
  setup           model, hardware, formats, workload and the numbers behind
                  the ratio
  baseline, scheme  canonical KV scheme specs of the two sides
  gap             the known residual gap between simulation and paper
  source          where the paper states the claim
`

func init() {
	register("reproduce", "compare simulated numbers with the papers' claims (configs/scenarios)", runReproduce)
}

func runReproduce(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reproduce", reproduceHelp, stderr)
	var scenario, format string
	var listMetrics bool
	fs.StringVar(&scenario, "scenario", "", "one scenario: built-in name or TOML file (default: all built-in)")
	fs.StringVarP(&format, "output-format", "o", "table", "table or json")
	fs.BoolVar(&listMetrics, "metrics", false, "list the metrics a scenario can use and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := checkFormat(format, "table", "json"); err != nil {
		return err
	}
	if listMetrics {
		for _, m := range reproduce.Metrics() {
			fmt.Fprintf(stdout, "%-18s %s\n", m[0], m[1])
		}
		return nil
	}
	var results []reproduce.Result
	if scenario != "" {
		s, err := reproduce.Load(scenario)
		if err != nil {
			return err
		}
		r, err := reproduce.Run(s)
		if err != nil {
			return err
		}
		results = append(results, r)
	} else {
		var err error
		if results, err = reproduce.RunAll(); err != nil {
			return err
		}
	}
	var err error
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
		return fmt.Errorf("%d of %d scenarios outside their tolerance", failed, len(results))
	}
	return nil
}

func writeReproduceTable(w io.Writer, results []reproduce.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tpaper\tmetric\tclaim\tsimulated\terror\ttolerance\tpass")
	passed := 0
	for _, r := range results {
		pass := "FAIL"
		switch {
		case r.Pass:
			pass, passed = "pass", passed+1
		case r.Expect == "miss":
			pass = "miss (known gap)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%+.1f%%\t%.0f%%\t%s\n", r.Scenario, shortPaper(r.Paper), r.Metric,
			compareSign(r.Compare), formatValue(r.Claimed), formatValue(r.Simulated), 100*r.RelativeError, 100*r.Tolerance, pass)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d of %d pass; scenarios marked \"miss (known gap)\" are claims the simulator does not reproduce, with the reason under gap\n", passed, len(results))
	for _, r := range results {
		fmt.Fprintf(w, "\n%s — %s\n  claim: %s\n  setup: %s\n  %s vs %s\n", r.Scenario, r.Paper, r.Claim, r.Setup, r.Baseline, r.Scheme)
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
