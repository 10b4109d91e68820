package inspect

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// builder assembles a Snapshot from what target reads.
type builder struct {
	t     *target.Target
	snap  *Snapshot
	gs    []*target.G
	byAdr map[uint64]*Goroutine
	byID  map[int64]*Goroutine
	raw   map[int64]*target.G // by id, where slots are not set (rawOf)
	// userFrames memoizes firstUserFrames per distinct stack.
	userFrames map[userFramesKey][]int
	resTable
	chans map[uint64]*target.Chan
	// progress is told how far the snapshot has got.
	progress func(Progress)
	// sudogs are the runtime's wait records seen while linking waiters;
	// reachability must not follow them (they point at every wait object).
	sudogs []uint64
	// queues indexes channels' wait queues by sudog (queueOp).
	queues map[*target.Chan]*queueIndex
	// frames finds functions in stacks, once per distinct stack.
	frames frameFinder
	// globalWords are the package variables' words by value, read when a
	// channel is first named (chanField).
	globalWords map[uint64]uint64
	buildOptions
}

// buildOptions are a session's settings for its snapshots.
type buildOptions struct {
	// keepFacts is whether the source analysis runs in this session: only
	// then are the memory facts its proof needs kept (recordCodeFacts; 11
	// MB at 100,000 blocked goroutines).
	keepFacts bool
	// deadline, when set, is when the leak proof's heap walk gives up: a
	// live target has then been stopped for budget, the session's pause
	// budget.
	deadline time.Time
	budget   time.Duration
}

func build(t *target.Target, info Target, src *sourceIndex, progress func(Progress), opts buildOptions) (*Snapshot, error) {
	b := &builder{
		t:            t,
		buildOptions: opts,
		progress:     progress,
		snap:         &Snapshot{Target: info, TakenAt: time.Now()},
		byAdr:        map[uint64]*Goroutine{},
		byID:         map[int64]*Goroutine{},
		raw:          map[int64]*target.G{},
		chans:        map[uint64]*target.Chan{},
		frames:       frameFinder{},
	}
	t.ClearCaches()
	defer t.HoldToWarmed()()
	phase := b.phases()
	b.progress(Progress{Phase: "reading goroutines"})
	gs, warnings, err := t.Goroutines()
	if err != nil {
		return nil, err
	}
	phase("goroutines")
	b.gs = gs
	// Sized up front: growing maps of 100,000 entries costs more than
	// filling them (rehashing, and fresh pages on a first snapshot).
	b.byAdr = make(map[uint64]*Goroutine, len(gs))
	b.byID = make(map[int64]*Goroutine, len(gs))
	// raw is not filled: rawOf finds a goroutine's by its slot.
	b.snap.Goroutines = make([]*Goroutine, 0, len(gs))
	b.snap.Warnings = append(b.snap.Warnings, warnings...)
	now, haveNow := t.Nanotime()
	stacks := stackCache{}
	var slab []Goroutine
	waiting := 0
	for i, rg := range gs {
		g := newGoroutine(rg, t, stacks, &slab)
		g.slot = int32(i + 1)
		if rg.Status == target.Gwaiting {
			waiting++
		}
		if haveNow && rg.WaitSince > 0 && rg.WaitSince < now {
			g.Waiting = time.Duration(now - rg.WaitSince)
		}
		b.byAdr[rg.Addr] = g
		b.byID[g.ID] = g
		b.snap.Goroutines = append(b.snap.Goroutines, g)
	}
	phase("model")
	n := len(gs)
	b.reserve(waiting / 2)
	b.progress(Progress{Phase: "linking waiters", Done: 0, Total: n})
	if err := b.semaphores(); err != nil {
		b.warn("semaphore table: %v", err)
	}
	b.channels()
	b.conds()
	// The wait records and channels are read (30 MB of cached chunks at
	// 100,000 channels); the phases up to the finalizers read a few
	// mutexes and finalizer entries, through a cache of their own.
	b.t.DropSmallReads()
	phase("waits")
	// The bulk of the reachability proof runs from here, beside the
	// holder and cycle analysis when the target allows (marking.go).
	mark := b.startMarking()
	phase("marking setup")
	b.progress(Progress{Phase: "finding lock holders", Done: n / 3, Total: n})
	b.holders()
	phase("defer holders")
	src.mu.Lock()
	b.sourceHolders(src)
	src.mu.Unlock()
	phase("source holders")
	b.finish()
	phase("resource states")
	b.referenceHolders()
	sortHolds(b.snap)
	phase("reference holders")
	b.nameResources()
	phase("resource names")
	b.readFinalizers()
	// The runtime objects are read: what is left reads only spans and
	// stacks.
	b.t.DropSmallReads()
	phase("finalizers")
	a := analyzeWith(b.snap, b.foreverWaits())
	phase("cycles")
	b.progress(Progress{Phase: "proving what can still run", Done: 2 * n / 3, Total: n})
	b.leaks(a, mark)
	phase("reachability")
	b.linkFinalizers()
	a.finalizerFindings()
	a.chainFindings()
	dropCoveredOrphans(b.snap)
	sortFindings(b.snap.Findings)
	groupFindings(b.snap)
	b.progress(Progress{Phase: "done", Done: n, Total: n})
	writeMemProfile()
	return b.snap, nil
}

