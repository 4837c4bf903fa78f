package offload

import (
	"container/heap"

	"github.com/llmsim/llmsim/hw"
	"github.com/llmsim/llmsim/sim"
)

// ResourceKind says how a resource serves its tasks.
type ResourceKind uint8

// Resource kinds.
const (
	// Serial runs one task at a time: a compute engine, a CPU thread, an
	// in-order copy engine. Among ready tasks the one added first (program
	// order) goes next, so a schedule built in issue order runs like a CUDA
	// stream or a Python loop would.
	Serial ResourceKind = iota
	// Shared is a channel whose bandwidth is split equally among the
	// transfers in flight (sim.Link): PCIe in one direction, a disk, a
	// flash array, a network. Transfers that overlap in time contend.
	Shared
)

// Resource is one thing tasks occupy.
type Resource struct {
	Name string
	Kind ResourceKind
	// Group is the system group the resource belongs to (for energy); ""
	// when it belongs to none.
	Group string
	// Shared resources: rate per direction, fixed cost per transfer and
	// the achieved fraction by transfer size.
	BytesPerSecond float64
	LatencySeconds float64
	SizeCurve      hw.Curve
}

// Tag says what a task does, for breakdowns.
type Tag uint8

// Task tags.
const (
	TagCompute Tag = iota
	TagWeights
	TagKV
	TagActivations
	TagSync
	nTags
)

var tagNames = [nTags]string{"compute", "weights", "kv", "activations", "sync"}

func (t Tag) String() string { return tagNames[t] }

// Task is one piece of work on one resource.
type Task struct {
	// Resource indexes Graph.Resources; NoResource makes a barrier that
	// finishes as soon as its dependencies have.
	Resource int
	// Seconds is the duration on a Serial resource.
	Seconds float64
	// Bytes is the payload: on a Shared resource it decides the duration;
	// on a Serial one it is only counted (energy per byte).
	Bytes float64
	// Stretch > 1 makes a Shared transfer occupy the link as if it moved
	// Bytes × Stretch (a pageable copy, a fetch path that reaches only part
	// of the link's rate) while Bytes stays the payload counted.
	Stretch float64
	// FLOPs is the arithmetic of a compute task (energy per FLOP).
	FLOPs float64
	Tag   Tag
	deps  []int32
}

// NoResource marks a barrier task.
const NoResource = -1

// Graph is a dependency graph of tasks on resources. Tasks are added in
// program order and may depend only on tasks added before them, so the
// graph is acyclic by construction.
type Graph struct {
	Resources []Resource
	Tasks     []Task
}

// AddResource appends a resource and returns its index.
func (g *Graph) AddResource(r Resource) int {
	g.Resources = append(g.Resources, r)
	return len(g.Resources) - 1
}

// Add appends a task that starts when every dep has finished and returns
// its index. A negative dep is ignored (a task that does not exist), which
// keeps schedule builders free of special cases. Deps must be earlier tasks.
func (g *Graph) Add(t Task, deps ...int) int {
	id := len(g.Tasks)
	for _, d := range deps {
		if d < 0 {
			continue
		}
		if d >= id {
			panic("offload: task depends on a later task")
		}
		t.deps = append(t.deps, int32(d))
	}
	if t.Resource >= len(g.Resources) {
		panic("offload: task on an unknown resource")
	}
	g.Tasks = append(g.Tasks, t)
	return id
}

// Barrier adds a task that finishes when all deps have finished.
func (g *Graph) Barrier(deps ...int) int {
	return g.Add(Task{Resource: NoResource, Tag: TagSync}, deps...)
}

// Run is the outcome of executing a Graph.
type Run struct {
	MakespanNanos int64
	// Per resource: time it was busy (a Shared one: time at least one
	// transfer moved), payload bytes and FLOPs of its tasks.
	BusyNanos []int64
	Bytes     []float64
	FLOPs     []float64
	// Per tag: total task time (Serial durations; Shared transfers alone
	// at full rate) and bytes, for breakdowns.
	TagSeconds [nTags]float64
	TagBytes   [nTags]float64
	// StartNanos and EndNanos per task when traced.
	StartNanos, EndNanos []int64
}

// Event kinds of the executor's queue.
const (
	evSerialDone sim.Kind = iota + 1
	evLinkWake
	evDelivered
)

// Execute runs g from time 0 and returns when every task has finished.
// Time is integer nanoseconds on a sim.Queue; ties break by the order
// events were scheduled, and Serial resources pick the earliest-added
// ready task, so a run is a pure function of g.
func Execute(g *Graph, trace bool) Run {
	x := newExecutor(g, trace)
	x.run()
	return x.out
}

type executor struct {
	g       *Graph
	q       sim.Queue
	pending []int32
	succ    [][]int32
	serial  []serialState
	links   []*sim.Link
	out     Run
	trace   bool
	done    []int64
	work    []int32 // tasks that became ready at the current time
}

type serialState struct {
	busy    bool
	ready   idHeap
	rounder sim.Rounder
}

