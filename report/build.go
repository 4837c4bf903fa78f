package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FromFiles builds a report from result files of any llmsim command:
// estimate -o json, simulate -o json, simulate --requests-csv and --trace,
// sweep, dse and plan outputs (CSV, JSON Lines or JSON). The kind of each
// file is read from its content.
func FromFiles(title string, paths []string) (*Document, error) {
	d := &Document{Title: title}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		secs, err := sectionsOf(data, p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		d.Sources = append(d.Sources, filepath.Base(p))
		d.Sections = append(d.Sections, secs...)
	}
	return d, nil
}

// sectionsOf recognises a result file and builds its sections.
func sectionsOf(data []byte, path string) ([]*Section, error) {
	name := filepath.Base(path)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("empty file")
	}
	if trimmed[0] == '{' && !strings.HasSuffix(path, ".jsonl") && !strings.HasSuffix(path, ".ndjson") {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &probe); err == nil {
			return jsonSections(data, probe, name)
		}
	}
	var d *Data
	var err error
	if trimmed[0] == '{' {
		d, err = ParseJSONL(data)
	} else {
		d, err = ParseCSV(data)
	}
	if err != nil {
		return nil, err
	}
	return tableSections(d, name)
}

func jsonSections(data []byte, probe map[string]json.RawMessage, name string) ([]*Section, error) {
	has := func(k string) bool { _, ok := probe[k]; return ok }
	var s *Section
	var err error
	switch {
	case has("traceEvents"):
		s, err = traceSection(data, name)
	case has("ops") && has("phase"):
		s, err = estimateSection(data, name)
	case has("ttft_seconds") && has("replicas"):
		s, err = simulateSection(data, name)
	case has("plan") && has("candidates"):
		s, err = planSection(data, name)
	default:
		return nil, fmt.Errorf("not an llmsim result (estimate, simulate, trace or plan JSON)")
	}
	if err != nil {
		return nil, err
	}
	return []*Section{s}, nil
}

func tableSections(d *Data, name string) ([]*Section, error) {
	switch {
	case d.Has("pareto", "objectives"):
		return []*Section{dseSection(d, name)}, nil
	case d.Has("ttft_s", "arrival_s"):
		return []*Section{requestsSection(d, name)}, nil
	case d.Has("ttft_p99_seconds", "output_tokens_per_second"):
		return []*Section{simulateSweepSection(d, name)}, nil
	case d.Has("phase", "seconds", "tokens_per_second"):
		return estimateSweepSections(d, name), nil
	}
	return nil, fmt.Errorf("unrecognised table (columns %s)", strings.Join(d.Columns[:min(6, len(d.Columns))], ","))
}
