package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/llmsim/llmsim/sweep"
)

const sweepHelp = `llmsim sweep — run estimate or simulate over the cartesian product of
parameter values, in parallel on all cores, into CSV or JSON Lines.

  llmsim sweep --hw h100-sxm,a100-80g-sxm --batch 1,8,64 --context 1k..8k:x2 --out decode.csv
  llmsim sweep --phase prefill --prompt 128..1024:+128 --dtype bf16,fp8 -o jsonl
  llmsim sweep --mode simulate --rate 5..40:+5 --engine vllm-like,trtllm-like --out load.csv
  llmsim sweep --file sweep.toml --shard 3/8 --out part-3.csv && llmsim merge part-*.csv --out all.csv

Parameters are the flags of llmsim estimate (--mode estimate, the default) or
llmsim simulate (--mode simulate), with the same names and defaults. Each takes
  a,b,c         a list (a value may itself hold commas: h2o:heavy=0.1,recent=0.1
                stays one value; separate with ';' to be explicit)
  LO..HI        integers from LO to HI, step 1
  LO..HI:+S     arithmetic range; LO..HI:xF geometric range (F > 1)
Numbers take k (×1024) and m (×1024²) suffixes: 1k..128k:x2 is 1024 ... 131072.
--offload sweeps offloading schemes: each point is then llmsim estimate
--offload SPEC (or llmsim simulate --offload SPEC in simulate mode: the
scheme's task graphs executed on the system's tiers); the empty value is the
plain estimate (or simulation), e.g.
  llmsim sweep --hw t4-flexgen-paper --model opt-30b --phase request --output 32 \
      --batch 8,64 --offload 'accelerate:tier=cpu;zero:tier=cpu;flexgen:w=20/80/0,c=0/100/0,a=0/100/0,cpuattn=1'
The offload column appears only when --offload is given; for offload points
memory is the accelerator's tier (fits: every tier's), bound is device, link
or storage, energy and cost cover every device of the system.
A sweep file (--file, TOML) gives the same: mode = "simulate" and a [params]
table whose values are a string (parsed as above), a number or an array;
flags override it.

Points are numbered in row-major order of the parameters in the order --help
lists them (the first varies slowest). Output: one line per point, in point
order whatever the number of workers, so a run is byte-for-byte reproducible.
Columns:
  index       the point's number in the whole sweep
  key         its identity: name=value of every parameter column, joined by ';'
  parameters  every estimate parameter; for simulate the target parameters and
              those you set
  metrics     estimate: the fields of llmsim estimate -o json (memory, energy
              and cost flattened: weights_bytes, ..., fits, joules, ...,
              usd_per_million_tokens); simulate: see SIMULATE METRICS below
  error       why the point failed (empty when it did not); its metrics are empty

Resuming: when --out exists, points whose key is already there are skipped
(a trailing partial line from an interrupted run is cut off) and the rest are
appended; --fresh overwrites instead. Lines are written whole, a batch of
points per write, so an interruption (Ctrl-C, SIGTERM, a killed job) leaves
only complete lines. --shard K/N (0 ≤ K < N) runs the points whose index
mod N is K; llmsim merge joins the parts. docs/SWEEPS.md shows Slurm and
Kubernetes examples.

SIMULATE METRICS: ` + simulateMetricsHelp

func init() {
	register("sweep", "run estimate or simulate over a grid of parameters (parallel, resumable, shardable)", runSweep)
}

type sweepFlags struct {
	mode, file, out, format, shard, progress string
	workers                                  int
	fresh, dryRun                            bool
}

// sweepModes are the parameter lists of the two modes, read from the real
// flag sets of estimate and simulate so names and defaults cannot drift.
func sweepModes() map[string][]sweep.Param {
	efs := newFlags("estimate", "", io.Discard)
	addEstimateFlags(efs)
	addParallelFlags(efs, &targetFlags{})
	efs.String("offload", "", offloadFlagUsage)
	sfs := newFlags("simulate", "", io.Discard)
	addSimulateFlags(sfs)
	est := paramsOf(efs, true)
	for i := range est {
		// A column only when swept, so plain estimate sweeps keep their header.
		est[i].Column = est[i].Column && !sweptOnly[est[i].Name]
	}
	return map[string][]sweep.Param{"estimate": est, "simulate": paramsOf(sfs, false)}
}

