package target

// Marking on every core. Walking a big heap is the one phase of a snapshot
// that grows with the heap rather than with the goroutines, and one core
// walks about 650 MB/s: past the first parallelAfter bytes, a private heap
// (NewPrivateHeap: its metadata and reader are its own) is marked by
// several workers, each with its own work list, span copies and arena
// cache.
//
// What the workers share is made safe for it:
//   - mark bits live on the spans (heapMeta.spanMarks) and are set with an
//     atomic OR: the worker that sets a bit scans the object, once;
//   - span metadata is resolved under heapMeta.mu and published with an
//     atomic store (an arena's page table, a page's span); once resolved
//     it is read without the lock;
//   - a span's heap bits are claimed (hbReading) by the worker that reads
//     them, and the others wait for it to finish, a batch at most.
//
// Which worker marks an object does not change what is marked: reachability
// is a closure, so the result is the serial one, only sooner.

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelAfter is how many bytes a heap's marking scans alone before other
// workers join: most snapshots mark a few MB, where starting workers costs
// more than it saves. A variable for tests.
var parallelAfter uint64 = 16 << 20

// MarkInParallelFrom makes marking start its parallel workers after n bytes
// instead of parallelAfter, until restore is called: for tests that mark
// small heaps of real processes on several workers.
func MarkInParallelFrom(n uint64) (restore func()) {
	old := parallelAfter
	parallelAfter = n
	return func() { parallelAfter = old }
}

// markSerial keeps marking on one worker (HANGTUI_MARK_SERIAL=1), for
// A/B runs; read once, not at each of DrainUntil's batches.
var markSerial = os.Getenv("HANGTUI_MARK_SERIAL") != ""

// parallelDrains counts drainParallel's runs (for tests).
var parallelDrains atomic.Int64

// maxWorkers bounds the marking workers.
const maxWorkers = 4

// workers is how many workers should mark now: 1 unless h's metadata is its
// own, the walk is big, no path is being recorded (Parent), and there are
// cores.
func (h *Heap) workers() int {
	if !h.m.spanMarks || h.Parent != nil || h.scanned < parallelAfter || len(h.work) < 2 {
		return 1
	}
	if markSerial {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), maxWorkers)
}

// parMark is what parallel workers share besides the heap.
type parMark struct {
	n     int
	limit uint64 // stop once this many bytes are scanned in all

	mu   sync.Mutex
	cond sync.Cond
	pool [][]uint64 // work handed over, for whoever runs out
	idle int        // workers waiting for work
	done bool       // every worker ran out: the closure is complete
	err  error

	scanned atomic.Uint64 // bytes scanned by all workers
	hungry  atomic.Int32  // idle, read without the lock
	pooled  atomic.Int32  // len(pool), read without the lock
	stopped atomic.Bool
}

// drainParallel marks with n workers, h one of them, until nothing is left
// or limit bytes are scanned in all (work is then left on h.work). Errors
// are the Deadline's (ErrPauseBudget) or a worker's panic.
func (h *Heap) drainParallel(n int, limit uint64) error {
	parallelDrains.Add(1)
	p := &parMark{n: n, limit: limit}
	p.cond.L = &p.mu
	p.scanned.Store(h.scanned)
	// Each worker starts with a share of the list; h keeps the top (the
	// objects it reached last, whose spans it has copies of). Workers
	// are kept from one run to the next, with their span copies.
	for len(h.helpers) < n-1 {
		h.helpers = append(h.helpers, h.worker(spanCacheBytes/n))
	}
	ws := h.helpers[:n-1]
	share := len(h.work) / n
	for k, w := range ws {
		w.work = append(w.work[:0], h.work[k*share:(k+1)*share]...)
		w.scanned, w.nmarked = 0, 0
		// What may have changed since the last run.
		w.excl, w.Budget, w.Deadline = h.excl, h.Budget, h.Deadline
	}
	h.work = append(h.work[:0], h.work[(n-1)*share:]...)
	if h.spans == nil {
		h.spans = newSpanCache(spanCacheBytes)
	}
	h.spans.limit = spanCacheBytes / n
	h.par = true
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					p.stop(fmt.Errorf("marking worker: %v", r))
				}
			}()
			w.markShare(p)
		}()
	}
	func() {
		// Even if h panics: the others stop before anything else reads
		// the heap.
		defer func() {
			p.stop(nil)
			wg.Wait()
			h.par = false
		}()
		h.markShare(p)
	}()
	for _, w := range ws {
		h.scanned += w.scanned
		h.nmarked += w.nmarked
		h.work = append(h.work, w.work...)
		w.work = w.work[:0]
	}
	for _, b := range p.pool {
		h.work = append(h.work, b...)
	}
	return p.err
}

// worker is a marking worker beside h: the same heap, marks and roots
// excluded; its own work list, span copies (cacheBytes of them) and lookups.
func (h *Heap) worker(cacheBytes int) *Heap {
	return &Heap{
		t: h.t, m: h.m, r: h.r, excl: h.excl, precise: h.precise,
		seen: h.seen, par: true, spans: newSpanCache(cacheBytes),
		Budget: h.Budget, Deadline: h.Deadline,
	}
}

// markShare is one worker's loop: its own list a batch at a time, half of
// it handed over when another worker is idle, work taken from the pool when
// it runs out.
func (h *Heap) markShare(p *parMark) {
	var addrs []uint64
	counted := h.scanned
	timed := !h.Deadline.IsZero()
	for batch := 1; ; {
		for len(h.work) > 0 {
			if p.stopped.Load() {
				return
			}
			addrs = h.drainBatch(addrs)
			if p.scanned.Add(h.scanned-counted) >= p.limit {
				p.stop(nil)
				return
			}
			counted = h.scanned
			if batch++; timed && batch%16 == 0 && time.Now().After(h.Deadline) {
				p.stop(ErrPauseBudget)
				return
			}
			if p.hungry.Load() > p.pooled.Load() && len(h.work) >= 2 {
				p.give(h)
			}
		}
		if !p.take(h) {
			return
		}
	}
}

// give hands the bottom half of h's list (the objects it reached earliest)
// to the pool.
func (p *parMark) give(h *Heap) {
	half := len(h.work) / 2
	b := append([]uint64(nil), h.work[:half]...)
	h.work = append(h.work[:0], h.work[half:]...)
	p.mu.Lock()
	p.pool = append(p.pool, b)
	p.pooled.Store(int32(len(p.pool)))
	p.mu.Unlock()
	p.cond.Signal()
}

// take waits for work from the pool for h, whose list is empty; false when
// marking is over (every worker ran out, or it was stopped).
func (p *parMark) take(h *Heap) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.idle++
	p.hungry.Store(int32(p.idle))
	if p.idle == p.n && len(p.pool) == 0 {
		p.done = true
		p.cond.Broadcast()
	}
	for len(p.pool) == 0 && !p.done && !p.stopped.Load() {
		p.cond.Wait()
	}
	if p.done || p.stopped.Load() {
		return false
	}
	k := len(p.pool) - 1
	h.work = append(h.work, p.pool[k]...)
	p.pool[k] = nil
	p.pool = p.pool[:k]
	p.pooled.Store(int32(len(p.pool)))
	p.idle--
	p.hungry.Store(int32(p.idle))
	return true
}

// stop ends marking on every worker (keeping the first error).
func (p *parMark) stop(err error) {
	p.mu.Lock()
	if err != nil && p.err == nil {
		p.err = err
	}
	p.stopped.Store(true)
	p.mu.Unlock()
	p.cond.Broadcast()
}
