package resources

import (
	"fmt"
	"testing"

	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

func newPane(w, h int) *Model {
	m := New(uitest.Context(uitest.Deadlock(), w, h+2))
	m.SetSize(w, h)
	m.Refresh()
	return m
}

func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 22}, {120, 38}} {
		w, h := sz[0], sz[1]
		name := fmt.Sprintf("list-%dx%d", w, h)
		t.Run(name, func(t *testing.T) {
			uitest.Golden(t, name, newPane(w, h).View(), w, h)
		})
		name = fmt.Sprintf("open-%dx%d", w, h)
		t.Run(name, func(t *testing.T) {
			m := newPane(w, h)
			m.Update(uitest.Key("j")) // the second mutex of the cycle
			m.Update(uitest.Key("enter"))
			uitest.Golden(t, name, m.View(), w, h)
		})
	}
	t.Run("chan-open-80x22", func(t *testing.T) {
		m := newPane(80, 22)
		m.Open(uitest.JobCh)
		uitest.Golden(t, "chan-open-80x22", m.View(), 80, 22)
	})
}

func TestOpenAndJump(t *testing.T) {
	m := newPane(80, 22)
	m.Open(uitest.MuLedg)
	if m.OpenID() != uitest.MuLedg {
		t.Fatalf("open resource %q", m.OpenID())
	}
	// Holder g23 first, then the waiters.
	if got := m.Update(uitest.Key("enter"))(); got != (uictx.OpenGoroutineMsg{ID: 23}) {
		t.Fatalf("enter on the holder sent %#v", got)
	}
	m.Update(uitest.Key("j"))
	if got := m.Update(uitest.Key("enter"))(); got != (uictx.OpenGoroutineMsg{ID: 24}) {
		t.Fatalf("enter on the first waiter sent %#v", got)
	}
	if !m.Back() || m.OpenID() != "" {
		t.Fatal("esc did not close the resource")
	}
	if m.Back() {
		t.Fatal("esc on the plain list claimed to do something")
	}
}

func TestFilter(t *testing.T) {
	m := newPane(80, 22)
	m.Update(uitest.Key("/"))
	for _, k := range uitest.Keys("chan") {
		m.Update(k)
	}
	m.Update(uitest.Key("enter"))
	if m.sc.N != 2 {
		t.Fatalf("filter chan: %d rows, want 2", m.sc.N)
	}
	uitest.CheckSize(t, m.View(), 80, 22)
}
