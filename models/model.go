package models

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/llmsim/llmsim/configs"
)

// Model is a validated architecture. Build one with Load, FromHF or New; the
// defaults of Arch (HeadDim, KVHeads, EmbedDim, MoE.Every, DType) are filled
// in, so its fields can be used directly.
type Model struct {
	Arch
}

// builtinDir is where the built-in architectures live inside configs.FS.
const builtinDir = "models"

// Builtins lists the names of the built-in models, sorted.
func Builtins() []string {
	entries, err := fs.ReadDir(configs.FS, builtinDir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".toml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// BuiltinSource returns the TOML text of a built-in model.
func BuiltinSource(name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, unknownModel(name)
	}
	data, err := fs.ReadFile(configs.FS, builtinDir+"/"+name+".toml")
	if err != nil {
		return nil, unknownModel(name)
	}
	return data, nil
}

func unknownModel(name string) error {
	return fmt.Errorf("models: unknown model %q (built-in: %s; or give a path to a .toml file or a Hugging Face config.json)",
		name, strings.Join(Builtins(), ", "))
}

// Load returns a built-in model by name ("llama3-8b") or reads a file: a
// .toml file in the Arch schema, a Hugging Face config.json (any .json), or a
// directory holding config.json.
func Load(nameOrPath string) (*Model, error) {
	if !looksLikePath(nameOrPath) {
		data, err := BuiltinSource(nameOrPath)
		if err != nil {
			return nil, err
		}
		return FromTOML(data, "configs/"+builtinDir+"/"+nameOrPath+".toml")
	}
	file := nameOrPath
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		file = filepath.Join(file, "config.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".toml":
		return FromTOML(data, file)
	case ".json":
		return FromHF(data, file)
	}
	return nil, fmt.Errorf("models: %s: unknown file type (want .toml or .json)", file)
}

func looksLikePath(s string) bool {
	if strings.ContainsAny(s, `/\`) {
		return true
	}
	ext := strings.ToLower(filepath.Ext(s))
	return ext == ".toml" || ext == ".json"
}

// FromTOML parses an architecture in the Arch schema. file names the source
// in error messages, which read FILE:LINE: key: message.
func FromTOML(data []byte, file string) (*Model, error) {
	var a Arch
	md, err := toml.Decode(string(data), &a)
	if err != nil {
		return nil, tomlDecodeError(file, data, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return nil, errAt(file, tomlKeyLine(data, k), k, "unknown key")
	}
	if a.Name == "" {
		a.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if fe := a.check(); fe != nil {
		return nil, errAt(file, tomlKeyLine(data, fe.key), fe.key, fe.msg)
	}
	return &Model{Arch: a}, nil
}

// errAt formats FILE:LINE: key: message (FILE: key: message without a line).
func errAt(file string, line int, key, msg string) error {
	loc := file
	if line > 0 {
		loc += ":" + strconv.Itoa(line)
	}
	if key == "" {
		return fmt.Errorf("%s: %s", loc, msg)
	}
	return fmt.Errorf("%s: %s: %s", loc, key, msg)
}

// tomlLastKey matches the position prefix BurntSushi/toml puts on decode
// (type) errors, which are not ParseErrors.
var tomlLastKey = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)

func tomlDecodeError(file string, data []byte, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return errAt(file, pe.Position.Line, pe.LastKey, pe.Message)
	}
	if m := tomlLastKey.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		if line == 0 {
			line = tomlKeyLine(data, m[2])
		}
		return errAt(file, line, m[2], m[3])
	}
	return errAt(file, 0, "", strings.TrimPrefix(err.Error(), "toml: "))
}

// tomlKeyLine finds the 1-based line defining a dotted key ("moe.top_k") by
// scanning the text: under a [moe] header, as a dotted key, or as the table
// header itself. 0 when not found (the key was defaulted).
func tomlKeyLine(data []byte, key string) int {
	table := ""
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t")
			if table == key {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = normaliseTOMLKey(k)
		if table != "" {
			k = table + "." + k
		}
		if k == key || strings.HasPrefix(key, k+".") {
			return i + 1
		}
	}
	return 0
}

func normaliseTOMLKey(k string) string {
	parts := strings.Split(strings.TrimSpace(k), ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// jsonKeyLine finds the 1-based line of the first "key": in a JSON text; 0
// when absent.
func jsonKeyLine(data []byte, key string) int {
	needle := []byte(strconv.Quote(key))
	for off := 0; ; {
		i := bytes.Index(data[off:], needle)
		if i < 0 {
			return 0
		}
		end := off + i + len(needle)
		rest := bytes.TrimLeft(data[end:], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			return lineAt(data, off+i)
		}
		off = end
	}
}

// lineAt is the 1-based line of byte offset off.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
