package workloads

import (
	"container/heap"
	"runtime"
	"slices"
	"testing"
)

func mustNew(t testing.TB, spec Spec, seed uint64) Source {
	t.Helper()
	src, err := New(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSameSeedSameRequests(t *testing.T) {
	spec := Spec{Arrival: Gamma{RatePerSecond: 30, CV: 2}, Preset: "rag:zipf=1.2", NumRequests: 2000}
	a := drain(t, mustNew(t, spec, 7))
	b := drain(t, mustNew(t, spec, 7))
	c := drain(t, mustNew(t, spec, 8))
	if len(a) != 2000 || !slices.Equal(a, b) {
		t.Fatalf("same seed: %d and %d requests, equal %v", len(a), len(b), slices.Equal(a, b))
	}
	same := 0
	for i := range a {
		if a[i].ArrivalNanos == c[i].ArrivalNanos && a[i].OutputTokens == c[i].OutputTokens {
			same++
		}
	}
	if same > 20 { // request 0 arrives at 0 under every seed
		t.Errorf("seeds 7 and 8 agree on %d of 2000 requests", same)
	}
	for i, r := range a {
		if r.ID != int64(i) || (i > 0 && r.ArrivalNanos < a[i-1].ArrivalNanos) {
			t.Fatalf("request %d: ID %d, arrival %d after %d", i, r.ID, r.ArrivalNanos, a[max(i-1, 0)].ArrivalNanos)
		}
		if r.PrefixGroup < 1 || r.PrefixGroup > 16 || r.PrefixTokens != 2048 ||
			r.PromptTokens < 2048+16 || r.PromptTokens > 2048+128 {
			t.Fatalf("rag request %+v outside its preset", r)
		}
	}
}

// TestStreamsIndependent: changing the output distribution leaves arrivals
// and prompts unchanged, so sweeps compare like with like.
func TestStreamsIndependent(t *testing.T) {
	spec := Spec{Arrival: Poisson{10}, Prompt: LogNormalOf(500, 200, 0), Output: Fixed{10}, NumRequests: 100}
	a := drain(t, mustNew(t, spec, 3))
	spec.Output = Uniform{1, 1000}
	b := drain(t, mustNew(t, spec, 3))
	for i := range a {
		if a[i].ArrivalNanos != b[i].ArrivalNanos || a[i].PromptTokens != b[i].PromptTokens {
			t.Fatalf("request %d: %+v vs %+v", i, a[i], b[i])
		}
	}
}

func TestPresetOverride(t *testing.T) {
	src := mustNew(t, Spec{Arrival: Constant{1}, Preset: "chat", Output: Fixed{7}, NumRequests: 50}, 1)
	for _, r := range drain(t, src) {
		if r.OutputTokens != 7 || r.PromptTokens < 1 || r.PromptTokens > 2048 {
			t.Fatalf("request %+v: want output 7 and a chat prompt", r)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		spec Spec
		want string
	}{
		{Spec{Prompt: Fixed{1}, Output: Fixed{1}}, "no arrival process"},
		{Spec{Arrival: Poisson{1}, Prompt: Fixed{1}}, "need prompt and output lengths"},
		{Spec{Arrival: Poisson{-1}, Preset: "chat"}, "arrival poisson:rate=-1: rate: must be"},
		{Spec{Arrival: Poisson{1}, Prompt: Uniform{5, 2}, Output: Fixed{1}}, "prompt length uniform:5..2: min"},
		{Spec{Arrival: Poisson{1}, Preset: "chat", Prefix: Prefix{Groups: 2}}, "prefix groups=2,tokens=0: tokens"},
		{Spec{Arrival: Poisson{1}, Preset: "nope"}, `preset "nope"`},
		{Spec{Arrival: Poisson{1}, Preset: "chat", NumRequests: -1}, "must be ≥ 0"},
		{Spec{Arrival: Poisson{1}, Trace: "x.csv"}, "a trace sets arrivals"},
		{Spec{Arrival: ClosedLoop{Clients: 0}, Preset: "chat"}, "clients: must be"},
	} {
		_, err := New(c.spec, 1)
		wantError(t, err, "workload", c.want)
	}
}

// completion is a request finishing in the toy server below.
type completion struct{ id, finishNanos int64 }

type completions []completion

func (c completions) Len() int           { return len(c) }
func (c completions) Less(i, j int) bool { return c[i].finishNanos < c[j].finishNanos }
func (c completions) Swap(i, j int)      { c[i], c[j] = c[j], c[i] }
func (c *completions) Push(x any)        { *c = append(*c, x.(completion)) }
func (c *completions) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

func TestClosedLoop(t *testing.T) {
	const clients, think = 4, 250_000_000
	src := mustNew(t, Spec{Arrival: ClosedLoop{Clients: clients, ThinkSeconds: 0.25}, Preset: "chat", NumRequests: 1000}, 5)
	done := src.(Completer)
	// A toy server: infinite capacity, each request takes 1 ms per output token.
	var pending completions
	outstanding, issued, maxOutstanding := 0, 0, 0
	nextArrival := map[int64]bool{} // arrival times the completions so far entitle
	for {
		for {
			r, ok := src.Next()
			if !ok {
				break
			}
			if issued >= clients && !nextArrival[r.ArrivalNanos] {
				t.Fatalf("request %d arrives at %d, not think time after a completion", r.ID, r.ArrivalNanos)
			}
			issued++
			outstanding++
			maxOutstanding = max(maxOutstanding, outstanding)
			heap.Push(&pending, completion{r.ID, r.ArrivalNanos + int64(r.OutputTokens)*1e6})
		}
		if pending.Len() == 0 {
			break
		}
		c := heap.Pop(&pending).(completion)
		outstanding--
		nextArrival[c.finishNanos+think] = true
		done.Complete(c.id, c.finishNanos)
	}
	if issued != 1000 || maxOutstanding != clients {
		t.Errorf("issued %d requests with at most %d outstanding; want 1000 and %d", issued, maxOutstanding, clients)
	}
}

func TestClosedLoopWaitsForCompletion(t *testing.T) {
	src := mustNew(t, Spec{Arrival: ClosedLoop{Clients: 2}, Prompt: Fixed{1}, Output: Fixed{1}}, 1)
	a, _ := src.Next()
	b, _ := src.Next()
	if _, ok := src.Next(); ok {
		t.Fatal("third request issued with two clients busy")
	}
	src.(Completer).Complete(b.ID, 900)
	c, ok := src.Next()
	if !ok || c.ArrivalNanos != 900 || c.ID != 2 {
		t.Fatalf("after completing %d at 900 ns: %+v, %v", b.ID, c, ok)
	}
	if _, ok := src.Next(); ok {
		t.Fatal("request issued with both clients busy")
	}
	defer func() {
		if recover() == nil {
			t.Error("completing a request twice did not panic")
		}
	}()
	src.(Completer).Complete(a.ID, 1000)
	src.(Completer).Complete(a.ID, 1000)
}

// TestStreamsMillionInConstantMemory pulls 10⁶ requests and checks that
// the heap did not grow with them.
func TestStreamsMillionInConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("10⁶ requests")
	}
	src := mustNew(t, Spec{Arrival: Poisson{1000}, Preset: "rag:zipf=1.1", NumRequests: 1_000_000}, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, tokens := 0, 0
	for {
		r, ok := src.Next()
		if !ok {
			break
		}
		n++
		tokens += r.PromptTokens
	}
	runtime.ReadMemStats(&after)
	if n != 1_000_000 {
		t.Errorf("streamed %d requests, want 10⁶", n)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Errorf("streaming 10⁶ requests allocated %d bytes", grew)
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	for _, spec := range []Spec{
		{Arrival: Poisson{100}, Preset: "chat"},
		{Arrival: Gamma{100, 4}, Preset: "rag:zipf=1.3"},
		{Arrival: Constant{100}, Prompt: Uniform{1, 100}, Output: Normal{MeanTokens: 50, StdTokens: 10}},
	} {
		src := mustNew(t, spec, 1)
		if allocs := testing.AllocsPerRun(1000, func() { src.Next() }); allocs != 0 {
			t.Errorf("%v: %v allocations per Next", spec.Arrival, allocs)
		}
	}
}

func BenchmarkNextPoissonChat(b *testing.B) {
	benchmarkNext(b, Spec{Arrival: Poisson{100}, Preset: "chat"})
}

func BenchmarkNextGammaRAG(b *testing.B) {
	benchmarkNext(b, Spec{Arrival: Gamma{100, 2}, Preset: "rag:zipf=1.1"})
}

func benchmarkNext(b *testing.B, spec Spec) {
	src := mustNew(b, spec, 1)
	b.ReportAllocs()
	for b.Loop() {
		src.Next()
	}
}

func BenchmarkClosedLoop(b *testing.B) {
	src := mustNew(b, Spec{Arrival: ClosedLoop{Clients: 64, ThinkSeconds: 0.5}, Preset: "chat"}, 1)
	done := src.(Completer)
	// Keep all 64 clients busy; complete the oldest request each step.
	var ring [64]Request
	for i := range ring {
		ring[i], _ = src.Next()
	}
	now := int64(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = max(now, ring[i].ArrivalNanos) + 1
		done.Complete(ring[i].ID, now)
		ring[i], _ = src.Next()
		i = (i + 1) % len(ring)
	}
}
