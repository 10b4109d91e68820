package wakers

import (
	"context"
	"os"
	"testing"
)

// TestDebugLoad: HANGTUI_WAKERS_EXE=exe go test -run DebugLoad -v
func TestDebugLoad(t *testing.T) {
	exe := os.Getenv("HANGTUI_WAKERS_EXE")
	if exe == "" {
		t.Skip("HANGTUI_WAKERS_EXE not set")
	}
	p, err := Load(context.Background(), Config{Exe: exe, Dir: os.Getenv("HANGTUI_WAKERS_DIR"), Progress: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("packages %d functions %d timings %v", p.Packages, p.Functions, p.Timings)
	for _, q := range [][3]string{{"mutex", "main.poolMu", ""}, {"chan", "main.poolReturned", ""}, {"chan", "", "main.Batch"}, {"mutex", "main.Pipeline.mu", ""}} {
		r, why := p.Resource(q[0], q[1], q[2])
		if r == nil {
			t.Logf("%v: %s", q, why)
			continue
		}
		for _, op := range []string{"recv", "send", "lock", "wait"} {
			t.Logf("%v %s: %d wakers", q, op, len(r.Wakers(op)))
		}
	}
	nroots := len(p.idx.roots)
	t.Logf("roots %d finalizers %d unresolved %q %q", nroots, len(p.idx.finalizer), p.idx.unresolvedAlways, p.idx.unresolvedFinalizer)
	for _, r := range p.idx.roots {
		t.Logf("root %s %s", p.idx.funcs[r.fn].fn, r.why)
	}
	nb := 0
	for _, fi := range p.idx.funcs {
		if fi.blocker != "" {
			nb++
			if nb < 20 {
				t.Logf("blocker %s: %s", fi.fn, fi.blocker)
			}
		}
	}
	reach := p.NewReach()
	reach.AddRoots()
	n := 0
	for _, b := range reach.funcs {
		if b {
			n++
		}
	}
	t.Logf("roots reach %d functions; blocker %q", n, reach.Blocker())
	reach.AddAllCallbacks()
	reach.EnableFinalizers()
	for _, q := range [][3]string{{"mutex", "main.poolMu", ""}, {"chan", "main.poolReturned", ""}, {"chan", "", "main.Batch"}, {"mutex", "main.Pipeline.mu", ""}, {"cond", "main.WorkQueue.cond", ""}} {
		r, why := p.Resource(q[0], q[1], q[2])
		if r == nil {
			t.Logf("%v: %s", q, why)
			continue
		}
		for _, op := range []string{"recv", "send", "lock", "wait"} {
			for _, s := range r.Wakers(op) {
				if ok, from := reach.Reached(s); ok {
					t.Logf("REACHED %v %s: %s %s %s:%d %q unknown=%v from %s", q, op, s.Op, s.Func, s.File, s.Line, s.Code, s.Unknown, from)
				}
			}
		}
	}
}
