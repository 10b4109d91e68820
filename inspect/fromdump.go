package inspect

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect/dump"
)

// SourceDump is a text goroutine dump (SIGQUIT, go test -timeout, pprof
// debug=2): no memory, so only what the traceback prints is known.
const SourceDump SourceKind = "dump"

// ErrBadDump: the input is not a goroutine dump hangtui can read.
const ErrBadDump ErrorKind = "bad-dump"

// DumpOptions tune ReadDump.
type DumpOptions struct {
	// Name is the file the dump came from ("-" for standard input), shown
	// in the report as the target's executable column.
	Name string
	// MaxBytes bounds the input (0: dump.DefaultMaxBytes).
	MaxBytes int64
	// SourceRoot is where to look for source files whose recorded path
	// does not exist here (a dump from a CI machine): the longest suffix of
	// the recorded path that exists under SourceRoot is used. Empty: the
	// current directory.
	SourceRoot string
	// OnlyUnderRoot ignores recorded source paths that exist here and
	// looks only under SourceRoot (hermetic tests and fuzzing).
	OnlyUnderRoot bool
}

// ReadDump parses a text goroutine dump and analyses it: waiters are linked
// to the lock, channel, WaitGroup or Cond whose address the traceback
// prints, lock holders are named where the stacks and the source on disk
// give evidence, and a deadlock is only claimed when both the waits and
// the holders of a cycle are evidenced (or the runtime itself said all
// goroutines are asleep). Everything else that is parked stays "blocked".
func ReadDump(r io.Reader, opts DumpOptions) (*Snapshot, error) {
	d, err := dump.Parse(r, dump.Options{MaxBytes: opts.MaxBytes})
	if err != nil {
		name := opts.Name
		if name == "" || name == "-" {
			name = "standard input"
		}
		e := &Error{Kind: ErrBadDump, Msg: fmt.Sprintf("cannot read %s as a goroutine dump: %v", name, err), Err: err}
		switch {
		case errors.Is(err, dump.ErrBinary):
			e.Hint = "for a core file use --core CORE --exe EXE"
		case errors.Is(err, dump.ErrNoDump):
			e.Hint = "give the output of SIGQUIT / GOTRACEBACK=all, a go test -timeout panic, or /debug/pprof/goroutine?debug=2"
		case errors.Is(err, dump.ErrTooLarge):
			e.Hint = "cut the file to the dump itself"
		}
		return nil, e
	}
	return SnapshotFromDump(d, opts), nil
}

// SnapshotFromDump builds the Snapshot of a parsed dump and runs the
// analysis that needs no memory.
func SnapshotFromDump(d *dump.Dump, opts DumpOptions) *Snapshot {
	return fromDump(d, opts, SourceDump)
}

func fromDump(d *dump.Dump, opts DumpOptions, kind SourceKind) *Snapshot {
	s := &Snapshot{
		Target:  Target{Exe: opts.Name, GoVersion: d.GoVersion, Source: kind},
		TakenAt: time.Now(),
	}
	db := &dumpBuilder{s: s, d: d, kind: kind, byID: map[int64]*Goroutine{},
		stacks: map[*dump.Stack]cachedStack{}, raw: map[int64]*dump.Goroutine{}}
	for _, dg := range d.Goroutines {
		g := db.goroutine(dg)
		s.Goroutines = append(s.Goroutines, g)
		db.byID[g.ID] = g
		db.raw[g.ID] = dg
	}
	sortGoroutines(s.Goroutines)
	db.waits()
	si := newSourceIndex()
	h := db.holders(si, opts.SourceRoot, opts.OnlyUnderRoot)
	db.finish()
	a := analyze(s)
	db.runtimeVerdicts(a)
	s.Finalizers = finalizersFromStacks(s)
	a.finalizerFindings()
	a.chainFindings()
	explainOrphans(s, si, h.local)
	db.notes()
	sortFindings(s.Findings)
	groupFindings(s)
	return s
}

type dumpBuilder struct {
	kind SourceKind
	s    *Snapshot
	d    *dump.Dump
	resTable
	byID   map[int64]*Goroutine
	raw    map[int64]*dump.Goroutine
	stacks map[*dump.Stack]cachedStack
	// unknownWaits counts parked goroutines whose wait object the dump
	// does not show (selects, optimized-away arguments).
	unknownWaits int
	// noSource counts lock holders that could not be looked for because
	// the source files are not on disk.
	noSource map[string]bool
}

func sortGoroutines(gs []*Goroutine) {
	for i := 1; i < len(gs); i++ {
		if gs[i-1].ID > gs[i].ID {
			sortByID(gs)
			return
		}
	}
}

func sortByID(gs []*Goroutine) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
}

