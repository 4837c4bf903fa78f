package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool is a fixed set of worker goroutines that run data-parallel loops. It
// exists so that the many small ops of a decode step do not pay for spawning
// goroutines: workers sleep on a channel between loops. A Pool runs one loop
// at a time; Run must not be called concurrently.
type Pool struct {
	threads int
	wake    []chan *job
	job     job
	closed  bool
	scratch [][]float32 // per-worker scratch space, grown on demand
}

type job struct {
	fn    func(worker, task int)
	tasks int64
	next  atomic.Int64
	wg    sync.WaitGroup
}

// NewPool starts a pool of threads workers (runtime.NumCPU() when threads
// < 1). The calling goroutine of Run is worker 0, so threads-1 goroutines are
// started.
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, wake: make([]chan *job, threads), scratch: make([][]float32, threads)}
	for w := 1; w < threads; w++ {
		p.wake[w] = make(chan *job, 1)
		go p.worker(w)
	}
	return p
}

// Threads is the number of workers, the caller of Run included.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p.closed {
		return
	}
	p.closed = true
	for w := 1; w < p.threads; w++ {
		close(p.wake[w])
	}
}

func (p *Pool) worker(w int) {
	for j := range p.wake[w] {
		j.drain(w)
		j.wg.Done()
	}
}

func (j *job) drain(w int) {
	for {
		t := j.next.Add(1) - 1
		if t >= j.tasks {
			return
		}
		j.fn(w, int(t))
	}
}

// Run calls fn(worker, task) for every task in [0, tasks), spreading tasks
// over the workers dynamically, and returns when all have finished. worker is
// in [0, Threads()) and identifies per-worker scratch space.
func (p *Pool) Run(tasks int, fn func(worker, task int)) {
	if tasks <= 0 {
		return
	}
	helpers := min(p.threads, tasks) - 1
	if helpers == 0 {
		for t := 0; t < tasks; t++ {
			fn(0, t)
		}
		return
	}
	j := &p.job
	j.fn = fn
	j.tasks = int64(tasks)
	j.next.Store(0)
	j.wg.Add(helpers)
	for w := 1; w <= helpers; w++ {
		p.wake[w] <- j
	}
	j.drain(0)
	j.wg.Wait()
	j.fn = nil
}

// buffer returns worker w's scratch space of n floats. Its contents are
// undefined; it is valid until the worker's next call of buffer.
func (p *Pool) buffer(w, n int) []float32 {
	if cap(p.scratch[w]) < n {
		p.scratch[w] = make([]float32, n)
	}
	return p.scratch[w][:n]
}

// split divides n items into at most parts chunks whose sizes are multiples
// of align (except the last) and returns the chunk size.
func split(n, parts, align int) int {
	if parts < 1 {
		parts = 1
	}
	size := (n + parts - 1) / parts
	size = (size + align - 1) / align * align
	return max(size, align)
}
