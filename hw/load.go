package hw

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/llmsim/llmsim/configs"
)

// maxFileBytes bounds a description file; real ones are a few kilobytes.
const maxFileBytes = 4 << 20

// source is where a description came from: a built-in or a file.
type source struct {
	file    string // shown in errors: "configs/hw/h100-sxm.toml" or the path
	name    string // what the user asked for: built-in name or path
	builtin bool
}

// Load reads a system: a built-in name ("dgx-h100", "h100-sxm"; see
// Builtins) or a TOML file path. A description of a single device becomes a
// system of one group, named after the device, that is also its accelerator.
func Load(nameOrPath string) (*System, error) {
	data, src, err := open(nameOrPath)
	if err != nil {
		return nil, err
	}
	return parseSystem(data, src)
}

// LoadDevice reads one device description: a built-in device name or a TOML
// file path.
func LoadDevice(nameOrPath string) (*Device, error) {
	data, src, err := open(nameOrPath)
	if err != nil {
		return nil, err
	}
	return parseDevice(data, src)
}

// ParseDevice parses and validates a device description. file names it in
// errors.
func ParseDevice(data []byte, file string) (*Device, error) {
	return parseDevice(data, source{file: file, name: file})
}

// ParseSystem parses and validates a system description, loading the
// devices its groups use: a bare name ("h100-sxm") is a built-in, or else
// NAME.toml next to file; a path ("gpus/my.toml") is relative to file's
// directory. A device description is accepted too and becomes a system of
// one group, as in Load.
func ParseSystem(data []byte, file string) (*System, error) {
	return parseSystem(data, source{file: file, name: file})
}

// Builtins lists the names of the built-in devices and systems, sorted.
func Builtins() (devices, systems []string) {
	entries, err := fs.ReadDir(configs.FS, "hw")
	if err != nil {
		return nil, nil
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".toml")
		if !ok || e.IsDir() {
			continue
		}
		data, err := fs.ReadFile(configs.FS, "hw/"+e.Name())
		if err != nil {
			continue
		}
		var raw map[string]any
		if _, err := toml.Decode(string(data), &raw); err == nil && raw["kind"] == nil {
			systems = append(systems, name)
		} else {
			devices = append(devices, name)
		}
	}
	sort.Strings(devices)
	sort.Strings(systems)
	return devices, systems
}

// BuiltinSource returns the text of a built-in description, comments and
// all.
func BuiltinSource(name string) ([]byte, error) {
	if !isBuiltin(name) {
		return nil, fmt.Errorf("hw: no built-in named %q (see Builtins)", name)
	}
	return fs.ReadFile(configs.FS, "hw/"+name+".toml")
}

func isBuiltin(name string) bool {
	if name == "" || strings.ContainsAny(name, `/\`) || !fs.ValidPath(name) {
		return false
	}
	_, err := fs.Stat(configs.FS, "hw/"+name+".toml")
	return err == nil
}

func builtinSource(name string) source {
	return source{file: "configs/hw/" + name + ".toml", name: name, builtin: true}
}

// open finds a description by built-in name or path.
func open(nameOrPath string) ([]byte, source, error) {
	if isBuiltin(nameOrPath) {
		data, err := fs.ReadFile(configs.FS, "hw/"+nameOrPath+".toml")
		return data, builtinSource(nameOrPath), err
	}
	if _, err := os.Stat(nameOrPath); err != nil {
		devices, systems := Builtins()
		return nil, source{}, fmt.Errorf("hw: %q is neither a built-in nor a readable file (%v); built-ins: %s",
			nameOrPath, err, strings.Join(append(devices, systems...), ", "))
	}
	data, err := readFile(nameOrPath)
	return data, source{file: nameOrPath, name: nameOrPath}, err
}

// readFile reads a regular file of bounded size, so that a path such as
// /dev/zero in a description cannot hang the loader.
func readFile(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("hw: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("hw: %s: not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("hw: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hw: %s: %w", name, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("hw: %s: larger than %d bytes", name, maxFileBytes)
	}
	return data, nil
}

func parseDevice(data []byte, src source) (*Device, error) {
	ps, err := parse(data, src.file)
	if err != nil {
		return nil, err
	}
	if ps.raw["kind"] == nil && ps.raw["device"] != nil {
		ps.p.addAt(0, "", "describes a system ([[device]] groups), not a device", nil)
		return nil, ps.p.err()
	}
	d := &Device{}
	if err := ps.into(d); err != nil {
		return nil, err
	}
	validateDevice(ps.p, d)
	if err := ps.p.err(); err != nil {
		return nil, err
	}
	return d, nil
}

func parseSystem(data []byte, src source) (*System, error) {
	ps, err := parse(data, src.file)
	if err != nil {
		return nil, err
	}
	file := src.file
	if src.builtin {
		file = "builtin:" + src.name
	}
	if ps.raw["kind"] != nil {
		d, err := parseDevice(data, src)
		if err != nil {
			return nil, err
		}
		return &System{
			Name:        d.Name,
			Description: d.Description,
			Groups:      []Group{{Name: d.Name, Use: src.name, Count: 1, Device: d}},
			Accelerator: d.Name,
			File:        file,
		}, nil
	}
	s := &System{}
	if err := ps.into(s); err != nil {
		return nil, err
	}
	s.File = file
	validateSystem(ps.p, s, ps.raw, src)
	if err := ps.p.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveUse loads the device a group uses. A bare name is a built-in, or
// else NAME.toml beside the system file; anything else is a path relative to
// the system file (built-in systems: relative to configs/hw).
func resolveUse(use string, from source) (*Device, error) {
	bare := !strings.ContainsAny(use, `/\`) && !strings.HasSuffix(use, ".toml")
	if bare && isBuiltin(use) {
		data, err := fs.ReadFile(configs.FS, "hw/"+use+".toml")
		if err != nil {
			return nil, err
		}
		return parseDevice(data, builtinSource(use))
	}
	var tried []string
	if from.builtin {
		p := path.Join("hw", use)
		for _, c := range candidates(p, bare) {
			tried = append(tried, "configs/"+c)
			if data, err := fs.ReadFile(configs.FS, c); err == nil && strings.HasPrefix(c, "hw/") {
				return parseDevice(data, source{file: "configs/" + c, name: use, builtin: true})
			}
		}
	} else {
		p := use
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(from.file), use)
		}
		for _, c := range candidates(p, bare) {
			tried = append(tried, c)
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				data, err := readFile(c)
				if err != nil {
					return nil, err
				}
				return parseDevice(data, source{file: c, name: c})
			}
		}
	}
	return nil, fmt.Errorf("no built-in device %q and no file %s", use, strings.Join(tried, " or "))
}

func candidates(p string, bare bool) []string {
	if bare {
		return []string{p + ".toml", p}
	}
	return []string{p}
}
