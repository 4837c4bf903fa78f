package report

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/roofline"
)

// estimateJSON is the part of `llmsim estimate -o json` a report reads.
type estimateJSON struct {
	Hardware, Device, Model, Phase string
	Batch, Prompt, Context, Output int
	Weights                        string `json:"dtype"`
	Activations                    string `json:"act_dtype"`
	Seconds                        float64
	TTFT                           float64 `json:"ttft_seconds"`
	TPOT                           float64 `json:"tpot_seconds"`
	TokensPerSecond                float64 `json:"tokens_per_second"`
	Bound                          string
	Memory                         struct {
		Weights     float64 `json:"weights_bytes"`
		KV          float64 `json:"kv_bytes"`
		Activations float64 `json:"activation_bytes"`
		Reserved    float64 `json:"reserved_bytes"`
		Total       float64 `json:"total_bytes"`
		Capacity    float64 `json:"capacity_bytes"`
		Fits        bool
	}
	Energy struct {
		JoulesPerToken float64 `json:"joules_per_token"`
	}
	Cost struct {
		USDPerMillionTokens float64 `json:"usd_per_million_tokens"`
	}
	Ops []struct {
		Name, Step, Bound     string
		Seconds, FLOPs, Bytes float64
		Intensity             float64
	}
}

// estimateSection shows one estimate: summary, roofline with its ops,
// time per op and memory.
func estimateSection(data []byte, name string) (*Section, error) {
	var e estimateJSON
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	s := &Section{Title: fmt.Sprintf("%s: %s on %s, %s", name, e.Model, e.Device, e.Phase)}
	work := fmt.Sprintf("%s, batch %d", e.Phase, e.Batch)
	switch e.Phase {
	case "prefill":
		work += fmt.Sprintf(", prompt %d", e.Prompt)
	case "decode":
		work += fmt.Sprintf(", context %d", e.Context)
	default:
		work += fmt.Sprintf(", prompt %d, output %d", e.Prompt, e.Output)
	}
	rows := [][]string{{"work", work + ", " + e.Weights + " weights"}, {"latency", FormatSeconds(e.Seconds)}}
	if e.Phase == "request" {
		rows = append(rows, []string{"TTFT / TPOT", FormatSeconds(e.TTFT) + " / " + FormatSeconds(e.TPOT)})
	}
	s.Tables = append(s.Tables, Table{Caption: "estimate", Header: []string{"quantity", "value"}, Rows: append(rows, [][]string{
		{"throughput (tokens/s)", human(e.TokensPerSecond)}, {"bound", e.Bound},
		{"memory (GiB)", fmt.Sprintf("%s of %s (fits: %v)", human(e.Memory.Total/(1<<30)), human(e.Memory.Capacity/(1<<30)), e.Memory.Fits)},
		{"J per token", human(e.Energy.JoulesPerToken)}, {"$ per million tokens", human(e.Cost.USDPerMillionTokens)},
	}...)})
	if dev, err := loadDevice(e.Hardware, e.Device); err != nil {
		s.Note("No roofline chart: %v.", err)
	} else {
		act, _ := dtype.Parse(e.Activations)
		roof := Roof{Label: fmt.Sprintf("%s %s peak", dev.Name, act), FLOPsPerSecond: roofline.Peak(dev, hw.ClassGEMM, act), BytesPerSecond: dev.MainMemory().BytesPerSecond}
		var pts []RooflinePoint
		for _, o := range e.Ops {
			if o.Seconds > 0 && o.FLOPs > 0 {
				pts = append(pts, RooflinePoint{Name: o.Step + " " + o.Name, Intensity: o.Intensity, FLOPsPerSecond: o.FLOPs / o.Seconds})
			}
		}
		p, err := RooflineChart(fmt.Sprintf("roofline: %s on %s", e.Model, dev.Name), []Roof{roof}, pts)
		s.AddPlot("roofline with each op placed at its arithmetic intensity and attained FLOP/s", p, err)
	}
	ops := append(e.Ops[:0:0], e.Ops...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Seconds > ops[j].Seconds })
	if len(ops) > 15 {
		ops = ops[:15]
	}
	var cats []string
	var vals []float64
	for i := len(ops) - 1; i >= 0; i-- { // largest at the top
		cats = append(cats, ops[i].Step+" "+ops[i].Name+" ("+ops[i].Bound+")")
		vals = append(vals, ops[i].Seconds*1e3)
	}
	if len(vals) > 0 {
		p, err := Bars(Axes{Title: "time per op", X: "milliseconds per step (all layers)"}, cats, vals)
		s.AddPlot("where the time goes: the slowest ops and what bounds them", p, err)
	}
	m := e.Memory
	p, err := StackedBars(Axes{Title: "memory", Y: "GiB"}, []string{e.Device},
		[]Stack{{"weights", []float64{m.Weights / (1 << 30)}}, {"KV cache", []float64{m.KV / (1 << 30)}},
			{"activations", []float64{m.Activations / (1 << 30)}}, {"reserved", []float64{m.Reserved / (1 << 30)}}},
		m.Capacity/(1<<30), "device capacity")
	s.AddPlot("memory breakdown against the device's capacity", p, err)
	return s, nil
}

// loadDevice finds the device an estimate ran on.
func loadDevice(hardware, device string) (*hw.Device, error) {
	if sys, err := hw.Load(hardware); err == nil {
		return sys.Primary().Device, nil
	}
	return hw.LoadDevice(device)
}
