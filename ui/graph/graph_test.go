package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

func newPane(snap *inspect.Snapshot, w, h int) *Model {
	m := New(uitest.Context(snap, w, h+2))
	m.SetSize(w, h)
	m.Refresh()
	return m
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		snap func() *inspect.Snapshot
	}{{"deadlock", uitest.Deadlock}, {"healthy", uitest.Healthy}, {"finalizer", func() *inspect.Snapshot { return uitest.FinalizerStall(0) }}} {
		for _, sz := range [][2]int{{80, 22}, {120, 38}} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				uitest.Golden(t, name, newPane(tc.snap(), sz[0], sz[1]).View(), sz[0], sz[1])
			})
		}
	}
	t.Run("deadlock-expanded-80x22", func(t *testing.T) {
		m := newPane(uitest.Deadlock(), 80, 22)
		m.Update(uitest.Key("e"))
		uitest.Golden(t, "deadlock-expanded-80x22", m.View(), 80, 22)
	})
}

func TestNavigate(t *testing.T) {
	m := newPane(uitest.Deadlock(), 80, 22)
	// First node: g19, then its lock, then g20.
	want := []any{
		uictx.OpenGoroutineMsg{ID: 19},
		uictx.OpenResourceMsg{ID: uitest.MuBob},
		uictx.OpenGoroutineMsg{ID: 20},
		uictx.OpenResourceMsg{ID: uitest.MuAlice},
		uictx.OpenGoroutineMsg{ID: 19}, // back to g19
	}
	for i, w := range want {
		cmd := m.Update(uitest.Key("enter"))
		if cmd == nil {
			t.Fatalf("node %d: enter did nothing", i)
		}
		if got := cmd(); got != w {
			t.Fatalf("node %d: enter sent %#v, want %#v", i, got, w)
		}
		m.Update(uitest.Key("j"))
	}
}

func TestChains(t *testing.T) {
	d := uictx.Build(uitest.Healthy(), nil)
	cs := inspect.ChainPaths(d.Snap, map[int64]bool{}, 10)
	if len(cs) != 1 {
		t.Fatalf("%d chains, want 1: %+v", len(cs), cs)
	}
	c := cs[0]
	if fmt.Sprint(c.Starters, c.Holders) != "[10 11] [9 8]" || c.Behind() != 3 {
		t.Fatalf("chain %+v, want starters [10 11], holders [9 8]", c)
	}
}

func TestDOT(t *testing.T) {
	var b strings.Builder
	if err := WriteDOT(&b, uictx.Build(uitest.Deadlock(), nil)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"digraph hangtui {",
		`"g19" -> "mutex:0xc000012388" [label="lock", color=red`,
		`"mutex:0xc000012388" -> "g20" [label="held by", color=red`,
		`-> "chan:0xc0000800c0" [label="recv"]`, // the four idle workers, merged
		`×4 g14 g15 g16 +1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DOT lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "{") != strings.Count(out, "}") {
		t.Error("unbalanced braces")
	}
}
