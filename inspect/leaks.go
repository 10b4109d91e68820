package inspect

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// maxStuckEdges bounds the per-goroutine reachability walks that explain
// cycles among stuck goroutines.
const maxStuckEdges = 200

// leaks proves goroutines stuck by reachability, in the manner of a garbage
// collector: it marks everything reachable from what can still run (globals,
// the stacks of live goroutines, runtime timers, pending finalizers and
// cleanups, thread registers), and a parked goroutine becomes live when what
// it waits for is reachable (or, for a lock, when a holder is live). This is
// iterated to a fixpoint. What stays parked can never be woken: nothing that
// can run can ever send, receive, unlock, signal or call Done on what it
// waits for. Among those, wait-for cycles (through locks and through who
// can reach which channel) are deadlocks; the rest are leaks.
//
// Marking follows only live pointers, as the target's GC does (its stack
// maps and heap pointer bits), and every word where that metadata is
// missing, so reachability is over-approximated: errors in it can only
// hide a leak, never invent one. If the heap cannot be walked, nothing is
// claimed.
func (b *builder) leaks(a *analysis, m *marking) {
	if err := m.wait(); err != nil {
		b.warn("%v", err)
		return
	}
	h, live, globals := m.h, m.live, m.globals
	if h.Parent != nil { // HANGTUI_DEBUG_REACH
		defer func() {
			for _, r := range b.list {
				if h.Reached(r.Addr) {
					fmt.Fprintf(os.Stderr, "reach %s: %#x\n", r.ID, h.Path(r.Addr))
				}
			}
		}()
	}
	var candidates []*Goroutine
	for _, g := range m.candidates {
		if !g.Verdict.Stuck() { // proven by the lock analysis meanwhile
			candidates = append(candidates, g)
		}
	}
	p := &reachProof{
		mem: h, res: b.resIndex(), next: a.next, live: live, globals: globals, stacks: b.stackRanges(),
		markLive: func(gs []*Goroutine) {
			roots := make([]liveRoots, len(gs))
			for i, g := range gs {
				roots[i] = m.rootsOf(g)
			}
			m.markAll(gs, roots)
		},
		progress: func() {
			if n := len(b.snap.Goroutines); n > 0 {
				b.progress(Progress{Phase: "proving what can still run", Done: 2*n/3 + len(live)/3, Total: n})
			}
		},
	}
	if err := p.run(candidates); err != nil {
		b.warn("%v", incomplete(err, h, b.budget))
		return
	}

	if b.keepFacts {
		b.recordCodeFacts(a, p, candidates) // for the source analysis (code.go)
	}
	if os.Getenv("HANGTUI_TIMINGS") != "" {
		early := ""
		if p.partial {
			early = " (ended early: every candidate can be woken)"
		}
		p := b.t.StackPrecision(b.gs)
		fmt.Fprintf(os.Stderr, "hangtui: marked %d objects, %.1f MB scanned%s; stack frames %d precise, %d conservative; %d goroutines scanned conservatively\n",
			h.Marked(), float64(h.Scanned())/(1<<20), early, p.PreciseFrames, p.ConservativeFrames, p.ConservativeGoroutines)
		if os.Getenv("HANGTUI_DEBUG_STACKMAPS") != "" {
			for _, name := range sortedKeys(p.ConservativeFuncs) {
				fmt.Fprintf(os.Stderr, "hangtui:   conservative frame %s (%d goroutines)\n", name, p.ConservativeFuncs[name])
			}
		}
	}

	var stuck, blocked []*Goroutine
	for _, g := range candidates {
		if !live[g.ID] {
			stuck = append(stuck, g)
		} else {
			blocked = append(blocked, g)
		}
	}
	b.possibleDeadlocks(a, blocked)
	if len(stuck) == 0 {
		return
	}
	b.explainStuck(a, stuck)
}

// runtimeBookkeeping are runtime globals that hold goroutines, threads and
// scheduler queues: they reference every goroutine's wait state and would
// make everything look reachable. What the runtime will still run from them
// (timers, finalizers) is added as explicit roots instead.
var runtimeBookkeeping = []string{"runtime.g0", "runtime.m0", "runtime.gcrash", "runtime.sched",
	"runtime.allgs", "runtime.allm", "runtime.allp", "runtime.semtable", "runtime.mheap_", "runtime.allgptr"}

