package ui

import (
	"errors"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

// The engine's tests run it on a fake clock and assert on what it does
// (the events of its loop, the snapshots it reads), never on sleeps: a
// "nothing happened in 150 ms" check passes vacuously on a loaded machine.
// The only real-time waits are guards against hangs (hangGuard), which
// never decide a result.

const hangGuard = 30 * time.Second

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(c.now) {
			kept = append(kept, tm)
			continue
		}
		tm.ch <- c.now
	}
	c.timers = kept
}

// rig is an engine on a fake clock, with its events.
type rig struct {
	t      *testing.T
	e      *Engine
	clock  *fakeClock
	events chan engineEvent
}

func startRig(t *testing.T, src Source, interval time.Duration) *rig {
	t.Helper()
	r := &rig{t: t, clock: newFakeClock(), events: make(chan engineEvent, 1024)}
	r.e = startEngine(src, interval, nil, r.clock, func(ev engineEvent) { r.events <- ev })
	return r
}

// expect takes the engine's next event and checks it.
func (r *rig) expect(what string, timer time.Duration) {
	r.t.Helper()
	select {
	case ev := <-r.events:
		if ev.What != what || ev.Timer != timer {
			r.t.Fatalf("engine event %+v, want {%s %v}", ev, what, timer)
		}
	case <-time.After(hangGuard):
		r.t.Fatalf("no engine event (want {%s %v}): the engine hangs", what, timer)
	}
}

// nextSnapshot takes the engine's messages up to the next snapshotMsg.
func (r *rig) nextSnapshot() snapshotMsg {
	r.t.Helper()
	for {
		got := make(chan tea.Msg, 1)
		go func() { got <- r.e.Next()() }()
		select {
		case m := <-got:
			if s, ok := m.(snapshotMsg); ok {
				return s
			}
			if m == nil {
				r.t.Fatal("the engine stopped")
			}
		case <-time.After(hangGuard):
			r.t.Fatal("no snapshot: the engine hangs")
		}
	}
}

// deadlock is uitest.Deadlock from a source of that kind that paused it
// for no time (so the interval alone sets the timer).
func deadlock(kind inspect.SourceKind) func() *inspect.Snapshot {
	return func() *inspect.Snapshot {
		s := uitest.Deadlock()
		s.Target.Source, s.Pause = kind, 0
		return s
	}
}

func TestEngineLive(t *testing.T) {
	src := &fakeSource{snap: deadlock(inspect.SourceLive)}
	r := startRig(t, src, 30*time.Millisecond)
	defer r.e.Stop(time.Second)
	first := r.nextSnapshot()
	r.expect("wait", 30*time.Millisecond)
	if _, resumes, _ := src.counts(); resumes != 1 {
		t.Fatalf("%d resumes after the first snapshot, want 1", resumes)
	}
	r.clock.Advance(29 * time.Millisecond) // not due yet
	r.clock.Advance(time.Millisecond)
	r.expect("tick", 0)
	second := r.nextSnapshot()
	if first.err != nil || second.data.Seq != 2 || second.data.Prev == nil {
		t.Fatalf("snapshots: %+v %+v", first, second)
	}
	r.expect("wait", 30*time.Millisecond)

	// Paused: no timer, so no automatic snapshot however long it waits;
	// r still reads one.
	r.e.SetPaused(true)
	r.expect("pause", 0)
	r.expect("wait", 0)
	r.clock.Advance(time.Hour)
	r.e.Refresh()
	r.expect("refresh", 0) // the next thing it did: nothing ticked
	if n, _, _ := src.counts(); n != 2 {
		t.Fatalf("%d snapshots before the refresh, want 2", n)
	}
	r.nextSnapshot()
	r.expect("wait", 0) // still paused
	r.e.SetPaused(false)
	r.expect("resume", 0)
	r.expect("wait", 30*time.Millisecond)
	r.clock.Advance(30 * time.Millisecond)
	r.expect("tick", 0)
	if third := r.nextSnapshot(); third.data.Seq != 4 {
		t.Fatalf("snapshot %d, want the 4th", third.data.Seq)
	}
}

func TestEngineCoreIsReadOnce(t *testing.T) {
	src := &fakeSource{snap: deadlock(inspect.SourceCore)}
	r := startRig(t, src, 10*time.Millisecond)
	defer r.e.Stop(time.Second)
	r.nextSnapshot()
	r.expect("wait", 0) // no timer: a core never changes
	r.clock.Advance(time.Hour)
	if n, resumes, _ := src.counts(); n != 1 || resumes != 0 {
		t.Fatalf("core: %d snapshots, %d resumes; want 1 and 0", n, resumes)
	}
	// Read again only when asked.
	r.e.Refresh()
	r.expect("refresh", 0)
	r.nextSnapshot()
	r.expect("wait", 0)
	if n, resumes, _ := src.counts(); n != 2 || resumes != 0 {
		t.Fatalf("core after a refresh: %d snapshots, %d resumes; want 2 and 0", n, resumes)
	}
}

