package inspect

import (
	"errors"
	"fmt"
	"os"
	rdebug "runtime/debug"
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// marking is the first and largest part of the reachability proof (leaks):
// marking everything reachable from what can run whatever anyone waits for
// — globals, runtime timers, thread registers, and the stacks of goroutines
// not parked on something hangtui reasons about. It only needs the waits,
// so it starts right after them and, for a live process, runs on a
// goroutine of its own (reads with process_vm_readv, never Delve) while
// the session goroutine finds lock holders and cycles. What it needs from
// Delve (thread registers, deferred closures, finalizer roots) is read on
// the session goroutine before it starts.
type marking struct {
	b          *builder
	h          *target.Heap
	live       map[int64]bool
	candidates []*Goroutine
	globals    [][2]uint64
	// finalizerRoots: the finalizer/cleanup roots have been marked.
	finalizerRoots bool
	// settle lists, per candidate, the heap objects it waits on that
	// memory alone decides (not locks: their waiters wait for holders);
	// nil when some candidate has none. Once each candidate has one of
	// them reached, every candidate can be woken and the bulk marking
	// ends (settled). Read on the session goroutine before it starts.
	settle [][]uint64
	done   chan struct{}
	err    error // the analysis cannot be done: why
}

// liveRoots is what marking a live goroutine needs, read beforehand.
type liveRoots struct {
	lo, hi    uint64
	g         *target.G // its kept stack words, when wordsOK
	wordsOK   bool
	closures  []uint64
	finalizer []uint64 // finalizer and cleanup roots, for the first such goroutine
}

func (b *builder) startMarking() *marking {
	m := &marking{b: b, live: make(map[int64]bool, len(b.snap.Goroutines)), done: make(chan struct{})}
	debug := os.Getenv("HANGTUI_DEBUG_REACH") != ""
	h, private, err := b.t.NewPrivateHeap()
	if err == nil && (!private || debug) {
		h, err = b.t.NewHeap()
		private = false
	}
	if err != nil {
		m.err = fmt.Errorf("leak analysis skipped: %v", err)
		close(m.done)
		return m
	}
	m.h = h
	h.Deadline = b.deadline
	if debug {
		h.Parent = map[uint64]uint64{}
	}
	// Runtime bookkeeping that points at every waiter's object.
	allg := b.t.AllGAddrs()
	ps, timers := b.t.PTimers()
	timers = liveTimers(b.t, timers) // roots.go
	excl := make([]uint64, 0, len(allg)+len(ps)+len(b.sudogs)+64)
	excl = append(excl, allg...)
	excl = append(excl, ps...)
	excl = append(excl, b.sudogs...)
	for _, c := range b.chans {
		if c == nil {
			continue
		}
		for _, e := range c.RecvQ {
			excl = append(excl, e.Sudog)
		}
		for _, e := range c.SendQ {
			excl = append(excl, e.Sudog)
		}
	}
	excl = append(excl, b.t.MLinks()...)
	globals, err := b.t.Globals()
	if err != nil {
		m.err = fmt.Errorf("leak analysis skipped: %v", err)
		close(m.done)
		return m
	}
	m.globals = globals
	rootRanges := b.rootGlobals(globals)
	masks := b.t.GlobalMasks()

	anyRunning := false
	for _, g := range b.snap.Goroutines {
		switch {
		case g.Verdict.Stuck():
		case b.neverWakes(g) != "" && g.Role == RoleNone:
			// Parked for good (forever.go): it never runs again, so
			// its stack is no root; it is no candidate either. (A
			// finalizer or cleanup goroutine parked for good stays
			// live: the finalizer and cleanup roots are marked with
			// the first live one, and Go 1.25+ may start another
			// cleanup goroutine.)
		case b.analyzable(g):
			m.candidates = append(m.candidates, g)
		default:
			m.live[g.ID] = true
			anyRunning = anyRunning || g.State == StateRunning || g.State == StateSyscall
		}
	}
	m.settle = b.settleAddrs(h, m.candidates, globals)
	var regs []uint64
	if anyRunning {
		regs = b.t.ThreadRegisters()
	}
	lives := make([]*Goroutine, 0, len(m.live))
	roots := make([]liveRoots, 0, len(m.live))
	for _, g := range b.snap.Goroutines {
		if m.live[g.ID] && !stackHoldsNoProgramRefs(g) { // roots.go
			lives, roots = append(lives, g), append(roots, m.rootsOf(g))
		}
	}
	run := func() {
		defer close(m.done)
		defer func() {
			if r := recover(); r != nil {
				m.err = fmt.Errorf("leak analysis skipped: %v", panicError(r, rdebug.Stack()))
			}
		}()
		for _, p := range excl {
			h.Exclude(p)
		}
		for _, r := range rootRanges {
			seg, mask := r[0], []byte(nil)
			for i, g := range globals {
				if i < len(masks) && g[0] <= r[0] && r[1] <= g[1] {
					seg, mask = g[0], masks[i]
				}
			}
			if err := h.MarkGlobals(r[0], r[1], seg, mask); err != nil {
				m.err = fmt.Errorf("leak analysis skipped: globals: %v", err)
				return
			}
		}
		// Timers in the Ps' heaps will fire: what they reference can be woken.
		for _, tm := range timers {
			h.MarkPtr(tm)
		}
		for _, v := range regs {
			h.MarkPtr(v)
		}
		m.markAll(lives, roots)
		var stop func() bool
		if m.settle != nil {
			stop = m.settled
		}
		if _, err := h.DrainUntil(stop); err != nil {
			m.err = incomplete(err, h, b.budget)
		}
	}
	if private {
		go run()
	} else {
		run()
	}
	return m
}

// settleAddrs lists what marking.settle holds for candidates, or nil.
func (b *builder) settleAddrs(h *target.Heap, candidates []*Goroutine, globals [][2]uint64) [][]uint64 {
	out := make([][]uint64, 0, len(candidates))
	for _, g := range candidates {
		var addrs []uint64
		now := false
		for _, w := range g.Waits {
			r := b.resByID(w.Resource)
			if r == nil || r.Kind == KindMutex || r.Kind == KindRWMutex {
				continue
			}
			if h.IsHeap(r.Addr) {
				addrs = append(addrs, r.Addr)
				continue
			}
			if inRanges(globals, r.Addr) {
				now = true // any code can name a global
			}
		}
		switch {
		case now:
		case len(addrs) == 0:
			return nil
		default:
			out = append(out, addrs)
		}
	}
	return out
}

// settled reports whether every candidate waits on something marked
// (marking goroutine), dropping those that do from settle.
func (m *marking) settled() bool {
	still := m.settle[:0]
	for _, addrs := range m.settle {
		reached := false
		for _, a := range addrs {
			if m.h.Reached(a) {
				reached = true
				break
			}
		}
		if !reached {
			still = append(still, addrs)
		}
	}
	m.settle = still
	return len(still) == 0
}

// rootsOf reads (session goroutine) what marking g as live needs.
func (m *marking) rootsOf(g *Goroutine) liveRoots {
	b := m.b
	rg := b.rawOf(g)
	var r liveRoots
	r.lo, r.hi = b.t.LiveStack(rg)
	r.g, r.wordsOK = rg, b.t.HasStackWords(rg)
	r.closures = b.t.DeferClosures(rg)
	if c := b.t.SchedCtxt(rg); c != 0 {
		r.closures = append(r.closures, c)
	}
	if (g.Role == RoleFinalizer || g.Role == RoleCleanup) && !m.finalizerRoots {
		m.finalizerRoots = true
		var err error
		if r.finalizer, err = m.h.FinalizerRoots(); err != nil {
			b.warn("finalizer roots: %v", err)
		}
	}
	return r
}

// markAll marks what live goroutines can reach (any goroutine), the spans
// their kept stack words point into read ahead in one batch.
func (m *marking) markAll(gs []*Goroutine, roots []liveRoots) {
	if m.h.Parent == nil {
		var words []*target.G
		for _, r := range roots {
			if r.wordsOK {
				words = append(words, r.g)
			}
		}
		m.h.PrefetchStackSpans(words)
	}
	for i, g := range gs {
		m.markLive(g, roots[i])
	}
}

// markLive marks what a live goroutine can reach (any goroutine).
func (m *marking) markLive(g *Goroutine, r liveRoots) {
	h := m.h
	if r.wordsOK && h.Parent == nil {
		h.MarkStackWords(r.lo, r.g)
	} else {
		_ = h.MarkStack(r.g)
	}
	for _, p := range r.closures {
		h.MarkPtr(p)
	}
	for _, p := range r.finalizer {
		h.MarkPtr(p)
	}
}

// wait waits for the marking and returns why the proof cannot go on, if
// it cannot.
func (m *marking) wait() error {
	<-m.done
	return m.err
}

// incomplete is the warning for a leak proof whose heap walk did not
// finish: the pause budget ran out, or the heap was larger than the walk's
// byte budget.
func incomplete(err error, h *target.Heap, budget time.Duration) error {
	if errors.Is(err, target.ErrPauseBudget) {
		return fmt.Errorf("leak analysis incomplete: the heap walk stopped when the process had been stopped for %v (the pause budget), after %.1f GB of reachable heap; nothing is called leaked (hangtui --max-pause sets a longer budget)",
			budget, float64(h.Scanned())/(1<<30))
	}
	return fmt.Errorf("leak analysis incomplete (%v): nothing is called leaked", err)
}