// writeMemProfile writes what is in use once a snapshot is built (the
// snapshot, the caches kept for the next one) to $HANGTUI_MEMPROFILE, for
// performance work.
func writeMemProfile() {
	path := os.Getenv("HANGTUI_MEMPROFILE")
	if path == "" {
		return
	}
	if f, err := os.Create(path); err == nil {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
}

// localFile is path when it exists on this machine (a live target's
// source, recorded at build time), "" otherwise.
func localFile(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// model is the model of b.gs[i]: the two lists are built in the same order
// (a slice lookup instead of a map lookup per goroutine per phase).
func (b *builder) model(i int) *Goroutine { return b.snap.Goroutines[i] }

// rawOf is g's goroutine as read from the target (nil if none).
func (b *builder) rawOf(g *Goroutine) *target.G {
	if k := int(g.slot) - 1; k >= 0 && k < len(b.gs) && b.gs[k].ID == g.ID {
		return b.gs[k]
	}
	return b.raw[g.ID]
}

// phases returns a function that records how long each phase took; with
// HANGTUI_TIMINGS set they are printed to stderr (for performance work).
func (b *builder) phases() func(string) {
	if os.Getenv("HANGTUI_TIMINGS") == "" {
		return func(string) {}
	}
	// Wall time, and the CPU time of the whole process (all goroutines:
	// marking runs beside the phases after "marking setup"), which other
	// load on the machine distorts less.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
			return 0
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	last, lastCPU := time.Now(), cpu()
	return func(name string) {
		now, nowCPU := time.Now(), cpu()
		fmt.Fprintf(os.Stderr, "hangtui: %-15s %v (cpu %v)\n", name, now.Sub(last).Round(time.Microsecond), (nowCPU - lastCPU).Round(time.Microsecond))
		last, lastCPU = now, nowCPU
	}
}

func (b *builder) warn(format string, args ...any) {
	b.snap.Warnings = append(b.snap.Warnings, fmt.Sprintf(format, args...))
}

// stackCache converts each distinct stack once: the target reader shares one
// frame slice between goroutines with identical stacks, and so does the
// model (Frames must be treated as read-only).
type stackCache map[*target.Frame]cachedStack

func (c stackCache) convert(in []target.Frame) cachedStack {
	if len(in) == 0 {
		return newCachedStack(nil)
	}
	if cs, ok := c[&in[0]]; ok && len(cs.frames) == len(in) {
		return cs
	}
	cs := newCachedStack(modelFrames(in))
	c[&in[0]] = cs
	return cs
}

// modelFrames views the reader's frames as the model's, without a copy: a
// 100,000-goroutine process with deep, varied stacks has millions of them.
// The two struct types are identical (the conversion below does not compile
// otherwise), so the slice can be reinterpreted.
func modelFrames(in []target.Frame) []Frame {
	_ = Frame(target.Frame{}) // identical underlying types, checked by the compiler
	return unsafe.Slice((*Frame)(unsafe.Pointer(unsafe.SliceData(in))), len(in))
}

func newGoroutine(rg *target.G, t *target.Target, stacks stackCache, slab *[]Goroutine) *Goroutine {
	if len(*slab) == 0 {
		*slab = make([]Goroutine, 256) // fewer, larger allocations
	}
	g := &(*slab)[0]
	*slab = (*slab)[1:]
	g.ID = rg.ID
	g.WaitReason = rg.WaitReason
	g.ParentID = rg.ParentID
	g.Labels = rg.Labels
	g.StackTruncated = rg.Truncated
	switch rg.Status {
	case target.Grunning:
		g.State = StateRunning
	case target.Grunnable:
		g.State = StateRunnable
	case target.Gsyscall:
		g.State = StateSyscall
	case target.Gpreempted:
		g.State = StatePreempted
	case target.Gcopystack:
		g.State = StateRunning
	default:
		g.State = StateWaiting
	}
	if rg.OnThread && g.State == StateWaiting {
		// Between park and schedule: treat as running.
		g.State = StateRunning
	}
	if loc, ok := t.Location(rg.GoPC); ok && rg.GoPC != 0 {
		g.CreatedBy = &Frame{Func: loc.Func, File: loc.File, Line: loc.Line, PC: loc.PC}
	}
	classify(g, stacks.convert(rg.Frames), rg.StartFunc, true, "")
	return g
}

func hasFrame(g *Goroutine, fn string) bool {
	for _, f := range g.Frames {
		if f.Func == fn {
			return true
		}
	}
	return false
}

// frameFinder answers "which frame of this stack runs fn" once per distinct
// stack: goroutines with identical stacks share one Frames slice.
type frameFinder map[frameFinderKey]int

type frameFinderKey struct {
	stack *Frame
	n     int
	fn    string
}

// index is the first frame of frames running fn, or -1.
func (ff frameFinder) index(frames []Frame, fn string) int {
	if len(frames) == 0 {
		return -1
	}
	k := frameFinderKey{&frames[0], len(frames), fn}
	if i, ok := ff[k]; ok {
		return i
	}
	i := -1
	for j, f := range frames {
		if f.Func == fn {
			i = j
			break
		}
	}
	ff[k] = i
	return i
}

// isSystemStart mirrors the runtime's isSystemGoroutine: goroutines started
// in package runtime, except runtime.main and the signal handler.
func isSystemStart(start string) bool {
	switch start {
	case "", "runtime.main", "runtime.handleAsyncEvent":
		return false
	}
	return strings.HasPrefix(start, "runtime.")
}

// idleReasons are the wait reasons of runtime goroutines parked in their
// idle loops.
var idleReasons = map[string]bool{
	"finalizer wait": true, "cleanup wait": true, "force gc (idle)": true,
	"GC worker (idle)": true, "GC sweep wait": true, "GC scavenge wait": true,
	"GOMAXPROCS updater (idle)": true, "trace reader (blocked)": true,
	"wait for GC cycle": true, "GC weak to strong wait": true,
}

func initialVerdict(g *Goroutine) Verdict {
	switch g.State {
	case StateRunning:
		return VerdictRunning
	case StateRunnable, StatePreempted:
		return VerdictRunnable
	case StateSyscall:
		return VerdictSyscall
	}
	switch {
	case g.WaitReason == "sleep":
		return VerdictSleeping
	case idleReasons[g.WaitReason] && (g.System || g.Role != RoleNone):
		return VerdictIdle
	case g.System && g.Role == RoleNone && g.TopUser < 0:
		// A runtime goroutine parked in runtime code (the scavenger's
		// sleep, the GC's helpers): part of the runtime's own idle loop.
		return VerdictIdle
	}
	return VerdictBlocked
}

// IsUserFunc reports whether a function belongs to the program rather than
// the Go runtime or standard library: its package path's first element
// contains a dot (a module path), or it is package main.
func IsUserFunc(fn string) bool {
	if fn == "" || strings.HasPrefix(fn, "?") {
		return false
	}
	pkg := FuncPackage(fn)
	if pkg == "main" || strings.HasPrefix(pkg, "main.") {
		return true
	}
	first, _, _ := strings.Cut(pkg, "/")
	return strings.Contains(first, ".")
}

// FuncPackage returns the package path of a qualified function name:
// "net/http.(*Server).Serve" → "net/http".
func FuncPackage(fn string) string {
	slash := strings.LastIndex(fn, "/")
	rest := fn[slash+1:]
	if dot := strings.Index(rest, "."); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

// semaphores links goroutines parked on runtime semaphores (Mutex, RWMutex,
// WaitGroup and bare semaphores) to the object that contains the semaphore.
func (b *builder) semaphores() error {
	waiters, err := b.t.SemaWaiters()
	offs := targetSyncOffsets(b.t)
	for _, w := range waiters {
		b.sudogs = append(b.sudogs, w.Sudog)
		g := b.byAdr[w.G]
		if g == nil {
			continue
		}
		kind, base, op := offs.classifySema(g.WaitReason, g.Frames, b.frames, w.Sema)
		b.addWait(g, b.resource(kind, base), op)
	}
	return err
}

// channels links goroutines parked in channel operations and selects to the
// channels, from g.waiting and the channels' own wait queues.
func (b *builder) channels() {
	for i, rg := range b.gs {
		g := b.model(i)
		if g.State != StateWaiting || rg.Waiting == 0 || !isChanReason(g.WaitReason) {
			continue
		}
		cws, err := b.t.ChanWaits(rg)
		if err != nil {
			b.warn("channel waits: %v", err)
		}
		for _, cw := range cws {
			b.sudogs = append(b.sudogs, cw.Sudog)
			if cw.Chan == 0 {
				continue
			}
			c := b.readChan(cw.Chan)
			if c == nil {
				continue
			}
			op, queued := b.queueOp(c, cw.Sudog)
			if !queued && strings.HasPrefix(g.WaitReason, "chan send") {
				op = OpSend
			}
			b.addWait(g, b.resource(KindChan, cw.Chan), op)
		}
	}
}

func isChanReason(r string) bool {
	return strings.HasPrefix(r, "chan ") || strings.HasPrefix(r, "select")
}

// queueOp says which of c's wait queues holds sudog (the send queue first),
// from sorted copies of the queues made once per channel: a channel may
// queue 100,000 goroutines.
func (b *builder) queueOp(c *target.Chan, sudog uint64) (Op, bool) {
	if b.queues == nil {
		b.queues = map[*target.Chan]*queueIndex{}
	}
	idx := b.queues[c]
	if idx == nil {
		idx = &queueIndex{send: sortedSudogs(c.SendQ), recv: sortedSudogs(c.RecvQ)}
		b.queues[c] = idx
	}
	switch {
	case hasSudog(idx.send, sudog):
		return OpSend, true
	case hasSudog(idx.recv, sudog):
		return OpRecv, true
	}
	return OpRecv, false
}

// queueIndex holds a channel's queued sudogs, sorted.
type queueIndex struct{ send, recv []uint64 }

func sortedSudogs(q []target.QueueEntry) []uint64 {
	out := make([]uint64, len(q))
	for i, e := range q {
		out[i] = e.Sudog
	}
	slices.Sort(out)
	return out
}

func hasSudog(sorted []uint64, s uint64) bool {
	_, ok := slices.BinarySearch(sorted, s)
	return ok
}

func (b *builder) readChan(addr uint64) *target.Chan {
	if c, ok := b.chans[addr]; ok {
		return c
	}
	c, err := b.t.ReadChan(addr)
	if err != nil {
		b.warn("channel %#x: %v", addr, err)
	}
	b.chans[addr] = c
	return c
}

// conds links goroutines in sync.Cond.Wait to their Cond. The runtime keeps
// the waiter's sudog only on the Cond's notify list, so the Cond is found
// from the Wait frame's receiver and then confirmed on that list.
func (b *builder) conds() {
	offs := targetSyncOffsets(b.t)
	condOff, ok := offs.condNotify, offs.condOK
	var reqs []target.VarReq
	for i, rg := range b.gs {
		if g := b.model(i); g.State == StateWaiting && g.WaitReason == "sync.Cond.Wait" {
			for _, v := range condVars {
				if i := b.frames.index(g.Frames, v[0]); i >= 0 {
					reqs = append(reqs, target.VarReq{G: rg, Frame: i, Expr: v[1]})
				}
			}
		}
	}
	b.t.PrefetchVars(reqs)
	for i, rg := range b.gs {
		g := b.model(i)
		if g.State != StateWaiting || g.WaitReason != "sync.Cond.Wait" {
			continue
		}
		var addr uint64
		if i := b.frames.index(g.Frames, "sync.(*Cond).Wait"); i >= 0 {
			addr, _ = b.t.PointerVar(rg, i, "c")
		}
		if addr == 0 && ok {
			for _, fn := range []string{"sync.runtime_notifyListWait", "runtime.notifyListWait"} {
				if i := b.frames.index(g.Frames, fn); i >= 0 {
					if l, err := b.t.PointerVar(rg, i, "l"); err == nil && l != 0 {
						addr = l - condOff
						break
					}
				}
			}
		}
		if addr == 0 {
			b.warn("goroutine %d waits on a sync.Cond whose address optimized code did not keep", g.ID)
			continue
		}
		b.addWait(g, b.resource(KindCond, addr), OpWait)
	}
}

// condVars are the frames and variables conds reads a Cond's address from.
var condVars = [][2]string{{"sync.(*Cond).Wait", "c"}, {"sync.runtime_notifyListWait", "l"}, {"runtime.notifyListWait", "l"}}

// finish reads each resource's state, fills waiter lists and sorts.
func (b *builder) finish() {
	idOf := func(gaddr uint64) (int64, bool) {
		if g := b.byAdr[gaddr]; g != nil {
			return g.ID, true
		}
		return 0, false
	}
	b.resTable.finish(b.snap, func(r *Resource) {
		switch r.Kind {
		case KindMutex:
			if w, err := b.t.ReadMutex(r.Addr); err == nil {
				r.Mutex = &MutexState{Locked: w.Locked, Woken: w.Woken, Starving: w.Starving, Waiters: w.Waiters}
			}
		case KindRWMutex:
			if w, err := b.t.ReadRWMutex(r.Addr); err == nil {
				r.RWMutex = decodeRW(w, r, b)
			}
		case KindWaitGroup:
			if c, n, err := b.t.ReadWaitGroup(r.Addr); err == nil {
				r.WaitGroup = &WaitGroupState{Counter: c, Waiters: n}
			}
		case KindCond:
			n := len(r.Waiters)
			if gs, err := b.t.ReadCondWaiters(r.Addr); err == nil {
				n = len(gs)
			}
			r.Cond = &CondState{Waiters: n}
		case KindSema:
			if v, err := b.t.ReadSema(r.Addr); err == nil {
				r.Sema = &SemaState{Value: v}
			}
		case KindChan:
			c := b.chans[r.Addr]
			if c == nil {
				break
			}
			r.Type = b.chanType(c.ElemType)
			st := &ChanState{ElemType: c.ElemType, Len: c.Len, Cap: c.Cap, Closed: c.Closed}
			for _, e := range c.SendQ {
				if id, ok := idOf(e.G); ok {
					st.Senders = append(st.Senders, id)
				}
			}
			for _, e := range c.RecvQ {
				if id, ok := idOf(e.G); ok {
					st.Receivers = append(st.Receivers, id)
				}
			}
			sortIDs(st.Senders)
			sortIDs(st.Receivers)
			r.Chan = st
		}
	})
	sort.Strings(b.snap.Warnings)
}

func decodeRW(w target.RWMutexWord, r *Resource, b *builder) *RWMutexState {
	st := &RWMutexState{}
	const maxReaders = 1 << 30
	rc := w.ReaderCount
	if rc < 0 {
		// A writer has announced itself: readerCount was lowered by
		// rwmutexMaxReaders.
		st.WriterPending = true
		rc += maxReaders
	}
	for _, id := range r.Waiters {
		g := b.byID[id]
		for _, wt := range g.Waits {
			if wt.Resource != r.ID {
				continue
			}
			if wt.Op == OpRLock {
				st.ReadersWaiting++
			} else {
				st.WritersWaiting++
			}
		}
	}
	// readerCount counts readers holding the lock plus readers waiting for
	// the writer; readerWait is what a pending writer still waits for.
	if st.WriterPending {
		st.Readers = int(w.ReaderWait)
		if st.Readers == 0 && w.W.Locked {
			st.WriterHeld = true
		}
	} else {
		st.Readers = int(rc)
	}
	return st
}

// sortIDs sorts goroutine ids (without sort.Slice's allocation: it is
// called per resource and per chain).
func sortIDs(ids []int64) {
	if len(ids) > 1 {
		slices.Sort(ids)
	}
}

// ShortFile keeps the last two path elements: "store/store.go".
func ShortFile(p string) string {
	n := 0
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			n++
			if n == 2 {
				return p[i+1:]
			}
		}
	}
	return p
}
