package overview

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

var sizes = [][2]int{{80, 22}, {120, 38}} // the body of 80x24 and 120x40

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap func() *inspect.Snapshot
	}{{"deadlock", uitest.Deadlock}, {"healthy", uitest.Healthy}} {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s-%dx%d", tc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				ctx := uitest.Context(tc.snap(), sz[0], sz[1]+2)
				m := New(ctx)
				m.SetSize(sz[0], sz[1])
				m.Refresh()
				uitest.Golden(t, name, m.View(), sz[0], sz[1])
			})
		}
	}
}

func TestEnterOpensFirstGoroutine(t *testing.T) {
	ctx := uitest.Context(uitest.Deadlock(), 80, 24)
	m := New(ctx)
	m.SetSize(80, 22)
	m.Refresh()
	cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter on the first finding did nothing")
	}
	if got, ok := cmd().(uictx.OpenGoroutineMsg); !ok || got.ID != 19 {
		t.Fatalf("enter sent %#v, want OpenGoroutineMsg{19}", cmd())
	}
	// The second finding is the leak of g23.
	m.Update(tea.KeyPressMsg{Code: 'j', Text: "j"})
	if got := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})(); got != (uictx.OpenGoroutineMsg{ID: 23}) {
		t.Fatalf("enter on the second finding sent %#v", got)
	}
}

// TestFinalizerStall: the overview says the finalizers are stalled once the
// finalizer goroutine stayed blocked while the queue grew, not before.
func TestFinalizerStall(t *testing.T) {
	view := func(refreshes int) string {
		ctx := uitest.Context(nil, 80, 24)
		var d *uictx.Data
		for i := 0; i < refreshes; i++ {
			d = uictx.Build(uitest.FinalizerStall(i), d)
		}
		ctx.Data = d
		m := New(ctx)
		m.SetSize(80, 22)
		m.Refresh()
		return uitest.Plain(m.View())
	}
	if v := view(2); strings.Contains(v, "finalizers stalled") {
		t.Errorf("stalled after one second:\n%s", v)
	}
	v := view(8)
	for _, want := range []string{"⚠ finalizers stalled: g5 blocked for 7s in main.(*Conn).release", "52 queued", "growing"} {
		if !strings.Contains(v, want) {
			t.Errorf("want %q in:\n%s", want, v)
		}
	}
}
