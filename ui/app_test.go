package ui

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
	"github.com/hangtui/hangtui/ui/picker"
)

// fakeSource serves hand-made snapshots.
type fakeSource struct {
	mu        sync.Mutex
	snap      func() *inspect.Snapshot
	snapshots int
	resumes   int
	closed    bool
	err       error
}

func (f *fakeSource) Snapshot() (*inspect.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapshots++
	if f.err != nil {
		return nil, f.err
	}
	return f.snap(), nil
}

func (f *fakeSource) Resume() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes++
	return nil
}

func (f *fakeSource) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeSource) counts() (snapshots, resumes int, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshots, f.resumes, f.closed
}

// newApp returns a root model of size w×h holding snap, without an engine.
func newApp(snap *inspect.Snapshot, w, h int) *App {
	a := New(Options{Source: &fakeSource{}, NoColor: true, Now: uitest.Now})
	a.Update(tea.WindowSizeMsg{Width: w, Height: h})
	if snap != nil {
		a.Update(snapshotMsg{data: uictx.Build(snap, nil), at: uitest.TakenAt})
	}
	return a
}

func press(a *App, keys ...string) {
	for _, k := range keys {
		_, cmd := a.Update(uitest.Key(k))
		// Navigation is asked for with messages: deliver them.
		for cmd != nil {
			msg := cmd()
			cmd = nil
			switch msg.(type) {
			case uictx.OpenGoroutineMsg, uictx.OpenResourceMsg, uictx.FlashMsg:
				_, cmd = a.Update(msg)
			}
		}
	}
}

func TestFrames(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		w, h := sz[0], sz[1]
		for _, tc := range []struct {
			name string
			keys []string
		}{
			{"overview", nil},
			{"goroutines", []string{"2"}},
			{"resources", []string{"3"}},
			{"graph", []string{"4"}},
			{"finalizers", []string{"5"}},
			{"detail", []string{"4", "enter"}},
			{"help", []string{"?"}},
		} {
			name := fmt.Sprintf("%s-%dx%d", tc.name, w, h)
			t.Run(name, func(t *testing.T) {
				a := newApp(uitest.Deadlock(), w, h)
				press(a, tc.keys...)
				uitest.Golden(t, name, a.render(), w, h)
			})
		}
	}
	t.Run("too-small", func(t *testing.T) {
		a := newApp(uitest.Deadlock(), 59, 14)
		uitest.Golden(t, "too-small-59x14", a.render(), 59, 14)
	})
	t.Run("waiting-80x24", func(t *testing.T) {
		uitest.Golden(t, "waiting-80x24", newApp(nil, 80, 24).render(), 80, 24)
	})
	t.Run("minimum-60x15", func(t *testing.T) {
		uitest.Golden(t, "minimum-60x15", newApp(uitest.Deadlock(), 60, 15).render(), 60, 15)
	})
	t.Run("changes-80x24", func(t *testing.T) {
		// A second snapshot: g36 ended, g40 is new, g35 changed state.
		a := newApp(uitest.Deadlock(), 80, 24)
		next := uitest.Deadlock()
		var gs []*inspect.Goroutine
		for _, g := range next.Goroutines {
			switch g.ID {
			case 36:
				continue
			case 35:
				g.State, g.WaitReason, g.Verdict = inspect.StateRunnable, "", inspect.VerdictRunnable
			}
			gs = append(gs, g)
		}
		gs = append(gs, &inspect.Goroutine{ID: 40, State: inspect.StateRunning, Verdict: inspect.VerdictRunning, TopUser: -1,
			Frames: []inspect.Frame{{Func: "main.handle", File: "/home/dev/bank/server.go", Line: 99}}})
		next.Goroutines = gs
		a.Update(snapshotMsg{data: uictx.Build(next, a.ctx.Data), at: uitest.TakenAt.Add(2 * time.Second)})
		press(a, "2", "u")
		uitest.Golden(t, "changes-80x24", a.render(), 80, 24)
	})
}

func TestNavigation(t *testing.T) {
	a := newApp(uitest.Deadlock(), 80, 24)
	if a.active != paneOverview {
		t.Fatalf("starts on pane %d", a.active)
	}
	press(a, "tab", "tab", "shift+tab")
	if a.active != paneGoroutines {
		t.Fatalf("tab, tab, shift+tab: pane %d", a.active)
	}
	press(a, "6", "tab")
	if a.active != paneOverview {
		t.Fatalf("tab wraps around: pane %d", a.active)
	}
	// Overview: enter on the first finding opens g19; esc comes back.
	press(a, "enter")
	if !a.inDetail || a.detail.ID() != 19 {
		t.Fatalf("enter on the deadlock finding: detail=%v id=%d", a.inDetail, a.detail.ID())
	}
	// In the detail: the first link is the lock g19 waits for; its holder
	// g20 is next.
	press(a, "j", "enter")
	if !a.inDetail || a.detail.ID() != 20 {
		t.Fatalf("enter on the holder: detail=%v id=%d", a.inDetail, a.detail.ID())
	}
	press(a, "esc")
	if !a.inDetail || a.detail.ID() != 19 {
		t.Fatalf("esc: back to g19? detail=%v id=%d", a.inDetail, a.detail.ID())
	}
	press(a, "esc")
	if a.inDetail || a.active != paneOverview {
		t.Fatalf("esc: back to the overview? detail=%v pane=%d", a.inDetail, a.active)
	}
	// Graph: the resource node opens the resources pane; esc returns.
	press(a, "4", "j", "enter")
	if a.active != paneResources || a.res.OpenID() != uitest.MuBob {
		t.Fatalf("enter on a lock in the graph: pane %d, open %q", a.active, a.res.OpenID())
	}
	press(a, "esc")
	if a.active != paneGraph {
		t.Fatalf("esc from the resource: pane %d", a.active)
	}
}