// sweptOnly are estimate parameters written as columns only when set.
var sweptOnly = map[string]bool{"offload": true, "tp": true, "pp": true, "collective": true}

// notParams are simulate flags that name outputs, not configurations.
var notParams = map[string]bool{"output-format": true, "requests-csv": true, "trace": true}

func paramsOf(fs *pflag.FlagSet, allColumns bool) []sweep.Param {
	var out []sweep.Param
	fs.VisitAll(func(f *pflag.Flag) {
		if notParams[f.Name] {
			return
		}
		kind := sweep.String
		switch f.Value.Type() {
		case "int", "int64", "uint64":
			kind = sweep.Int
		case "float64":
			kind = sweep.Float
		case "bool":
			kind = sweep.Bool
		}
		out = append(out, sweep.Param{Name: f.Name, Kind: kind, Default: f.DefValue, Column: allColumns || targetParams[f.Name]})
	})
	return out
}

// targetParams are the flags of addTargetFlags: always columns, since they
// say what was costed.
var targetParams = map[string]bool{"hw": true, "model": true, "dtype": true, "act-dtype": true, "kv-dtype": true, "kv-scheme": true, "eager-attention": true, "concat-kv-cache": true}

func runSweep(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sweep", sweepHelp, stderr)
	f := &sweepFlags{}
	fs.StringVar(&f.mode, "mode", "", "estimate or simulate (default: the sweep file's, else estimate)")
	fs.StringVar(&f.file, "file", "", "TOML sweep file with mode and a [params] table")
	fs.StringVar(&f.out, "out", "", "output file (.csv, .jsonl); resumed when it exists (default: stdout)")
	fs.StringVarP(&f.format, "output-format", "o", "", "csv or jsonl (default: from --out's extension, else csv)")
	fs.StringVar(&f.shard, "shard", "", "K/N: run only the points whose index mod N is K (0 ≤ K < N)")
	fs.IntVar(&f.workers, "workers", 0, "parallel workers (default: one per CPU)")
	fs.BoolVar(&f.fresh, "fresh", false, "overwrite --out instead of resuming it")
	fs.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the parameters, their values and the number of points, and stop")
	modes := sweepModes()
	raw := addParamFlags(fs, modes)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	mode, space, err := buildSpace(fs, f, modes, raw)
	if err != nil {
		return err
	}
	if f.dryRun {
		return describeSpace(stdout, mode, space)
	}
	return execSweep(f, mode, space, stdout, stderr)
}

// addParamFlags registers every parameter of both modes as a string flag
// that takes a list or range; the usage names the modes it belongs to.
func addParamFlags(fs *pflag.FlagSet, modes map[string][]sweep.Param) map[string]*string {
	raw := map[string]*string{}
	usage := map[string]string{}
	var in = map[string][]string{}
	for _, fsMode := range []struct {
		name string
		add  func(*pflag.FlagSet)
	}{{"estimate", func(x *pflag.FlagSet) {
		addEstimateFlags(x)
		addParallelFlags(x, &targetFlags{})
		x.String("offload", "", offloadFlagUsage)
	}}, {"simulate", func(x *pflag.FlagSet) { addSimulateFlags(x) }}} {
		x := newFlags(fsMode.name, "", io.Discard)
		fsMode.add(x)
		x.VisitAll(func(fl *pflag.Flag) { usage[fl.Name] = fl.Usage })
	}
	var order []sweep.Param
	for _, m := range []string{"estimate", "simulate"} {
		for _, p := range modes[m] {
			if _, ok := in[p.Name]; !ok {
				order = append(order, p)
			}
			in[p.Name] = append(in[p.Name], m)
		}
	}
	for _, p := range order {
		v := new(string)
		raw[p.Name] = v
		u := fmt.Sprintf("[%s] %s", strings.Join(in[p.Name], ", "), usage[p.Name])
		if p.Default != "" {
			u += fmt.Sprintf(" (default %s)", p.Default)
		}
		fs.Var(specValue{v}, p.Name, u)
	}
	return raw
}