// TestEngineRemoteRefreshes: a target behind a Delve server (--connect)
// is read again every interval, like a live one; Resume is not called
// (each remote read continues the target itself).
func TestEngineRemoteRefreshes(t *testing.T) {
	src := &fakeSource{snap: deadlock(inspect.SourceRemote)}
	r := startRig(t, src, 10*time.Millisecond)
	defer r.e.Stop(time.Second)
	r.nextSnapshot()
	r.expect("wait", 10*time.Millisecond)
	r.clock.Advance(10 * time.Millisecond)
	r.expect("tick", 0)
	if second := r.nextSnapshot(); second.err != nil || second.data.Prev == nil {
		t.Fatalf("second snapshot: %+v", second)
	}
	if _, resumes, _ := src.counts(); resumes != 0 {
		t.Fatalf("%d resumes of a remote source", resumes)
	}
}

func TestEngineProcessGone(t *testing.T) {
	src := &fakeSource{err: &inspect.Error{Kind: inspect.ErrProcessGone, Msg: "process 1 has exited"}}
	r := startRig(t, src, 10*time.Millisecond)
	m := r.nextSnapshot()
	if !m.gone {
		t.Fatalf("got %+v, want gone", m)
	}
	select {
	case <-r.e.done: // it ends without waiting for anything
	case <-time.After(hangGuard):
		t.Fatal("the engine kept running after the process exited")
	}
	if n, _, _ := src.counts(); n != 1 {
		t.Fatalf("%d snapshots, want 1", n)
	}
}

// TestEngineRetriesErrors: an error is shown; a source that never gave a
// snapshot is read again when asked.
func TestEngineRetriesErrors(t *testing.T) {
	src := &fakeSource{err: errors.New("transient")}
	r := startRig(t, src, 10*time.Millisecond)
	defer r.e.Stop(time.Second)
	if m := r.nextSnapshot(); m.err == nil || m.gone {
		t.Fatalf("got %+v", m)
	}
	r.expect("wait", 0)
	r.e.Refresh()
	r.expect("refresh", 0)
	if m := r.nextSnapshot(); m.err == nil {
		t.Fatalf("got %+v", m)
	}
}

// TestEngineErrorOfLiveRetries: after a live target gave a snapshot, a
// failed read is retried on the timer.
func TestEngineErrorOfLiveRetries(t *testing.T) {
	src := &fakeSource{snap: deadlock(inspect.SourceLive)}
	r := startRig(t, src, 10*time.Millisecond)
	defer r.e.Stop(time.Second)
	r.nextSnapshot()
	r.expect("wait", 10*time.Millisecond)
	src.mu.Lock()
	src.err = errors.New("transient")
	src.mu.Unlock()
	r.clock.Advance(10 * time.Millisecond)
	r.expect("tick", 0)
	if m := r.nextSnapshot(); m.err == nil {
		t.Fatalf("got %+v", m)
	}
	r.expect("wait", 10*time.Millisecond)
}

// blockingSource blocks in Snapshot until released.
type blockingSource struct {
	fakeSource
	release chan struct{}
}

func (b *blockingSource) Snapshot() (*inspect.Snapshot, error) {
	<-b.release
	return b.fakeSource.Snapshot()
}

// TestEngineStopDuringSnapshot: quitting while the target is being read
// waits for the read, and the engine must not resume the target after
// that (Close detaches it instead).
func TestEngineStopDuringSnapshot(t *testing.T) {
	src := &blockingSource{fakeSource: fakeSource{snap: uitest.Deadlock}, release: make(chan struct{})}
	r := startRig(t, src, 10*time.Millisecond)
	e := r.e
	<-e.out // readingMsg: the engine is in Snapshot
	stopped := make(chan struct{})
	go func() { e.Stop(hangGuard); close(stopped) }()
	<-e.stop // Stop has been called
	// The engine is blocked in Snapshot until released: it cannot have
	// ended, so Stop (which waits for that) has not returned.
	select {
	case <-e.done:
		t.Fatal("the engine ended while a snapshot was being read")
	case <-stopped:
		t.Fatal("Stop returned while a snapshot was being read")
	default:
	}
	close(src.release)
	<-stopped
	select {
	case <-e.done:
	default:
		t.Fatal("Stop returned before the engine ended")
	}
	if _, resumes, _ := src.counts(); resumes != 0 {
		t.Fatalf("the engine resumed the target after Stop (%d resumes)", resumes)
	}
}

// TestEngineDutyCycle: a snapshot that paused the target long stretches
// the time until the next one, so the target runs most of the time.
func TestEngineDutyCycle(t *testing.T) {
	src := &fakeSource{snap: func() *inspect.Snapshot {
		s := uitest.Deadlock()
		s.Pause = 100 * time.Millisecond
		return s
	}}
	r := startRig(t, src, 10*time.Millisecond)
	defer r.e.Stop(time.Second)
	m := r.nextSnapshot()
	want := maxDuty * 100 * time.Millisecond
	if m.next != want {
		t.Fatalf("next snapshot in %v, want %v", m.next, want)
	}
	r.expect("wait", want)
	r.clock.Advance(want - time.Millisecond)
	r.e.Refresh()
	r.expect("refresh", 0) // not a tick: the timer was not due
	r.nextSnapshot()
	r.expect("wait", want)
	r.clock.Advance(want)
	r.expect("tick", 0)
	r.nextSnapshot()
	if n, _, _ := src.counts(); n != 3 {
		t.Fatalf("%d snapshots, want 3", n)
	}
}
