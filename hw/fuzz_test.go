package hw

import (
	"os"
	"path/filepath"
	"testing"
)

// seedBuiltins adds every built-in file and the test descriptions to the
// corpus, so that `go test` runs them as seeds.
func seedBuiltins(f *testing.F) {
	devices, systems := Builtins()
	for _, name := range append(devices, systems...) {
		src, err := BuiltinSource(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(validDevice))
	f.Add([]byte(validSystem))
	files, _ := filepath.Glob(filepath.Join("testdata", "sys", "*.toml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
}

func FuzzParseDevice(f *testing.F) {
	seedBuiltins(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDevice(data, "fuzz.toml")
		if err != nil {
			return
		}
		// What loading guarantees, the core may rely on.
		if len(d.Memory) == 0 || d.MainMemory().BytesPerSecond <= 0 || d.Name == "" {
			t.Fatalf("accepted an invalid device: %+v", d)
		}
	})
}

func FuzzParseSystem(f *testing.F) {
	seedBuiltins(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSystem(data, filepath.Join("testdata", "sys", "fuzz.toml"))
		if err != nil {
			return
		}
		if len(s.Groups) == 0 || s.Primary() == nil {
			t.Fatalf("accepted a system without groups: %+v", s)
		}
		for _, g := range s.Groups {
			if g.Device == nil || g.Count <= 0 {
				t.Fatalf("accepted an unresolved group: %+v", g)
			}
		}
	})
}