// specValue is a parameter flag: a value list or range, kept as text.
type specValue struct{ s *string }

func (v specValue) String() string     { return *v.s }
func (v specValue) Set(s string) error { *v.s = s; return nil }
func (v specValue) Type() string       { return "values" }

// buildSpace merges the sweep file and the flags into the mode's space.
func buildSpace(fs *pflag.FlagSet, f *sweepFlags, modes map[string][]sweep.Param, raw map[string]*string) (*sweep.Mode, *sweep.Space, error) {
	var file *sweep.File
	if f.file != "" {
		var err error
		if file, err = sweep.ReadFile(f.file); err != nil {
			return nil, nil, err
		}
	}
	name := f.mode
	if name == "" && file != nil {
		name = file.Mode
	}
	if name == "" {
		name = "estimate"
	}
	params, ok := modes[name]
	if !ok {
		return nil, nil, fmt.Errorf("--mode: unknown mode %q (want estimate or simulate)", name)
	}
	kinds := map[string]sweep.Kind{}
	for _, p := range params {
		kinds[p.Name] = p.Kind
	}
	given := map[string][]string{}
	if file != nil {
		for k, v := range file.Params {
			kind, ok := kinds[k]
			if !ok {
				return nil, nil, fmt.Errorf("%s: [params] %s: not a parameter of %s sweeps (known: %s)", f.file, k, name, paramList(params))
			}
			vals, err := sweep.FileValues(k, kind, v)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: [params] %w", f.file, err)
			}
			given[k] = vals
		}
	}
	var bad error
	fs.Visit(func(fl *pflag.Flag) {
		spec, isParam := raw[fl.Name]
		if !isParam || bad != nil {
			return
		}
		kind, ok := kinds[fl.Name]
		if !ok {
			bad = fmt.Errorf("--%s: not a parameter of %s sweeps", fl.Name, name)
			return
		}
		vals, err := sweep.ParseValues(fl.Name, kind, *spec)
		if err != nil {
			bad = err
			return
		}
		given[fl.Name] = vals
	})
	if bad != nil {
		return nil, nil, bad
	}
	space, err := sweep.NewSpace(params, given)
	if err != nil {
		return nil, nil, err
	}
	if name == "estimate" {
		return sweep.EstimateMode(params, &sweep.Loader{}), space, nil
	}
	return simulateMode(params), space, nil
}

