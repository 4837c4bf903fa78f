package reproduce

import (
	"fmt"
	"strconv"
	"strings"
)

// simulate computes the scenario's metric and describes the setup.
func (s *Scenario) simulate(r *Result) (float64, string, error) {
	if s.Metric == "throughput_drop" {
		return s.throughputDrop(r)
	}
	base, err := s.config(s.Baseline)
	if err != nil {
		return 0, "", fmt.Errorf("baseline: %w", err)
	}
	scheme, err := s.config(s.Scheme)
	if err != nil {
		return 0, "", fmt.Errorf("scheme: %w", err)
	}
	r.Baseline, r.Scheme = base.scheme.String(), scheme.scheme.String()
	b := s.Batch
	setup := s.describe()
	switch s.Metric {
	case "memory_ratio":
		fb, fs := base.footprint(b, s.Context, s.Chunk), scheme.footprint(b, s.Context, s.Chunk)
		if s.Memory == "kv" {
			return fb.kv / fs.kv, setup, nil
		}
		return fb.used() / fs.used(), setup + fmt.Sprintf("; %.1f vs %.1f GB", fb.used()/1e9, fs.used()/1e9), nil
	case "kv_reduction":
		kb := base.scheme.StoredBytes(base.m, s.Context, base.prec.KV)
		ks := scheme.scheme.StoredBytes(scheme.m, s.Context, scheme.prec.KV)
		return 1 - ks/kb, setup, nil
	case "decode_speedup":
		tb := base.decodeSeconds(b, s.Context, 1)
		ts := scheme.decodeSeconds(b, s.Context, 1)
		return tb / ts, setup + fmt.Sprintf("; %.2f vs %.2f ms/step", tb*1e3, ts*1e3), nil
	case "attention_speedup":
		tb, ts := base.attentionSeconds(b, s.Context, s.Chunk), scheme.attentionSeconds(b, s.Context, s.Chunk)
		return tb / ts, setup + fmt.Sprintf("; attention %.3f vs %.3f ms/step", tb*1e3, ts*1e3), nil
	case "prefill_speedup":
		tb := base.prefillSeconds(b, s.Prompt, s.Chunk)
		ts := scheme.prefillSeconds(b, s.Prompt, s.Chunk)
		return tb / ts, setup + fmt.Sprintf("; %.3f vs %.3f s", tb, ts), nil
	case "request_speedup":
		tb := base.prefillSeconds(b, s.Prompt, s.Chunk) + base.decodeSeconds(b, s.Prompt, s.Output-1)
		ts := scheme.prefillSeconds(b, s.Prompt, s.Chunk) + scheme.decodeSeconds(b, s.Prompt, s.Output-1)
		return tb / ts, setup + fmt.Sprintf("; %.2f vs %.2f s", tb, ts), nil
	case "throughput_ratio":
		bb, bs := b, b
		if s.MaxBatch {
			ctx := s.Prompt + s.Output
			bb, bs = base.maxBatch(ctx, s.Chunk), scheme.maxBatch(ctx, s.Chunk)
			if bb == 0 || bs == 0 {
				return 0, "", fmt.Errorf("a batch of one does not fit (baseline %d, scheme %d)", bb, bs)
			}
			setup += fmt.Sprintf("; largest batches %d vs %d", bb, bs)
		}
		decodeOnly := s.Phase == "decode"
		tb := base.throughput(bb, s.Prompt, s.Output, s.Chunk, decodeOnly)
		ts := scheme.throughput(bs, s.Prompt, s.Output, s.Chunk, decodeOnly)
		return ts / tb, setup + fmt.Sprintf("; %.0f vs %.0f tokens/s", tb, ts), nil
	case "max_context":
		nb, ns := base.maxContext(b, s.Chunk), scheme.maxContext(b, s.Chunk)
		return float64(ns), setup + fmt.Sprintf("; baseline fits %d tokens", nb), nil
	case "max_batch":
		nb, ns := base.maxBatch(s.Context, s.Chunk), scheme.maxBatch(s.Context, s.Chunk)
		return float64(ns), setup + fmt.Sprintf("; baseline fits %d", nb), nil
	case "memory_fraction":
		fb, fs := base.footprint(b, s.Context, s.Chunk), scheme.footprint(b, s.Context, s.Chunk)
		return fs.total() / fs.capacity, setup + fmt.Sprintf("; %.1f GB of %.1f GB (baseline needs %.1f GB)", fs.total()/1e9, fs.capacity/1e9, fb.total()/1e9), nil
	}
	return 0, "", fmt.Errorf("metric %q not implemented", s.Metric)
}

// throughputDrop is 1 − decode throughput at the longer shared prefix over
// that at the shorter, for the scheme alone.
func (s *Scenario) throughputDrop(r *Result) (float64, string, error) {
	var tps [2]float64
	for i, prefix := range s.Prefixes {
		spec := strings.ReplaceAll(s.Scheme, "{prefix}", strconv.Itoa(prefix))
		c, err := s.config(spec)
		if err != nil {
			return 0, "", fmt.Errorf("scheme: %w", err)
		}
		if i == 0 {
			r.Scheme = c.scheme.String()
		}
		sec := c.decodeSeconds(s.Batch, prefix+s.Prompt, s.Output)
		tps[i] = float64(s.Batch*s.Output) / sec
	}
	r.Baseline = "-"
	setup := s.describe() + fmt.Sprintf("; %.0f → %.0f tokens/s from prefix %d to %d", tps[0], tps[1], s.Prefixes[0], s.Prefixes[1])
	return 1 - tps[1]/tps[0], setup, nil
}

func (s *Scenario) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s, %s", s.Model, s.Hardware, s.Weights)
	if s.KV != "" {
		fmt.Fprintf(&b, "/KV %s", s.KV)
	}
	fmt.Fprintf(&b, ", batch %d", s.Batch)
	if s.MaxBatch {
		b.WriteString(" (largest that fits)")
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"context", s.Context}, {"prompt", s.Prompt}, {"output", s.Output}, {"chunk", s.Chunk}} {
		if f.v > 0 {
			fmt.Fprintf(&b, ", %s %d", f.name, f.v)
		}
	}
	if s.TP > 1 {
		fmt.Fprintf(&b, ", TP %d", s.TP)
	}
	if s.Engine != "" {
		fmt.Fprintf(&b, ", engine %s", s.Engine)
	}
	if s.ConcatKVCache != nil && *s.ConcatKVCache {
		b.WriteString(", KV cache grown by concatenation")
	}
	return b.String()
}
