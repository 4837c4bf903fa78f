package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/llmsim/llmsim/validate"
)

const calibrateHostHelp = `llmsim calibrate host — measure this machine and fit a CPU description to it.

  llmsim calibrate host -o host.toml            # full: about 20 s of microbenchmarks + 2-3 min of engine runs on 2 cores
  llmsim calibrate host -o host.toml --quick    # CI: a few seconds of benchmarks, a tiny engine grid
  llmsim estimate --hw host.toml --model llama3.2-1b --dtype fp32 --act-dtype fp32 --phase decode

What runs:
  1. microbenchmarks (validate/bench): read, copy and triad bandwidth per
     thread count; the engine's GEMM over M (and formats fp32/bf16/int8 when
     not --quick) and its GEMV per thread count. The best aggregate memory
     rate becomes the bandwidth, the best GEMM per weight format the
     compute ceiling (FLOP/s).
  2. the CPU engine (validate/engine) over the calibration grid: small
     random-weight decoders (GQA and MoE) at several batch × prompt
     prefills, each followed by decode steps at that context; every point is
     the fastest of several repetitions, with that run's op times. With
     --threads 1 steps are timed by the engine thread's CPU time (Linux),
     which other processes on a shared machine do not inflate; with more
     threads, by the wall clock, so on a busy machine prefer --threads 1.
  3. a fit: for every op class (gemm, attention) and op kind (norm, rope,
     elementwise, activation, embedding, router, sampling, routed experts) a
     compute curve over FLOPs and a memory curve over bytes per op, plus one
     per-op overhead, moved by coordinate descent to minimise the squared log
     error of llmsim's op prices (models.Graph + roofline, the estimate path)
     against the engine's op times. The per-step overhead is the median step
     time the ops do not account for.

Output: a complete device file (kind cpu) that loads with --hw FILE.toml, with
its provenance in comments and in [calibration]: date, CPU model, threads, Go
version, every microbenchmark result and every calibration point. Written to
-o FILE (or stdout). A report goes to stderr:
  microbenchmarks   memory bandwidth and fp32 GEMM ceiling
  fit               op samples fitted, their MAPE and worst error
  calibration       whole-step MAPE and worst error on the calibration points
Validation points (other model shapes and grid points) are the business of
llmsim validate --engine cpu.
`

func runCalibrateHost(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("calibrate host", calibrateHostHelp, stderr)
	out := fs.StringP("out", "o", "", "write the device file here instead of stdout")
	quick := fs.Bool("quick", false, "quick microbenchmarks and the tiny CI engine grid (under 20 s on 2 cores)")
	threads := fs.Int("threads", 0, "threads for the benchmarks and the engine (0: all CPUs; 1 times steps by CPU time, robust on a shared machine)")
	name := fs.String("name", "host", "device name written to the file")
	waitIdle := fs.Duration("wait-idle", 300*time.Millisecond, "before each engine prefill, wait up to this long for the CPU to be idle (0: never wait); helps on shared machines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("calibrate host: unexpected argument %q", fs.Arg(0))
	}
	if *threads < 0 {
		return fmt.Errorf("--threads: must be 0 (all CPUs) or positive, got %d", *threads)
	}
	if *waitIdle < 0 {
		return fmt.Errorf("--wait-idle: must not be negative, got %v", *waitIdle)
	}
	cal, err := validate.CalibrateHost(validate.HostOptions{Name: *name, Quick: *quick, Threads: *threads, WaitIdle: *waitIdle, Log: stderr})
	if err != nil {
		return err
	}
	writeHostReport(stderr, cal)
	if *out != "" {
		return writeFileAtomic(*out, func(w io.Writer) error { return validate.WriteHostTOML(w, cal) })
	}
	return validate.WriteHostTOML(stdout, cal)
}

func writeHostReport(w io.Writer, cal *validate.HostCalibration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := cal.Ceilings
	fmt.Fprintf(tw, "microbenchmarks\t%s, %d threads\t%.1f GB/s (%s)\tfp32 GEMM %.1f GFLOP/s\n",
		c.CPUModel, c.Threads, c.BytesPerSecond/1e9, c.Memory.Kind, c.FLOPSPerSecond["fp32"]/1e9)
	fmt.Fprintf(tw, "fit\t%d op samples, %d parameters\tMAPE %.1f%%\tworst %+.1f%%\n", cal.Fit.Samples, cal.Fit.Parameters, cal.Fit.MAPE, cal.Fit.Worst)
	fmt.Fprintf(tw, "calibration\t%d steps\tMAPE %.1f%%\tworst %+.1f%%\n", len(cal.Calibration.Points), cal.Calibration.StepMAPE, cal.Calibration.StepWorst)
	fmt.Fprintf(tw, "took\t%.0f s\n", cal.Seconds)
	tw.Flush()
}
