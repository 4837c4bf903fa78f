package sim

import "testing"

const kindWake Kind = 1

// drain runs the link's events and returns when each transfer was
// delivered (bandwidth phase plus latency).
func drain(q *Queue, l *Link) map[int64]int64 {
	delivered := map[int64]int64{}
	var done []int64
	for q.Len() > 0 {
		e, _ := q.Pop()
		done = l.Wake(q, e, done[:0])
		for _, id := range done {
			delivered[id] = e.AtNanos + l.LatencyNanos
		}
	}
	return delivered
}

func TestLinkAloneMovesAtFullRate(t *testing.T) {
	// 1 GB over 50 GB/s with 10 µs latency: 20 ms + 10 µs.
	l := &Link{BytesPerSecond: 50e9, LatencyNanos: 10_000}
	var q Queue
	l.Start(0, 7, 1e9)
	l.Reschedule(&q, kindWake, 0)
	got := drain(&q, l)
	if got[7] != 20_010_000 || l.TransferNanos(1e9) != 20_010_000 {
		t.Fatalf("delivered at %d, want 20010000", got[7])
	}
	if l.BusyNanos() != 20_000_000 || l.MovedBytes() != 1e9 {
		t.Fatalf("busy %d moved %g", l.BusyNanos(), l.MovedBytes())
	}
}

func TestLinkSharesBandwidth(t *testing.T) {
	// Two 1 GB transfers at 1 GB/s, the second starting 0.5 s later: the
	// first moves 0.5 GB alone, then both share: the first needs another
	// 1 s (0.5 GB at 0.5 GB/s), finishing at 1.5 s; the second has 0.5 GB
	// left at 1.5 s and finishes alone at 2 s. Total work 2 GB in 2 s.
	l := &Link{BytesPerSecond: 1e9}
	var q Queue
	l.Start(0, 1, 1e9)
	l.Reschedule(&q, kindWake, 0)
	q.Push(500_000_000, 2, 0, 0) // a marker event to start the second
	delivered := map[int64]int64{}
	var done []int64
	for q.Len() > 0 {
		e, _ := q.Pop()
		if e.Kind == 2 {
			l.Start(e.AtNanos, 2, 1e9)
			l.Reschedule(&q, kindWake, 0)
			continue
		}
		done = l.Wake(&q, e, done[:0])
		for _, id := range done {
			delivered[id] = e.AtNanos
		}
	}
	if d := delivered[1] - 1_500_000_000; d < 0 || d > 2 {
		t.Fatalf("first finished at %d, want 1.5e9", delivered[1])
	}
	if d := delivered[2] - 2_000_000_000; d < 0 || d > 3 {
		t.Fatalf("second finished at %d, want 2e9", delivered[2])
	}
}

func TestLinkSizeCurveSlowsSmallTransfers(t *testing.T) {
	l := &Link{BytesPerSecond: 1e9}
	l.SizeCurve.Points = [][2]float64{{1e3, 0.5}, {1e6, 1}}
	if got := l.TransferNanos(1e3); got != 2000 {
		t.Fatalf("1 kB at half rate: %d ns, want 2000", got)
	}
}
