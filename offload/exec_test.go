package offload

import (
	"reflect"
	"testing"
)

// pipeline builds n layers, each a weight load of loadBytes on a 1 GB/s
// link followed by computeSeconds on a GPU. With prefetch the load of
// layer j+1 may run while layer j computes (double buffering: it waits for
// layer j-1's compute to free its buffer); without, each load waits for the
// previous compute. Loads run in order on one copy stream.
func pipeline(n int, loadBytes, computeSeconds float64, prefetch bool) *Graph {
	g := &Graph{}
	link := g.AddResource(Resource{Name: "pcie", Kind: Shared, BytesPerSecond: 1e9})
	gpu := g.AddResource(Resource{Name: "gpu", Kind: Serial})
	computes := []int{}
	prevCompute, prevLoad := -1, -1
	for j := 0; j < n; j++ {
		dep := prevCompute
		if prefetch {
			dep = -1
			if j >= 2 {
				dep = computes[j-2]
			}
		}
		// Loads are issued in order on one copy stream.
		load := g.Add(Task{Resource: link, Bytes: loadBytes, Tag: TagWeights}, dep, prevLoad)
		prevLoad = load
		c := g.Add(Task{Resource: gpu, Seconds: computeSeconds}, load, prevCompute)
		computes = append(computes, c)
		prevCompute = c
	}
	return g
}

func TestOverlapIsMaxNoOverlapIsSum(t *testing.T) {
	// 10 layers, 2 ms transfer (2 MB at 1 GB/s) and 3 ms compute.
	// Overlapped: the first load, then compute-bound: 2 + 10×3 = 32 ms.
	// Not overlapped: 10 × (2 + 3) = 50 ms.
	if got := Execute(pipeline(10, 2e6, 3e-3, true), false).MakespanNanos; got != 32_000_000 {
		t.Errorf("overlapped compute-bound: %d ns, want 32 ms", got)
	}
	if got := Execute(pipeline(10, 2e6, 3e-3, false), false).MakespanNanos; got != 50_000_000 {
		t.Errorf("sequential: %d ns, want 50 ms", got)
	}
	// Transfer-bound (4 ms load, 3 ms compute): loads back to back, the
	// last compute after the last load: 10×4 + 3 = 43 ms.
	if got := Execute(pipeline(10, 4e6, 3e-3, true), false).MakespanNanos; got != 43_000_000 {
		t.Errorf("overlapped transfer-bound: %d ns, want 43 ms", got)
	}
}

func TestLinkTransferAndContention(t *testing.T) {
	// One 16 GB transfer over PCIe 3.0 x16 at 0.865 of 16 GB/s with 5 µs
	// latency: 16e9 / 13.84e9 = 1.156069 s + 5 µs.
	g := &Graph{}
	l := g.AddResource(Resource{Kind: Shared, BytesPerSecond: 16e9, LatencySeconds: 5e-6})
	g.Resources[l].SizeCurve.Points = [][2]float64{{1, 0.865}}
	g.Add(Task{Resource: l, Bytes: 16e9})
	want := int64(1_156_069_364) + 5000 // 16e9/13.84e9 s rounded
	if got := Execute(g, false).MakespanNanos; got < want-1 || got > want+1 {
		t.Errorf("transfer: %d ns, want %d", got, want)
	}
	// Two 1 GB transfers started together on a 1 GB/s link share it: both
	// finish at 2 s; one alone takes 1 s.
	g = &Graph{}
	l = g.AddResource(Resource{Kind: Shared, BytesPerSecond: 1e9})
	a := g.Add(Task{Resource: l, Bytes: 1e9})
	b := g.Add(Task{Resource: l, Bytes: 1e9})
	r := Execute(g, true)
	for _, id := range []int{a, b} {
		if d := r.EndNanos[id] - 2_000_000_000; d < 0 || d > 2 {
			t.Errorf("task %d ended at %d, want 2 s", id, r.EndNanos[id])
		}
	}
	if r.BusyNanos[l] < 1_999_999_990 || r.Bytes[l] != 2e9 {
		t.Errorf("busy %d bytes %g", r.BusyNanos[l], r.Bytes[l])
	}
}

func TestSerialRunsInProgramOrder(t *testing.T) {
	// Three tasks ready at once on one engine run in the order added.
	g := &Graph{}
	e := g.AddResource(Resource{Kind: Serial})
	ids := []int{g.Add(Task{Resource: e, Seconds: 1e-3}), g.Add(Task{Resource: e, Seconds: 2e-3}), g.Add(Task{Resource: e, Seconds: 3e-3})}
	r := Execute(g, true)
	wantEnd := []int64{1_000_000, 3_000_000, 6_000_000}
	for i, id := range ids {
		if r.EndNanos[id] != wantEnd[i] {
			t.Errorf("task %d ended at %d, want %d", i, r.EndNanos[id], wantEnd[i])
		}
	}
	if r.BusyNanos[e] != 6_000_000 {
		t.Errorf("busy %d", r.BusyNanos[e])
	}
}

func TestBarrierAndDeterminism(t *testing.T) {
	g := pipeline(50, 3e6, 3e-3, true)
	last := len(g.Tasks) - 1
	g.Barrier(last)
	a, b := Execute(g, true), Execute(g, true)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of the same graph differ")
	}
	if a.EndNanos[len(g.Tasks)-1] != a.EndNanos[last] {
		t.Error("barrier should finish with its dependency")
	}
}

func TestAddRejectsForwardDeps(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic")
		}
	}()
	g := &Graph{}
	g.Add(Task{Resource: NoResource}, 3)
}
