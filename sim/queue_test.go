package sim

import (
	"math/rand/v2"
	"testing"
)

func TestQueueOrdersByTimeThenPushOrder(t *testing.T) {
	var q Queue
	q.Push(5, 1, 0, 0)
	q.Push(3, 1, 0, 1)
	q.Push(5, 1, 0, 2)
	q.Push(3, 1, 0, 3)
	q.Push(0, 1, 0, 4)
	want := []int64{4, 1, 3, 0, 2}
	for i, w := range want {
		e, ok := q.Pop()
		if !ok || e.Arg != w {
			t.Fatalf("pop %d: got arg %d ok=%v, want %d", i, e.Arg, ok, w)
		}
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("queue should be empty")
	}
}

func TestQueueTimeNeverGoesBackwards(t *testing.T) {
	var q Queue
	r := rand.New(rand.NewPCG(1, 2))
	pushed := int64(0) // Arg records the push order
	push := func(at int64) {
		q.Push(at, 0, 0, pushed)
		pushed++
	}
	for i := 0; i < 1000; i++ {
		push(r.Int64N(1000))
	}
	lastAt, lastArg := int64(-1), int64(-1)
	for q.Len() > 0 {
		e, _ := q.Pop()
		if e.AtNanos < lastAt || (e.AtNanos == lastAt && e.Arg < lastArg) {
			t.Fatalf("out of order: %d/%d after %d/%d", e.AtNanos, e.Arg, lastAt, lastArg)
		}
		lastAt, lastArg = e.AtNanos, e.Arg
		if q.NowNanos() != e.AtNanos {
			t.Fatal("clock not advanced to the popped event")
		}
		if r.IntN(2) == 0 {
			push(e.AtNanos + r.Int64N(50))
		}
	}
}

func TestQueuePushIntoPastPanics(t *testing.T) {
	var q Queue
	q.Push(10, 0, 0, 0)
	q.Pop()
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic")
		}
	}()
	q.Push(9, 0, 0, 0)
}

func TestQueueDoesNotAllocate(t *testing.T) {
	var q Queue
	for i := 0; i < 64; i++ {
		q.Push(int64(i), 0, 0, 0)
	}
	for q.Len() > 0 {
		q.Pop()
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 64; i++ {
			q.Push(q.NowNanos()+int64(64-i), 0, 0, 0)
		}
		for q.Len() > 0 {
			q.Pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

func TestRounderKeepsSumExact(t *testing.T) {
	var r Rounder
	var sumNanos int64
	var sumSeconds float64
	for i := 0; i < 100000; i++ {
		s := 1.23456789e-3 + float64(i%7)*1e-10
		sumNanos += r.Nanos(s)
		sumSeconds += s
	}
	if d := float64(sumNanos) - sumSeconds*1e9; d > 0.5+1e-3 || d < -0.5-1e-3 {
		t.Fatalf("drift %g ns", d)
	}
	if Nanos(1.5e-9) != 2 || Nanos(-1) != 0 || Seconds(2_500_000_000) != 2.5 {
		t.Fatal("Nanos/Seconds conversions")
	}
}

func BenchmarkQueue(b *testing.B) {
	var q Queue
	for i := 0; i < 256; i++ {
		q.Push(int64(i*7%256), 0, 0, 0)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, _ := q.Pop()
		q.Push(e.AtNanos+int64(i%97), 0, 0, 0)
	}
}
