package sim

// Kind tells an event's owner what happened. The serving model defines its
// own kinds; the queue never looks at them.
type Kind uint8

// Event is a scheduled happening. Target and Arg are opaque to the queue:
// the owner of Kind decides what they mean (a replica index, a request
// slot, a generation number). Events are plain values so that scheduling
// one never allocates.
type Event struct {
	AtNanos int64
	Kind    Kind
	Target  int32
	Arg     int64
	seq     uint64
}

// Queue is a binary min-heap of events ordered by time, then by the order
// in which they were pushed. It is written for Event rather than through
// container/heap so that Push and Pop do not box values (no allocations
// once the backing array has grown).
type Queue struct {
	items   []Event
	pushed  uint64
	nowNano int64
}

// Len is the number of pending events.
func (q *Queue) Len() int { return len(q.items) }

// NowNanos is the time of the last popped event (0 before the first).
func (q *Queue) NowNanos() int64 { return q.nowNano }

// Push schedules an event. Scheduling into the past is a programmer error:
// time would go backwards.
func (q *Queue) Push(atNanos int64, kind Kind, target int32, arg int64) {
	if atNanos < q.nowNano {
		panic("sim: event scheduled before the current time")
	}
	q.pushed++
	q.items = append(q.items, Event{AtNanos: atNanos, Kind: kind, Target: target, Arg: arg, seq: q.pushed})
	q.up(len(q.items) - 1)
}

// Peek returns the next event without removing it; ok is false when the
// queue is empty.
func (q *Queue) Peek() (e Event, ok bool) {
	if len(q.items) == 0 {
		return Event{}, false
	}
	return q.items[0], true
}

// Pop removes and returns the earliest event and advances the clock to it.
func (q *Queue) Pop() (e Event, ok bool) {
	n := len(q.items)
	if n == 0 {
		return Event{}, false
	}
	e = q.items[0]
	q.items[0] = q.items[n-1]
	q.items = q.items[:n-1]
	if n > 1 {
		q.down(0)
	}
	q.nowNano = e.AtNanos
	return e, true
}

func (q *Queue) less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.AtNanos != b.AtNanos {
		return a.AtNanos < b.AtNanos
	}
	return a.seq < b.seq
}

func (q *Queue) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			return
		}
		q.items[i], q.items[parent] = q.items[parent], q.items[i]
		i = parent
	}
}

func (q *Queue) down(i int) {
	n := len(q.items)
	for {
		left := 2*i + 1
		if left >= n {
			return
		}
		child := left
		if right := left + 1; right < n && q.less(right, left) {
			child = right
		}
		if !q.less(child, i) {
			return
		}
		q.items[i], q.items[child] = q.items[child], q.items[i]
		i = child
	}
}
