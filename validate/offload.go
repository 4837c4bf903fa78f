package validate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
	"github.com/llmsim/llmsim/offload"
)

// OffloadPoint is one measured weight-streaming step (offload_steps.csv of
// validate/gpu/offload.py) and llmsim's price of it.
type OffloadPoint struct {
	Phase   string `json:"phase"` // prefill or decode
	Batch   int    `json:"batch"`
	Prompt  int    `json:"prompt"`  // tokens per sequence (prefill)
	Context int    `json:"context"` // cached tokens per sequence (decode)
	// Overlap: the next unit's weights load while this unit computes.
	Overlap bool `json:"overlap"`
	// Compressed: FlexGen's 4-bit weights (offload_steps_cw.csv, fp16,
	// priced with cw=1).
	Compressed bool   `json:"compressed"`
	Scheme     string `json:"scheme"` // the offload scheme priced
	// Bound is what the busiest resource of the prediction is: "link" or
	// "device" (offload.Result.Busiest).
	Bound     string  `json:"bound"`
	Measured  float64 `json:"measured_seconds"`
	Predicted float64 `json:"predicted_seconds"`
	Error     float64 `json:"error"` // predicted/measured - 1
}

// OffloadCopy is one measured host↔device copy rate (offload_link.csv):
// the calibration set of the system's host link.
type OffloadCopy struct {
	Bytes                      float64 `json:"bytes"`
	Pinned                     bool    `json:"pinned"`
	HostToDeviceBytesPerSecond float64 `json:"h2d_bytes_per_second"`
	DeviceToHostBytesPerSecond float64 `json:"d2h_bytes_per_second"`
}

// OffloadComparison is llmsim's offload executor against measured
// weight-streaming steps. The copies calibrate the link; the steps validate.
type OffloadComparison struct {
	Hardware    string         `json:"hardware"`
	Model       string         `json:"model"`
	WeightBytes float64        `json:"weight_bytes"` // the model's bf16 weights, streamed every step
	Points      []OffloadPoint `json:"points"`
	MAPE        float64        `json:"mape_percent"`
	Worst       float64        `json:"worst_percent"` // signed; negative = predicted faster
	// Of the uncompressed and the compressed steps apart (the latter 0
	// when the directory has no offload_steps_cw.csv).
	MAPEPlain       float64       `json:"mape_plain_percent"`
	WorstPlain      float64       `json:"worst_plain_percent"`
	MAPECompressed  float64       `json:"mape_compressed_percent"`
	WorstCompressed float64       `json:"worst_compressed_percent"`
	Copies          []OffloadCopy `json:"copies"`
}

// offloadPolicy is the measured policy: every weight in host memory, KV
// cache and activations on the GPU, one GPU batch of the whole batch.
const offloadPolicy = "flexgen:w=0/100/0,c=100/0/0,a=100/0/0,gbs=%d,ngb=1,overlap=%d"

// CompareOffload prices every step of a directory written by
// validate/gpu/offload.py (offload_steps.csv, offload_link.csv) on sys
// with model m under the measured FlexGen policy, as `llmsim estimate
// --offload` does, and reports the errors. It fails when the steps were
// measured on a model whose bf16 weights differ from m's.
func CompareOffload(dir string, sys *hw.System, m *models.Model) (*OffloadComparison, error) {
	c := &OffloadComparison{Hardware: sys.Name, Model: m.Name, WeightBytes: m.WeightBytes(dtype.BF16)}
	copies, err := readOffloadCopies(filepath.Join(dir, "offload_link.csv"))
	if err != nil {
		return nil, err
	}
	c.Copies = copies
	points, err := readOffloadSteps(filepath.Join(dir, "offload_steps.csv"), c.WeightBytes)
	if err != nil {
		return nil, err
	}
	// The compressed set (offload.py --compress) is optional: 4-bit
	// matrices, 1-D tensors (under 0.01% of the bytes) left in fp16.
	cwPath := filepath.Join(dir, "offload_steps_cw.csv")
	if _, err := os.Stat(cwPath); err == nil {
		cw, err := readOffloadSteps(cwPath, c.WeightBytes*offload.FlexGenCompressedRatio)
		if err != nil {
			return nil, err
		}
		for i := range cw {
			cw[i].Compressed = true
		}
		points = append(points, cw...)
	}
	plain := offload.NewTarget(sys, m, models.Precision{})
	fp16 := offload.NewTarget(sys, m, models.Precision{Weights: dtype.FP16})
	var rel, relPlain, relComp []float64
	for _, p := range points {
		overlap := 0
		if p.Overlap {
			overlap = 1
		}
		target := plain
		p.Scheme = fmt.Sprintf(offloadPolicy, p.Batch, overlap)
		if p.Compressed {
			target = fp16
			p.Scheme += ",cw=1"
		}
		scheme, err := offload.Parse(p.Scheme)
		if err != nil {
			return nil, err
		}
		r, _, err := target.Estimate(scheme, p.Phase, p.Batch, p.Prompt, p.Context, 1)
		if err != nil {
			return nil, fmt.Errorf("%s %s batch %d: %w", sys.Name, p.Phase, p.Batch, err)
		}
		_, p.Bound = r.Busiest(sys)
		p.Predicted = r.Seconds
		p.Error = p.Predicted/p.Measured - 1
		rel = append(rel, p.Error)
		if p.Compressed {
			relComp = append(relComp, p.Error)
		} else {
			relPlain = append(relPlain, p.Error)
		}
		c.Points = append(c.Points, p)
	}
	c.MAPE, c.Worst = Errors(rel)
	c.MAPEPlain, c.WorstPlain = Errors(relPlain)
	if len(relComp) > 0 {
		c.MAPECompressed, c.WorstCompressed = Errors(relComp)
	}
	return c, nil
}

