package ui

import (
	"errors"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/internal/uitest"
)

// nextSnapshot waits for the engine's next snapshotMsg.
func nextSnapshot(t *testing.T, e *Engine, within time.Duration) snapshotMsg {
	t.Helper()
	deadline := time.After(within)
	for {
		got := make(chan tea.Msg, 1)
		go func() { got <- e.Next()() }()
		select {
		case m := <-got:
			if s, ok := m.(snapshotMsg); ok {
				return s
			}
			if m == nil {
				t.Fatal("the engine stopped")
			}
		case <-deadline:
			t.Fatalf("no snapshot within %v", within)
		}
	}
}

func TestEngineLive(t *testing.T) {
	src := &fakeSource{snap: uitest.Deadlock}
	e := StartEngine(src, 30*time.Millisecond, nil)
	defer e.Stop(time.Second)
	first := nextSnapshot(t, e, time.Second)
	second := nextSnapshot(t, e, time.Second)
	if first.err != nil || second.data.Seq != 2 || second.data.Prev == nil {
		t.Fatalf("snapshots: %+v %+v", first, second)
	}
	if _, resumes, _ := src.counts(); resumes < 1 {
		t.Fatal("the target was not resumed after a snapshot")
	}

	// Paused: no more automatic snapshots, but r still reads one.
	e.SetPaused(true)
	time.Sleep(50 * time.Millisecond) // let a snapshot in flight arrive
	drain(e)
	before, _, _ := src.counts()
	time.Sleep(150 * time.Millisecond)
	if n, _, _ := src.counts(); n > before+1 {
		t.Fatalf("paused, yet %d snapshots were taken", n-before)
	}
	e.Refresh()
	nextSnapshot(t, e, time.Second)
	e.SetPaused(false)
	nextSnapshot(t, e, time.Second)
}

// drain takes whatever the engine has ready.
func drain(e *Engine) {
	for {
		select {
		case <-e.out:
		default:
			return
		}
	}
}

func TestEngineCoreIsReadOnce(t *testing.T) {
	src := &fakeSource{snap: func() *inspect.Snapshot {
		s := uitest.Deadlock()
		s.Target.Source = inspect.SourceCore
		return s
	}}
	e := StartEngine(src, 10*time.Millisecond, nil)
	defer e.Stop(time.Second)
	nextSnapshot(t, e, time.Second)
	time.Sleep(100 * time.Millisecond)
	if n, resumes, _ := src.counts(); n != 1 || resumes != 0 {
		t.Fatalf("core: %d snapshots, %d resumes; want 1 and 0", n, resumes)
	}
}

// TestEngineRemoteRefreshes: a target behind a Delve server (--connect)
// is read again every interval, like a live one; Resume is not called
// (each remote read continues the target itself).
func TestEngineRemoteRefreshes(t *testing.T) {
	src := &fakeSource{snap: func() *inspect.Snapshot {
		s := uitest.Deadlock()
		s.Target.Source = inspect.SourceRemote
		return s
	}}
	e := StartEngine(src, 10*time.Millisecond, nil)
	defer e.Stop(time.Second)
	nextSnapshot(t, e, time.Second)
	if second := nextSnapshot(t, e, 5*time.Second); second.err != nil || second.data.Prev == nil {
		t.Fatalf("second snapshot: %+v", second)
	}
	if _, resumes, _ := src.counts(); resumes != 0 {
		t.Fatalf("%d resumes of a remote source", resumes)
	}
}

func TestEngineProcessGone(t *testing.T) {
	src := &fakeSource{err: &inspect.Error{Kind: inspect.ErrProcessGone, Msg: "process 1 has exited"}}
	e := StartEngine(src, 10*time.Millisecond, nil)
	m := nextSnapshot(t, e, time.Second)
	if !m.gone {
		t.Fatalf("got %+v, want gone", m)
	}
	select {
	case <-e.done:
	case <-time.After(time.Second):
		t.Fatal("the engine kept running after the process exited")
	}
}

func TestEngineRetriesErrors(t *testing.T) {
	src := &fakeSource{err: errors.New("transient")}
	e := StartEngine(src, 10*time.Millisecond, nil)
	defer e.Stop(time.Second)
	if m := nextSnapshot(t, e, time.Second); m.err == nil || m.gone {
		t.Fatalf("got %+v", m)
	}
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
	e := StartEngine(src, 10*time.Millisecond, nil)
	<-e.out // readingMsg: the engine is in Snapshot
	stopped := make(chan struct{})
	go func() { e.Stop(5 * time.Second); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a snapshot was being read")
	case <-time.After(50 * time.Millisecond):
	}
	close(src.release)
	<-stopped
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
	e := StartEngine(src, 10*time.Millisecond, nil)
	defer e.Stop(time.Second)
	m := nextSnapshot(t, e, time.Second)
	if m.next != (maxDuty-1)*100*time.Millisecond {
		t.Fatalf("next snapshot in %v, want %v", m.next, (maxDuty-1)*100*time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n, _, _ := src.counts(); n != 1 {
		t.Fatalf("%d snapshots within 200ms of one that paused the target 100ms", n)
	}
}