// rootGlobals is the data and bss segments minus the runtime's bookkeeping.
func (b *builder) rootGlobals(globals [][2]uint64) [][2]uint64 {
	out := append([][2]uint64{}, globals...)
	for _, name := range runtimeBookkeeping {
		lo, hi, ok := b.t.VarRange(name)
		if !ok {
			continue
		}
		var next [][2]uint64
		for _, r := range out {
			if hi <= r[0] || lo >= r[1] {
				next = append(next, r)
				continue
			}
			if r[0] < lo {
				next = append(next, [2]uint64{r[0], lo})
			}
			if hi < r[1] {
				next = append(next, [2]uint64{hi, r[1]})
			}
		}
		out = next
	}
	return out
}

// analyzable: parked on something hangtui can reason about. Anything else
// (network, timers, GC, unknown wait reasons, unread objects) is live.
func (b *builder) analyzable(g *Goroutine) bool {
	if g.State != StateWaiting || len(g.Waits) == 0 {
		return false
	}
	for _, w := range g.Waits {
		r := b.resByID(w.Resource)
		if r == nil {
			return false
		}
		if r.Kind == KindChan {
			// A timer channel: its timer can wake the waiter,
			// unless it is stopped (then only a Reset, through the
			// Timer that holds the channel, can).
			if c := b.chans[r.Addr]; c == nil || (c.Timer != 0 && !c.TimerStopped) || c.Closed {
				return false
			}
		}
	}
	switch {
	case strings.HasPrefix(g.WaitReason, "chan "), strings.HasPrefix(g.WaitReason, "select"),
		strings.HasPrefix(g.WaitReason, "sync."), g.WaitReason == "semacquire":
		return !strings.Contains(g.WaitReason, "durable")
	}
	return false
}

type stackRange struct {
	lo, hi uint64
	id     int64
}

