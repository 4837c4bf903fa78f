package hw

import "testing"

func TestIndexLines(t *testing.T) {
	text := `# comment [not.a.table]
name = "x"   # 2
desc = """
[fake]
key = 1
"""
points = [
  [1, 0.1],
  [2, 0.2],
]
[[memory]]
bytes = 1
[[memory]]
bytes = 2
"quoted.key" = 3
[compute.flops_per_second]
bf16 = 1
[compute]
units.inner = 4
[[device]]
[[device]]
[device.extra]
x = 1
inline = { a = 1, b = [2, 3] }
`
	ix := indexLines(text)
	cases := []struct {
		path string
		line int
	}{
		{"name", 2},
		{"desc", 3},
		{"fake", 0},
		{"points", 7},
		{"points[1]", 7}, // inside an inline array: the key's line
		{"memory", 11},
		{"memory[0]", 11},
		{"memory[0].bytes", 12},
		{"memory[1].bytes", 14},
		{"memory[1].quoted.key", 15},
		{"compute.flops_per_second.bf16", 17},
		{"compute.flops_per_second.fp8", 16}, // missing key: its table
		{"compute.units.inner", 19},
		{"compute.units", 19},
		{"device[1].extra.x", 23},
		{"device[1].extra.inline.a", 24},
		{"device[0].name", 20},
		{"nothing", 0},
	}
	for _, c := range cases {
		if got := ix.line(c.path); got != c.line {
			t.Errorf("line(%q) = %d, want %d", c.path, got, c.line)
		}
	}
	if p, l := ix.firstMatch("memory.bytes"); p != "memory[0].bytes" || l != 12 {
		t.Errorf("firstMatch = %q, %d", p, l)
	}
}

func TestParentKey(t *testing.T) {
	for in, want := range map[string]string{
		"a.b[2]": "a.b", "a.b": "a", "a": "", "a[0].b": "a[0]", "": "",
	} {
		if got := parentKey(in); got != want {
			t.Errorf("parentKey(%q) = %q, want %q", in, got, want)
		}
	}
}
