package inspect

import (
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// Finalizers is the state of the runtime's finalizer goroutine, its queue,
// and the cleanup machinery. runtime.SetFinalizer callbacks run one at a
// time on a single goroutine: one that blocks stalls every finalizer of the
// process while the queue grows. Numbers the target's runtime does not keep
// are left unset (see HasCounts), never estimated.
type Finalizers struct {
	// Goroutine is the finalizer goroutine's id; 0 when the process has
	// never registered a finalizer (the runtime starts it on first use).
	Goroutine int64
	// State is what the finalizer goroutine is doing.
	State FinalizerState
	// Running is the finalizer being run (State running or blocked).
	Running *FinalizerCall
	// Waiting is how long the goroutine has been parked (State blocked), as
	// recorded by the runtime: a lower bound, 0 when not recorded yet.
	Waiting time.Duration
	// BlockedOn is what the finalizer goroutine waits on (State blocked):
	// the same entries as its Goroutine.Waits, linked into the wait-for graph.
	BlockedOn []Wait
	// QueueUnknown is set when the queue could not be read (a goroutine
	// dump, a remote Delve server): Pending, PendingByFunc and the counters
	// then say nothing.
	QueueUnknown bool
	// Pending is how many finalizers are queued and have not started (the
	// running one is not counted). Exact: read from the queue itself.
	Pending int
	// PendingByFunc groups the pending finalizers by function and object
	// type, largest group first.
	PendingByFunc []FinalizerGroup
	// Queued and Executed are the runtime's monotonic counts of finalizers
	// queued and run (runtime.finqueued/finexecuted, Go 1.25+); valid only
	// when HasCounts. Executed moves once a whole batch has run.
	Queued, Executed uint64
	HasCounts        bool
	// Cleanups describes runtime.AddCleanup (Go 1.24+); nil before 1.24.
	Cleanups *Cleanups
}

// FinalizerState is what the finalizer goroutine is doing.
type FinalizerState string

const (
	// FinalizerNone: the process has no finalizer goroutine (it never
	// registered a finalizer).
	FinalizerNone FinalizerState = "none"
	// FinalizerIdle: parked waiting for work, the queue is empty (or about
	// to be picked up).
	FinalizerIdle FinalizerState = "idle"
	// FinalizerRunning: executing (or ready to execute) a finalizer.
	FinalizerRunning FinalizerState = "running"
	// FinalizerBlocked: parked inside a finalizer (on a lock, a channel, a
	// sleep...): no other finalizer can run until it returns.
	FinalizerBlocked FinalizerState = "blocked"
	// FinalizerUnknown: the state could not be read.
	FinalizerUnknown FinalizerState = "unknown"
)

// FinalizerCall is a finalizer (or cleanup) being run.
type FinalizerCall struct {
	// Func is the finalizer function, e.g. "main.(*Conn).close".
	Func string
	// File and Line are where in the finalizer function execution is now.
	File string
	Line int
	// Type is the type of the pointer to the object being finalized, e.g.
	// "*main.Conn"; empty when unknown and for cleanups.
	Type string
	// Cleanup is true for a runtime.AddCleanup function.
	Cleanup bool
}

// FinalizerGroup counts queued finalizers or cleanups with the same function
// and object type.
type FinalizerGroup struct {
	// Func is the function; File and Line where it is declared.
	Func string
	File string
	Line int
	// Type is the type of the pointer to the object ("" for cleanups).
	Type string
	// Cleanup is true for runtime.AddCleanup functions (on Go 1.24 they share
	// the finalizer queue).
	Cleanup bool
	// Count is how many are queued.
	Count int
}

// Cleanups is the runtime.AddCleanup machinery. On Go 1.24 cleanups run on
// the finalizer goroutine (OnFinalizerGoroutine); from Go 1.25 on a small
// pool of cleanup goroutines runs them from their own queue.
type Cleanups struct {
	// OnFinalizerGoroutine: Go 1.24, cleanups are queued and run with the
	// finalizers; Goroutines is empty and Pending counts the cleanup entries
	// of the finalizer queue.
	OnFinalizerGoroutine bool
	// Goroutines are the ids of the cleanup goroutines, sorted.
	Goroutines []int64
	// Running are those executing a cleanup; Blocked those parked inside one.
	Running []int64
	Blocked []int64
	// Pending is how many cleanups are queued and not started.
	Pending int
	// PendingByFunc groups them by cleanup function, largest first.
	PendingByFunc []FinalizerGroup
	// Queued and Executed are the runtime's monotonic counts (Go 1.25+),
	// valid only when HasCounts.
	Queued, Executed uint64
	HasCounts        bool
}

// uncount removes one cleanup of function fn (or, failing that, of the
// largest group) from the pending ones: it is running, not pending.
func (c *Cleanups) uncount(fn string) {
	if c.Pending == 0 || len(c.PendingByFunc) == 0 {
		return
	}
	i := 0
	for j, g := range c.PendingByFunc {
		if g.Func == fn {
			i = j
			break
		}
	}
	c.Pending--
	c.PendingByFunc[i].Count--
	if c.PendingByFunc[i].Count == 0 {
		c.PendingByFunc = append(c.PendingByFunc[:i], c.PendingByFunc[i+1:]...)
	}
}

// readFinalizers fills Snapshot.Finalizers from the runtime's queues and the
// goroutines already read.
func (b *builder) readFinalizers() {
	q, err := b.t.Finalizers()
	if err != nil {
		b.warn("finalizer queue: %v", err)
	}
	f := &Finalizers{State: FinalizerUnknown}
	b.snap.Finalizers = f
	if q == nil {
		return
	}
	version := b.snap.Target.GoVersion
	if q.Fing == 0 {
		f.State = FinalizerNone
	} else if g := b.byAdr[q.Fing]; g != nil {
		f.Goroutine = g.ID
		f.State, f.Running = finalizerState(g, q.StatusOK && q.Status&target.FingRunningFinalizer != 0)
		if f.Running != nil && q.Running != nil && q.Running.Func.Func == f.Running.Func {
			f.Running.Type = q.Running.Type
		}
		if f.State == FinalizerBlocked {
			f.Waiting = g.Waiting
		}
	}
	f.Queued, f.Executed, f.HasCounts = q.Queued, q.Executed, q.HasCounts
	var cleanupsInFinq []FinalizerGroup
	for _, pg := range q.Pending {
		g := finalizerGroup(pg)
		if g.Cleanup {
			cleanupsInFinq = append(cleanupsInFinq, g)
			continue
		}
		f.PendingByFunc = append(f.PendingByFunc, g)
		f.Pending += g.Count
	}
	switch {
	case q.Cleanups != nil:
		c := &Cleanups{Queued: q.Cleanups.Queued, Executed: q.Cleanups.Executed, HasCounts: true}
		for _, pg := range q.Cleanups.Pending {
			c.PendingByFunc = append(c.PendingByFunc, finalizerGroup(pg))
			c.Pending += pg.Count
		}
		for _, g := range b.snap.Goroutines {
			if g.Role != RoleCleanup {
				continue
			}
			c.Goroutines = append(c.Goroutines, g.ID)
			st, call := finalizerState(g, g.TopUser >= 0)
			switch st {
			case FinalizerRunning:
				c.Running = append(c.Running, g.ID)
			case FinalizerBlocked:
				c.Blocked = append(c.Blocked, g.ID)
			}
			if q.Cleanups.IncludesRunning && call != nil {
				// Go 1.25: the entry of a cleanup being run is still set.
				c.uncount(call.Func)
			}
		}
		f.Cleanups = c
	case goVersionAtLeast(version, 1, 24):
		c := &Cleanups{OnFinalizerGoroutine: true, PendingByFunc: cleanupsInFinq}
		for _, g := range cleanupsInFinq {
			c.Pending += g.Count
		}
		f.Cleanups = c
	}
}

// finalizersFromStacks is what the goroutines alone tell about the
// finalizer machinery, for sources without target memory (dumps, a remote
// Delve server): the finalizer goroutine's state, the finalizer it runs and
// what it waits on; the queue is unknown.
func finalizersFromStacks(s *Snapshot) *Finalizers {
	f := &Finalizers{State: FinalizerNone, QueueUnknown: true}
	for _, g := range s.Goroutines {
		if g.Role != RoleFinalizer {
			continue
		}
		f.Goroutine = g.ID
		f.State, f.Running = finalizerState(g, false)
		if f.State == FinalizerBlocked {
			f.Waiting = g.Waiting
			f.BlockedOn = append([]Wait(nil), g.Waits...)
		}
		break
	}
	if f.Goroutine == 0 {
		// A dump may leave the idle finalizer goroutine out.
		f.State = FinalizerUnknown
	}
	return f
}

// linkFinalizers copies the finalizer goroutine's waits (linked by now)
// into Finalizers.BlockedOn.
func (b *builder) linkFinalizers() {
	f := b.snap.Finalizers
	if f == nil || f.State != FinalizerBlocked {
		return
	}
	if g := b.byID[f.Goroutine]; g != nil {
		f.BlockedOn = append([]Wait(nil), g.Waits...)
	}
}

// finalizerState says what a finalizer or cleanup goroutine does, and which
// function it runs: the frame called by the runtime's dispatch (reflectcall
// for finalizers, callCleanup for cleanups) under the goroutine's root.
func finalizerState(g *Goroutine, runningFlag bool) (FinalizerState, *FinalizerCall) {
	call := runningCall(g)
	switch {
	case call == nil && !runningFlag:
		if g.State == StateWaiting {
			return FinalizerIdle, nil
		}
		// Between finalizers, or picking up the queue.
		return FinalizerRunning, nil
	case g.State == StateWaiting:
		return FinalizerBlocked, call
	default:
		return FinalizerRunning, call
	}
}

// runningCall finds the finalizer function on a finalizer or cleanup
// goroutine's stack: the innermost-first frames end with the runtime's loop
// (runfinq/runFinalizers/runCleanups) and its call helpers; the first frame
// inward of those is the user's function.
func runningCall(g *Goroutine) *FinalizerCall {
	root := -1
	for i, fr := range g.Frames {
		switch fr.Func {
		case "runtime.runfinq", "runtime.runFinalizers", "runtime.runCleanups":
			root = i
		}
	}
	if root < 0 {
		return nil
	}
	cleanup := g.Role == RoleCleanup
	for i := root - 1; i >= 0; i-- {
		fr := g.Frames[i]
		if strings.HasPrefix(fr.Func, "runtime.") {
			// Go 1.24 queues a cleanup as a finalizer calling a closure
			// made in runtime.AddCleanup.
			if strings.HasPrefix(fr.Func, "runtime.AddCleanup") {
				cleanup = true
			}
			continue
		}
		return &FinalizerCall{Func: fr.Func, File: fr.File, Line: fr.Line, Cleanup: cleanup}
	}
	return nil
}

func finalizerGroup(g target.FinGroup) FinalizerGroup {
	return FinalizerGroup{Func: g.Func.Func, File: g.Func.File, Line: g.Func.Line, Type: g.Type, Cleanup: g.Cleanup, Count: g.Count}
}

// goVersionAtLeast compares a "go1.N.x" version string.
func goVersionAtLeast(v string, major, minor int) bool {
	v = strings.TrimPrefix(v, "go")
	var ma, mi int
	for i, part := range strings.SplitN(v, ".", 3) {
		n := 0
		for _, c := range part {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if i == 0 {
			ma = n
		} else if i == 1 {
			mi = n
		}
	}
	return ma > major || ma == major && mi >= minor
}