func (db *dumpBuilder) goroutine(dg *dump.Goroutine) *Goroutine {
	g := &Goroutine{ID: dg.ID, Labels: dg.Labels, StackTruncated: dg.Elided || dg.Truncated, ParentID: dg.ParentID}
	cs, ok := db.stacks[dg.Stack]
	if !ok {
		fs := make([]Frame, len(dg.Stack.Frames))
		for i, f := range dg.Stack.Frames {
			fs[i] = Frame{Func: f.Func, File: f.File, Line: f.Line, Inlined: f.Inlined}
		}
		cs = newCachedStack(fs)
		db.stacks[dg.Stack] = cs
	}
	if dg.CreatedBy != nil {
		cb := Frame{Func: dg.CreatedBy.Func, File: dg.CreatedBy.File, Line: dg.CreatedBy.Line}
		g.CreatedBy = &cb
	}
	switch dg.Status {
	case "running", "copystack":
		g.State = StateRunning
	case "runnable":
		g.State = StateRunnable
	case "syscall":
		g.State = StateSyscall
	case "preempted":
		g.State = StatePreempted
	case "waiting", "idle", "dead", "moribund", "enqueue", "???":
		g.State = StateWaiting
	default:
		g.State = StateWaiting
		g.WaitReason = dg.Status
	}
	if dg.Minutes > 0 {
		g.Waiting = time.Duration(dg.Minutes) * time.Minute
	}
	// A traceback prints no start PC: the outermost frame stands for it.
	start := ""
	for i := len(cs.frames) - 1; i >= 0; i-- {
		if cs.frames[i].Func != "runtime.goexit" {
			start = cs.frames[i].Func
			break
		}
	}
	creator := ""
	if dg.CreatedBy != nil {
		creator = dg.CreatedBy.Func
	}
	classify(g, cs, start, false, creator)
	return g
}

// finish lists the resources. The states (locked, counters, queue
// lengths) are in memory, which a dump does not have: they stay nil, and
// the report says unknown.
func (db *dumpBuilder) finish() {
	db.resTable.finish(db.s, nil)
	sortHolds(db.s)
}

// runtimeVerdicts applies what the runtime itself proved and printed:
// "all goroutines are asleep - deadlock!" (no goroutine can run), and the
// "(leaked)" mark of Go's goroutine leak detector.
func (db *dumpBuilder) runtimeVerdicts(a *analysis) {
	var leaked, asleep []int64
	for _, g := range db.s.Goroutines {
		if g.Verdict.Stuck() {
			continue
		}
		switch {
		case db.raw[g.ID].Leaked:
			g.Verdict = VerdictLeaked
			g.Why = "the Go runtime's goroutine leak detector marked it (leaked): nothing can ever wake it"
			leaked = append(leaked, g.ID)
		case db.d.AllAsleep && g.State == StateWaiting && !g.System && g.Verdict != VerdictIdle:
			g.Verdict = VerdictDeadlocked
			g.Why = "the Go runtime reported \"all goroutines are asleep - deadlock!\": no goroutine could run"
			asleep = append(asleep, g.ID)
		}
	}
	if len(asleep) > 0 {
		f := Finding{Severity: SeverityError, Kind: FindingDeadlock, Goroutines: asleep,
			Title:   fmt.Sprintf("Deadlock: the Go runtime reported all goroutines are asleep (%d parked)", len(asleep)),
			Details: []string{"fatal error: all goroutines are asleep - deadlock!"}}
		for _, id := range asleep {
			g := a.gs[id]
			f.Details = append(f.Details, fmt.Sprintf("goroutine %d%s [%s]", id, where(g), g.WaitReason))
		}
		db.s.Findings = append(db.s.Findings, f)
	}
	if len(leaked) > 0 {
		f := Finding{Severity: SeverityError, Kind: FindingLeak, Goroutines: leaked,
			Title: fmt.Sprintf("%d goroutine(s) marked (leaked) by the Go runtime's leak detector", len(leaked))}
		for _, id := range leaked {
			g := a.gs[id]
			f.Details = append(f.Details, fmt.Sprintf("goroutine %d%s [%s]", id, where(g), g.WaitReason))
		}
		db.s.Findings = append(db.s.Findings, f)
	}
}

// notes says, as warnings, what a dump cannot tell.
func (db *dumpBuilder) notes() {
	w := &db.s.Warnings
	from := "a text dump"
	if db.kind == SourceRemote {
		from = "a Delve server's goroutines and stacks"
	}
	*w = append(*w, "degraded: read from "+from+", not memory: lock and channel states, select cases, deferred calls and the reachability proof of leaks are not available; waits without evidence stay \"blocked\"")
	if db.d.Dumps > 1 {
		*w = append(*w, fmt.Sprintf("the input holds %d goroutine dumps; only the first was read", db.d.Dumps))
	}
	if db.d.Truncated {
		*w = append(*w, "the dump is truncated: the last goroutine's stack is incomplete, and goroutines after it are missing")
	}
	if db.unknownWaits > 0 {
		*w = append(*w, fmt.Sprintf("%d parked goroutine(s) wait on something whose address the dump does not show (selects, optimized-away arguments)", db.unknownWaits))
	}
	if n := len(db.noSource); n > 0 {
		*w = append(*w, fmt.Sprintf("lock holders unknown where source is not on disk (%d file(s), e.g. %s): run hangtui in the checkout that built the program", n, firstKey(db.noSource)))
	}
	if len(db.d.TimedOut) > 0 {
		*w = append(*w, "go test -timeout fired while running: "+strings.Join(db.d.TimedOut, ", "))
	}
	for _, h := range db.d.Header {
		if strings.HasPrefix(h, "panic: ") || strings.HasPrefix(h, "fatal error: ") {
			*w = append(*w, "dump printed after: "+h)
		}
	}
	sort.Strings(*w)
}

func firstKey(m map[string]bool) string {
	keys := sortedKeys(m)
	return keys[0]
}
