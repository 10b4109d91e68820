package inspect_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestSameAnswerEverySource reads one fixture process four ways and
// checks that the one builder gives the same goroutines, waits and holders
// wherever the source can show them:
//
//   - live: hangtui attaches (and detaches);
//   - remote: through a `dlv attach --headless --accept-multiclient
//     --continue` server started by the test (--connect), which is then
//     stopped (and detaches);
//   - dump and core: one SIGQUIT with GOTRACEBACK=crash makes the runtime
//     print its own traceback of every goroutine (read with ReadDump) and
//     then dump core (read with OpenCore).
//
// It is the same process throughout, so goroutine ids and object
// addresses agree. Compared, for every goroutine with program code on its
// stack: its state and wait reason, its program frames (function:line),
// its waits (resource id and op) and the locks it holds (resource id,
// read or write). The core must equal the live read in all of it. A dump
// and a Delve server have no memory: they show a wait only where an
// argument word names the object, and a holder only by source evidence,
// so what they show must be the live read's (nothing invented, the same
// ids), and what each can show must be there: the waits of the kinds
// listed per scenario and source (a dump: the traceback's words of the
// sync frames and semacquire; Delve: only what its location lists still
// have — in the optimized fixture a RWMutex's RLock is inlined and
// semacquire's address is gone, so a Delve server cannot show RWMutex
// waits), and, where the scenario says so, the live holders of every lock
// whose wait the source shows (source evidence).
func TestSameAnswerEverySource(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range []struct {
		name string
		// dump and remote are the resource kinds whose waits a dump
		// and a Delve server must show as the live read does.
		dump, remote []inspect.Kind
		// holders: the holders of the locks whose waits are shown
		// must be shown too.
		holders bool
	}{
		{"abba", kinds(inspect.KindMutex), kinds(inspect.KindMutex), true},
		{"source-lock", kinds(inspect.KindMutex, inspect.KindRWMutex), kinds(inspect.KindMutex), true},
		{"rwmutex", kinds(inspect.KindRWMutex), nil, true},
		{"waitgroup", kinds(inspect.KindWaitGroup, inspect.KindChan), kinds(inspect.KindWaitGroup, inspect.KindChan), false},
		{"cond", kinds(inspect.KindChan), kinds(inspect.KindChan), false},
		{"chan-no-peer", kinds(inspect.KindChan), kinds(inspect.KindChan), false},
	} {
		t.Run(sc.name, func(t *testing.T) {
			snaps, m := readEverySource(t, exe, sc.name)
			live := viewOf(snaps["live"])
			// The fixture's parked goroutines must be there; a
			// goroutine that runs (the fixture's own helpers, under
			// load) may be somewhere else by the next read.
			parked := manifestGoroutines(m)
			for id := range parked {
				if live[id] == nil {
					t.Errorf("live: goroutine %d of the manifest missing", id)
				}
			}
			for id, v := range live {
				if (v.state != string(inspect.StateWaiting) || v.reason == "sleep") && !parked[id] {
					delete(live, id)
				}
			}
			for _, src := range []string{"core", "dump", "remote"} {
				other := viewOf(snaps[src])
				full := src == "core"
				compareViews(t, src, live, other, parked, full)
				compareNamesCycles(t, src, snaps["live"], snaps[src], full)
				switch src {
				case "dump":
					checkShown(t, src, live, other, sc.dump, sc.holders)
				case "remote":
					checkShown(t, src, live, other, sc.remote, sc.holders)
				}
			}
		})
	}
}

