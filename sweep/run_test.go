package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var smallSweep = map[string]string{
	"hw":      "h100-sxm,a100-80g-sxm",
	"phase":   "prefill,decode",
	"batch":   "1,8,64",
	"context": "1k..32k:x2",
	"prompt":  "128..512:+128",
}

func TestSpaceOrderAndShards(t *testing.T) {
	_, s := estimateSpace(t, smallSweep)
	// 2 hw × 2 phases × 3 batches × 4 prompts × 6 contexts.
	if s.Size() != 2*2*3*4*6 {
		t.Fatalf("size = %d, want 288", s.Size())
	}
	idx := make([]int, len(s.Axes))
	s.Point(1, idx) // the last axis (output, 1 value) then context varies fastest
	if got := s.Value(s.Axis("context"), idx); got != "2048" {
		t.Errorf("point 1 context = %s, want 2048", got)
	}
	// Shards cover every point exactly once.
	seen := make([]int, s.Size())
	for k := 0; k < 7; k++ {
		sh := Shard{K: k, N: 7}
		n := 0
		for i := 0; i < s.Size(); i++ {
			if sh.Has(i) {
				seen[i]++
				n++
			}
		}
		if n != shardSize(s.Size(), sh) {
			t.Errorf("shard %d/7 has %d points, shardSize says %d", k, n, shardSize(s.Size(), sh))
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("point %d in %d shards", i, c)
		}
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

func TestUnknownParameter(t *testing.T) {
	_, err := NewSpace(estimateParams(), map[string][]string{"batchsize": {"1"}})
	if err == nil || !strings.Contains(err.Error(), `unknown parameter "batchsize"`) {
		t.Errorf("got %v", err)
	}
}

func TestBadValueNamesFlag(t *testing.T) {
	m, s := estimateSpace(t, map[string]string{"hw": "h100-sxm,no-such-gpu"})
	_, err := Run(context.Background(), m, s, &bytes.Buffer{}, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "--hw no-such-gpu") {
		t.Errorf("got %v, want an error naming --hw", err)
	}
	m, s = estimateSpace(t, map[string]string{"phase": "decode,train"})
	if _, err := Run(context.Background(), m, s, &bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), "--phase") {
		t.Errorf("got %v, want an error naming --phase", err)
	}
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	m, s := estimateSpace(t, smallSweep)
	for _, f := range []Format{CSV, JSONL} {
		want, st := runToBytes(t, m, s, Options{Workers: 1, Format: f, Header: true})
		if st.Evaluated != s.Size() {
			t.Fatalf("evaluated %d of %d", st.Evaluated, s.Size())
		}
		for _, w := range []int{2, 3, 8} {
			for _, b := range []int{1, 7, 1000} {
				got, _ := runToBytes(t, m, s, Options{Workers: w, BatchPoints: b, Format: f, Header: true})
				if !bytes.Equal(got, want) {
					t.Fatalf("format %d, %d workers, batch %d: output differs", f, w, b)
				}
			}
		}
	}
}

func TestFailedPointIsRecorded(t *testing.T) {
	// llama3-8b's context window is 8192 tokens: decoding at 8k and 16k needs one more.
	m, s := estimateSpace(t, map[string]string{"context": "2k..16k:x2"})
	out, st := runToBytes(t, m, s, Options{Format: JSONL})
	if st.Evaluated != 4 || st.Failed != 2 {
		t.Fatalf("stats %+v, want 4 evaluated, 2 failed", st)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var rows []map[string]any
	for _, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("invalid JSON line %s: %v", l, err)
		}
		rows = append(rows, r)
	}
	if rows[0]["error"] != "" || rows[0]["seconds"].(float64) <= 0 || rows[0]["batch"].(float64) != 1 {
		t.Errorf("row 0 = %v", rows[0])
	}
	if e := rows[3]["error"].(string); !strings.Contains(e, "context limit") || rows[3]["seconds"] != nil {
		t.Errorf("row 3 = %v, want a context-limit error and null metrics", rows[3])
	}
}

