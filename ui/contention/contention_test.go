package contention

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

var sizes = [][2]int{{80, 22}, {120, 38}} // the body of 80x24 and 120x40

// Profile is a ranking as the sampler makes it: a hot lock held across a
// sleep, a channel with a slow consumer, a lukewarm RWMutex.
func Profile() *inspect.ContentionProfile {
	series := func(n int, f func(i int) int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	hot := &inspect.ContendedResource{
		ID: "mutex:0xc000120000", Kind: inspect.KindMutex, Addr: 0xc000120000, Name: "main.store.mu", Type: "sync.Mutex",
		WaitSeconds: 290.4, MaxWaiters: 30, MeanWaiters: 29.0, Ops: map[inspect.Op]float64{inspect.OpLock: 290.4},
		Waiters: []inspect.ContentionSite{
			{Func: "main.(*store).put", File: "/home/dev/svc/store.go", Line: 41, Share: 0.97, WaitSeconds: 281.7},
			{Func: "main.(*store).get", File: "/home/dev/svc/store.go", Line: 58, Share: 0.03, WaitSeconds: 8.7},
		},
		Holders: []inspect.ContentionSite{
			{Func: "main.(*store).put", File: "/home/dev/svc/store.go", Line: 43, Share: 0.95, Samples: 19, Evidence: inspect.EvidenceSource},
		},
		HolderSamples: 20,
		Series:        series(100, func(i int) int { return 25 + i%6 }),
		Last:          []int64{19, 21, 22, 23},
		LastHolders: []inspect.Holder{{Goroutine: 20, Evidence: inspect.EvidenceSource,
			Frame: &inspect.Frame{Func: "main.(*store).put", File: "/home/dev/svc/store.go", Line: 40}}},
	}
	ch := &inspect.ContendedResource{
		ID: "chan:0xc000200000", Kind: inspect.KindChan, Addr: 0xc000200000, Name: "main.jobs", Type: "chan main.Job",
		WaitSeconds: 100.2, MaxWaiters: 10, MeanWaiters: 10, Ops: map[inspect.Op]float64{inspect.OpSend: 100.2},
		Waiters: []inspect.ContentionSite{{Func: "main.produce", File: "/home/dev/svc/jobs.go", Line: 12, Share: 1, WaitSeconds: 100.2}},
		Series:  series(100, func(int) int { return 10 }),
		Last:    []int64{30, 31},
	}
	rw := &inspect.ContendedResource{
		ID: "rwmutex:0xc000300000", Kind: inspect.KindRWMutex, Addr: 0xc000300000, Type: "sync.RWMutex",
		WaitSeconds: 1.2, MaxWaiters: 4, MeanWaiters: 0.1, Ops: map[inspect.Op]float64{inspect.OpRLock: 0.9, inspect.OpLock: 0.3},
		Waiters: []inspect.ContentionSite{{Func: "main.(*cache).read", File: "/home/dev/svc/cache.go", Line: 20, Share: 0.75, WaitSeconds: 0.9},
			{Func: "main.(*cache).write", File: "/home/dev/svc/cache.go", Line: 30, Share: 0.25, WaitSeconds: 0.3}},
		HolderSamples: 20,
		Series:        series(100, func(i int) int { return map[bool]int{true: 3}[i%17 == 0] }),
	}
	return &inspect.ContentionProfile{
		Target:   inspect.Target{PID: 4242, Source: inspect.SourceLive},
		Start:    uitest.TakenAt,
		Duration: 10 * time.Second, Interval: 100 * time.Millisecond,
		Samples: 100, HolderSamples: 20, Goroutines: 71,
		Resources: []*inspect.ContendedResource{hot, ch, rw},
	}
}

func pane(w, h int, p *inspect.ContentionProfile) *Model {
	ctx := uitest.Context(uitest.Deadlock(), w, h+2)
	ctx.Contention = p
	m := New(ctx)
	m.SetSize(w, h)
	m.Refresh()
	return m
}

func TestGolden(t *testing.T) {
	for _, sz := range sizes {
		name := fmt.Sprintf("ranking-%dx%d", sz[0], sz[1])
		t.Run(name, func(t *testing.T) {
			uitest.Golden(t, name, pane(sz[0], sz[1], Profile()).View(), sz[0], sz[1])
		})
		name = fmt.Sprintf("open-%dx%d", sz[0], sz[1])
		t.Run(name, func(t *testing.T) {
			m := pane(sz[0], sz[1], Profile())
			m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
			uitest.Golden(t, name, m.View(), sz[0], sz[1])
		})
	}
	t.Run("waiting-80x22", func(t *testing.T) {
		uitest.Golden(t, "waiting-80x22", pane(80, 22, nil).View(), 80, 22)
	})
}

// TestOpenAndBack: enter opens the selected resource with its holder and
// waiters, enter on a waiter opens the goroutine, esc goes back to the
// ranking with the same resource selected.
func TestOpenAndBack(t *testing.T) {
	m := pane(80, 22, Profile())
	m.Update(uitest.Key("j"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if m.open != "chan:0xc000200000" {
		t.Fatalf("enter on the second row opened %q", m.open)
	}
	m.Back()
	m.Update(uitest.Key("k"))
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	v := uitest.Plain(m.View())
	for _, want := range []string{"main.store.mu (sync.Mutex)", "95% main.(*store).put svc/store.go:43", "now: goroutine 20", "97% main.(*store).put svc/store.go:41", "g19"} {
		if !strings.Contains(v, want) {
			t.Errorf("open resource lacks %q:\n%s", want, v)
		}
	}
	// The first item is the holder, g20.
	cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter on the holder did nothing")
	}
	if got := cmd(); got != (uictx.OpenGoroutineMsg{ID: 20}) {
		t.Fatalf("enter on the holder sent %#v", got)
	}
	if !m.Back() || m.open != "" || m.doc.Cursor != 0 {
		t.Fatalf("esc: open=%q cursor=%d", m.open, m.doc.Cursor)
	}
}

// TestUpdates: a new profile replaces the ranking; the open resource stays
// open.
func TestUpdates(t *testing.T) {
	m := pane(80, 22, Profile())
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	p := Profile()
	p.Samples = 200
	p.Resources[0].WaitSeconds = 580.8
	m.ctx.Contention = p
	m.Refresh()
	if v := uitest.Plain(m.View()); !strings.Contains(v, "580.8 waiter-seconds") || !strings.Contains(v, "200 samples") {
		t.Fatalf("not refreshed:\n%s", v)
	}
}
