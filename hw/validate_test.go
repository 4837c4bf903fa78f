package hw

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// validDevice is a minimal correct description; the cases below break one
// thing each.
const validDevice = `name = "tiny"
kind = "gpu"

[compute.flops_per_second]
bf16 = 1e12

[[memory]]
name = "hbm"
capacity_bytes = 1e9
bytes_per_second = 1e11

[[memory]]
name = "host"
capacity_bytes = 1e10
bytes_per_second = 1e10

[efficiency.memory]
points = [[1e3, 0.1], [1e5, 0.5]]
`

// lineOf is the 1-based line of the first occurrence of marker in text.
func lineOf(t *testing.T, text, marker string) int {
	t.Helper()
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("marker %q not in text", marker)
	}
	return strings.Count(text[:i], "\n") + 1
}

func TestParseDeviceValid(t *testing.T) {
	d, err := ParseDevice([]byte(validDevice), "tiny.toml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "tiny" || len(d.Memory) != 2 || d.Memory[1].BytesPerSecond != 1e10 {
		t.Errorf("decoded %+v", d)
	}
}

func TestParseDeviceInvalid(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		marker  string // the line the error must name; "" for line 0
		key     string
		message string
	}{
		{"unknown key in second memory tier",
			strings.Replace(validDevice, `name = "host"`, "name = \"host\"\nbandwdith = 3", 1),
			"bandwdith", "memory[1].bandwdith", "unknown key"},
		{"unknown top-level table",
			validDevice + "\n[powr]\nidle_watts = 1\n",
			"[powr]", "powr", "unknown key"},
		{"wrong type in first memory tier",
			strings.Replace(validDevice, "bytes_per_second = 1e11", `bytes_per_second = "fast"`, 1),
			`"fast"`, "memory[0].bytes_per_second", `must be a number, got string "fast"`},
		{"integer field given a float",
			validDevice + "\n[compute]\nunits = 1.5\n",
			"units", "compute.units", "must be an integer"},
		{"negative bandwidth",
			strings.Replace(validDevice, "bytes_per_second = 1e10", "bytes_per_second = -3", 1),
			"-3", "memory[1].bytes_per_second", "must be a positive finite number, got -3"},
		{"NaN capacity",
			strings.Replace(validDevice, "capacity_bytes = 1e9", "capacity_bytes = nan", 1),
			"nan", "memory[0].capacity_bytes", "got nan"},
		{"infinite peak",
			strings.Replace(validDevice, "bf16 = 1e12", "bf16 = inf", 1),
			"inf", "compute.flops_per_second.bf16", "got inf"},
		{"bad dtype",
			strings.Replace(validDevice, "bf16 = 1e12", "bf17 = 1e12", 1),
			"bf17", "compute.flops_per_second.bf17", `unknown dtype "bf17"`},
		{"non-increasing curve",
			strings.Replace(validDevice, "[[1e3, 0.1], [1e5, 0.5]]", "[[1e3, 0.1], [1e3, 0.5]]", 1),
			"points", "efficiency.memory.points[1]", "strictly increasing"},
		{"fraction above one",
			strings.Replace(validDevice, "[1e5, 0.5]", "[1e5, 1.5]", 1),
			"points", "efficiency.memory.points[1]", "fraction must be in (0, 1], got 1.5"},
		{"unknown op class",
			validDevice + "\n[efficiency.compute.gem]\npoints = [[1, 0.5]]\n",
			"[efficiency.compute.gem]", "efficiency.compute.gem", `unknown op class "gem"`},
		{"attention item time without compute units",
			validDevice + "\n[overhead]\nattention_item_seconds = 1e-6\n",
			"attention_item_seconds", "overhead.attention_item_seconds", "needs compute.units"},
		{"attention tile time without compute units",
			validDevice + "\n[overhead]\nattention_tile_seconds = 3e-6\n",
			"attention_tile_seconds", "overhead.attention_tile_seconds", "needs compute.units"},
		{"negative attention item time",
			validDevice + "\n[overhead]\nattention_item_seconds = -1e-6\n",
			"attention_item_seconds", "overhead.attention_item_seconds", "must be a finite number >= 0"},
		{"unknown memory class",
			validDevice + "\n[efficiency.memory_by_class.gemv]\npoints = [[1, 0.5]]\n",
			"[efficiency.memory_by_class.gemv]", "efficiency.memory_by_class.gemv", `unknown op class "gemv"`},
		{"bad memory-class curve",
			validDevice + "\n[efficiency.memory_by_class.attention]\npoints = [[1, 0]]\n",
			"points = [[1, 0]]", "efficiency.memory_by_class.attention.points[0]", "fraction must be in (0, 1], got 0"},
		{"unknown intensity class",
			validDevice + "\n[efficiency.compute_by_intensity.gemv]\npoints = [[1, 0.5]]\n",
			"[efficiency.compute_by_intensity.gemv]", "efficiency.compute_by_intensity.gemv", `unknown op class "gemv"`},
		{"intensity factor above 1",
			validDevice + "\n[efficiency.compute_by_intensity.gemm]\npoints = [[1, 0.5], [10, 1.5]]\n",
			"points = [[1, 0.5], [10, 1.5]]", "efficiency.compute_by_intensity.gemm.points[1]", "fraction must be in (0, 1], got 1.5"},
		{"missing kind section",
			strings.Replace(validDevice, `kind = "gpu"`, `kind = "pim"`, 1),
			`kind = "pim"`, "pim", "required for kind pim: a [pim] section"},
		{"unknown kind",
			strings.Replace(validDevice, `kind = "gpu"`, `kind = "tpu"`, 1),
			`kind = "tpu"`, "kind", `unknown kind "tpu"`},
		{"missing kind",
			strings.Replace(validDevice, `kind = "gpu"`, ``, 1),
			"", "kind", "required"},
		{"missing memory",
			validDevice[:strings.Index(validDevice, "[[memory]]")],
			"", "memory", "at least one [[memory]] tier"},
		{"no compute peak on a gpu",
			strings.Replace(validDevice, "bf16 = 1e12", "", 1),
			"[compute.flops_per_second]", "compute.flops_per_second", "at least one dense peak"},
		{"curve point of three numbers",
			strings.Replace(validDevice, "[1e5, 0.5]", "[1e5, 0.5, 9]", 1),
			"points", "efficiency.memory.points[1]", "array of 2 elements, got 3"},
		{"syntax error",
			strings.Replace(validDevice, "capacity_bytes = 1e10", "capacity_bytes = ", 1),
			"capacity_bytes = \n", "", "TOML syntax"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseDevice([]byte(c.text), "dev.toml")
			if err == nil {
				t.Fatal("no error")
			}
			line := 0
			if c.marker != "" {
				line = lineOf(t, c.text, c.marker)
			}
			want := "dev.toml"
			if line > 0 {
				want += ":" + strconv.Itoa(line)
			}
			if c.key != "" {
				want += ": " + c.key
			}
			want += ": "
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.message) {
				t.Errorf("error\n  %v\nwant it to contain %q and %q", err, want, c.message)
			}
			var he *Error
			if !errors.As(err, &he) || he.File != "dev.toml" || he.Line != line {
				t.Errorf("errors.As: %+v, want file dev.toml line %d", he, line)
			}
		})
	}
}

