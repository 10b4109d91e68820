package target

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The first snapshot of a large process is taken in memory prewarm has
// warmed for it (about 2.5 KB a goroutine). Left to its usual pacing the
// collector lets the heap grow to twice what was live at its last cycle: at
// 100,000 goroutines that took the snapshot 20-50 MB past the warmed memory,
// every fresh page a fault, and hangtui's peak past 300 MB. holdHeap asks
// the collector to stay within the warmed memory instead, with a soft limit
// (debug.SetMemoryLimit): a cycle more near the end of the snapshot, no
// fault. A soft limit under a heap that needs more makes the collector run
// back to back (up to half the CPU, by the runtime's own cap), so the hold
// lets go by itself after any cycle that finds the live heap past
// holdLiveShare of the limit: a snapshot larger than prewarm foresaw is
// collected as usual, at a cycle's cost.

// holdSlack is added to what prewarm left held: the runtime's own memory
// grows a little with the snapshot (stacks of the reading goroutines, GC
// metadata).
const holdSlack = 4 << 20

// holdLiveShare is how much of the limit the live heap may fill before the
// hold lets go (the collector then has a third of the live heap as
// headroom, as GOGC=33 gives).
const holdLiveShare = 0.75

// heapHold is a memory limit set for a while.
type heapHold struct {
	limit, old int64
	done       atomic.Bool
}

// holdMin is the smallest hold worth its cycles: below it the collector's
// headroom is a few tens of MB, and the cycles a hold adds cost the first
// snapshot of 10,000 goroutines more than the faults they save.
const holdMin = 128 << 20

// holding is set while a hold is in place: the limit is the process's, and
// two sessions reading at once (tests) must not restore each other's.
var holding atomic.Bool

// holdHeap sets the soft memory limit to limit unless a lower one is set
// (GOMEMLIMIT) or another hold is in place, and returns what restores the
// one before.
func holdHeap(limit int64) (release func()) {
	if limit < holdMin || !holding.CompareAndSwap(false, true) {
		return func() {}
	}
	old := debug.SetMemoryLimit(-1)
	if limit >= old {
		holding.Store(false)
		return func() {}
	}
	h := &heapHold{limit: limit, old: old}
	debug.SetMemoryLimit(limit)
	h.watch()
	return h.release
}

// release restores the limit that was set before, once.
func (h *heapHold) release() {
	if h.done.CompareAndSwap(false, true) {
		debug.SetMemoryLimit(h.old)
		holding.Store(false)
	}
}

// gcSentinel is an object only a finalizer refers to: it becomes garbage at
// once, and its finalizer runs after the next collection. (The pointer
// keeps it out of the tiny allocator, whose objects' finalizers may never
// run.)
type gcSentinel struct {
	_ *int
	_ [8]byte
}

// watch checks the live heap after each collection until released.
func (h *heapHold) watch() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		if h.done.Load() {
			return
		}
		if live := liveHeap(); live == 0 || float64(live) > holdLiveShare*float64(h.limit) {
			if timings() {
				fmt.Fprintf(os.Stderr, "hangtui: memory hold of %d MB let go: %d MB live\n", h.limit>>20, live>>20)
			}
			h.release()
			return
		}
		h.watch()
	})
}

// liveHeap is the heap the last collection found live, 0 if unknown.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// heldMemory is what the Go runtime counts against its memory limit: all
// it has mapped but what it has given back (runtime/metrics), 0 if unknown.
func heldMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
