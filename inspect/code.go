package inspect

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
	"github.com/hangtui/hangtui/inspect/internal/wakers"
)

// Proving waits through package variables from the program's source.
//
// Memory alone cannot prove a goroutine stuck when what it waits on is
// reachable from a package variable: any code could name the variable.
// The right question is whether code that can still run can ever execute
// an operation that wakes it. The source answers it: the program's
// packages are loaded with golang.org/x/tools (go/packages, go/ssa, a VTA
// call graph) once per session, off the pause; for each snapshot, the code
// the goroutines that can still run may execute (from where each is
// stopped, upwards, and everything it calls), plus what the runtime runs
// by itself (pending timers, registered finalizers and cleanups, cgo
// exports), is searched for an operation that could wake the waiter (a
// send or close for a receiver, an Unlock, a Done, a Signal...). The
// memory proof's fixpoint is extended: a parked goroutine becomes live
// only if memory says something live can reach what it waits on and the
// code says something live can reach a waker. Everything the call graph
// cannot bound (reflect.Value.Call, plugins, code without a Go body, a
// frame not in the source, source that is not what was built) leaves the
// verdicts at what memory proves, with the reason.

// DefaultCodeBudget is how long the source analysis may take before the
// verdicts stay at what memory proves.
const DefaultCodeBudget = 30 * time.Second

// CodeOptions configure the source analysis.
type CodeOptions struct {
	// Dir is the main package's source directory or its module's root;
	// "" means the directory of main.main's file as recorded in the
	// binary.
	Dir string
	// Budget bounds the analysis; 0 means DefaultCodeBudget.
	Budget time.Duration
	// Env is added to the go command's environment (tests).
	Env []string
}

// CodeState is where the source analysis is.
type CodeState string

const (
	// CodeRunning: the packages are being loaded and analysed.
	CodeRunning CodeState = "running"
	// CodeReady: the analysis is done; verdicts use it.
	CodeReady CodeState = "ready"
	// CodeUnavailable: the source could not be loaded or does not match
	// the binary (Reason says why); verdicts are what memory proves.
	CodeUnavailable CodeState = "unavailable"
	// CodeOverBudget: the analysis took longer than its budget.
	CodeOverBudget CodeState = "over budget"
)

// CodeAnalysis is the state of the source analysis, and what it proved in
// one snapshot.
type CodeAnalysis struct {
	State CodeState
	// Phase is what a running analysis is doing ("loading packages").
	Phase string
	// Dir is where the source was loaded from.
	Dir string
	// Packages and Functions count what was analysed.
	Packages, Functions int
	// Took is how long the analysis took (ready) or has taken so far.
	Took time.Duration
	// Reason says why the analysis is unavailable or over budget.
	Reason string
	// Proven is how many goroutines of this snapshot the source proved
	// stuck (beyond what memory proved).
	Proven int
	// NotProven, when set, is why the source could prove nothing in this
	// snapshot (reflection reachable from a goroutine that can run, ...).
	NotProven string
}

// codeJob is a session's source analysis.
type codeJob struct {
	opts   CodeOptions
	start  time.Time
	done   chan struct{}
	cancel context.CancelFunc
	phase  atomic.Pointer[string]
	prog   *wakers.Program
	err    error
	took   time.Duration
	over   atomic.Bool
	// started is closed when the load starts (the budget runs from
	// then), expired when the budget is spent.
	started, expired chan struct{}

	mu     sync.Mutex
	idents map[string]identResult
}

type identResult struct {
	r   *wakers.Resource
	why string
}

