package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/llmsim/llmsim/kvcache"
)

const kvschemesHelp = `llmsim kvschemes — the KV-cache schemes --kv-scheme accepts, with their
parameters, defaults and what each changes.

  llmsim kvschemes
  llmsim kvschemes -o json
  llmsim estimate --kv-scheme duo:retrieval=0.25+kivi:bits=2 ...

A spec is NAME or NAME:key=value,...; schemes joined with + compose in the
order of their stages (retention, read, share, channels, format, alloc), e.g.
"scissorhands:budget=0.2+quant:bits=4,group=128".

Output fields (JSON names):
  name      scheme name
  summary   what the scheme changes (tokens kept, bytes per token, bytes
            read per decode step, extra compute, prefill, capacity)
  source    the paper or system it models
  stages    the stages it fills
  params    key, default and meaning of each parameter
  spec      the canonical spec with every default spelled out
`

func init() {
	register("kvschemes", "list the KV-cache schemes and their parameters", runKVSchemes)
}

type kvSchemeJSON struct {
	Name    string          `json:"name"`
	Summary string          `json:"summary"`
	Source  string          `json:"source"`
	Stages  []string        `json:"stages"`
	Params  []kvcache.Param `json:"params"`
	Spec    string          `json:"spec"`
}

func runKVSchemes(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("kvschemes", kvschemesHelp, stderr)
	var format string
	fs.StringVarP(&format, "output-format", "o", "table", "table or json")
	if err := parseFlags(fs, args, &format, "table", "json"); err != nil {
		return err
	}
	var out []kvSchemeJSON
	for _, info := range kvcache.Schemes() {
		spec := info.Name
		if s, err := kvcache.Parse(info.Name); err == nil {
			spec = s.String()
		}
		params := info.Params
		if params == nil {
			params = []kvcache.Param{}
		}
		stages := info.Stages
		if stages == nil {
			stages = []string{}
		}
		out = append(out, kvSchemeJSON{info.Name, info.Summary, info.Source, stages, params, spec})
	}
	if format == "json" {
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tstages\tparameters (defaults)\tsource")
	for _, s := range out {
		var ps []string
		for _, p := range s.Params {
			ps = append(ps, p.Key+"="+p.Default)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, strings.Join(s.Stages, "+"), strings.Join(ps, ","), s.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	for _, s := range out {
		fmt.Fprintf(stdout, "%s: %s\n", s.Name, s.Summary)
		for _, p := range s.Params {
			fmt.Fprintf(stdout, "    %-10s %s (default %s)\n", p.Key, p.Meaning, p.Default)
		}
	}
	return nil
}
