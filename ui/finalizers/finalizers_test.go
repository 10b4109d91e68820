package finalizers

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

var sizes = [][2]int{{80, 22}, {120, 38}} // the body of 80x24 and 120x40

// stalled is the pane after refreshes of a process whose finalizer
// goroutine stays blocked while the queue grows.
func stalled(w, h, refreshes int) *Model {
	ctx := uitest.Context(nil, w, h+2)
	var d *uictx.Data
	for i := 0; i < refreshes; i++ {
		d = uictx.Build(uitest.FinalizerStall(i), d)
	}
	ctx.Data = d
	m := New(ctx)
	m.SetSize(w, h)
	m.Refresh()
	return m
}

func TestGolden(t *testing.T) {
	for _, refreshes := range []int{1, 8} {
		for _, sz := range sizes {
			name := fmt.Sprintf("stall%d-%dx%d", refreshes, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				uitest.Golden(t, name, stalled(sz[0], sz[1], refreshes).View(), sz[0], sz[1])
			})
		}
	}
}

// TestStallWarning: the warning appears only once the goroutine has been
// blocked for uictx.StallAfter while the queue grew.
func TestStallWarning(t *testing.T) {
	if v := uitest.Plain(stalled(80, 22, 3).View()); strings.Contains(v, "stalled") {
		t.Errorf("warned after 2s:\n%s", v)
	}
	v := uitest.Plain(stalled(80, 22, 8).View())
	if !strings.Contains(v, "stalled: blocked for 7s while the queue grew from 3 to 52") {
		t.Errorf("no stall warning after 7s:\n%s", v)
	}
}

func TestEnterOpensFinalizerGoroutine(t *testing.T) {
	m := stalled(80, 22, 1)
	cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter did nothing")
	}
	if got := cmd(); got != (uictx.OpenGoroutineMsg{ID: 5}) {
		t.Fatalf("enter sent %#v, want goroutine 5", got)
	}
}
