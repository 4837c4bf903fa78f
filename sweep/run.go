package sweep

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// Options control a Run.
type Options struct {
	Workers int // 0: one per CPU (GOMAXPROCS)
	Shard   Shard
	Format  Format
	// Header writes the CSV header line first (not when appending to a
	// resumed file).
	Header bool
	// Done holds the keys of points already in the output; they are
	// skipped.
	Done map[string]bool
	// BatchPoints is the number of points a worker evaluates and the
	// writer writes at once (0: up to 256, fewer for small runs so the
	// workers share the work evenly). Every batch is written with one
	// Write of whole lines, so an interrupted run leaves complete lines.
	BatchPoints int
	// Progress, when non-nil, is called after each written batch with the
	// points finished and the points of the run (shard), skipped ones
	// counted as finished.
	Progress func(done, total int)
}

// Stats counts what a run did.
type Stats struct {
	Evaluated int // points evaluated and written
	Failed    int // of those, points recorded with an error
	Skipped   int // points already in the output
}

type batch struct {
	seq    int
	points []int
	buf    []byte
	failed int
}

// Run evaluates every point of s in the shard that is not Done and writes
// one line per point to w, in point order whatever the number of workers.
// Cancelling ctx stops it after the batches in flight, which are written
// whole; the output then resumes cleanly.
func Run(ctx context.Context, m *Mode, s *Space, w io.Writer, opt Options) (Stats, error) {
	var st Stats
	newEval, err := m.Prepare(s)
	if err != nil {
		return st, err
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	total := shardSize(s.Size(), opt.Shard)
	size := opt.BatchPoints
	if size <= 0 {
		// Enough batches per worker that the last ones finish together.
		size = min(256, max(1, total/(64*workers)))
	}
	rw := newRowWriter(opt.Format, m, s)
	if opt.Header {
		if _, err := w.Write(rw.headerLine()); err != nil {
			return st, err
		}
	}
	jobs := make(chan *batch, workers)
	results := make(chan *batch, workers)
	tokens := make(chan struct{}, 4*workers) // batches between producer and writer
	free := make(chan *batch, 4*workers+workers)

	var skipped atomic.Int64
	go func() {
		defer close(jobs)
		produce(ctx, s, opt, size, jobs, tokens, free, &skipped)
	}()
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(s, rw, len(m.Metrics), newEval(), jobs, results)
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var writeErr error
	pending := map[int]*batch{}
	next, done := 0, 0
	for b := range results {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if writeErr == nil && len(nb.buf) > 0 {
				_, writeErr = w.Write(nb.buf)
			}
			if writeErr == nil {
				st.Evaluated += len(nb.points)
				st.Failed += nb.failed
			}
			done += len(nb.points)
			<-tokens
			free <- nb
			if opt.Progress != nil {
				opt.Progress(done+int(skipped.Load()), total)
			}
		}
	}
	st.Skipped = int(skipped.Load())
	if opt.Progress != nil {
		opt.Progress(done+st.Skipped, total)
	}
	if writeErr != nil {
		return st, fmt.Errorf("writing results: %w", writeErr)
	}
	return st, ctx.Err()
}

// shardSize is the number of points of a space of size n in shard sh.
func shardSize(n int, sh Shard) int {
	if sh.N <= 1 {
		return n
	}
	if n <= sh.K {
		return 0
	}
	return (n-sh.K-1)/sh.N + 1
}

// produce walks the shard's points in order, drops done ones and sends
// batches, counting skipped points.
func produce(ctx context.Context, s *Space, opt Options, size int, jobs chan<- *batch, tokens chan struct{}, free chan *batch, skipped *atomic.Int64) {
	idx := make([]int, len(s.Axes))
	var key []byte
	seq := 0
	var cur *batch
	send := func() bool {
		select {
		case tokens <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		jobs <- cur
		seq++
		cur = nil
		return true
	}
	start, step := 0, 1
	if opt.Shard.N > 1 {
		start, step = opt.Shard.K, opt.Shard.N
	}
	for i := start; i < s.Size(); i += step {
		if len(opt.Done) > 0 {
			s.Point(i, idx)
			key = s.AppendKey(key[:0], idx)
			if opt.Done[string(key)] {
				skipped.Add(1)
				continue
			}
		}
		if cur == nil {
			select {
			case cur = <-free:
				cur.points, cur.buf, cur.failed = cur.points[:0], cur.buf[:0], 0
			default:
				cur = &batch{points: make([]int, 0, size)}
			}
			cur.seq = seq
		}
		cur.points = append(cur.points, i)
		if len(cur.points) == size && !send() {
			return
		}
	}
	if cur != nil {
		send()
	}
}

// work evaluates batches with one evaluator.
func work(s *Space, rw *rowWriter, metrics int, ev Evaluator, jobs <-chan *batch, results chan<- *batch) {
	idx := make([]int, len(s.Axes))
	out := make([]Value, metrics)
	for b := range jobs {
		for _, i := range b.points {
			s.Point(i, idx)
			err := evalSafe(ev, s, idx, out)
			if err != nil {
				b.failed++
			}
			b.buf = rw.append(b.buf, i, idx, out, err)
		}
		results <- b
	}
}

// evalSafe records a panic of an evaluator as the point's error instead of
// losing the whole sweep.
func evalSafe(ev Evaluator, s *Space, idx []int, out []Value) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return ev.Eval(s, idx, out)
}
