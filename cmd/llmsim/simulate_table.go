package main

import (
	"fmt"
	"github.com/llmsim/llmsim/report"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/llmsim/llmsim/sim/metrics"
)

func writeSimulateTable(w io.Writer, s *simulation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c, r := &s.Config, s.Result
	fmt.Fprintf(tw, "model\t%s (%s) on %s, engine %s, %s batching (%s, chunk %d, max %d seqs / %d tokens), KV %s, scheme %s%s\n",
		c.Model, c.DTypes, c.Hardware, c.Engine, c.Scheduler.Policy, c.Scheduler.Priority, c.Scheduler.ChunkTokens,
		c.Scheduler.MaxNumSeqs, c.Scheduler.MaxBatchedTokens, c.Scheduler.KVAlloc, c.KVScheme, onOff(c.KV.PrefixCaching, ", prefix caching"))
	fmt.Fprintf(tw, "deployment\t%s, TP %d × PP %d, router %s\n", strings.Join(c.Pools, "; "), c.TP, c.PP, c.Router)
	if c.Offload != "" {
		fmt.Fprintf(tw, "offload\t%s\n", c.Offload)
		if c.HostShare > 1 {
			fmt.Fprintf(tw, "host\tshared by %d replicas (--host-share)\n", c.HostShare)
		}
	}
	fmt.Fprintf(tw, "workload\t%s, seed %d\n", c.Workload, c.Seed)
	rq := r.Requests
	fmt.Fprintf(tw, "requests\t%d arrived, %d completed, %d rejected%s, %d preemptions (%d swaps)\n",
		rq.Arrived, rq.Completed, rq.Rejected, reasons(rq.RejectedByReason), rq.Preemptions, rq.SwapOuts)
	fmt.Fprintf(tw, "duration\t%.3f s simulated\n\n", r.DurationSeconds)
	fmt.Fprintln(tw, "latency\tmean\tp50\tp90\tp99\tmax")
	for _, l := range []struct {
		name string
		s    metrics.Summary
	}{{"TTFT", r.TTFT}, {"TPOT", r.TPOT}, {"ITL", r.ITL}, {"E2E", r.E2E}, {"queue", r.Queue}} {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.name, dur(l.s.Mean), dur(l.s.P50), dur(l.s.P90), dur(l.s.P99), dur(l.s.Max))
	}
	tp, gp := r.Throughput, r.Goodput
	fmt.Fprintf(tw, "\nthroughput\t%.3f req/s, %.1f output tok/s, %.1f total tok/s\n",
		tp.RequestsPerSecond, tp.OutputTokensPerSecond, tp.TotalTokensPerSecond)
	fmt.Fprintf(tw, "goodput\t%.3f req/s, %.1f output tok/s, %.1f%% within SLO (TTFT ≤ %s, TPOT ≤ %s)\n",
		gp.RequestsPerSecond, gp.OutputTokensPerSecond, 100*gp.Attainment, slo(gp.SLO.TTFTSeconds), slo(gp.SLO.TPOTSeconds))
	fmt.Fprintf(tw, "energy\t%.4g J (%.3f J/output token, %.0f W average)\n", r.Energy.Joules, r.Energy.JoulesPerOutputToken, r.Energy.AverageWatts)
	fmt.Fprintf(tw, "cost\t$%.4g ($%.3f per million output tokens)\n", r.Cost.USD, r.Cost.USDPerMillionOutputTokens)
	if p := r.PrefixCache; p != nil {
		fmt.Fprintf(tw, "prefix cache\t%.1f%% hit rate: %d of %d prompt tokens found cached (prefill skipped), %d blocks evicted\n",
			100*p.HitRate, p.HitTokens, p.QueriedTokens, p.EvictedBlocks)
	}
	if h := r.Handoff; h != nil {
		fmt.Fprintf(tw, "KV hand-off\t%d transfers, %.3g B, link busy %.1f%%, mean %s\n",
			h.Transfers, h.Bytes, 100*h.LinkBusyFraction, dur(h.MeanTransferSeconds))
	}
	fmt.Fprintln(tw, "\nreplica\tpool\tdevice\tGPUs\tKV blocks\tKV mean\tKV peak\tbusy\tGPU\tcompute\tbandwidth\titerations\tpreempt")
	for _, p := range r.Replicas {
		blocks := fmt.Sprintf("%d×%d", p.KVBlocks, p.KVBlockTokens)
		if p.KVBlockTokens == 0 {
			blocks = fmt.Sprintf("%d states", p.KVBlocks)
		}
		if p.KVTier != "" {
			blocks += " (" + p.KVTier + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%d\t%d\n",
			p.Index, p.Pool, p.Device, p.GPUs, blocks, 100*p.KVMeanUsed, 100*p.KVPeakUsed,
			100*p.BusyFraction, 100*p.GPUFraction, 100*p.ComputeFraction, 100*p.BandwidthFrac, p.Iterations, p.Preemptions)
	}
	return tw.Flush()
}

// dur formats seconds as the HTML report does.
func dur(s float64) string { return report.FormatSeconds(s) }

func onOff(on bool, s string) string {
	if on {
		return s
	}
	return ""
}

func slo(s float64) string {
	if s <= 0 {
		return "∞"
	}
	return dur(s)
}

func reasons(by map[string]uint64) string {
	if len(by) == 0 {
		return ""
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, by[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// wrapList breaks a comma-separated list into lines of at most width
// characters, each starting on a new line with indent.
func wrapList(list, indent string, width int) string {
	var b strings.Builder
	line := 0
	for i, item := range strings.Split(list, ", ") {
		if i > 0 {
			b.WriteString(",")
			line++
		}
		if i == 0 || line+1+len(item) > width {
			b.WriteString("\n" + indent)
			line = len(indent)
		} else {
			b.WriteString(" ")
			line++
		}
		b.WriteString(item)
		line += len(item)
	}
	return b.String()
}
