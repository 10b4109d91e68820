package detail

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

// withSource points the Transfer frames of the snapshot at a file on disk.
func withSource(t *testing.T) *inspect.Snapshot {
	s := uitest.Deadlock()
	abs, err := filepath.Abs("testdata/src/account.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range s.Goroutines {
		for i, f := range g.Frames {
			if f.Func == "main.(*Account).Transfer" {
				g.Frames[i].File, g.Frames[i].Line = abs, 30
			}
		}
	}
	return s
}

func newView(snap *inspect.Snapshot, id int64, w, h int) *Model {
	m := New(uitest.Context(snap, w, h+2))
	m.SetSize(w, h)
	m.Refresh()
	m.Show(id)
	return m
}

func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 22}, {120, 38}} {
		w, h := sz[0], sz[1]
		name := fmt.Sprintf("g19-source-%dx%d", w, h)
		t.Run(name, func(t *testing.T) {
			uitest.Golden(t, name, newView(withSource(t), 19, w, h).View(), w, h)
		})
		name = fmt.Sprintf("g24-%dx%d", w, h)
		t.Run(name, func(t *testing.T) {
			uitest.Golden(t, name, newView(uitest.Deadlock(), 24, w, h).View(), w, h)
		})
	}
	t.Run("g19-scrolled-80x22", func(t *testing.T) {
		m := newView(withSource(t), 19, 80, 22)
		m.Update(uitest.Key("pgdown"))
		uitest.Golden(t, "g19-scrolled-80x22", m.View(), 80, 22)
	})
}

func TestSourceShown(t *testing.T) {
	m := newView(withSource(t), 19, 120, 60)
	out := uitest.Plain(m.View())
	for _, want := range []string{"30 ▶     to.mu.Lock()", "28", "32", "STACK (11 frames"} {
		if !strings.Contains(out, want) {
			t.Errorf("detail lacks %q:\n%s", want, out)
		}
	}
}

func TestLinks(t *testing.T) {
	m := newView(uitest.Deadlock(), 19, 80, 22)
	var got []any
	for i := 0; i < 8; i++ {
		if cmd := m.Update(uitest.Key("enter")); cmd != nil {
			got = append(got, cmd())
		}
		m.Update(uitest.Key("j"))
	}
	want := []any{
		uictx.OpenResourceMsg{ID: uitest.MuBob},   // waits to lock
		uictx.OpenGoroutineMsg{ID: 20},            // └ held by g20
		uictx.OpenResourceMsg{ID: uitest.MuAlice}, // holds
		uictx.OpenGoroutineMsg{ID: 1},             // created by ... in g1
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("links: got %v, want %v", got, want)
	}
}

func TestEnded(t *testing.T) {
	ctx := uitest.Context(uitest.Deadlock(), 80, 24)
	next := uitest.Deadlock()
	next.Goroutines = next.Goroutines[1:] // g1 ended
	ctx.Data = uictx.Build(next, ctx.Data)
	m := New(ctx)
	m.SetSize(80, 22)
	m.Show(1)
	if out := uitest.Plain(m.View()); !strings.Contains(out, "ENDED") || !strings.Contains(out, "main.main") {
		t.Fatalf("ended goroutine not shown from the previous snapshot:\n%s", out)
	}
}

// TestWakersShown: under a wait the source analysis proved hopeless, the
// detail lists the operations that could end it and why none runs.
func TestWakersShown(t *testing.T) {
	s := uitest.FinalizerStall(0)
	const ch = "chan:0xc000080120"
	s.Findings = append(s.Findings, inspect.Finding{Severity: inspect.SeverityError, Kind: inspect.FindingDeadlock,
		Title: "Deadlock (finalizer)", Goroutines: []int64{5, 17}, Resources: []string{uitest.PoolMu, ch},
		Wakers: []inspect.WakerSite{
			{Resource: ch, Op: "send", Func: "main.(*Conn).release", File: "/srv/pool/pool.go", Line: 91,
				Code: "p.returned <- c.id", Finalizer: true, Reachers: []int64{5},
				Why: "it runs only in a finalizer (main.(*Conn).release), and the finalizer goroutine 5 is blocked"},
			{Resource: ch, Op: "send", Func: "reflect.Value.Send", File: "/go/src/reflect/value.go", Line: 2123,
				Reflection: true, Unknown: true, Why: "no goroutine that can still run gets there"},
		}})
	out := uitest.Plain(newView(s, 17, 120, 40).View())
	for _, want := range []string{"could be woken by p.returned <- c.id at pool/pool.go:91", "finalizer goroutine 5 is blocked", "reflection on channels (reflect.Value.Send)"} {
		if !strings.Contains(out, want) {
			t.Errorf("detail of g17 lacks %q:\n%s", want, out)
		}
	}
	// Another goroutine's wait is not annotated with them.
	if out := uitest.Plain(newView(s, 5, 120, 40).View()); strings.Contains(out, "could be woken by") {
		t.Errorf("detail of g5 (waits on the mutex) shows the channel's wakers:\n%s", out)
	}
}