func TestFilterKeepsKeys(t *testing.T) {
	a := newApp(uitest.Deadlock(), 80, 24)
	press(a, "2", "/", "q", "1", "?", "enter")
	// q, 1 and ? were typed into the filter, not acted on.
	if a.active != paneGoroutines || a.help {
		t.Fatalf("keys escaped the filter: pane %d help %v", a.active, a.help)
	}
	if out := uitest.Plain(a.render()); !strings.Contains(out, "/q1?") {
		t.Fatalf("the filter does not show q1?:\n%s", out)
	}
	press(a, "esc")
	if out := uitest.Plain(a.render()); strings.Contains(out, "/q1?") {
		t.Fatalf("esc did not clear the filter:\n%s", out)
	}
}

func TestSave(t *testing.T) {
	dir := t.TempDir()
	a := New(Options{Source: &fakeSource{}, NoColor: true, Now: uitest.Now, SaveDir: dir})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.Update(snapshotMsg{data: uictx.Build(uitest.Deadlock(), nil), at: uitest.TakenAt})
	for _, k := range []string{"s", "d"} {
		_, cmd := a.Update(uitest.Key(k))
		if cmd == nil {
			t.Fatalf("%s did nothing", k)
		}
		msg, ok := cmd().(uictx.FlashMsg)
		if !ok || msg.Err {
			t.Fatalf("%s: %#v", k, msg)
		}
	}
	for _, name := range []string{"hangtui-4242-20261122-170304.json", "hangtui-4242-20261122-170304.dot"} {
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 100 {
			t.Errorf("%s: %d bytes", name, len(b))
		}
	}
}

func TestPickerAttaches(t *testing.T) {
	procs := []picker.Process{
		{PID: 4242, Name: "bankd", GoVersion: "go1.26.8", Cmdline: "/srv/bank/bin/bankd -listen :8080", Uptime: 3 * time.Hour, Threads: 9, RSS: 45 << 20},
		{PID: 77, Name: "stripped", GoVersion: "go1.26.8", Cmdline: "./stripped", Reason: "no debug info (no .debug_info section): rebuild without -ldflags=-s -w"},
	}
	src := &fakeSource{snap: uitest.Deadlock}
	var attached int
	a := New(Options{NoColor: true, Now: uitest.Now,
		Processes: func(bool) ([]picker.Process, error) { return procs, nil },
		Attach:    func(pid int) (Source, error) { attached = pid; return src, nil }})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.Update(a.picker.Init()())
	uitest.Golden(t, "picker-80x24", a.render(), 80, 24)
	_, cmd := a.Update(uitest.Key("enter"))
	choose := cmd()
	_, cmd = a.Update(choose)
	a.Update(cmd())
	if attached != 4242 || a.picker != nil || a.engine == nil {
		t.Fatalf("attached %d, picker %v, engine %v", attached, a.picker != nil, a.engine != nil)
	}
	a.Shutdown()
	if _, _, closed := src.counts(); !closed {
		t.Fatal("the source was not closed")
	}
}

func click(a *App, x, y int) {
	_, cmd := a.Update(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	if cmd != nil {
		if msg := cmd(); msg != nil {
			a.Update(msg)
		}
	}
}

func TestMouse(t *testing.T) {
	a := newApp(uitest.Deadlock(), 80, 24)
	// The tab bar: " hangtui   1 Overview  2 Goroutines ..."
	line := uitest.Plain(strings.Split(a.render(), "\n")[0])
	click(a, strings.Index(line, "2 Goroutines")+2, 0)
	if a.active != paneGoroutines {
		t.Fatalf("click on the Goroutines tab: pane %d", a.active)
	}
	// Rows start on screen line 3 (tab bar, toolbar, column titles).
	click(a, 10, 4)
	if got := a.gor.Selected(); got != 1 {
		t.Fatalf("click on the second row selected g%d, want g1", got)
	}
	click(a, 10, 4) // a click on the selected row opens it
	if !a.inDetail || a.detail.ID() != 1 {
		t.Fatalf("second click: detail %v, id %d", a.inDetail, a.detail.ID())
	}
	// The wheel scrolls the detail view without a crash.
	a.Update(tea.MouseWheelMsg{X: 10, Y: 10, Button: tea.MouseWheelDown})
	uitest.CheckSize(t, a.render(), 80, 24)
}

func TestPauseCore(t *testing.T) {
	core := uitest.Deadlock()
	core.Target.Source = inspect.SourceCore
	a := newApp(core, 80, 24)
	press(a, "p")
	if out := uitest.Plain(a.render()); !strings.Contains(out, "core file") || !strings.Contains(out, "does not change") {
		t.Fatalf("p on a core:\n%s", out)
	}
}

func TestPickerRefusesUnattachable(t *testing.T) {
	procs := []picker.Process{{PID: 77, Name: "stripped", GoVersion: "go1.26.8", Reason: "no debug info (no .debug_info section)"}}
	a := New(Options{NoColor: true, Now: uitest.Now,
		Processes: func(bool) ([]picker.Process, error) { return procs, nil },
		Attach:    func(int) (Source, error) { t.Fatal("attached to an unattachable process"); return nil, nil }})
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	a.Update(a.picker.Init()())
	press(a, "enter")
	if out := uitest.Plain(a.render()); !strings.Contains(out, "cannot attach to 77: no debug info") {
		t.Fatalf("enter on an unattachable process:\n%s", out)
	}
}
