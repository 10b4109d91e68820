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
	db := &dumpBuilder{s: s, d: d, kind: kind, res: map[string]*Resource{}, byID: map[int64]*Goroutine{},
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
	kind   SourceKind
	s      *Snapshot
	d      *dump.Dump
	res    map[string]*Resource
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
	g := &Goroutine{ID: dg.ID, Labels: dg.Labels, StackTruncated: dg.Elided || dg.Truncated, ParentID: dg.ParentID, TopUser: -1}
	if cs, ok := db.stacks[dg.Stack]; ok {
		g.Frames, g.TopUser = cs.frames, cs.topUser
	} else {
		fs := make([]Frame, len(dg.Stack.Frames))
		top := -1
		for i, f := range dg.Stack.Frames {
			fs[i] = Frame{Func: f.Func, File: f.File, Line: f.Line, Inlined: f.Inlined}
			if top < 0 && IsUserFunc(f.Func) {
				top = i
			}
		}
		db.stacks[dg.Stack] = cachedStack{frames: fs, topUser: top}
		g.Frames, g.TopUser = fs, top
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
	start := ""
	for i := len(g.Frames) - 1; i >= 0; i-- {
		if g.Frames[i].Func != "runtime.goexit" {
			start = g.Frames[i].Func
			break
		}
	}
	g.System = (isSystemStart(start) && !strings.HasPrefix(start, "runtime.gcenable")) || (len(g.Frames) > 0 && allRuntime(g.Frames))
	if strings.HasPrefix(start, "runtime.gcenable") || (dg.CreatedBy != nil && strings.HasPrefix(dg.CreatedBy.Func, "runtime.")) {
		g.System = true
	}
	switch {
	case hasFrame(g, "runtime.runfinq") || hasFrame(g, "runtime.runFinalizers"):
		g.Role = RoleFinalizer
	case hasFrame(g, "runtime.runCleanups"):
		g.Role = RoleCleanup
	}
	if g.Role != RoleNone && g.TopUser >= 0 {
		g.System = false
	}
	g.Verdict = initialVerdict(g)
	return g
}

func (db *dumpBuilder) resource(kind Kind, addr uint64) *Resource {
	id := ResourceID(kind, addr)
	r := db.res[id]
	if r == nil {
		r = &Resource{ID: id, Kind: kind, Addr: addr}
		db.res[id] = r
	}
	return r
}

func (db *dumpBuilder) addWait(g *Goroutine, r *Resource, op Op) {
	for _, w := range g.Waits {
		if w.Resource == r.ID {
			return
		}
	}
	g.Waits = append(g.Waits, Wait{Resource: r.ID, Op: op})
	r.Waiters = append(r.Waiters, g.ID)
}

// finish fills the resources' types and sorts them. The states (locked,
// counters, queue lengths) are in memory, which a dump does not have: they
// stay nil, and the report says unknown.
func (db *dumpBuilder) finish() {
	for _, r := range db.res {
		switch {
		case r.Type != "":
			// Named by the holder evidence: "main.Account.mu".
		case r.Kind == KindMutex:
			r.Type = "sync.Mutex"
		case r.Kind == KindRWMutex:
			r.Type = "sync.RWMutex"
		case r.Kind == KindWaitGroup:
			r.Type = "sync.WaitGroup"
		case r.Kind == KindCond:
			r.Type = "sync.Cond"
		case r.Kind == KindChan:
			r.Type = "chan"
		case r.Kind == KindSema:
			r.Type = "runtime semaphore"
		}
		sortIDs(r.Waiters)
		db.s.Resources = append(db.s.Resources, r)
	}
	rs := db.s.Resources
	sort.Slice(rs, func(i, j int) bool {
		a, c := rs[i], rs[j]
		if a.Kind != c.Kind {
			return a.Kind < c.Kind
		}
		return a.Addr < c.Addr
	})
	for _, g := range db.s.Goroutines {
		sort.Strings(g.Holds)
	}
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