// StartCodeAnalysis starts loading and analysing the target's source in
// the background (the target is not stopped for it). Snapshots read
// afterwards keep what the proof needs from memory; ProveFromCode applies
// it. Calling it again does nothing.
func (s *Session) StartCodeAnalysis(opts CodeOptions) {
	if s.code.Load() != nil {
		return
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultCodeBudget
	}
	info := s.Info()
	j := &codeJob{opts: opts, start: time.Now(), done: make(chan struct{}), idents: map[string]identResult{},
		started: make(chan struct{}), expired: make(chan struct{})}
	if !s.code.CompareAndSwap(nil, j) {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	phase := "starting"
	j.phase.Store(&phase)
	go func() {
		defer close(j.done)
		defer func() {
			if r := recover(); r != nil {
				j.err = fmt.Errorf("internal error: %v", r)
			}
		}()
		// Not while the target is stopped for the attach and the first
		// read: the analysis would take the CPU from them.
		select {
		case <-s.snapped:
		case <-ctx.Done():
		case <-time.After(opts.Budget / 4):
		}
		start := time.Now()
		close(j.started)
		exe := info.Exe
		if info.Source == SourceLive && info.PID > 0 {
			// The executable the process runs, even if the path was
			// replaced since.
			if p := fmt.Sprintf("/proc/%d/exe", info.PID); localFile(p) != "" {
				exe = p
			}
		}
		j.prog, j.err = wakers.LoadCached(ctx, wakers.Config{Exe: exe, Dir: opts.Dir, Env: opts.Env,
			Progress: func(p string) { j.phase.Store(&p) }})
		j.took = time.Since(start)
		if os.Getenv("HANGTUI_TIMINGS") != "" {
			if j.prog != nil {
				for _, t := range j.prog.Timings {
					fmt.Fprintf(os.Stderr, "hangtui: source %-10s %v\n", t.Phase, t.Took.Round(time.Millisecond))
				}
				fmt.Fprintf(os.Stderr, "hangtui: source: %d packages, %d functions, %v\n", j.prog.Packages, j.prog.Functions, j.took.Round(time.Millisecond))
			} else {
				fmt.Fprintf(os.Stderr, "hangtui: source: %v after %v\n", j.err, j.took.Round(time.Millisecond))
			}
		}
		if j.prog != nil {
			// Time this session waited for a load another session made
			// is not the analysis' time.
			j.took = min(j.took, j.prog.Took())
		}
	}()
	go func() {
		select {
		case <-j.started:
		case <-j.done:
			return
		}
		select {
		case <-j.done:
		case <-time.After(opts.Budget):
			j.over.Store(true)
			cancel()
			close(j.expired)
		}
	}()
}

// CodeDone is closed when the source analysis has finished (or was never
// started: nil).
func (s *Session) CodeDone() <-chan struct{} {
	if j := s.code.Load(); j != nil {
		return j.done
	}
	return nil
}

// CodeStatus is the source analysis' state now; nil when it was not
// started.
func (s *Session) CodeStatus() *CodeAnalysis {
	j := s.code.Load()
	if j == nil {
		return nil
	}
	return j.status()
}

func (j *codeJob) status() *CodeAnalysis {
	select {
	case <-j.done:
	default:
		if j.over.Load() {
			return &CodeAnalysis{State: CodeOverBudget, Took: time.Since(j.start),
				Reason: fmt.Sprintf("the source analysis took longer than its budget (%v): verdicts are what memory proves", j.opts.Budget)}
		}
		return &CodeAnalysis{State: CodeRunning, Phase: *j.phase.Load(), Took: time.Since(j.start)}
	}
	switch {
	case j.over.Load() && (j.err != nil || j.took > j.opts.Budget):
		return &CodeAnalysis{State: CodeOverBudget, Took: j.took,
			Reason: fmt.Sprintf("the source analysis took longer than its budget (%v): verdicts are what memory proves", j.opts.Budget)}
	case j.err != nil:
		return &CodeAnalysis{State: CodeUnavailable, Took: j.took, Reason: j.err.Error()}
	}
	return &CodeAnalysis{State: CodeReady, Dir: j.prog.Dir, Packages: j.prog.Packages, Functions: j.prog.Functions, Took: j.took}
}

// ProveFromCode extends snap's verdicts with what the source proves (see
// the top of this file) and records the analysis' state in snap.Code. It
// reads nothing from the target: call it after Resume or Close. With wait,
// it waits for the analysis to finish (at most its budget); otherwise a
// snapshot taken before it is ready keeps what memory proves. A snapshot
// is proven once; without StartCodeAnalysis it does nothing.
func (s *Session) ProveFromCode(snap *Snapshot, wait bool) {
	j := s.code.Load()
	if j == nil || snap == nil {
		return
	}
	if wait {
		select {
		case <-j.done:
		case <-j.expired:
		}
	}
	st := j.status()
	snap.Code = st
	if st.State != CodeReady || snap.facts == nil || snap.facts.applied {
		return
	}
	snap.facts.applied = true
	p := &prover{snap: snap, j: j, prog: j.prog, src: s.sourceIndex()}
	p.run()
	st.Proven = p.proven
	st.NotProven = p.notProven
}

// codeFacts are what the code-based proof needs from memory, kept in the
// snapshot: the parked goroutines the memory proof left able to run, with
// what each of their waits needs from memory, and what the runtime will
// call by itself.
type codeFacts struct {
	// cands are the parked goroutines on analysable objects that memory
	// did not prove stuck.
	cands map[int64][]waitFact
	// callbacks are the pending timers and the registered finalizers and
	// cleanups; nil when they could not be read (then every one in the
	// program counts).
	callbacks *target.Callbacks
	applied   bool
}

// waitFact is one wait of a candidate: whether memory reached the object
// from what can run (at the end of the memory proof), and for a lock, the
// goroutines it waits for (its holders and writers ahead).
type waitFact struct {
	res       string
	op        Op
	reached   bool
	lockEdges bool
	lockTo    []int64
}

// recordCodeFacts is the hook of the memory proof (leaks): what the
// code-based proof will need, kept once the fixpoint is reached.
func (b *builder) recordCodeFacts(a *analysis, p *reachProof, candidates []*Goroutine) {
	f := &codeFacts{cands: make(map[int64][]waitFact, len(candidates))}
	for _, g := range candidates {
		if !p.live[g.ID] {
			continue
		}
		ws := make([]waitFact, 0, len(g.Waits))
		for _, w := range g.Waits {
			r := b.resByID(w.Resource)
			wf := waitFact{res: r.ID, op: w.Op}
			if r.Kind == KindMutex || r.Kind == KindRWMutex {
				edges := a.next[g.ID]
				wf.lockEdges = len(edges) > 0
				for _, e := range edges {
					wf.lockTo = appendUniqueID(wf.lockTo, e.To)
				}
			}
			// Marking that ended early has not reached everything it
			// would have: reached, as far as anyone can tell.
			wf.reached = p.partial || p.reachable(r.Addr, g.ID)
			ws = append(ws, wf)
		}
		f.cands[g.ID] = ws
	}
	b.snap.facts = f
}

// readCallbacks adds what the runtime will call by itself to the facts
// (session goroutine, target stopped).
func readCallbacks(t *target.Target, snap *Snapshot) {
	if snap.facts == nil {
		return
	}
	cb, err := t.Callbacks()
	if err != nil {
		snap.Warnings = append(snap.Warnings, fmt.Sprintf("pending timers, finalizers and cleanups: %v (the source analysis counts every one in the program)", err))
		return
	}
	snap.facts.callbacks = cb
}

// prover runs the code-based proof on one snapshot.
type prover struct {
	snap *Snapshot
	j    *codeJob
	prog *wakers.Program
	src  *sourceIndex

	gs    map[int64]*Goroutine
	rs    map[string]*Resource
	live  map[int64]bool
	reach *wakers.Reach
	// liveWhy says why each candidate the code left runnable can be
	// woken (for possible-deadlock findings).
	liveWhy   map[int64]string
	proven    int
	notProven string
	fing      *Goroutine
	stacks    map[frameStackKey]bool
}

func frames(g *Goroutine) []wakers.Frame {
	out := make([]wakers.Frame, len(g.Frames))
	for i, f := range g.Frames {
		out[i] = wakers.Frame{Func: f.Func, File: f.File, Line: f.Line}
	}
	return out
}

func label(g *Goroutine) string {
	s := fmt.Sprintf("goroutine %d", g.ID)
	if g.Role == RoleFinalizer {
		s = fmt.Sprintf("the finalizer goroutine %d", g.ID)
	}
	if g.TopUser >= 0 {
		s += " (" + ShortFunc(g.Frames[g.TopUser].Func) + ")"
	}
	return s
}

func framesOf(fs []target.Frame) []wakers.Frame {
	out := make([]wakers.Frame, len(fs))
	for i, f := range fs {
		out[i] = wakers.Frame{Func: f.Func, File: f.File, Line: f.Line}
	}
	return out
}

// ident is what the code knows of a resource; nil and why when nothing.
func (p *prover) ident(r *Resource) (*wakers.Resource, string) {
	kind, name, elem := codeName(r)
	key := string(r.Kind) + "\x00" + name + "\x00" + elem
	p.j.mu.Lock()
	defer p.j.mu.Unlock()
	if c, ok := p.j.idents[key]; ok {
		return c.r, c.why
	}
	var c identResult
	if kind == "" {
		c.why = "a " + string(r.Kind) + " is not followed in the source"
	} else {
		c.r, c.why = p.prog.Resource(kind, name, elem)
	}
	p.j.idents[key] = c
	return c.r, c.why
}

// codeName is how a resource is named to the source analysis: its kind,
// the variable or type and field memory named it by, a channel's element
// type.
func codeName(r *Resource) (kind, name, elem string) {
	switch r.Kind {
	case KindChan:
		kind = "chan"
		if r.Chan == nil || r.Chan.Nil {
			return "", "", ""
		}
		elem = r.Chan.ElemType
		if v, _, ok := strings.Cut(r.Type, " ("); ok && strings.HasSuffix(r.Type, ")") {
			name = v // "main.events (chan int)": held in main.events
		}
	case KindMutex, KindRWMutex, KindWaitGroup, KindCond:
		kind = string(r.Kind)
		switch r.Type {
		case "sync.Mutex", "sync.RWMutex", "sync.WaitGroup", "sync.Cond", "":
		default:
			if v, _, ok := strings.Cut(r.Type, " (*sync."); ok {
				name = v // a pointer held in a package variable
			} else {
				name = r.Type
			}
		}
	}
	return kind, name, elem
}

func (p *prover) run() {
	s := p.snap
	p.gs = make(map[int64]*Goroutine, len(s.Goroutines))
	for _, g := range s.Goroutines {
		p.gs[g.ID] = g
		if g.Role == RoleFinalizer {
			p.fing = g
		}
	}
	p.rs = make(map[string]*Resource, len(s.Resources))
	for _, r := range s.Resources {
		p.rs[r.ID] = r
	}
	facts := s.facts
	p.live = make(map[int64]bool, len(s.Goroutines))
	p.stacks = map[frameStackKey]bool{}
	p.liveWhy = map[int64]string{}
	p.reach = p.prog.NewReach()
	p.reach.AddRoots()
	if cb := facts.callbacks; cb != nil {
		p.reach.AddCallbacks("timer callback", framesOf(cb.Timers))
		p.reach.AddCallbacks("cleanup", framesOf(cb.Cleanups))
		p.reach.SetFinalizerPool(framesOf(cb.Finalizers))
	} else {
		p.reach.AddAllCallbacks()
	}
	if p.fing == nil {
		p.reach.EnableFinalizers() // created when first needed
	}
	for _, g := range s.Goroutines {
		if _, cand := facts.cands[g.ID]; cand || g.Verdict.Stuck() {
			continue
		}
		p.makeLive(g)
	}
	// The fixpoint: a candidate becomes live when one of its waits can be
	// ended by what is live, by memory and by the code.
	var cands []*Goroutine
	for id := range facts.cands {
		if g := p.gs[id]; g != nil && !g.Verdict.Stuck() {
			cands = append(cands, g)
		}
	}
	sort.Slice(cands, func(i, k int) bool { return cands[i].ID < cands[k].ID })
	for changed := true; changed; {
		changed = false
		for _, g := range cands {
			if p.live[g.ID] {
				continue
			}
			if why, ok := p.wakeable(g); ok {
				p.liveWhy[g.ID] = why
				p.makeLive(g)
				changed = true
			}
		}
	}
	if b := p.reach.Blocker(); b != "" {
		p.notProven = b
	}
	var stuck []*Goroutine
	for _, g := range cands {
		if !p.live[g.ID] {
			stuck = append(stuck, g)
		}
	}
	if len(stuck) == 0 {
		p.annotatePossible()
		return
	}
	p.proven = len(stuck)
	p.explain(stuck)
	p.annotatePossible()
}

func (p *prover) makeLive(g *Goroutine) {
	p.live[g.ID] = true
	if g.Role == RoleFinalizer {
		p.reach.EnableFinalizers()
	}
	if g.StackTruncated {
		// What it returns into is not known.
		p.reach.Block(fmt.Sprintf("the stack of goroutine %d was not read to its end", g.ID))
		return
	}
	// Goroutines with the same stack share one Frames slice: add it once.
	if len(g.Frames) > 0 {
		k := frameStackKey{&g.Frames[0], len(g.Frames)}
		if p.stacks[k] {
			return
		}
		p.stacks[k] = true
	} else if g.System {
		return // a runtime goroutine without frames: runtime code only
	}
	p.reach.AddStack(frames(g), label(g))
}

// frameStackKey identifies a goroutine's stack by its shared frames slice.
type frameStackKey struct {
	first *Frame
	n     int
}

// wakeable: can what is live end one of g's waits? why says how.
func (p *prover) wakeable(g *Goroutine) (string, bool) {
	for _, w := range p.snap.facts.cands[g.ID] {
		r := p.rs[w.res]
		if r == nil {
			return "", true
		}
		if w.lockEdges {
			holderLive := false
			for _, id := range w.lockTo {
				if p.live[id] {
					holderLive = true
				}
			}
			if !holderLive {
				continue
			}
		} else if !w.reached {
			continue
		}
		if why, ok := p.codeWakeable(r, w.op); ok {
			return why, true
		}
	}
	return "", false
}

// codeWakeable: the code that can run reaches an operation that may wake
// a goroutine doing op on r (or the code cannot say).
func (p *prover) codeWakeable(r *Resource, op Op) (string, bool) {
	if b := p.reach.Blocker(); b != "" {
		return "the source proves nothing: " + b, true
	}
	id, why := p.ident(r)
	if id == nil {
		return "the source cannot tell which code uses " + describeResource(r) + ": " + why, true
	}
	for _, s := range id.Wakers(waitOpName(op)) {
		if ok, from := p.reach.Reached(s); ok {
			return fmt.Sprintf("`%s` at %s:%d (%s) can still run, reached from %s", s.Code, ShortFile(s.File), s.Line, ShortFunc(s.Func), from), true
		}
	}
	return "", false
}

func waitOpName(op Op) string {
	switch op {
	case OpSend:
		return "send"
	case OpRecv:
		return "recv"
	case OpRLock:
		return "rlock"
	case OpWait:
		return "wait"
	}
	return "lock"
}

// maxWakerReaches bounds the per-goroutine reaches computed to explain
// which stuck goroutines could wake which.
const maxWakerReaches = 200

// explain gives the newly stuck goroutines their verdicts, cycles and
// findings, with the waking sites.
func (p *prover) explain(stuck []*Goroutine) {
	s := p.snap
	inStuck := map[int64]bool{}
	for _, g := range stuck {
		inStuck[g.ID] = true
	}
	// Each stuck goroutine's own reach: which wakers its code gets to.
	reaches := map[int64]*wakers.Reach{}
	if len(stuck) <= maxWakerReaches {
		byStack := map[*Frame]*wakers.Reach{}
		for _, g := range stuck {
			var key *Frame
			if len(g.Frames) > 0 && g.Role != RoleFinalizer {
				key = &g.Frames[0]
				if r := byStack[key]; r != nil {
					reaches[g.ID] = r
					continue
				}
			}
			r := p.prog.NewReach()
			r.AddStack(frames(g), label(g))
			if g.Role == RoleFinalizer {
				if cb := s.facts.callbacks; cb != nil {
					r.SetFinalizerPool(framesOf(cb.Finalizers))
				} else {
					r.AddAllCallbacks()
				}
				r.EnableFinalizers()
			}
			reaches[g.ID] = r
			if key != nil {
				byStack[key] = r
			}
		}
	}
	a := newAnalysis(s)
	sub := &analysis{s: s, gs: a.gs, rs: a.rs, next: map[int64][]edge{}}
	sub.kind = func(c Cycle) CycleKind { return (*builder)(nil).stuckCycleKind(a, c) }
	sites := map[string][]WakerSite{} // by resource id
	for _, g := range stuck {
		for _, w := range s.facts.cands[g.ID] {
			r := p.rs[w.res]
			if w.lockEdges {
				for _, to := range w.lockTo {
					if inStuck[to] || p.gs[to] != nil && p.gs[to].Verdict.Stuck() {
						sub.addEdge(g.ID, to, r.ID)
					}
				}
			}
			if r.Kind == KindMutex || r.Kind == KindRWMutex {
				if len(w.lockTo) > 0 {
					continue
				}
			}
			id, _ := p.ident(r)
			if id == nil {
				continue
			}
			var list []WakerSite
			for _, site := range id.Wakers(waitOpName(w.op)) {
				ws := WakerSite{Resource: r.ID, Op: site.Op, Func: site.Func, File: site.File, Line: site.Line, Code: site.Code,
					Finalizer: site.Finalizer, Unknown: site.Unknown, Reflection: site.Reflection}
				for _, h := range stuck {
					if h.ID == g.ID {
						continue
					}
					if rh := reaches[h.ID]; rh != nil {
						if ok, _ := rh.Reached(site); ok {
							ws.Reachers = appendUniqueID(ws.Reachers, h.ID)
							if r.Kind != KindMutex && r.Kind != KindRWMutex {
								sub.addEdge(g.ID, h.ID, r.ID)
							}
						}
					}
				}
				ws.Why = p.siteWhy(&ws)
				list = append(list, ws)
			}
			if _, done := sites[r.ID]; !done {
				sites[r.ID] = list
				r.Wakers = nil
				for _, ws := range list {
					for _, h := range ws.Reachers {
						r.Wakers = appendUniqueID(r.Wakers, h)
					}
				}
				sortIDs(r.Wakers)
			}
		}
	}
	// Cycles among the newly stuck.
	before := len(s.Findings)
	sub.cycles()
	for i := before; i < len(s.Findings); i++ {
		f := &s.Findings[i]
		for _, rid := range f.Resources {
			p.addSites(f, rid, sites[rid])
		}
		f.Details = append(f.Details, p.proofLine())
	}
	// The rest: leaked, or deadlocked behind a deadlocked holder.
	var leaked []*Goroutine
	for _, g := range stuck {
		if g.Verdict.Stuck() {
			continue
		}
		behind := true
		var by []int64
		for _, w := range s.facts.cands[g.ID] {
			if !w.lockEdges {
				behind = false
				break
			}
			for _, to := range w.lockTo {
				if p.gs[to] == nil || p.gs[to].Verdict != VerdictDeadlocked {
					behind = false
				}
				by = appendUniqueID(by, to)
			}
		}
		if behind && len(by) > 0 {
			g.Verdict = VerdictDeadlocked
			g.Why = fmt.Sprintf("waits for %s, held by deadlocked goroutine(s) %s", g.Waits[0].Resource, joinIDs(by))
			continue
		}
		g.Verdict = VerdictLeaked
		g.Why = p.leakWhy(g, sites)
		leaked = append(leaked, g)
	}
	p.leakFindings(leaked, sites)
	p.finish(before)
}

// addSites adds a resource's waking sites to a finding.
func (p *prover) addSites(f *Finding, rid string, list []WakerSite) {
	r := p.rs[rid]
	if r == nil || r.Kind == KindMutex && len(r.Holders) > 0 || r.Kind == KindRWMutex && len(r.Holders) > 0 {
		return
	}
	if _, ok := p.identOf(r); !ok {
		return
	}
	f.Wakers = append(f.Wakers, list...)
	var concrete, reflection []WakerSite
	for _, ws := range list {
		if ws.Reflection {
			reflection = append(reflection, ws)
		} else {
			concrete = append(concrete, ws)
		}
	}
	if len(concrete) == 0 {
		f.Details = append(f.Details, fmt.Sprintf("no operation in the program's code can wake a goroutine on %s", describeResource(r)))
	}
	const maxShown = 12
	for i, ws := range concrete {
		if i == maxShown {
			f.Details = append(f.Details, fmt.Sprintf("… and %d more operations that could wake it (all in findings[].wakers)", len(concrete)-maxShown))
			break
		}
		f.Details = append(f.Details, fmt.Sprintf("could wake it: %s; %s", siteText(ws), ws.Why))
	}
	if len(reflection) > 0 {
		var names []string
		for _, ws := range reflection {
			names = append(names, ShortFunc(ws.Func))
		}
		f.Details = append(f.Details, fmt.Sprintf("could wake it: reflection on channels (%s); %s", strings.Join(names, ", "), reflection[0].Why))
	}
}

func (p *prover) identOf(r *Resource) (*wakers.Resource, bool) {
	id, _ := p.ident(r)
	return id, id != nil
}

// siteText is "`pool.drained <- x` (send) at pool.go:31 in main.(*cursor).release".
func siteText(ws WakerSite) string {
	code := ws.Code
	if code == "" {
		code = ws.Op
	}
	return fmt.Sprintf("`%s` at %s:%d in %s", code, ShortFile(ws.File), ws.Line, ShortFunc(ws.Func))
}

// siteWhy says why nothing that can run gets to a waking site.
func (p *prover) siteWhy(ws *WakerSite) string {
	fin := p.fing
	if fin != nil && !p.live[fin.ID] {
		for _, id := range ws.Reachers {
			if id != fin.ID {
				continue
			}
			ws.Finalizer = true
			if len(ws.Reachers) == 1 {
				return fmt.Sprintf("it runs only in a finalizer (%s), and the finalizer goroutine %d %s", p.finalizerName(ws), fin.ID, p.stuckOn(fin))
			}
		}
	}
	if len(ws.Reachers) > 0 {
		var parts []string
		for _, id := range ws.Reachers {
			if g := p.gs[id]; g != nil {
				parts = append(parts, fmt.Sprintf("goroutine %d%s %s", id, where(g), p.stuckOn(g)))
			}
		}
		return "only goroutines that are stuck themselves get there: " + strings.Join(parts, "; ")
	}
	return "no goroutine that can still run gets there (none has it ahead on its stack or calls it, and no timer, finalizer or cleanup does)"
}

// finalizerName is the finalizer the finalizer goroutine runs (the
// site's function when memory did not say).
func (p *prover) finalizerName(ws *WakerSite) string {
	if f := p.snap.Finalizers; f != nil && f.Running != nil && f.Running.Func != "" {
		return ShortFunc(f.Running.Func)
	}
	return ShortFunc(ws.Func)
}

// stuckOn is "is blocked on mutex 0x… (main.pool.mu) held by goroutine 21".
func (p *prover) stuckOn(g *Goroutine) string {
	if len(g.Waits) == 0 {
		return "is parked (" + g.WaitReason + ")"
	}
	r := p.rs[g.Waits[0].Resource]
	if r == nil {
		return "is parked (" + g.WaitReason + ")"
	}
	s := fmt.Sprintf("is blocked: it %s %s", g.Waits[0].Op.WaitsTo(), describeResource(r))
	var holders []int64
	for _, h := range r.Holders {
		holders = appendUniqueID(holders, h.Goroutine)
	}
	if len(holders) > 0 {
		s += " held by goroutine " + joinIDs(holders)
	}
	return s
}

// leakWhy is a leaked goroutine's one-sentence reason.
func (p *prover) leakWhy(g *Goroutine, sites map[string][]WakerSite) string {
	var parts []string
	for _, w := range g.Waits {
		r := p.rs[w.Resource]
		if r == nil {
			continue
		}
		what := describeResource(r)
		if (r.Kind == KindMutex || r.Kind == KindRWMutex) && len(r.Holders) > 0 {
			var hs []int64
			for _, h := range r.Holders {
				hs = appendUniqueID(hs, h.Goroutine)
			}
			parts = append(parts, fmt.Sprintf("%s is held by goroutine(s) %s, which can never run", what, joinIDs(hs)))
			continue
		}
		var list []WakerSite
		for _, ws := range sites[r.ID] {
			if !ws.Reflection {
				list = append(list, ws)
			}
		}
		switch len(list) {
		case 0:
			parts = append(parts, fmt.Sprintf("no operation in the program's code can wake a goroutine on %s", what))
		case 1:
			parts = append(parts, fmt.Sprintf("%s can be woken only by %s, which nothing that can still run reaches", what, siteText(list[0])))
		default:
			parts = append(parts, fmt.Sprintf("%s can be woken only by %d operations in the code, none of which anything that can still run reaches", what, len(list)))
		}
	}
	return strings.Join(parts, "; ")
}

func (p *prover) proofLine() string {
	return fmt.Sprintf("proof: from the source (%d packages): the code the goroutines that can still run may execute — from where each is stopped, and all it calls — with the pending timers, finalizers and cleanups, reaches none of these operations", p.prog.Packages)
}

// leakFindings adds one finding per group of leaked goroutines waiting on
// the same resources.
func (p *prover) leakFindings(leaked []*Goroutine, sites map[string][]WakerSite) {
	p.snap.Findings = append(p.snap.Findings, leakGroupFindings(leaked, p.rs, func(f *Finding) {
		for _, rid := range f.Resources {
			p.addSites(f, rid, sites[rid])
		}
		f.Details = append(f.Details, p.proofLine())
	})...)
}

// finish updates the findings made before the proof: possible deadlocks
// now proven go, the finalizer's finding is made again with its verdict,
// orphaned-lock warnings covered by a proof go; the new findings are
// explained (missing Unlocks), grouped and sorted in.
func (p *prover) finish(before int) {
	s := p.snap
	old, fresh := s.Findings[:before:before], append([]Finding(nil), s.Findings[before:]...)
	var kept []Finding
	for _, f := range old {
		switch f.Kind {
		case FindingPossibleDeadlock:
			all := true
			for _, id := range f.Goroutines {
				all = all && p.gs[id].Verdict.Stuck()
			}
			if all {
				continue
			}
		case FindingFinalizerBlocked, FindingCleanupBlocked:
			continue // made again below
		}
		kept = append(kept, f)
	}
	s.Findings = kept
	a := newAnalysis(s)
	a.finalizerFindings()
	dropCoveredOrphans(s)
	tmp := *s
	tmp.Findings = fresh
	explainOrphans(&tmp, p.src, localFile)
	groupFindings(&tmp)
	s.Findings = append(s.Findings, tmp.Findings...)
	sortFindings(s.Findings)
}

// annotatePossible says, on each possible deadlock left, why the source
// could not prove it either.
func (p *prover) annotatePossible() {
	for i := range p.snap.Findings {
		f := &p.snap.Findings[i]
		if f.Kind != FindingPossibleDeadlock {
			continue
		}
		for _, id := range f.Goroutines {
			if why := p.liveWhy[id]; why != "" {
				f.Details = append(f.Details, fmt.Sprintf("from the source: goroutine %d can still be woken: %s", id, why))
				break
			}
		}
	}
}