// readOffloadSteps reads offload_steps.csv and checks that every row
// streamed weightBytes.
func readOffloadSteps(path string, weightBytes float64) ([]OffloadPoint, error) {
	t, err := readTable(path)
	if err != nil {
		return nil, err
	}
	if err := t.need("phase", "batch", "prompt", "context", "overlap", "seconds", "weight_bytes"); err != nil {
		return nil, err
	}
	points := make([]OffloadPoint, 0, len(t.rows))
	for i := range t.rows {
		p, err := offloadStep(t, i, weightBytes)
		if err != nil {
			return nil, err
		}
		points = append(points, p)
	}
	if len(points) == 0 {
		return nil, fmt.Errorf("%s: no steps", path)
	}
	return points, nil
}

func offloadStep(t *table, i int, weightBytes float64) (OffloadPoint, error) {
	p := OffloadPoint{Phase: t.str(i, "phase")}
	where := fmt.Sprintf("%s:%d", t.file, t.line[i])
	var overlap, streamed float64
	var err error
	for _, f := range []struct {
		col string
		n   *int
	}{{"batch", &p.Batch}, {"prompt", &p.Prompt}, {"context", &p.Context}} {
		if *f.n, err = t.int(i, f.col); err != nil {
			return p, err
		}
	}
	if overlap, err = t.num(i, "overlap"); err != nil {
		return p, err
	}
	if p.Measured, err = t.num(i, "seconds"); err != nil {
		return p, err
	}
	if streamed, err = t.num(i, "weight_bytes"); err != nil {
		return p, err
	}
	switch {
	case p.Phase != "prefill" && p.Phase != "decode":
		return p, fmt.Errorf("%s: phase %q, want prefill or decode", where, p.Phase)
	case overlap != 0 && overlap != 1:
		return p, fmt.Errorf("%s: overlap %v, want 0 or 1", where, overlap)
	case p.Batch < 1 || p.Measured <= 0:
		return p, fmt.Errorf("%s: want batch ≥ 1 and seconds > 0", where)
	case p.Phase == "prefill" && p.Prompt < 1, p.Phase == "decode" && p.Context < 1:
		return p, fmt.Errorf("%s: %s step without tokens", where, p.Phase)
	case math.Abs(streamed-weightBytes) > 1e-3*weightBytes:
		return p, fmt.Errorf("%s: weight_bytes %.0f, but the model's weights take %.0f bytes in this format: the steps were measured on another model shape", where, streamed, weightBytes)
	}
	p.Overlap = overlap == 1
	return p, nil
}

// readOffloadCopies reads offload_link.csv (rates in GB/s).
func readOffloadCopies(path string) ([]OffloadCopy, error) {
	t, err := readTable(path)
	if err != nil {
		return nil, err
	}
	if err := t.need("bytes", "pinned", "h2d_gbps", "d2h_gbps"); err != nil {
		return nil, err
	}
	copies := make([]OffloadCopy, 0, len(t.rows))
	for i := range t.rows {
		var c OffloadCopy
		var pinned float64
		for _, f := range []struct {
			col string
			v   *float64
		}{{"bytes", &c.Bytes}, {"pinned", &pinned}, {"h2d_gbps", &c.HostToDeviceBytesPerSecond}, {"d2h_gbps", &c.DeviceToHostBytesPerSecond}} {
			if *f.v, err = t.num(i, f.col); err != nil {
				return nil, err
			}
		}
		if c.Bytes <= 0 || c.HostToDeviceBytesPerSecond <= 0 || c.DeviceToHostBytesPerSecond <= 0 || (pinned != 0 && pinned != 1) {
			return nil, fmt.Errorf("%s:%d: want bytes and rates > 0 and pinned 0 or 1", t.file, t.line[i])
		}
		c.Pinned = pinned == 1
		c.HostToDeviceBytesPerSecond *= 1e9
		c.DeviceToHostBytesPerSecond *= 1e9
		copies = append(copies, c)
	}
	return copies, nil
}
