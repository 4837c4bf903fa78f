package sim

import (
	"math"

	"github.com/llmsim/llmsim/hw"
)

// Link is a shared channel — PCIe to the host, NVLink between GPUs, a
// network between pools — whose bandwidth is split equally among the
// transfers in flight (processor sharing, the fluid model of fair-queued
// DMA and of TCP/RDMA flows sharing a bottleneck). A transfer alone moves
// at the full rate; two at once each get half, so contention stretches
// both. Each transfer also pays the link's latency once, after its bytes
// have moved (latency does not occupy bandwidth).
//
// The owner drives a Link from its event loop: Start a transfer, then
// Reschedule so that a wake event fires when the earliest transfer
// finishes; on that event call Wake, which returns the finished transfers
// and schedules the next wake. Stale wake events (superseded by a later
// Start) carry an old generation and are ignored.
type Link struct {
	Name           string
	BytesPerSecond float64
	LatencyNanos   int64
	// SizeCurve is the achieved fraction of BytesPerSecond for a transfer
	// of a given size (small DMA transfers do not reach the peak).
	SizeCurve hw.Curve

	flows        []flow
	updatedNanos int64
	generation   int64

	busyNanos  int64
	movedBytes float64
}

type flow struct {
	id int64
	// remaining is in full-rate bytes: bytes divided by the size-curve
	// fraction, so that every flow drains at the same nominal rate.
	remaining float64
}

// NewLink makes a link from a system description's link.
func NewLink(l *hw.Link) *Link {
	return &Link{Name: l.Name, BytesPerSecond: l.BytesPerSecond, LatencyNanos: Nanos(l.LatencySeconds), SizeCurve: l.SizeCurve}
}

// InFlight is the number of transfers sharing the link now.
func (l *Link) InFlight() int { return len(l.flows) }

// BusyNanos is the time at least one transfer was moving, up to the last
// Start or Wake.
func (l *Link) BusyNanos() int64 { return l.busyNanos }

// MovedBytes is the payload of the transfers finished so far.
func (l *Link) MovedBytes() float64 { return l.movedBytes }

// TransferNanos is how long bytes take alone on the link, latency included.
func (l *Link) TransferNanos(bytes float64) int64 {
	return Nanos(l.fullRateBytes(bytes)/l.BytesPerSecond) + l.LatencyNanos
}

func (l *Link) fullRateBytes(bytes float64) float64 {
	f := l.SizeCurve.At(bytes)
	if f <= 0 {
		f = 1
	}
	return bytes / f
}

// Start begins a transfer of bytes at nowNanos, identified by id (the
// owner's handle, returned by Wake when the bytes have moved).
func (l *Link) Start(nowNanos, id int64, bytes float64) {
	l.advance(nowNanos, nil)
	l.flows = append(l.flows, flow{id: id, remaining: l.fullRateBytes(bytes)})
	l.movedBytes += bytes
}

// Reschedule pushes a wake event for the earliest finishing transfer (if
// any) and invalidates earlier wake events.
func (l *Link) Reschedule(q *Queue, kind Kind, target int32) {
	l.generation++
	if len(l.flows) == 0 {
		return
	}
	smallest := math.Inf(1)
	for i := range l.flows {
		smallest = min(smallest, l.flows[i].remaining)
	}
	share := l.BytesPerSecond / float64(len(l.flows))
	// Round up so that at the wake the transfer has certainly finished.
	at := l.updatedNanos + int64(math.Ceil(smallest/share*NanosPerSecond))
	q.Push(max(at, q.NowNanos()), kind, target, l.generation)
}

// Stale reports whether e is a wake event that a later Start superseded:
// Wake ignores it, and an owner may drop it unhandled.
func (l *Link) Stale(e Event) bool { return e.Arg != l.generation }

// Wake handles a wake event e: it advances the transfers to e's time,
// appends the ids of the finished ones to done (bandwidth phase over; the
// owner adds LatencyNanos before delivering) and reschedules. A stale
// event returns done unchanged.
func (l *Link) Wake(q *Queue, e Event, done []int64) []int64 {
	if l.Stale(e) {
		return done
	}
	done = l.advance(e.AtNanos, done)
	l.Reschedule(q, e.Kind, e.Target)
	return done
}

// advance drains every flow by its share of the time since the last
// update and removes the finished ones.
func (l *Link) advance(nowNanos int64, done []int64) []int64 {
	elapsed := nowNanos - l.updatedNanos
	l.updatedNanos = nowNanos
	if len(l.flows) == 0 || elapsed <= 0 {
		return done
	}
	l.busyNanos += elapsed
	drained := l.BytesPerSecond / float64(len(l.flows)) * Seconds(elapsed)
	kept := l.flows[:0]
	for _, f := range l.flows {
		f.remaining -= drained
		// A flow within a nanosecond's worth of bytes of the end has
		// finished: the wake time was rounded up to whole nanoseconds.
		if f.remaining <= l.BytesPerSecond/NanosPerSecond {
			done = append(done, f.id)
			continue
		}
		kept = append(kept, f)
	}
	l.flows = kept
	return done
}
