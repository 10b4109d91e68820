package report

import "github.com/hangtui/hangtui/inspect"

// Finalizers is the finalizer goroutine, its queue and the cleanups. Counts
// that the target's runtime does not keep are null, never estimated.
type Finalizers struct {
	// Goroutine is the finalizer goroutine's id, null when the process has
	// none (it never registered a finalizer).
	Goroutine *int64 `json:"goroutine"`
	// State is none, idle, running or blocked; deadlocked or leaked when the
	// finalizer goroutine provably never returns; unknown if unreadable.
	State string `json:"state"`
	// Running is the finalizer being run (running or blocked), else null.
	Running *FinalizerCall `json:"running"`
	// WaitSeconds: how long it has been parked inside the finalizer, as
	// recorded by the runtime (a lower bound); null when not recorded.
	WaitSeconds *float64 `json:"wait_seconds"`
	// BlockedOn lists what the finalizer goroutine waits on.
	BlockedOn []Wait `json:"blocked_on"`
	// Pending is how many finalizers are queued and not started; null when
	// the queue could not be read (dumps, a remote Delve server).
	Pending *int `json:"pending"`
	// PendingByFunc groups them by function and object type.
	PendingByFunc []FinalizerGroup `json:"pending_by_func"`
	// Queued and Executed are the runtime's monotonic counters (Go 1.25+),
	// null on older runtimes.
	Queued   *uint64 `json:"queued"`
	Executed *uint64 `json:"executed"`
	// Cleanups is runtime.AddCleanup's state (Go 1.24+), null before.
	Cleanups *Cleanups `json:"cleanups"`
}

// FinalizerCall is the finalizer being run.
type FinalizerCall struct {
	Func    string `json:"func"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Type    string `json:"type,omitempty"`
	Cleanup bool   `json:"cleanup,omitempty"`
}

// FinalizerGroup counts queued finalizers or cleanups of one function (and
// object type); file and line are where the function is declared.
type FinalizerGroup struct {
	Func    string `json:"func"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Type    string `json:"type,omitempty"`
	Cleanup bool   `json:"cleanup,omitempty"`
	Count   int    `json:"count"`
}

// Cleanups is runtime.AddCleanup's state.
type Cleanups struct {
	// OnFinalizerGoroutine: Go 1.24 runs cleanups on the finalizer goroutine
	// (its pending cleanups are counted here, not in finalizers.pending).
	OnFinalizerGoroutine bool             `json:"on_finalizer_goroutine"`
	Goroutines           []int64          `json:"goroutines"`
	Running              []int64          `json:"running"`
	Blocked              []int64          `json:"blocked"`
	Pending              int              `json:"pending"`
	PendingByFunc        []FinalizerGroup `json:"pending_by_func"`
	Queued               *uint64          `json:"queued"`
	Executed             *uint64          `json:"executed"`
}

func finalizersDoc(s *inspect.Snapshot) *Finalizers {
	f := s.Finalizers
	if f == nil {
		return &Finalizers{State: string(inspect.FinalizerUnknown), BlockedOn: []Wait{}, PendingByFunc: []FinalizerGroup{}}
	}
	d := &Finalizers{
		State:         string(f.State),
		BlockedOn:     []Wait{},
		PendingByFunc: groupsDoc(f.PendingByFunc),
	}
	if !f.QueueUnknown {
		n := f.Pending
		d.Pending = &n
	}
	if f.Goroutine != 0 {
		id := f.Goroutine
		d.Goroutine = &id
		for _, g := range s.Goroutines {
			if g.ID == id && g.Verdict.Stuck() {
				d.State = string(g.Verdict)
			}
		}
	}
	if c := f.Running; c != nil {
		d.Running = &FinalizerCall{Func: c.Func, File: c.File, Line: c.Line, Type: c.Type, Cleanup: c.Cleanup}
	}
	if f.Waiting > 0 {
		w := f.Waiting.Seconds()
		d.WaitSeconds = &w
	}
	for _, w := range f.BlockedOn {
		d.BlockedOn = append(d.BlockedOn, Wait{Resource: w.Resource, Op: string(w.Op)})
	}
	if f.HasCounts {
		d.Queued, d.Executed = u64(f.Queued), u64(f.Executed)
	}
	if c := f.Cleanups; c != nil {
		d.Cleanups = &Cleanups{
			OnFinalizerGoroutine: c.OnFinalizerGoroutine,
			Goroutines:           nonNilIDs(c.Goroutines),
			Running:              nonNilIDs(c.Running),
			Blocked:              nonNilIDs(c.Blocked),
			Pending:              c.Pending,
			PendingByFunc:        groupsDoc(c.PendingByFunc),
		}
		if c.HasCounts {
			d.Cleanups.Queued, d.Cleanups.Executed = u64(c.Queued), u64(c.Executed)
		}
	}
	return d
}

func groupsDoc(gs []inspect.FinalizerGroup) []FinalizerGroup {
	out := []FinalizerGroup{}
	for _, g := range gs {
		out = append(out, FinalizerGroup{Func: g.Func, File: g.File, Line: g.Line, Type: g.Type, Cleanup: g.Cleanup, Count: g.Count})
	}
	return out
}

func u64(v uint64) *uint64 { return &v }