// readEverySource reads one process of scenario live, through a Delve
// server, then from the dump and the core one SIGQUIT makes.
func readEverySource(t *testing.T, exe, scenario string) (map[string]*inspect.Snapshot, *fixture.Manifest) {
	t.Helper()
	defer allowCores(t)()
	dir := t.TempDir()
	p := fixture.StartIn(t, exe, dir, []string{"GOTRACEBACK=crash"}, scenario)
	out := map[string]*inspect.Snapshot{"live": settledSnapshot(t, p)}

	addr, dlv := fixture.StartDlv(t, p.PID, true)
	r, err := inspect.Connect(addr, inspect.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out["remote"], err = r.Snapshot(); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	_ = dlv.Process.Signal(syscall.SIGTERM) // it detaches
	_ = dlv.Wait()
	fixture.AssertRunning(t, p.PID)

	text := p.CrashDump(t)
	if out["dump"], err = inspect.ReadDump(strings.NewReader(text), inspect.DumpOptions{Name: scenario + ".txt"}); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	cores, _ := filepath.Glob(filepath.Join(dir, "core*"))
	if len(cores) == 0 {
		t.Fatalf("no core written in %s", dir)
	}
	s, err := inspect.OpenCore(cores[0], exe)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if out["core"], err = s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	return out, p.Manifest
}

// manifestGoroutines are the goroutines the fixture parked on purpose.
func manifestGoroutines(m *fixture.Manifest) map[int64]bool {
	out := map[int64]bool{}
	for _, e := range m.Expect {
		out[e.Goroutine] = true
	}
	for _, h := range m.Holders {
		out[h.Goroutine] = true
	}
	for _, ids := range m.Groups {
		for _, id := range ids {
			out[id] = true
		}
	}
	return out
}

// gview is what the comparison looks at of one goroutine.
type gview struct {
	state, reason string
	frames        []string          // program frames, "func:line"
	waits         map[string]string // resource id → op
	holds         map[string]bool   // "resource id" or "resource id (read)"
}

// viewOf keeps the goroutines with program code on their stack (a dump
// leaves most runtime goroutines out).
func viewOf(snap *inspect.Snapshot) map[int64]*gview {
	out := map[int64]*gview{}
	for _, g := range snap.Goroutines {
		if g.TopUser < 0 {
			continue
		}
		v := &gview{state: string(g.State), reason: g.WaitReason, waits: map[string]string{}, holds: map[string]bool{}}
		for _, f := range g.Frames {
			// The runtime's traceback and Delve print the go
			// statements' wrappers (main.f.gowrap1); the live reader
			// leaves compiler wrappers out.
			if inspect.IsUserFunc(f.Func) && !isGoWrapper(f.Func) {
				v.frames = append(v.frames, fmt.Sprintf("%s:%d", f.Func, f.Line))
			}
		}
		for _, w := range g.Waits {
			v.waits[w.Resource] = string(w.Op)
		}
		out[g.ID] = v
	}
	for _, r := range snap.Resources {
		for _, h := range r.Holders {
			if v := out[h.Goroutine]; v != nil {
				k := r.ID
				if h.Read {
					k += " (read)"
				}
				v.holds[k] = true
			}
		}
	}
	return out
}

// compareViews checks other against the live read: the same goroutines
// (the live read's parked ones, and the fixture's parked ones in other),
// states, reasons and frames; waits and holds equal (full) or a subset.
func compareViews(t *testing.T, src string, live, other map[int64]*gview, parked map[int64]bool, full bool) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(live)) {
		l, o := live[id], other[id]
		if o == nil {
			t.Errorf("%s: goroutine %d (%s %s) missing", src, id, l.reason, strings.Join(l.frames, " "))
			continue
		}
		if o.state != l.state || o.reason != l.reason {
			t.Errorf("%s: goroutine %d is %s %q, live %s %q", src, id, o.state, o.reason, l.state, l.reason)
		}
		if !slices.Equal(o.frames, l.frames) {
			t.Errorf("%s: goroutine %d frames\n  %s\nlive\n  %s", src, id, strings.Join(o.frames, "\n  "), strings.Join(l.frames, "\n  "))
		}
		for res, op := range o.waits {
			if l.waits[res] != op {
				t.Errorf("%s: goroutine %d waits %s %s, live %v", src, id, op, res, l.waits)
			}
		}
		for h := range o.holds {
			if !l.holds[h] {
				t.Errorf("%s: goroutine %d holds %s, live %v", src, id, h, slices.Sorted(maps.Keys(l.holds)))
			}
		}
		if full {
			for res, op := range l.waits {
				if o.waits[res] != op {
					t.Errorf("%s: goroutine %d does not wait %s %s", src, id, op, res)
				}
			}
			for h := range l.holds {
				if !o.holds[h] {
					t.Errorf("%s: goroutine %d does not hold %s", src, id, h)
				}
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(other)) {
		if live[id] == nil && (parked[id] || other[id].state == string(inspect.StateWaiting) && other[id].reason != "sleep") {
			t.Errorf("%s: goroutine %d (%s %s) not in the live read", src, id, other[id].reason, strings.Join(other[id].frames, " "))
		}
	}
}

func kinds(k ...inspect.Kind) []inspect.Kind { return k }

// compareNamesCycles: a resource other names (a dump names a lock by the
// source of the frame that locks it) has the live read's name, and
// other's wait-for cycles are the live read's (all of them: full).
func compareNamesCycles(t *testing.T, src string, live, other *inspect.Snapshot, full bool) {
	t.Helper()
	names := map[string]string{}
	for _, r := range live.Resources {
		names[r.ID] = r.Type
	}
	for _, r := range other.Resources {
		plain := r.Type == "chan" || strings.HasPrefix(r.Type, "sync.") || r.Type == "runtime semaphore"
		if !plain && names[r.ID] != r.Type {
			t.Errorf("%s: %s is %q, live %q", src, r.ID, r.Type, names[r.ID])
		}
	}
	cycle := func(c inspect.Cycle) string {
		return fmt.Sprint(c.Kind, c.Goroutines, c.Resources)
	}
	liveCycles := map[string]bool{}
	for _, c := range live.Cycles {
		liveCycles[cycle(c)] = true
	}
	otherCycles := map[string]bool{}
	for _, c := range other.Cycles {
		otherCycles[cycle(c)] = true
		if !liveCycles[cycle(c)] {
			t.Errorf("%s: cycle %s not in the live read %v", src, cycle(c), slices.Sorted(maps.Keys(liveCycles)))
		}
	}
	for c := range liveCycles {
		if full && !otherCycles[c] {
			t.Errorf("%s: no cycle %s", src, c)
		}
	}
}

// checkShown: what a source without memory can show is shown: the live
// waits on resources of the kinds in kinds, and (holders) the live holders
// of the locks whose waits it shows.
func checkShown(t *testing.T, src string, live, other map[int64]*gview, kinds []inspect.Kind, holders bool) {
	t.Helper()
	waited := map[string]bool{}
	shown, all := 0, 0
	for _, id := range slices.Sorted(maps.Keys(live)) {
		l, o := live[id], other[id]
		for res, op := range l.waits {
			all++
			if o != nil && o.waits[res] == op {
				waited[res] = true
				shown++
				continue
			}
			for _, k := range kinds {
				if strings.HasPrefix(res, string(k)+":") {
					t.Errorf("%s: goroutine %d: wait %s %s not shown", src, id, op, res)
				}
			}
		}
	}
	held, heldShown := 0, 0
	for _, id := range slices.Sorted(maps.Keys(live)) {
		l, o := live[id], other[id]
		for h := range l.holds {
			res, _, _ := strings.Cut(h, " ")
			if !waited[res] {
				continue // no wait shown: no holder looked for
			}
			held++
			if o != nil && o.holds[h] {
				heldShown++
			} else if holders {
				t.Errorf("%s: goroutine %d: holds %s, not shown", src, id, h)
			}
		}
	}
	t.Logf("%s shows %d of %d waits, %d of %d holders of the locks whose waits it shows", src, shown, all, heldShown, held)
}

// isGoWrapper: "pkg.f.gowrapN" / "pkg.f.deferwrapN".
func isGoWrapper(fn string) bool {
	for _, w := range []string{".gowrap", ".deferwrap"} {
		if i := strings.LastIndex(fn, w); i >= 0 && len(fn) > i+len(w) && strings.Trim(fn[i+len(w):], "0123456789") == "" {
			return true
		}
	}
	return false
}
