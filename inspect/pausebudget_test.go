package inspect_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestPauseBudget reads a leak twice: with the default budget it is proven;
// with a budget the pause has already used up when the heap walk starts, the
// walk stops, nothing is called leaked, a warning says why, and the rest of
// the snapshot (the waits) is as complete as before.
func TestPauseBudget(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "chan-leak")

	full := snapshotOf(t, p)
	if countVerdict(full, inspect.VerdictLeaked) == 0 {
		t.Fatalf("the fixture's leak was not proven with the default budget; warnings: %q", full.Warnings)
	}

	snap := snapshotWith(t, p.PID, func(s *inspect.Session) {
		if got := s.PauseBudget(); got != inspect.DefaultPauseBudget {
			t.Errorf("default budget %v, want %v", got, inspect.DefaultPauseBudget)
		}
		s.SetPauseBudget(time.Nanosecond)
	})
	if n := countVerdict(snap, inspect.VerdictLeaked); n != 0 {
		t.Errorf("%d goroutines called leaked without a finished heap walk", n)
	}
	found := false
	for _, w := range snap.Warnings {
		found = found || strings.Contains(w, "pause budget")
	}
	if !found {
		t.Errorf("no warning names the pause budget: %q", snap.Warnings)
	}
	if a, b := waitCount(full), waitCount(snap); a != b {
		t.Errorf("waits: %d with the walk, %d without it", a, b)
	}
}

func countVerdict(snap *inspect.Snapshot, v inspect.Verdict) int {
	n := 0
	for _, g := range snap.Goroutines {
		if g.Verdict == v {
			n++
		}
	}
	return n
}

func waitCount(snap *inspect.Snapshot) int {
	n := 0
	for _, g := range snap.Goroutines {
		n += len(g.Waits)
	}
	return n
}
