package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect"
)

// maxQueueLines bounds the per-function lines of a queue in the text report.
const maxQueueLines = 8

// finalizers writes the FINALIZERS section: the finalizer goroutine's state,
// the function it runs, what it waits on, its queue, and the cleanups. It is
// left out for a process that never used finalizers or cleanups.
func (t *text) finalizers() {
	f := t.s.Finalizers
	if f == nil || f.State == inspect.FinalizerUnknown && f.QueueUnknown || (f.State == inspect.FinalizerNone && (f.Cleanups == nil || f.Cleanups.Pending == 0 && len(f.Cleanups.Goroutines) == 0)) {
		return
	}
	t.section("FINALIZERS")
	t.wrap(0, 2, FinalizerLine(f))
	if f.State == inspect.FinalizerBlocked {
		for _, w := range f.BlockedOn {
			t.line(2, w.Op.WaitsTo()+" "+t.resName(w.Resource))
		}
	}
	if f.QueueUnknown {
		t.line(2, "queue: unknown (only a live process or a core shows it)")
	} else {
		t.wrap(2, 2, "queue: "+queueLine(f.Pending, f.HasCounts, f.Queued, f.Executed))
		t.queueGroups(4, f.PendingByFunc)
	}
	if c := f.Cleanups; c != nil {
		t.sep()
		t.wrap(0, 2, t.cleanupLine(c))
		t.wrap(2, 2, "queue: "+queueLine(c.Pending, c.HasCounts, c.Queued, c.Executed))
		t.queueGroups(4, c.PendingByFunc)
	}
}

// FinalizerLine describes the finalizer goroutine in one line, e.g.
// "finalizer goroutine 3 · blocked ≥2m in main.(*Conn).close (conn.go:88)
// for a *main.Conn". The TUI shows it too.
func FinalizerLine(f *inspect.Finalizers) string {
	if f == nil {
		return FinalizerLineFor(f, 0)
	}
	return FinalizerLineFor(f, f.Waiting)
}

// FinalizerLineFor is FinalizerLine with the time the goroutine is known to
// have been blocked (the TUI also knows it from earlier refreshes).
func FinalizerLineFor(f *inspect.Finalizers, blocked time.Duration) string {
	if f == nil {
		return "finalizer goroutine: unknown"
	}
	if f.State == inspect.FinalizerNone {
		return "no finalizer goroutine (the process never set a finalizer)"
	}
	s := fmt.Sprintf("finalizer goroutine %d · %s", f.Goroutine, f.State)
	if f.State == inspect.FinalizerBlocked && blocked > 0 {
		s += " for ≥" + atLeast(blocked)
	}
	if c := f.Running; c != nil {
		what := ""
		if c.Cleanup {
			what = "cleanup "
		}
		s += fmt.Sprintf(" in %s%s (%s:%d)", what, inspect.ShortFunc(c.Func), shortFile(c.File), c.Line)
		if c.Type != "" {
			s += " for a " + inspect.ShortType(c.Type)
		}
	}
	return s
}

func (t *text) cleanupLine(c *inspect.Cleanups) string {
	if c.OnFinalizerGoroutine {
		return "cleanups run on the finalizer goroutine (Go 1.24)"
	}
	var s string
	switch len(c.Goroutines) {
	case 0:
		s = "no cleanup goroutine yet"
	case 1:
		s = "cleanup goroutine " + joinInts(c.Goroutines)
	default:
		s = "cleanup goroutines " + joinInts(c.Goroutines)
	}
	if len(c.Goroutines) > 0 && len(c.Running) == 0 && len(c.Blocked) == 0 {
		s += " · idle"
	}
	if len(c.Running) > 0 {
		s += fmt.Sprintf(" · %d running", len(c.Running))
	}
	for _, id := range c.Blocked {
		if len(c.Goroutines) == 1 {
			s += " · blocked"
		} else {
			s += fmt.Sprintf(" · %d blocked", id)
		}
		if g := t.byID[id]; g != nil {
			if call := runningCleanup(g); call != "" {
				s += " in " + call
			}
			if g.WaitReason != "" {
				s += " (" + g.WaitReason + ")"
			}
		}
	}
	return s
}

// runningCleanup names the user function a cleanup goroutine is in.
func runningCleanup(g *inspect.Goroutine) string {
	if g.TopUser < 0 || g.TopUser >= len(g.Frames) {
		return ""
	}
	fr := g.Frames[g.TopUser]
	return fmt.Sprintf("%s (%s:%d)", inspect.ShortFunc(fr.Func), shortFile(fr.File), fr.Line)
}

// atLeast prints a lower bound on a wait: "800ms", "12s", "3m".
func atLeast(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Truncate(time.Minute).String()
	case d >= time.Second:
		return d.Truncate(time.Second).String()
	}
	return d.Truncate(time.Millisecond).String()
}

// queueLine is "3 pending · queued 12 · executed 9"; the counters only
// where the runtime keeps them (Go 1.25+).
func queueLine(pending int, hasCounts bool, queued, executed uint64) string {
	s := strconv.Itoa(pending) + " pending"
	if pending == 0 {
		s = "empty"
	}
	if hasCounts {
		s += fmt.Sprintf(" · queued %d · executed %d (since start)", queued, executed)
	}
	return s
}

func (t *text) queueGroups(indent int, gs []inspect.FinalizerGroup) {
	for i, g := range gs {
		if i == maxQueueLines {
			t.line(indent, MoreFinalizerGroups(gs[i:]))
			return
		}
		s := fmt.Sprintf("%d × %s", g.Count, inspect.ShortFunc(g.Func))
		if g.Type != "" {
			s += " (" + inspect.ShortType(g.Type) + ")"
		}
		if g.Cleanup {
			s += " [cleanup]"
		}
		if g.File != "" {
			s += "  " + t.p.loc(inspect.Frame{File: g.File, Line: g.Line})
		}
		t.line(indent, s)
	}
}

// MoreFinalizerGroups summarises the queue groups left out of a list:
// "… 12 more in 3 other functions".
func MoreFinalizerGroups(rest []inspect.FinalizerGroup) string {
	n := 0
	for _, g := range rest {
		n += g.Count
	}
	return fmt.Sprintf("… %d more in %d other functions", n, len(rest))
}

func shortFile(p string) string { return inspect.ShortFile(p) }

func joinInts(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}