func paramList(params []sweep.Param) string {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func describeSpace(w io.Writer, m *sweep.Mode, s *sweep.Space) error {
	fmt.Fprintf(w, "mode %s, %d points\n", m.Name, s.Size())
	for _, a := range s.Axes {
		if len(a.Values) > 1 || a.Set {
			vals := a.Values
			if len(vals) > 12 {
				vals = append(append(append([]string{}, vals[:5]...), "..."), vals[len(vals)-5:]...)
			}
			fmt.Fprintf(w, "  %-24s %d: %s\n", a.Name, len(a.Values), strings.Join(vals, " "))
		}
	}
	fmt.Fprintf(w, "columns: %s\n", strings.Join(m.Header(s), ","))
	return nil
}

// execSweep opens the output (resuming it), runs and reports.
func execSweep(f *sweepFlags, m *sweep.Mode, s *sweep.Space, stdout, stderr io.Writer) error {
	opt := sweep.Options{Workers: f.workers, Header: true}
	format, err := outputFormat(f.format, f.out)
	if err != nil {
		return err
	}
	opt.Format = format
	if f.shard != "" {
		if opt.Shard, err = sweep.ParseShard(f.shard); err != nil {
			return err
		}
	}
	if m.Name == "simulate" {
		opt.BatchPoints = 1 // each point is a whole simulation
	}
	var w io.Writer = stdout
	if f.out != "" {
		out, err := sweep.OpenOutput(f.out, format, m.Header(s), f.fresh)
		if err != nil {
			return err
		}
		defer out.File.Close()
		w, opt.Done, opt.Header = out.File, out.Done, out.NeedHeader
	}
	switch f.progress {
	case "always":
		opt.Progress = progressBar(stderr)
	case "auto":
		if isTerminal(stderr) {
			opt.Progress = progressBar(stderr)
		}
	case "never":
	default:
		return fmt.Errorf("--progress: want auto, always or never, got %q", f.progress)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	st, err := sweep.Run(ctx, m, s, w, opt)
	if opt.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after %d points; run the same command again to resume", st.Evaluated+st.Skipped)
	}
	if err != nil {
		return err
	}
	where := "stdout"
	if f.out != "" {
		where = f.out
	}
	fmt.Fprintf(stderr, "sweep: %d points evaluated (%d failed), %d already done, in %.2f s → %s\n",
		st.Evaluated, st.Failed, st.Skipped, time.Since(start).Seconds(), where)
	return nil
}

func outputFormat(name, path string) (sweep.Format, error) {
	if name != "" {
		f, ok := sweep.ParseFormat(name)
		if !ok {
			return 0, fmt.Errorf("-o/--output-format: unknown format %q (want csv or jsonl)", name)
		}
		return f, nil
	}
	if path == "" {
		return sweep.CSV, nil
	}
	f, ok := sweep.FormatOf(path)
	if !ok {
		return 0, fmt.Errorf("--out %s: cannot tell the format from the extension (use .csv or .jsonl, or -o)", path)
	}
	return f, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws one line on w at most ten times a second.
func progressBar(w io.Writer) func(done, total int) {
	start := time.Now()
	var last time.Time
	return func(done, total int) {
		now := time.Now()
		if now.Sub(last) < 100*time.Millisecond && done < total {
			return
		}
		last = now
		frac := 1.0
		if total > 0 {
			frac = float64(done) / float64(total)
		}
		const width = 30
		bar := strings.Repeat("█", int(frac*width)) + strings.Repeat("░", width-int(frac*width))
		elapsed := now.Sub(start).Seconds()
		eta := "—"
		if done > 0 && frac < 1 {
			eta = time.Duration(elapsed / frac * (1 - frac) * float64(time.Second)).Round(time.Second).String()
		}
		fmt.Fprintf(w, "\r%s %5.1f%% %d/%d points, %.0f/s, ETA %s ", bar, 100*frac, done, total, float64(done)/max(elapsed, 1e-9), eta)
	}
}

const simulateMetricsHelp = `one llmsim simulate per point (flags you did not set keep
simulate's defaults); the columns flatten its JSON: duration_seconds, arrived,
completed, rejected, preemptions; ttft, tpot and e2e as _mean/_p50/_p90/_p99
_seconds, itl_p99_seconds, queue_mean_seconds; requests_per_second,
output_tokens_per_second, total_tokens_per_second; goodput_requests_per_second,
goodput_output_tokens_per_second, attainment (fraction within --slo-ttft and
--slo-tpot); joules, joules_per_output_token, average_watts, usd,
usd_per_million_output_tokens; gpus (all replicas), kv_peak_used (highest
replica), busy_fraction (mean over replicas); prefix_hit_rate and
prefix_tokens_saved (simulate's prefix_cache block: the fraction of prompt
tokens found cached and their number, whose prefill was skipped; 0 without
--prefix-caching or a hydragen scheme). --offload works in simulate mode too
(one llmsim simulate --offload SPEC per point).
`

var simulateMetrics = []string{
	"duration_seconds", "arrived", "completed", "rejected", "preemptions",
	"ttft_mean_seconds", "ttft_p50_seconds", "ttft_p90_seconds", "ttft_p99_seconds",
	"tpot_mean_seconds", "tpot_p50_seconds", "tpot_p90_seconds", "tpot_p99_seconds",
	"e2e_mean_seconds", "e2e_p50_seconds", "e2e_p90_seconds", "e2e_p99_seconds",
	"itl_p99_seconds", "queue_mean_seconds",
	"requests_per_second", "output_tokens_per_second", "total_tokens_per_second",
	"goodput_requests_per_second", "goodput_output_tokens_per_second", "attainment",
	"joules", "joules_per_output_token", "average_watts", "usd", "usd_per_million_output_tokens",
	"gpus", "kv_peak_used", "busy_fraction", "prefix_hit_rate", "prefix_tokens_saved",
}

// simulateMode runs llmsim simulate at each point.
func simulateMode(params []sweep.Param) *sweep.Mode {
	return &sweep.Mode{
		Name: "simulate", Params: params, Metrics: simulateMetrics,
		Prepare: func(s *sweep.Space) (func() sweep.Evaluator, error) {
			loader := &sweep.Loader{}
			for _, name := range []string{"hw", "model", "decode-hw"} {
				a := s.Axis(name)
				if a < 0 {
					continue
				}
				for _, v := range s.Axes[a].Values {
					var err error
					if name == "model" {
						_, err = loader.Model(v)
					} else if v != "" {
						_, err = loader.Hardware(v)
					}
					if err != nil {
						return nil, fmt.Errorf("--%s %s: %w", name, v, err)
					}
				}
			}
			return func() sweep.Evaluator { return &simulateEval{} }, nil
		},
	}
}

type simulateEval struct{ args []string }

func (e *simulateEval) Eval(s *sweep.Space, idx []int, out []sweep.Value) error {
	e.args = e.args[:0]
	for a := range s.Axes {
		if s.Axes[a].Set {
			e.args = append(e.args, "--"+s.Axes[a].Name+"="+s.Value(a, idx))
		}
	}
	fs := newFlags("simulate", "", io.Discard)
	f := addSimulateFlags(fs)
	if err := fs.Parse(e.args); err != nil {
		return err
	}
	res, err := simulate(fs, f)
	if err != nil {
		return err
	}
	simulateValues(res, out)
	return nil
}

func simulateValues(r *simulation, out []sweep.Value) {
	n := sweep.Number
	rq, tp, gp := r.Requests, r.Throughput, r.Goodput
	vals := []float64{
		r.DurationSeconds, float64(rq.Arrived), float64(rq.Completed), float64(rq.Rejected), float64(rq.Preemptions),
		r.TTFT.Mean, r.TTFT.P50, r.TTFT.P90, r.TTFT.P99,
		r.TPOT.Mean, r.TPOT.P50, r.TPOT.P90, r.TPOT.P99,
		r.E2E.Mean, r.E2E.P50, r.E2E.P90, r.E2E.P99,
		r.ITL.P99, r.Queue.Mean,
		tp.RequestsPerSecond, tp.OutputTokensPerSecond, tp.TotalTokensPerSecond,
		gp.RequestsPerSecond, gp.OutputTokensPerSecond, gp.Attainment,
		r.Energy.Joules, r.Energy.JoulesPerOutputToken, r.Energy.AverageWatts, r.Cost.USD, r.Cost.USDPerMillionOutputTokens,
	}
	var gpus, kvPeak, busy float64
	for _, p := range r.Replicas {
		gpus += float64(p.GPUs)
		kvPeak = max(kvPeak, p.KVPeakUsed)
		busy += p.BusyFraction / float64(len(r.Replicas))
	}
	var hitRate, saved float64
	if p := r.PrefixCache; p != nil {
		hitRate, saved = p.HitRate, float64(p.HitTokens)
	}
	vals = append(vals, gpus, kvPeak, busy, hitRate, saved)
	for i, v := range vals {
		out[i] = n(v)
	}
}
