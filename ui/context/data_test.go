package context_test

import (
	"testing"

	"github.com/hangtui/hangtui/inspect"
	. "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

func TestChanges(t *testing.T) {
	d1 := Build(uitest.Deadlock(), nil)
	if d1.Seq != 1 || d1.Prev != nil || len(d1.Changes) != 0 || d1.Unchanged[19] != 1 {
		t.Fatalf("first snapshot: seq %d, changes %v, unchanged %d", d1.Seq, d1.Changes, d1.Unchanged[19])
	}
	d2 := Build(uitest.Deadlock(), d1)
	if d2.Unchanged[19] != 2 || d2.NewCount+d2.EndedCount+d2.MovedCount != 0 {
		t.Fatalf("same snapshot again: unchanged %d, changes %d/%d/%d", d2.Unchanged[19], d2.NewCount, d2.EndedCount, d2.MovedCount)
	}

	next := uitest.Deadlock()
	var gs []*inspect.Goroutine
	for _, g := range next.Goroutines {
		switch g.ID {
		case 36: // ended
			continue
		case 35: // woke up
			g.State, g.WaitReason = inspect.StateRunnable, ""
		}
		gs = append(gs, g)
	}
	next.Goroutines = append(gs, &inspect.Goroutine{ID: 99, State: inspect.StateRunning})
	d3 := Build(next, d2)
	if d3.NewCount != 1 || d3.EndedCount != 1 || d3.MovedCount != 1 {
		t.Fatalf("new/ended/moved = %d/%d/%d, want 1/1/1", d3.NewCount, d3.EndedCount, d3.MovedCount)
	}
	if d3.Changes[99] != ChangeNew || d3.Changes[35] != ChangeMoved || d3.Unchanged[35] != 1 || d3.Unchanged[19] != 3 {
		t.Fatalf("changes %v, unchanged g35 %d g19 %d", d3.Changes, d3.Unchanged[35], d3.Unchanged[19])
	}
	if d3.Prev == nil || d3.Prev.Prev != nil {
		t.Fatal("only one snapshot of history is kept")
	}
	if g, ended := d3.Goroutine(36); g == nil || !ended {
		t.Fatal("an ended goroutine is found in the previous snapshot")
	}
	if d3.InCycle[19] != 0 || d3.ResInCycle[uitest.MuBob] != 0 {
		t.Fatal("cycle membership")
	}
}

func TestNames(t *testing.T) {
	r := &inspect.Resource{ID: "chan:0x1", Kind: inspect.KindChan, Type: "chan github.com/acme/x/events.Event"}
	if got := inspect.ResourceName(r, r.ID); got != "chan events.Event" {
		t.Errorf("ResourceName = %q", got)
	}
	m := &inspect.Resource{ID: "mutex:0x2", Kind: inspect.KindMutex, Type: "github.com/acme/x/store.Store.mu"}
	if got := inspect.ResourceName(m, m.ID); got != "mutex store.Store.mu" {
		t.Errorf("ResourceName = %q", got)
	}
	if got := inspect.ShortFuncName("github.com/acme/x/store.(*Cache[go.shape.int]).Get"); got != "store.(*Cache[...]).Get" {
		t.Errorf("ShortFuncName = %q", got)
	}
	h := inspect.Holder{Goroutine: 18, Evidence: inspect.EvidenceDefer, Frame: &inspect.Frame{File: "/src/app/store/store.go", Line: 41}}
	if got := HolderText(h); got != "held by g18 since store/store.go:41 (deferred Unlock pending)" {
		t.Errorf("HolderText = %q", got)
	}
}
