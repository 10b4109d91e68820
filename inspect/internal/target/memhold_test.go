package target

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestHoldHeap checks that a hold lowers the memory limit, never raises it,
// never stacks, restores it, and lets go by itself once the live heap
// outgrows it.
func TestHoldHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	release := holdHeap(max(before, holdMin) + 1) // above the current limit: nothing to do
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("a hold above the limit changed it to %d", got)
	}
	release()

	const limit = 1 << 30
	release = holdHeap(limit)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("limit %d under a hold of %d", got, limit)
	}
	second := holdHeap(limit / 2)
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Fatalf("a second hold changed the limit to %d", got)
	}
	second()
	release()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit %d after release, want %d", got, before)
	}

	// A live heap past holdLiveShare of the limit: the hold lets go after
	// a collection.
	live := make([]byte, holdMin)
	release = holdHeap(holdMin)
	defer release()
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) != before {
		if time.Now().After(deadline) {
			t.Fatalf("the hold did not let go with %d MB live under a %d MB limit", len(live)>>20, holdMin>>20)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	runtime.KeepAlive(live)
}
