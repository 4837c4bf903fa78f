package validate

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/roofline"
)

// IsPublished reports whether path is a published-figures CSV (its header
// has a metric column) rather than a steps.csv.
func IsPublished(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	for _, c := range strings.Split(strings.TrimSpace(line), ",") {
		if c == "metric" {
			return true
		}
	}
	return false
}

// Published is one published figure: a metric of a model on hardware at a
// batch, prompt and output length, with its source.
type Published struct {
	Source, HW, Model, Metric, Note string
	TP                              int
	Weights, KV                     dtype.DType
	Batch, Prompt, Output           int
	Value                           float64
	Line                            int
}

// Published metrics.
const (
	MetricTTFT       = "ttft_seconds"                     // prefill of the batch
	MetricTPOT       = "tpot_seconds"                     // one decode step at context prompt
	MetricThroughput = "output_tokens_per_second_per_gpu" // batch·output / end-to-end / GPUs
)

// ReadPublished reads a published-figures CSV (validate/data/published.csv).
func ReadPublished(path string) ([]Published, error) {
	t, err := readTable(path)
	if err != nil {
		return nil, err
	}
	if err := t.need("source", "hw", "model", "tp", "dtype", "kv_dtype", "batch", "prompt", "output", "metric", "value"); err != nil {
		return nil, err
	}
	var out []Published
	for i := range t.rows {
		p := Published{Source: t.str(i, "source"), HW: t.str(i, "hw"), Model: t.str(i, "model"), Metric: t.str(i, "metric"),
			Note: t.str(i, "note"), Line: t.line[i]}
		for _, f := range []struct {
			col string
			dst *int
		}{{"tp", &p.TP}, {"batch", &p.Batch}, {"prompt", &p.Prompt}, {"output", &p.Output}} {
			if *f.dst, err = t.int(i, f.col); err != nil {
				return nil, err
			}
		}
		if p.Value, err = t.num(i, "value"); err != nil {
			return nil, err
		}
		if p.Weights, err = dtype.Parse(t.str(i, "dtype")); err != nil {
			return nil, fmt.Errorf("%s:%d: dtype: %w", path, t.line[i], err)
		}
		if p.KV, err = dtype.Parse(t.str(i, "kv_dtype")); err != nil {
			return nil, fmt.Errorf("%s:%d: kv_dtype: %w", path, t.line[i], err)
		}
		switch p.Metric {
		case MetricTTFT, MetricTPOT, MetricThroughput:
		default:
			return nil, fmt.Errorf("%s:%d: metric: unknown %q (want %s, %s or %s)", path, t.line[i], p.Metric, MetricTTFT, MetricTPOT, MetricThroughput)
		}
		if p.TP < 1 || p.Batch < 1 || p.Prompt < 1 || p.Output < 1 || p.Value <= 0 {
			return nil, fmt.Errorf("%s:%d: tp, batch, prompt, output and value must be positive", path, t.line[i])
		}
		out = append(out, p)
	}
	return out, nil
}

// PublishedResult is one compared figure; Skipped says why it was not
// predicted (then Predicted and Error are zero).
type PublishedResult struct {
	Published
	Predicted float64
	Error     float64 // predicted/published - 1
	Skipped   string
}

// PredictPublished predicts a published figure with the built-in
// descriptions. Activations run in the weight format for 8-bit and wider
// weights (FP8 engines run W8A8). Rows with TP > 1 name a system (dgx-h100,
// dgx-a100, ...) and are priced with roofline.Parallel on its GPU-GPU link:
// one GPU's shard of each step plus two all-reduces per layer (NCCL's choice
// of ring or tree per message). Nothing here is fitted to the rows.
func PredictPublished(p Published) PublishedResult {
	r := PublishedResult{Published: p}
	sys, err := hw.Load(p.HW)
	if err != nil {
		r.Skipped = err.Error()
		return r
	}
	dev := sys.Primary().Device
	m, err := models.Load(p.Model)
	if err != nil {
		r.Skipped = err.Error()
		return r
	}
	prec := models.Precision{Weights: p.Weights, Activations: p.Weights, KV: p.KV}
	if p.Weights.Bits() < 8 {
		prec.Activations = dtype.BF16
	}
	build := roofline.ModelBuilder(m, prec, models.Options{})
	request := func(batch, prompt, output int) roofline.RequestCost {
		return roofline.RequestWith(build, dev, batch, prompt, output)
	}
	if p.TP > 1 {
		if errs := roofline.CheckParallel(m, sys, p.TP, 1); len(errs) > 0 {
			r.Skipped = fmt.Sprintf("tp %d on %s: %v", p.TP, p.HW, errors.Join(errs...))
			return r
		}
		par := roofline.NewParallel(m, prec, p.TP, 1, roofline.CollectiveAuto, roofline.GroupLink(sys))
		request = func(batch, prompt, output int) roofline.RequestCost {
			return roofline.RequestParallel(build, dev, &par, batch, prompt, output)
		}
	}
	switch p.Metric {
	case MetricTTFT:
		r.Predicted = request(p.Batch, p.Prompt, 1).TTFTSeconds
	case MetricTPOT:
		r.Predicted = request(p.Batch, p.Prompt, 2).TPOTSeconds
	case MetricThroughput:
		c := request(p.Batch, p.Prompt, p.Output)
		r.Predicted = float64(p.Batch*p.Output) / c.E2ESeconds / float64(p.TP)
	}
	r.Error = r.Predicted/p.Value - 1
	return r
}
