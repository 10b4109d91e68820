package ui

import (
	"strconv"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

// TestContentionUpdates: each ranking the sampler sends replaces the Top
// pane's, between snapshots.
func TestContentionUpdates(t *testing.T) {
	a := newApp(uitest.Deadlock(), 80, 24)
	press(a, "6")
	if v := uitest.Plain(a.render()); !strings.Contains(v, "sampling starts after the first snapshot") {
		t.Fatalf("before the first ranking:\n%s", v)
	}
	for _, n := range []int{5, 10} {
		a.Update(contentionMsg{prof: &inspect.ContentionProfile{Samples: n}})
		if v := uitest.Plain(a.render()); !strings.Contains(v, " "+strconv.Itoa(n)+" samples (") {
			t.Fatalf("after a ranking of %d samples:\n%s", n, v)
		}
	}
	a.Update(contentionMsg{note: "contention cannot be sampled: test"})
	if v := uitest.Plain(a.render()); !strings.Contains(v, "contention cannot be sampled: test") {
		t.Fatalf("the note is not shown:\n%s", v)
	}
}