func TestShardsMergeIntoUnshardedRun(t *testing.T) {
	m, s := estimateSpace(t, smallSweep)
	dir := t.TempDir()
	for _, f := range []Format{CSV, JSONL} {
		want, _ := runToBytes(t, m, s, Options{Format: f, Header: true})
		var parts []string
		for k := 3; k >= 0; k-- { // order of the parts must not matter
			got, _ := runToBytes(t, m, s, Options{Format: f, Header: true, Shard: Shard{K: k, N: 4}})
			p := filepath.Join(dir, "part"+string(rune('0'+k)))
			os.WriteFile(p, got, 0o644)
			parts = append(parts, p)
		}
		parts = append(parts, parts[0]) // a duplicate part is deduplicated
		var merged bytes.Buffer
		st, err := Merge(parts, f, &merged)
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != s.Size() || st.Duplicates != shardSize(s.Size(), Shard{K: 3, N: 4}) {
			t.Errorf("merge stats %+v", st)
		}
		if !bytes.Equal(merged.Bytes(), want) {
			t.Errorf("format %d: merged shards differ from the unsharded run", f)
		}
	}
}

func TestMergePrefersSuccess(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("index,key,x,error\n0,k=0,,boom\n1,k=1,2,\n"), 0o644)
	os.WriteFile(b, []byte("index,key,x,error\n0,k=0,1,\n2,k=2,3,\n2,k=2"), 0o644) // partial last line
	var out bytes.Buffer
	if _, err := Merge([]string{a, b}, CSV, &out); err != nil {
		t.Fatal(err)
	}
	if want := "index,key,x,error\n0,k=0,1,\n1,k=1,2,\n2,k=2,3,\n"; out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestResume(t *testing.T) {
	m, s := estimateSpace(t, smallSweep)
	for _, f := range []Format{CSV, JSONL} {
		want, _ := runToBytes(t, m, s, Options{Format: f, Header: true})
		// An interrupted run: 100 complete lines and half of the next.
		lines := bytes.SplitAfter(want, []byte("\n"))
		cut := 100
		partial := append(bytes.Join(lines[:cut], nil), lines[cut][:len(lines[cut])/2]...)
		path := filepath.Join(t.TempDir(), "out")
		os.WriteFile(path, partial, 0o644)

		out, err := OpenOutput(path, f, m.Header(s), false)
		if err != nil {
			t.Fatal(err)
		}
		doneWant := cut
		if f == CSV {
			doneWant-- // the header
		}
		if len(out.Done) != doneWant || out.NeedHeader {
			t.Fatalf("resume found %d done points (header needed: %v), want %d", len(out.Done), out.NeedHeader, doneWant)
		}
		st, err := Run(context.Background(), m, s, out.File, Options{Format: f, Done: out.Done, Workers: 2})
		out.File.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Skipped != doneWant || st.Evaluated != s.Size()-doneWant {
			t.Errorf("stats %+v", st)
		}
		got, _ := os.ReadFile(path)
		if !bytes.Equal(got, want) {
			t.Errorf("format %d: resumed output differs from an uninterrupted run", f)
		}
	}
}

func TestResumeRejectsOtherColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	os.WriteFile(path, []byte("index,key,a,error\n"), 0o644)
	m, s := estimateSpace(t, nil)
	if _, err := OpenOutput(path, CSV, m.Header(s), false); err == nil || !strings.Contains(err.Error(), "columns differ") {
		t.Errorf("CSV: got %v", err)
	}
	os.WriteFile(path, []byte(`{"index":0,"key":"a=1","a":1,"error":""}`+"\n"), 0o644)
	if _, err := OpenOutput(path, JSONL, m.Header(s), false); err == nil || !strings.Contains(err.Error(), "columns differ") {
		t.Errorf("JSON Lines: got %v", err)
	}
}

func TestCancelLeavesCompleteLines(t *testing.T) {
	m, s := estimateSpace(t, smallSweep)
	ctx, cancel := context.WithCancel(context.Background())
	var buf bytes.Buffer
	n := 0
	_, err := Run(ctx, m, s, &buf, Options{Format: CSV, BatchPoints: 8, Workers: 2, Progress: func(done, total int) {
		if n++; n == 3 {
			cancel()
		}
	}})
	if err != context.Canceled {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if buf.Len() == 0 || buf.Bytes()[buf.Len()-1] != '\n' || strings.Count(buf.String(), "\n") >= s.Size() {
		t.Errorf("cancelled run wrote %d lines ending in %q", strings.Count(buf.String(), "\n"), buf.String()[buf.Len()-1:])
	}
}
