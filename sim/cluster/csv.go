package cluster

import (
	"strconv"

	"github.com/llmsim/llmsim/sim"
	"github.com/llmsim/llmsim/sim/replica"
)

// csvHeader names the per-request CSV columns; times are seconds from the
// start of the run, latencies in seconds.
var csvHeader = []string{
	"id", "status", "reason", "replica", "arrival_s", "prompt_tokens", "output_tokens",
	"queue_s", "ttft_s", "tpot_s", "e2e_s", "finish_s", "preemptions",
}

func seconds(nanos int64) string { return strconv.FormatFloat(sim.Seconds(nanos), 'f', 9, 64) }

// writeRow streams one request's row (in completion order).
func (c *Cluster) writeRow(r *replica.Request, status, reason string) {
	if c.csv == nil {
		return
	}
	row := append(c.row[:0], strconv.FormatInt(r.ID, 10), status, reason,
		strconv.Itoa(int(r.Replica)), seconds(r.ArrivalNanos),
		strconv.Itoa(r.PromptTokens), strconv.Itoa(r.OutputTokens))
	if status == "completed" {
		tpot := int64(0)
		if n := r.Generated(); n > 1 {
			tpot = (r.LastTokenNanos - r.FirstTokenNanos) / int64(n-1)
		}
		row = append(row, seconds(r.ScheduledNanos-r.ArrivalNanos), seconds(r.FirstTokenNanos-r.ArrivalNanos),
			seconds(tpot), seconds(r.FinishNanos-r.ArrivalNanos), seconds(r.FinishNanos))
	} else {
		row = append(row, "", "", "", "", "")
	}
	row = append(row, strconv.Itoa(r.Preemptions))
	c.row = row
	c.csv.Write(row)
}
