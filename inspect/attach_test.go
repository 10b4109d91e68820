package inspect_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// snapshotOf attaches to a running fixture, reads one snapshot, detaches and
// checks that the process was left running.
func snapshotOf(t *testing.T, p *fixture.Process) *inspect.Snapshot {
	t.Helper()
	s, err := inspect.Attach(p.PID)
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	snap, err := s.Snapshot()
	if cerr := s.Close(); cerr != nil {
		t.Errorf("close: %v", cerr)
	}
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	fixture.AssertRunning(t, p.PID)
	return snap
}

func index(snap *inspect.Snapshot) (map[int64]*inspect.Goroutine, map[string]*inspect.Resource) {
	gs := map[int64]*inspect.Goroutine{}
	for _, g := range snap.Goroutines {
		gs[g.ID] = g
	}
	rs := map[string]*inspect.Resource{}
	for _, r := range snap.Resources {
		rs[r.ID] = r
	}
	return gs, rs
}

// checkWaits asserts that every goroutine the fixture parked is linked to
// exactly the object it parked on, and that every object's waiter set is
// exactly the goroutines the fixture parked on it.
func checkWaits(t *testing.T, snap *inspect.Snapshot, m *fixture.Manifest) {
	t.Helper()
	gs, rs := index(snap)
	byAddr := map[uint64]*inspect.Resource{}
	for _, r := range rs {
		byAddr[r.Addr] = r
	}
	wantWaiters := map[string][]int64{}
	transientObj := map[string]bool{}
	for _, e := range m.Expect {
		if e.Transient {
			transientObj[e.Object] = true
			for _, o := range e.Objects {
				transientObj[o] = true
			}
			continue
		}
		g := gs[e.Goroutine]
		if g == nil {
			t.Errorf("goroutine %d (%s) not in snapshot", e.Goroutine, e.Reason)
			continue
		}
		accept := e.Accept
		if len(accept) == 0 {
			accept = []string{e.Reason}
		}
		if !contains(accept, g.WaitReason) {
			t.Errorf("goroutine %d: wait reason %q, want one of %q", g.ID, g.WaitReason, accept)
		}
		objs, dirs := e.Objects, e.Dirs
		if e.Object != "" {
			objs, dirs = []string{e.Object}, nil
		}
		for i, name := range objs {
			if name == "" {
				continue
			}
			addr := m.Addr(t, name)
			wantWaiters[name] = append(wantWaiters[name], g.ID)
			found := false
			for _, w := range g.Waits {
				r := rs[w.Resource]
				if r != nil && r.Addr == addr {
					found = true
					if dirs != nil && string(w.Op) != dirs[i] {
						t.Errorf("goroutine %d on %s: op %s, want %s", g.ID, name, w.Op, dirs[i])
					}
				}
			}
			if !found {
				t.Errorf("goroutine %d (%s) not linked to %s (%#x); waits %v", g.ID, g.WaitReason, name, addr, g.Waits)
			}
		}
	}
	for name, want := range wantWaiters {
		if transientObj[name] {
			continue
		}
		r := byAddr[m.Addr(t, name)]
		if r == nil {
			t.Errorf("no resource for %s", name)
			continue
		}
		sortIDs(want)
		if fmt.Sprint(want) != fmt.Sprint(r.Waiters) {
			t.Errorf("%s (%s): waiters %v, want exactly %v", name, r.ID, r.Waiters, want)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sortIDs(ids []int64) { sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) }

// scenarios whose every parked goroutine must be linked to its object.
var waitScenarios = []string{
	"mutex", "abba", "double-lock", "rwmutex", "rwmutex-readers", "missing-unlock",
	"chan-no-peer", "chan-leak", "nil-chan", "select", "chan-lock-cycle", "waitgroup",
	"cond", "context", "finalizer-lock", "finalizer-chan",
	"healthy-pool", "healthy-sleeper", "healthy-timers", "healthy-net",
	"healthy-cond", "healthy-context", "healthy-wg",
}

func TestWaitLinks(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range waitScenarios {
		t.Run(sc, func(t *testing.T) {
			p := fixture.Start(t, exe, sc)
			snap := snapshotOf(t, p)
			checkWaits(t, snap, p.Manifest)
		})
	}
}

// TestBuildModes reads the same scenarios from unoptimized and PIE builds.
func TestBuildModes(t *testing.T) {
	for _, v := range []fixture.Variant{fixture.NoOpt, fixture.PIE} {
		exe := fixture.Build(t, v)
		for _, sc := range []string{"mutex", "rwmutex", "select", "cond", "waitgroup"} {
			t.Run(v.Name+"/"+sc, func(t *testing.T) {
				p := fixture.Start(t, exe, sc)
				checkWaits(t, snapshotOf(t, p), p.Manifest)
			})
		}
	}
}

func TestSnapshotModel(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "mutex")
	snap := snapshotOf(t, p)
	if snap.Target.PID != p.PID || snap.Target.Source != inspect.SourceLive {
		t.Errorf("target = %+v", snap.Target)
	}
	if snap.Target.GoVersion != p.Manifest.Go {
		t.Errorf("go version %q, want %q", snap.Target.GoVersion, p.Manifest.Go)
	}
	if snap.Pause <= 0 {
		t.Errorf("pause not measured")
	}
	gs, rs := index(snap)
	var sawFinalizer bool
	for _, g := range snap.Goroutines {
		if g.Role == inspect.RoleFinalizer {
			sawFinalizer = true
		}
		if len(g.Frames) == 0 {
			t.Errorf("goroutine %d has no frames", g.ID)
		}
	}
	if !sawFinalizer {
		t.Errorf("finalizer goroutine not found (it must never be hidden)")
	}
	for _, id := range p.Manifest.Groups["waiters"] {
		g := gs[id]
		if g == nil {
			t.Fatalf("waiter %d missing", id)
		}
		if g.TopUser < 0 || !inspect.IsUserFunc(g.Frames[g.TopUser].Func) {
			t.Errorf("goroutine %d: no user frame", id)
		}
		if g.CreatedBy == nil || g.ParentID == 0 {
			t.Errorf("goroutine %d: created-by not read (%v, parent %d)", id, g.CreatedBy, g.ParentID)
		}
		if g.Verdict != inspect.VerdictBlocked && !g.Verdict.Stuck() {
			t.Errorf("goroutine %d: verdict %s", id, g.Verdict)
		}
		r := rs[g.BlockedOn()]
		if r == nil || r.Mutex == nil || !r.Mutex.Locked || r.Mutex.Waiters != len(p.Manifest.Groups["waiters"]) {
			t.Errorf("mutex state wrong: %+v", r)
		}
	}
}
