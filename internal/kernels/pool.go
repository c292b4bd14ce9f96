package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers is the number of goroutines ParallelFor uses. It defaults to
// GOMAXPROCS at start-up; set it before any parallel work begins.
var Workers = runtime.GOMAXPROCS(0)

// job is one ParallelFor call; its chunks are shared by whoever picks them up.
type job struct {
	fn      func(lo, hi int)
	lo, hi  []int
	next    atomic.Int32 // index of the next chunk to claim
	pending atomic.Int32 // chunks not yet finished
	done    chan struct{}
}

// run claims and runs chunks until none are left.
func (j *job) run() {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= len(j.lo) {
			return
		}
		j.fn(j.lo[i], j.hi[i])
		if j.pending.Add(-1) == 0 {
			close(j.done)
		}
	}
}

var (
	poolOnce sync.Once
	jobs     chan *job
)

func startPool() {
	jobs = make(chan *job, 64)
	for i := 0; i < Workers-1; i++ {
		go func() {
			for j := range jobs {
				j.run()
			}
		}()
	}
}

// chunksPerWorker is how many chunks ParallelFor cuts per worker at most.
const chunksPerWorker = 4

// ParallelFor splits [0, n) into contiguous chunks of at least grain items and
// runs fn on them across a persistent pool of goroutines plus the caller,
// returning when all chunks are done. fn must be safe to call concurrently on
// disjoint ranges. The caller works on its own job's chunks while it waits, so
// nested calls cannot deadlock.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	// A few chunks per worker, claimed dynamically, keep every core busy
	// when one of them is slowed by other work on the machine.
	chunks := min(chunksPerWorker*Workers, (n+grain-1)/grain)
	if chunks <= 1 {
		fn(0, n)
		return
	}
	poolOnce.Do(startPool)
	size := (n + chunks - 1) / chunks
	j := &job{fn: fn, done: make(chan struct{})}
	for lo := 0; lo < n; lo += size {
		j.lo = append(j.lo, lo)
		j.hi = append(j.hi, min(lo+size, n))
	}
	j.pending.Store(int32(len(j.lo)))
	// Offer the job to idle workers; a full queue just means the caller does
	// more of the chunks itself.
	for range len(j.lo) - 1 {
		select {
		case jobs <- j:
		default:
		}
	}
	j.run()
	<-j.done
}
