package workloads

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeFile writes text to name in a fresh directory and returns the path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func openTrace(t *testing.T, path string) *Trace {
	t.Helper()
	tr, err := OpenTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestTraceRoundTrip(t *testing.T) {
	// A RAG workload exercises the prefix fields; sessions are set by hand.
	src, err := New(Spec{Arrival: Gamma{RatePerSecond: 50, CV: 3}, Preset: "rag:zipf=1.5", NumRequests: 500}, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := drain(t, src)
	for i := range want {
		want[i].Session = int64(i % 7)
	}
	for _, format := range []string{FormatCSV, FormatJSONL} {
		var buf bytes.Buffer
		n, err := WriteTrace(&buf, format, &sliceSource{reqs: want}, 0)
		if err != nil || n != int64(len(want)) {
			t.Fatalf("%s: wrote %d, %v", format, n, err)
		}
		tr := openTrace(t, writeFile(t, "trace."+format, buf.String()))
		if got := drain(t, tr); !slices.Equal(got, want) {
			t.Errorf("%s: round trip differs; first got %+v, want %+v", format, got[0], want[0])
		}
		if tr.Reordered() || tr.Err() != nil {
			t.Errorf("%s: reordered %v, err %v", format, tr.Reordered(), tr.Err())
		}
	}
}

// sliceSource replays fixed requests.
type sliceSource struct{ reqs []Request }

func (s *sliceSource) Next() (Request, bool) {
	if len(s.reqs) == 0 {
		return Request{}, false
	}
	r := s.reqs[0]
	s.reqs = s.reqs[1:]
	return r, true
}

func TestTraceCSVForms(t *testing.T) {
	want := []Request{
		{ID: 0, ArrivalNanos: 0, PromptTokens: 10, OutputTokens: 5},
		{ID: 1, ArrivalNanos: 1_500_000_000, PromptTokens: 20, OutputTokens: 6, PrefixGroup: 3, PrefixTokens: 8, Session: 42},
	}
	for name, text := range map[string]string{
		"positional": "0,10,5,0,0,0\n1.5,20,6,3,8,42\n",
		"header any order": "# exported\nsession,output_tokens,prompt_tokens,arrival_seconds,prefix_tokens,prefix_group\n" +
			",5,10,0,,\n42,6,20,1.500000000,8,3\n",
	} {
		if got := drain(t, openTrace(t, writeFile(t, "t.csv", text))); !slices.Equal(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
	short := drain(t, openTrace(t, writeFile(t, "t.csv", "0,10,5\n2,1,1\n")))
	if len(short) != 2 || short[1].ArrivalNanos != 2e9 {
		t.Errorf("three-column trace: %+v", short)
	}
}

func TestTraceUnsortedIsSortedStably(t *testing.T) {
	tr := openTrace(t, writeFile(t, "t.jsonl", `{"arrival_seconds":2,"prompt_tokens":1,"output_tokens":1}
{"arrival_seconds":1,"prompt_tokens":2,"output_tokens":1}

{"arrival_seconds":2,"prompt_tokens":3,"output_tokens":1}
{"arrival_seconds":0.5,"prompt_tokens":4,"output_tokens":1}
`))
	if !tr.Reordered() {
		t.Error("Reordered() = false for an unsorted file")
	}
	var prompts []int
	for _, r := range drain(t, tr) {
		prompts = append(prompts, r.PromptTokens)
	}
	// Arrivals 0.5, 1, 2, 2: the two at 2 s keep file order (1 before 3).
	if !slices.Equal(prompts, []int{4, 2, 1, 3}) {
		t.Errorf("prompt order %v, want [4 2 1 3]", prompts)
	}
}

func TestTraceNumRequests(t *testing.T) {
	path := writeFile(t, "t.csv", "0,1,1\n1,1,1\n2,1,1\n")
	src, err := New(Spec{Trace: path, NumRequests: 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(drain(t, src)); n != 2 {
		t.Errorf("got %d requests, want 2", n)
	}
	if err := src.(*Trace).Close(); err != nil {
		t.Error(err)
	}
}

func TestTraceErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"t.csv", "0,10,5\n1,x,5\n", "t.csv:2: prompt_tokens: want a whole number"},
		{"t.csv", "0,10,5\n-1,10,5\n", "t.csv:2: arrival_seconds: want seconds"},
		{"t.csv", "0,10,5\n1,10,0\n", "t.csv:2: output_tokens: must be in [1,"},
		{"t.csv", "0,10,5\n1,10\n", "t.csv:2: want 3 fields, got 2"},
		{"t.csv", "0,10,5,1\n", "t.csv:1: want 3, 5 or 6 fields"},
		{"t.csv", "0,10,5,1,11\n", "t.csv:1: prefix_tokens: want a whole number in [0, 10]"},
		{"t.csv", "0,10,5,1,0\n", "t.csv:1: prefix_tokens: must be ≥ 1 when prefix_group is set"},
		{"t.csv", "0,10,5,0,4\n", "t.csv:1: prefix_group: must be ≥ 1 when prefix_tokens is set"},
		{"t.csv", "0,10,5,0,0,-2\n", "t.csv:1: session: want a whole number"},
		{"t.csv", "arrival_seconds,prompt_tokens\n0,1\n", `t.csv:1: header: missing column "output_tokens"`},
		{"t.csv", "arrival,prompt_tokens,output_tokens\n", `t.csv:1: header: unknown column "arrival"`},
		{"t.csv", "arrival_seconds,prompt_tokens,output_tokens\n0,,3\n", "t.csv:2: prompt_tokens: missing"},
		{"t.csv", "0,10,\"5\n", "t.csv:1:"},
		{"t.csv", "# nothing\n", "t.csv: trace has no requests"},
		{"t.jsonl", `{"arrival_seconds":0,"prompt_tokens":1,"output_tokens":1}` + "\n{\"arrival_seconds\":1,\"prompt_tokens\":1}\n",
			"t.jsonl:2: output_tokens: missing"},
		{"t.jsonl", `{"arrival_seconds":0,"prompt_tokens":1,"output_tokens":1,"model":"x"}`, "t.jsonl:1: model: unknown field"},
		{"t.jsonl", `{"arrival_seconds":"soon","prompt_tokens":1,"output_tokens":1}`, `t.jsonl:1: arrival_seconds: want a number, got "soon"`},
		{"t.jsonl", `{"arrival_seconds":0,"prompt_tokens":1.5,"output_tokens":1}`, "t.jsonl:1: prompt_tokens: want a whole number"},
		{"t.jsonl", "\n\n[1,2,3]\n", "t.jsonl:3: not a JSON object"},
		{"t.txt", "0,1,1\n", "t.txt: unknown format"},
	} {
		_, err := OpenTrace(writeFile(t, c.name, c.text))
		wantError(t, err, c.want)
	}
	_, err := OpenTrace(filepath.Join(t.TempDir(), "missing.csv"))
	wantError(t, err, "missing.csv")
}

func TestParseSecondsExact(t *testing.T) {
	for text, want := range map[string]int64{
		"0": 0, "1": 1e9, "1.000000001": 1_000_000_001, "0.5": 5e8, ".25": 25e7,
		"2.0000000005": 2_000_000_001, "2.00000000049": 2e9, "1e-3": 1e6,
		"123456789.123456789": 123_456_789_123_456_789,
	} {
		if got, err := parseSeconds(text); err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	for _, text := range []string{"", ".", "-1", "1e10", "abc", "1.2.3", "NaN", "Inf"} {
		if _, err := parseSeconds(text); err == nil {
			t.Errorf("parseSeconds(%q): no error", text)
		}
	}
	for _, ns := range []int64{0, 1, 1e9, 1_000_000_001, 123_456_789_123_456_789} {
		if got, _ := parseSeconds(formatSeconds(ns)); got != ns {
			t.Errorf("formatSeconds(%d) = %q reads back as %d", ns, formatSeconds(ns), got)
		}
	}
}