func newExecutor(g *Graph, trace bool) *executor {
	n := len(g.Tasks)
	x := &executor{
		g: g, trace: trace,
		pending: make([]int32, n),
		succ:    make([][]int32, n),
		serial:  make([]serialState, len(g.Resources)),
		links:   make([]*sim.Link, len(g.Resources)),
	}
	x.out.BusyNanos = make([]int64, len(g.Resources))
	x.out.Bytes = make([]float64, len(g.Resources))
	x.out.FLOPs = make([]float64, len(g.Resources))
	if trace {
		x.out.StartNanos = make([]int64, n)
		x.out.EndNanos = make([]int64, n)
	}
	for i, r := range g.Resources {
		if r.Kind == Shared {
			x.links[i] = &sim.Link{Name: r.Name, BytesPerSecond: r.BytesPerSecond,
				LatencyNanos: sim.Nanos(r.LatencySeconds), SizeCurve: r.SizeCurve}
		}
	}
	for i := range g.Tasks {
		t := &g.Tasks[i]
		x.pending[i] = int32(len(t.deps))
		for _, d := range t.deps {
			x.succ[d] = append(x.succ[d], int32(i))
		}
	}
	return x
}

func (x *executor) run() {
	for i := range x.g.Tasks {
		if x.pending[i] == 0 {
			x.work = append(x.work, int32(i))
		}
	}
	x.drainReady(0)
	for x.q.Len() > 0 {
		e, _ := x.q.Pop()
		now := e.AtNanos
		switch e.Kind {
		case evSerialDone:
			s := &x.serial[e.Target]
			s.busy = false
			x.finish(int(e.Arg), now)
			x.startSerial(int(e.Target), now)
		case evLinkWake:
			l := x.links[e.Target]
			x.done = l.Wake(&x.q, e, x.done[:0])
			for _, id := range x.done {
				if l.LatencyNanos > 0 {
					x.q.Push(now+l.LatencyNanos, evDelivered, e.Target, id)
				} else {
					x.finish(int(id), now)
				}
			}
		case evDelivered:
			x.finish(int(e.Arg), now)
		}
		x.drainReady(now)
	}
	for i := range x.links {
		if l := x.links[i]; l != nil {
			x.out.BusyNanos[i] = l.BusyNanos()
		}
	}
}

// finish records task id as done at now and releases its successors.
func (x *executor) finish(id int, now int64) {
	if x.trace {
		x.out.EndNanos[id] = now
	}
	x.out.MakespanNanos = max(x.out.MakespanNanos, now)
	for _, s := range x.succ[id] {
		x.pending[s]--
		if x.pending[s] == 0 {
			x.work = append(x.work, s)
		}
	}
}

// drainReady dispatches every task that became ready at now; barriers
// finish at once and may release more.
func (x *executor) drainReady(now int64) {
	for len(x.work) > 0 {
		id := int(x.work[0])
		x.work = x.work[1:]
		t := &x.g.Tasks[id]
		if x.trace {
			x.out.StartNanos[id] = now
		}
		switch {
		case t.Resource == NoResource:
			x.finish(id, now)
		case x.g.Resources[t.Resource].Kind == Serial:
			heap.Push(&x.serial[t.Resource].ready, int32(id))
			x.startSerial(t.Resource, now)
		default:
			x.startTransfer(id, t, now)
		}
	}
	x.work = x.work[:0]
}

func (x *executor) startSerial(r int, now int64) {
	s := &x.serial[r]
	if s.busy || s.ready.Len() == 0 {
		return
	}
	id := heap.Pop(&s.ready).(int32)
	t := &x.g.Tasks[id]
	d := s.rounder.Nanos(t.Seconds)
	s.busy = true
	if x.trace {
		x.out.StartNanos[id] = now
	}
	x.out.BusyNanos[r] += d
	x.out.Bytes[r] += t.Bytes
	x.out.FLOPs[r] += t.FLOPs
	x.out.TagSeconds[t.Tag] += t.Seconds
	x.out.TagBytes[t.Tag] += t.Bytes
	x.q.Push(now+d, evSerialDone, int32(r), int64(id))
}

func (x *executor) startTransfer(id int, t *Task, now int64) {
	l := x.links[t.Resource]
	work := t.Bytes
	if t.Stretch > 1 {
		work *= t.Stretch
	}
	x.out.Bytes[t.Resource] += t.Bytes
	x.out.TagBytes[t.Tag] += t.Bytes
	x.out.TagSeconds[t.Tag] += sim.Seconds(l.TransferNanos(work))
	if work <= 0 {
		x.q.Push(now+l.LatencyNanos, evDelivered, int32(t.Resource), int64(id))
		return
	}
	l.Start(now, int64(id), work)
	l.Reschedule(&x.q, evLinkWake, int32(t.Resource))
}

// idHeap is a min-heap of task ids (program order).
type idHeap []int32

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(v any)        { *h = append(*h, v.(int32)) }
func (h *idHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