// stackRanges returns every goroutine's stack bounds, sorted (stacks do
// not overlap), for stackOf.
func (b *builder) stackRanges() []stackRange {
	out := make([]stackRange, 0, len(b.snap.Goroutines))
	for _, g := range b.snap.Goroutines {
		lo, hi := b.t.StackBounds(b.rawOf(g))
		out = append(out, stackRange{lo, hi, g.ID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lo < out[j].lo })
	return out
}

// stackOf returns the stack containing addr.
func stackOf(stacks []stackRange, addr uint64) (stackRange, bool) {
	i := sort.Search(len(stacks), func(i int) bool { return stacks[i].lo > addr }) - 1
	if i >= 0 && addr < stacks[i].hi {
		return stacks[i], true
	}
	return stackRange{}, false
}

// reachMemory is what the reachability proof asks of the marked heap: the
// target's (target.Heap), or a fake in tests (leaks_fake_test.go).
type reachMemory interface {
	// IsHeap reports whether addr is inside an allocated heap object.
	IsHeap(addr uint64) bool
	// Reached reports whether the heap object at addr is marked.
	Reached(addr uint64) bool
	// Drain marks everything reachable from what is marked so far.
	Drain() error
	// DrainUntil is Drain that ends early, work left, when stop says so
	// (asked from time to time); it reports whether it did.
	DrainUntil(stop func() bool) (bool, error)
	// HasWork reports whether marked objects are left to scan.
	HasWork() bool
}

// reachProof is the fixpoint of the reachability proof: a parked candidate
// becomes live when something live can wake it, and what it can reach is
// then marked, until nothing changes.
type reachProof struct {
	mem reachMemory
	res map[string]*Resource
	// next are the lock wait-for edges (analysis.next).
	next map[int64][]edge
	// live: goroutines that can run (or be woken), by id; run adds to it.
	live map[int64]bool
	// globals are the data and bss ranges: any code can name what is there.
	globals [][2]uint64
	// stacks are every goroutine's stack bounds, sorted (stackRanges).
	stacks []stackRange
	// markLive marks what gs can reach once they are live (their stacks,
	// their closures) without draining.
	markLive func(gs []*Goroutine)
	// progress, when set, is called once per round.
	progress func()
	// partial: marking ended once every candidate was live (run), so
	// "not reached" means "not reached yet": nothing else may be asked.
	partial bool
}

// run iterates to the fixpoint. An error from the marking (its budget)
// means nothing may be concluded.
func (p *reachProof) run(candidates []*Goroutine) error {
	// Each round looks only at the candidates not yet shown live (a
	// million-entry map lookup per candidate per round was most of the
	// rounds' cost).
	pending := make([]*Goroutine, 0, len(candidates))
	for _, g := range candidates {
		if !p.live[g.ID] {
			pending = append(pending, g)
		}
	}
	// promote makes live the pending candidates something live can wake.
	promote := func() bool {
		var woken []*Goroutine
		still := pending[:0]
		for _, g := range pending {
			if !p.wakeable(g) {
				still = append(still, g)
				continue
			}
			p.live[g.ID] = true
			woken = append(woken, g)
		}
		pending = still
		if len(woken) > 0 {
			p.markLive(woken)
		}
		return len(woken) > 0
	}
	// Once every candidate is live, no more marking can change the
	// answer (marking only adds): on a large healthy heap the rest of it
	// is not walked while the target is stopped.
	allLive := func() bool {
		promote()
		return len(pending) == 0
	}
	for changed := true; changed; {
		stopped := allLive()
		if !stopped {
			var err error
			if stopped, err = p.mem.DrainUntil(allLive); err != nil {
				return err
			}
		}
		if stopped {
			p.partial = p.mem.HasWork()
			return nil
		}
		if p.progress != nil {
			p.progress()
		}
		changed = promote()
	}
	return nil
}

// wakeable: can anything live wake g?
func (p *reachProof) wakeable(g *Goroutine) bool {
	for _, w := range g.Waits {
		r := p.res[w.Resource]
		if r.Kind == KindMutex || r.Kind == KindRWMutex {
			edges := p.next[g.ID]
			for _, e := range edges {
				if p.live[e.To] {
					return true
				}
			}
			if len(edges) > 0 {
				continue // its releasers are known, and none is live (yet)
			}
		}
		if p.reachable(r.Addr, g.ID) {
			return true
		}
	}
	return false
}

// reachable: can a live goroutine other than self get at the object at
// addr?
func (p *reachProof) reachable(addr uint64, self int64) bool {
	if p.mem.IsHeap(addr) {
		return p.mem.Reached(addr)
	}
	if inRanges(p.globals, addr) {
		return true // any code can name a global
	}
	if s, ok := stackOf(p.stacks, addr); ok {
		// On a goroutine's stack: only that goroutine can use it.
		return s.id != self && p.live[s.id]
	}
	return true // somewhere hangtui does not model: assume reachable
}

// inRanges reports whether addr is in one of the [lo, hi) ranges.
func inRanges(rs [][2]uint64, addr uint64) bool {
	for _, r := range rs {
		if addr >= r[0] && addr < r[1] {
			return true
		}
	}
	return false
}

// explainStuck finds cycles among the stuck goroutines (lock edges, plus an
// edge to every stuck goroutine that can reach the channel, WaitGroup or
// Cond another one waits on) and gives every stuck goroutine its verdict.
func (b *builder) explainStuck(a *analysis, stuck []*Goroutine) {
	inStuck := map[int64]bool{}
	for _, g := range stuck {
		inStuck[g.ID] = true
	}
	reachers := b.reachersAmong(stuck)
	b.recordWakers(reachers)
	for _, g := range stuck {
		for _, w := range g.Waits {
			for _, id := range reachers[w.Resource] {
				a.addEdge(g.ID, id, w.Resource)
			}
			// A holder named only by reference evidence proves nothing
			// by itself, but both ends are proven stuck here: the
			// edge explains the proof, so cycles through it are shown.
			if r := a.rs[w.Resource]; r != nil && (r.Kind == KindMutex || r.Kind == KindRWMutex) {
				for _, h := range r.Holders {
					if h.Evidence == EvidenceReference && inStuck[h.Goroutine] && h.Goroutine != g.ID {
						a.addEdge(g.ID, h.Goroutine, r.ID)
					}
				}
			}
		}
	}
	// Cycles among the stuck goroutines only.
	before := len(a.s.Cycles)
	sub := &analysis{s: a.s, gs: a.gs, rs: a.rs, next: map[int64][]edge{}}
	sub.kind = func(c Cycle) CycleKind { return b.stuckCycleKind(a, c) }
	for _, g := range stuck {
		for _, e := range a.next[g.ID] {
			if inStuck[e.To] {
				sub.addEdge(g.ID, e.To, e.Res)
			}
		}
	}
	sub.cycles()
	_ = before
	sort.Slice(a.s.Cycles, func(i, j int) bool { return a.s.Cycles[i].Goroutines[0] < a.s.Cycles[j].Goroutines[0] })
	a.behindCycles()

	var leaked []int64
	for _, g := range stuck {
		if g.Verdict.Stuck() {
			continue
		}
		g.Verdict = VerdictLeaked
		g.Why = b.leakWhy(g, reachers)
		leaked = append(leaked, g.ID)
	}
	if len(leaked) == 0 {
		return
	}
	gs := make([]*Goroutine, len(leaked))
	for i, id := range leaked {
		gs[i] = a.gs[id]
	}
	a.s.Findings = append(a.s.Findings, leakGroupFindings(gs, a.rs, func(f *Finding) {
		f.Details = append(f.Details, "proof: marked everything reachable from globals, timers, finalizers and the stacks of goroutines that can run; this object was not reached")
	})...)
}

// leakGroupFindings makes one leak finding per group of leaked goroutines
// waiting on the same resources, in the groups' order; proof adds the
// finding's last lines (how the verdict was proven).
func leakGroupFindings(leaked []*Goroutine, rs map[string]*Resource, proof func(*Finding)) []Finding {
	byRes := map[string][]*Goroutine{}
	for _, g := range leaked {
		key := ""
		for _, w := range g.Waits {
			key += w.Resource + " "
		}
		key = strings.TrimSpace(key)
		byRes[key] = append(byRes[key], g)
	}
	var out []Finding
	for _, key := range sortedKeys(byRes) {
		group := byRes[key]
		g := group[0]
		ids := make([]int64, len(group))
		for i, x := range group {
			ids[i] = x.ID
		}
		f := Finding{Severity: SeverityError, Kind: FindingLeak, Goroutines: ids, Resources: strings.Fields(key)}
		f.Title = fmt.Sprintf("%d goroutine(s) stuck forever: %s", len(ids), g.Why)
		for _, w := range g.Waits {
			f.Details = append(f.Details, fmt.Sprintf("goroutine %d%s %s %s", ids[0], where(g), w.Op.WaitsTo(), describeResource(rs[w.Resource])))
		}
		if len(ids) > 1 {
			f.Details = append(f.Details, "also: goroutines "+joinIDs(ids[1:]))
		}
		proof(&f)
		out = append(out, f)
	}
	return out
}

// reachersAmong returns, for each channel, WaitGroup or Cond that one of gs
// waits on, the other goroutines of gs whose live stacks reach it (through
// the heap): the only ones among them that could wake the waiter.
func (b *builder) reachersAmong(gs []*Goroutine) map[string][]int64 {
	reachers := map[string][]int64{}
	if len(gs) > maxStuckEdges {
		return reachers
	}
	for _, s := range gs {
		sub, err := b.t.NewHeap()
		if err != nil {
			break
		}
		rg := b.rawOf(s)
		lo, hi := b.t.LiveStack(rg)
		if b.t.HasStackWords(rg) {
			sub.MarkStackWords(lo, rg)
		} else {
			_ = sub.MarkStack(rg)
		}
		sub.MarkPtr(b.t.SchedCtxt(rg))
		sub.Budget = 256 << 20
		if sub.Drain() != nil {
			continue
		}
		for _, g := range gs {
			for _, w := range g.Waits {
				r := b.resByID(w.Resource)
				if r.Kind == KindMutex || r.Kind == KindRWMutex || g.ID == s.ID {
					continue
				}
				if sub.Reached(r.Addr) || (r.Addr >= lo && r.Addr < hi) {
					reachers[r.ID] = appendUniqueID(reachers[r.ID], s.ID)
				}
			}
		}
	}
	return reachers
}

// recordWakers stores the "can be woken by" edges on the resources.
func (b *builder) recordWakers(reachers map[string][]int64) {
	for id, gs := range reachers {
		r := b.resByID(id)
		for _, g := range gs {
			r.Wakers = appendUniqueID(r.Wakers, g)
		}
		sortIDs(r.Wakers)
	}
}

// possibleDeadlocks looks for wait-for cycles among goroutines that are
// parked but not provably stuck, because something they wait on is also
// reachable from a global (any code could still use it). Such a cycle is
// reported as a warning — "possible deadlock" — and changes no verdict.
func (b *builder) possibleDeadlocks(a *analysis, blocked []*Goroutine) {
	// Only goroutines in a lock relationship: that is where cycles form,
	// and it keeps the per-goroutine walks few.
	inLocks := map[int64]bool{}
	for _, g := range blocked {
		if len(a.next[g.ID]) > 0 || len(g.Holds) > 0 {
			inLocks[g.ID] = true
		}
	}
	var set []*Goroutine
	for _, g := range blocked {
		if inLocks[g.ID] {
			set = append(set, g)
		}
	}
	if len(set) < 2 {
		return
	}
	reachers := b.reachersAmong(set)
	b.recordWakers(reachers)
	sub := &analysis{s: &Snapshot{}, gs: a.gs, rs: a.rs, next: map[int64][]edge{}, onlyCollect: true}
	for _, g := range set {
		for _, e := range a.next[g.ID] {
			if inLocks[e.To] {
				sub.addEdge(g.ID, e.To, e.Res)
			}
		}
		for _, w := range g.Waits {
			for _, id := range reachers[w.Resource] {
				sub.addEdge(g.ID, id, w.Resource)
			}
		}
	}
	sub.kind = func(c Cycle) CycleKind { return b.stuckCycleKind(a, c) }
	sub.cycles()
	for _, c := range sub.s.Cycles {
		f := Finding{Severity: SeverityWarning, Kind: FindingPossibleDeadlock, Goroutines: append([]int64{}, c.Goroutines...)}
		sortIDs(f.Goroutines)
		f.Title = fmt.Sprintf("Possible deadlock (%s): goroutines %s wait for each other", c.Kind, joinIDs(f.Goroutines))
		for i, gid := range c.Goroutines {
			r := a.rs[c.Resources[i]]
			f.Details = append(f.Details, a.step(gid, r, c.Goroutines[(i+1)%len(c.Goroutines)]))
			f.Resources = appendUnique(f.Resources, r.ID)
		}
		f.Details = append(f.Details, "not proven: a channel, WaitGroup or Cond in this cycle is reachable from a global variable, so some other code could still wake it; if nothing else uses it, this never resolves")
		a.s.Findings = append(a.s.Findings, f)
	}
}

func (b *builder) leakWhy(g *Goroutine, reachers map[string][]int64) string {
	var parts []string
	for _, w := range g.Waits {
		r := b.resByID(w.Resource)
		what := fmt.Sprintf("%s %#x (%s)", r.Kind, r.Addr, ShortType(r.Type))
		if ids := reachers[r.ID]; len(ids) > 0 {
			parts = append(parts, fmt.Sprintf("%s is reachable only from goroutines that are themselves stuck (%s)", what, joinIDs(ids)))
		} else if r.Kind == KindMutex || r.Kind == KindRWMutex {
			var holders []int64
			for _, h := range r.Holders {
				holders = appendUniqueID(holders, h.Goroutine)
			}
			if len(holders) > 0 {
				parts = append(parts, fmt.Sprintf("%s is held by goroutine(s) %s, which can never run", what, joinIDs(holders)))
			} else {
				parts = append(parts, fmt.Sprintf("%s is locked and nothing that can still run can unlock it", what))
			}
		} else {
			parts = append(parts, fmt.Sprintf("nothing that can still run references %s", what))
		}
	}
	return strings.Join(parts, "; ")
}

func (b *builder) stuckCycleKind(a *analysis, c Cycle) CycleKind {
	kinds := map[Kind]bool{}
	for _, id := range c.Resources {
		kinds[a.rs[id].Kind] = true
	}
	for _, id := range c.Goroutines {
		if a.gs[id].Role == RoleFinalizer {
			return CycleFinalizer
		}
	}
	locks := kinds[KindMutex] || kinds[KindRWMutex]
	switch {
	case kinds[KindChan] && locks:
		return CycleChannelLock
	case kinds[KindWaitGroup]:
		return CycleWaitGroup
	case kinds[KindCond]:
		return CycleCond
	case kinds[KindChan]:
		return CycleChannel
	}
	return CycleLockOrder
}
