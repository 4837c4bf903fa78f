package hw

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestBuiltinsAllLoad(t *testing.T) {
	devices, systems := Builtins()
	if len(devices) < 20 || len(systems) < 6 {
		t.Fatalf("only %d devices and %d systems built in", len(devices), len(systems))
	}
	if !sort.StringsAreSorted(devices) || !sort.StringsAreSorted(systems) {
		t.Error("Builtins not sorted")
	}
	for _, name := range devices {
		d, err := LoadDevice(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if d.Name != name {
			t.Errorf("%s: name %q differs from file name", name, d.Name)
		}
		if d.Source == "" || d.Description == "" {
			t.Errorf("%s: needs description and source", name)
		}
		if d.Power.ActiveWatts <= 0 && d.Price.USDPerHour <= 0 {
			t.Errorf("%s: neither power nor price given", name)
		}
		s, err := Load(name)
		if err != nil || len(s.Groups) != 1 || s.Primary().Device.Name != name || s.File != "builtin:"+name {
			t.Errorf("%s as a system: %+v, %v", name, s, err)
		}
	}
	for _, name := range systems {
		s, err := Load(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s.Name != name {
			t.Errorf("%s: name %q differs from file name", name, s.Name)
		}
		if _, err := LoadDevice(name); err == nil || !strings.Contains(err.Error(), "not a device") {
			t.Errorf("LoadDevice(%s): %v, want a 'not a device' error", name, err)
		}
	}
}

// TestBuiltinsCommented checks that every number in a built-in file carries
// a comment on its line (or, for a value without one, the comment block
// right above it).
func TestBuiltinsCommented(t *testing.T) {
	devices, systems := Builtins()
	for _, name := range append(devices, systems...) {
		src, err := BuiltinSource(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		for i, line := range lines {
			key, value, ok := strings.Cut(line, "=")
			if !ok || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			value = strings.TrimSpace(value)
			numeric := value != "" && strings.ContainsAny(value[:1], "0123456789-+[{") && !strings.Contains(value, `"`)
			if !numeric || strings.Contains(value, "#") {
				continue
			}
			if i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
				continue
			}
			t.Errorf("configs/hw/%s.toml:%d: %s: number without a source comment", name, i+1, strings.TrimSpace(key))
		}
	}
}

func TestBuiltinSource(t *testing.T) {
	src, err := BuiltinSource("h100-sxm")
	if err != nil || !strings.Contains(string(src), "3.35e12") {
		t.Errorf("BuiltinSource(h100-sxm): %v", err)
	}
	for _, bad := range []string{"", "nope", "../embed.go", "hw/h100-sxm"} {
		if _, err := BuiltinSource(bad); err == nil {
			t.Errorf("BuiltinSource(%q): no error", bad)
		}
	}
}

func TestLoadSystemFileWithBuiltinAndRelativePath(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "sys", "node.toml"))
	if err != nil {
		t.Fatal(err)
	}
	npu, cpu := s.Group("npu"), s.Group("cpu")
	if npu.Count != 4 || npu.Device.Name != "custom" || npu.Device.DTypePeak("bf16") != 100e12 {
		t.Errorf("npu group: %+v", npu)
	}
	if cpu.Count != 1 || cpu.Device.Name != "xeon-8480" {
		t.Errorf("cpu group: %+v", cpu)
	}
	if l := s.LinkBetween("cpu", "npu"); l == nil || l.BytesPerSecond != 32e9 {
		t.Errorf("npu-cpu link: %+v", l)
	}
	if s.Primary() != npu || s.HostGroup() != cpu {
		t.Error("accelerator/host not resolved")
	}
}

func TestLoadSystemBareNameBesideFile(t *testing.T) {
	dir := t.TempDir()
	dev, err := os.ReadFile(filepath.Join("testdata", "sys", "gpus", "custom.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mine.toml"), dev, 0o644); err != nil {
		t.Fatal(err)
	}
	sys := "name = \"s\"\n[[device]]\nname = \"a\"\nuse = \"mine\"\n"
	s, err := ParseSystem([]byte(sys), filepath.Join(dir, "s.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Groups[0].Device.Name != "custom" {
		t.Errorf("bare name beside the file resolved to %q", s.Groups[0].Device.Name)
	}
}

func TestLoadErrorInUsedDeviceNamesBothFiles(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "sys", "broken.toml"))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	outer := filepath.Join("testdata", "sys", "broken.toml") + ":5: device[0].use: "
	inner := filepath.Join("testdata", "sys", "gpus", "bad.toml") + ":9: memory[0].bytes_per_second: "
	if !strings.Contains(msg, outer) || !strings.Contains(msg, inner) {
		t.Errorf("error %q\nwant %q and %q", msg, outer, inner)
	}
	var he *Error
	if !errors.As(err, &he) {
		t.Error("not an *Error")
	}
}

func TestLoadUnknown(t *testing.T) {
	_, err := Load("h100")
	if err == nil || !strings.Contains(err.Error(), `"h100" is neither a built-in nor a readable file`) ||
		!strings.Contains(err.Error(), "h100-sxm") {
		t.Errorf("Load(h100): %v", err)
	}
	if _, err := Load(os.DevNull); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load(%s): %v", os.DevNull, err)
	}
}

func TestSingleDeviceFileBecomesSystem(t *testing.T) {
	path := filepath.Join("testdata", "sys", "gpus", "custom.toml")
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "custom" || len(s.Groups) != 1 || s.Accelerator != "custom" || s.Host != "" ||
		s.Groups[0].Count != 1 || s.Groups[0].Use != path || s.File != path {
		t.Errorf("system %+v", s)
	}
}