const validSystem = `name = "pair"
host = "cpu"
accelerator = "gpu"

[[device]]
name = "gpu"
use = "h100-sxm"
count = 2

[[device]]
name = "cpu"
use = "xeon-8480"

[[link]]
between = ["gpu", "gpu"]
bytes_per_second = 450e9
topology = "switch"
`

func TestParseSystemValid(t *testing.T) {
	s, err := ParseSystem([]byte(validSystem), "pair.toml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Group("gpu").Count != 2 || s.Group("cpu").Count != 1 {
		t.Errorf("counts: gpu %d, cpu %d; want 2 and 1 (count defaults to 1)", s.Group("gpu").Count, s.Group("cpu").Count)
	}
	if s.HostGroup().Device.Kind != CPU || s.Primary().Device.Name != "h100-sxm" {
		t.Errorf("host %v, primary %v", s.HostGroup().Device.Kind, s.Primary().Device.Name)
	}
}

func TestParseSystemInvalid(t *testing.T) {
	cases := []struct {
		name, text, marker, key, message string
	}{
		{"dangling link",
			strings.Replace(validSystem, `["gpu", "gpu"]`, `["gpu", "tpu"]`, 1),
			`["gpu", "tpu"]`, "link[0].between", `"tpu" names no device group`},
		{"host names no group",
			strings.Replace(validSystem, `host = "cpu"`, `host = "cpus"`, 1),
			`host = "cpus"`, "host", `"cpus" names no device group`},
		{"accelerator names no group",
			strings.Replace(validSystem, `accelerator = "gpu"`, `accelerator = "npu"`, 1),
			`accelerator = "npu"`, "accelerator", `"npu" names no device group`},
		{"duplicate group",
			strings.Replace(validSystem, `name = "cpu"`, `name = "gpu"`, 1),
			"name = \"gpu\"\nuse = \"xeon-8480\"", "device[1].name", `duplicate group name "gpu"`},
		{"zero count",
			strings.Replace(validSystem, "count = 2", "count = 0", 1),
			"count = 0", "device[0].count", "must be a positive integer, got 0"},
		{"wrong type in first group",
			strings.Replace(validSystem, "count = 2", `count = "2"`, 1),
			`count = "2"`, "device[0].count", `must be an integer, got string "2"`},
		{"unknown device",
			strings.Replace(validSystem, `use = "xeon-8480"`, `use = "xeon-9999"`, 1),
			`use = "xeon-9999"`, "device[1].use", `no built-in device "xeon-9999"`},
		{"negative link bandwidth",
			strings.Replace(validSystem, "450e9", "-1", 1),
			"-1", "link[0].bytes_per_second", "positive"},
		{"unknown topology",
			strings.Replace(validSystem, `"switch"`, `"mesh"`, 1),
			`"mesh"`, "link[0].topology", `unknown topology "mesh"`},
		{"unknown key in link",
			strings.Replace(validSystem, `topology = "switch"`, "topology = \"switch\"\nbandwidth = 1", 1),
			"bandwidth = 1", "link[0].bandwidth", "unknown key"},
		{"device table in a system",
			validSystem + "\n[[memory]]\nbytes_per_second = 1\n",
			"[[memory]]", "memory", "unknown key"},
		{"no groups",
			`name = "empty"`,
			"", "device", "at least one [[device]] group"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSystem([]byte(c.text), "sys.toml")
			if err == nil {
				t.Fatal("no error")
			}
			want := "sys.toml"
			if c.marker != "" {
				want += ":" + strconv.Itoa(lineOf(t, c.text, c.marker))
			}
			want += ": " + c.key
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), c.message) {
				t.Errorf("error\n  %v\nwant it to contain %q and %q", err, want, c.message)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    Error
		want string
	}{
		{Error{File: "h100.toml", Line: 12, Key: "memory[0].bytes_per_second", Msg: "must be positive"},
			"h100.toml:12: memory[0].bytes_per_second: must be positive"},
		{Error{File: "h100.toml", Key: "kind", Msg: "required"}, "h100.toml: kind: required"},
		{Error{File: "h100.toml", Line: 3, Msg: "TOML syntax: x"}, "h100.toml:3: TOML syntax: x"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestDTypeKeysNormalised(t *testing.T) {
	text := strings.Replace(validDevice, "bf16 = 1e12", "bfloat16 = 1e12", 1)
	d, err := ParseDevice([]byte(text), "dev.toml")
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Compute.FLOPSPerSecond["bf16"]; got != 1e12 {
		t.Errorf("bf16 peak %g, want 1e12 under the canonical name", got)
	}
	dup := strings.Replace(validDevice, "bf16 = 1e12", "bf16 = 1e12\nbfloat16 = 2e12", 1)
	if _, err := ParseDevice([]byte(dup), "dev.toml"); err == nil || !strings.Contains(err.Error(), "duplicate peak") {
		t.Errorf("duplicate alias: got %v", err)
	}
}
