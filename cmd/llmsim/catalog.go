package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/llmsim/llmsim/dtype"
	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/models"
)

const hwHelp = `llmsim hw — the built-in hardware descriptions.

  llmsim hw list            one line per built-in device and system
  llmsim hw show NAME|FILE  the description: its TOML source (built-ins) or,
                            with -o json, the loaded and validated structure

list fields: name, kind (gpu, cpu, npu, pim, fpga, csd, flash, ssd, or system),
bf16_tflops (dense peak; for systems, of the accelerator), memory_gib (main
memory of one device), memory_tbps (its bandwidth, TB/s), usd_per_hour, and for
systems the device groups.
`

const modelsHelp = `llmsim models — the built-in model architectures.

  llmsim models list              one line per built-in model
  llmsim models show NAME|FILE    the architecture: TOML source (built-ins) or,
                                  with -o json, the loaded structure plus params

list fields: name, family, params (billions, all experts), active (billions per
token), layers, hidden, heads/kv_heads, kv_bytes_per_token (bf16), max_context.
FILE may be a model TOML or a Hugging Face config.json.
`

func init() {
	register("hw", "list or show hardware descriptions", runHW)
	register("models", "list or show model architectures", runModels)
}

func runHW(args []string, stdout, stderr io.Writer) error {
	return catalog("hw", hwHelp, args, stdout, stderr, listHW, showHW)
}

func runModels(args []string, stdout, stderr io.Writer) error {
	return catalog("models", modelsHelp, args, stdout, stderr, listModels, showModel)
}

// catalog parses "list" and "show NAME" for hw and models.
func catalog(name, help string, args []string, stdout, stderr io.Writer,
	list func(io.Writer) error, show func(string, string, io.Writer) error) error {
	fs := newFlags(name, help, stderr)
	format := fs.StringP("output-format", "o", "text", "text or json (show)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkFormat(*format, "text", "json"); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 1 && fs.Arg(0) == "list":
		return list(stdout)
	case fs.NArg() == 2 && fs.Arg(0) == "show":
		return show(fs.Arg(1), *format, stdout)
	}
	return fmt.Errorf("usage: llmsim %s list | llmsim %s show NAME|FILE", name, name)
}

func listHW(w io.Writer) error {
	devices, systems := hw.Builtins()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tkind\tbf16_tflops\tmemory_gib\tmemory_tbps\tusd_per_hour\tgroups")
	for _, names := range [][]string{devices, systems} {
		for _, n := range names {
			sys, err := hw.Load(n)
			if err != nil {
				return err
			}
			d := sys.Primary().Device
			kind, groups := string(d.Kind), ""
			if len(sys.Groups) > 1 || sys.Groups[0].Count > 1 {
				kind = "system"
				for i, g := range sys.Groups {
					if i > 0 {
						groups += " + "
					}
					groups += fmt.Sprintf("%d×%s", g.Count, g.Use)
				}
			}
			mem := d.MainMemory()
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.3f\t%.2f\t%s\n", n, kind, d.DTypePeak(dtype.BF16)/1e12,
				mem.CapacityBytes/(1<<30), mem.BytesPerSecond/1e12, d.Price.USDPerHour, groups)
		}
	}
	return tw.Flush()
}

func showHW(name, format string, w io.Writer) error {
	sys, err := hw.Load(name)
	if err != nil {
		return err
	}
	if format == "json" {
		return writeJSON(w, sys)
	}
	if src, err := hw.BuiltinSource(name); err == nil {
		_, err = w.Write(src)
		return err
	}
	return writeJSON(w, sys)
}

func listModels(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tfamily\tparams_b\tactive_b\tlayers\thidden\theads/kv\tkv_bytes_per_token\tmax_context")
	for _, n := range models.Builtins() {
		m, err := models.Load(n)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%d\t%d\t%d/%d\t%.0f\t%d\n", n, m.Family, m.Params()/1e9, m.ActiveParams()/1e9,
			m.Layers, m.Hidden, m.Heads, m.KVHeads, m.KVBytesPerToken(dtype.BF16), m.MaxContext)
	}
	return tw.Flush()
}

func showModel(name, format string, w io.Writer) error {
	m, err := models.Load(name)
	if err != nil {
		return err
	}
	if format == "json" {
		return writeJSON(w, struct {
			*models.Model
			Params       float64 `json:"params"`
			ActiveParams float64 `json:"active_params"`
		}{m, m.Params(), m.ActiveParams()})
	}
	if src, err := models.BuiltinSource(name); err == nil {
		_, err = w.Write(src)
		return err
	}
	return writeJSON(w, m)
}
