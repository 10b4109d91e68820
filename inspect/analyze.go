package inspect

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// analyze turns the links read from the target into verdicts, cycles and
// findings. It only claims that a goroutine can never run again when that is
// proven:
//
//   - deadlocked: it waits for a lock held (with defer or source evidence) by
//     a goroutine in a wait-for cycle of such locks, or is in that cycle;
//   - leaked: it waits on something that nothing can ever wake (a nil
//     channel, a select with no cases; forever.go).
//
// Everything else that is parked stays "blocked": it may still wake.
func analyze(s *Snapshot) *analysis { return analyzeWith(s, nil) }

// analyzeWith is analyze with the goroutines a live target shows parked for
// good beyond what their wait reasons say (builder.foreverWaits: a select
// over nil channels only), with what each waits for; non-nil for a live
// target or a core, whose reachability is proven after.
func analyzeWith(s *Snapshot, forever map[int64]string) *analysis {
	a := newAnalysis(s)
	a.forever = forever
	a.lockEdges()
	a.cycles()
	a.behindCycles()
	a.foreverParked()
	a.orphanedLocks()
	a.waitChains()
	return a
}

type analysis struct {
	// kind classifies a cycle; cycleKind unless set.
	kind func(Cycle) CycleKind
	// onlyCollect makes cycles() record cycles without verdicts or
	// findings (for possible deadlocks, which prove nothing).
	onlyCollect bool
	s           *Snapshot
	gs          map[int64]*Goroutine
	rs          map[string]*Resource
	next        map[int64][]edge // wait-for edges: goroutine → goroutines it waits for
	// seen de-duplicates edges (a writer may wait for 10,000 readers).
	seen map[edgeKey]bool
	// writers caches pendingWriters per RWMutex.
	writers map[*Resource][]int64
	// forever: goroutines parked for good that their wait reason does not
	// say (analyzeWith).
	forever map[int64]string
}

type edgeKey struct {
	from, to int64
	res      string
}

// edge says that From cannot proceed until To does something with Res.
type edge struct {
	To  int64
	Res string
}

func newAnalysis(s *Snapshot) *analysis {
	a := &analysis{s: s, gs: make(map[int64]*Goroutine, len(s.Goroutines)), rs: make(map[string]*Resource, len(s.Resources)), next: map[int64][]edge{}}
	for _, g := range s.Goroutines {
		a.gs[g.ID] = g
	}
	for _, r := range s.Resources {
		a.rs[r.ID] = r
	}
	return a
}

func (a *analysis) addEdge(from, to int64, res string) {
	k := edgeKey{from, to, res}
	if a.seen[k] {
		return
	}
	if a.seen == nil {
		a.seen = map[edgeKey]bool{}
	}
	a.seen[k] = true
	a.next[from] = append(a.next[from], edge{To: to, Res: res})
}

// lockEdges adds an edge from every goroutine parked on a lock to the
// goroutines it waits for: the holders, and for an RWMutex the writer that
// is ahead of it.
func (a *analysis) lockEdges() {
	// Sized for every waiter: growing maps of 100,000 entries was a
	// third of the phase.
	n := 0
	for _, g := range a.s.Goroutines {
		if len(g.Waits) > 0 {
			n++
		}
	}
	if a.seen == nil && len(a.next) == 0 {
		a.seen = make(map[edgeKey]bool, n)
		a.next = make(map[int64][]edge, n)
	}
	for _, g := range a.s.Goroutines {
		for _, w := range g.Waits {
			r := a.rs[w.Resource]
			if r == nil {
				continue
			}
			switch r.Kind {
			case KindMutex:
				for _, h := range r.Holders {
					if h.Evidence != EvidenceReference {
						a.addEdge(g.ID, h.Goroutine, r.ID)
					}
				}
			case KindRWMutex:
				a.rwEdges(g, w, r)
			}
		}
	}
}

// rwEdges: a reader parked in RLock waits for the writer that announced
// itself (parked for readers to leave) or holds the lock; a writer parked
// for readers to leave waits for the readers; a writer parked on the inner
// mutex waits for the writer ahead of it.
func (a *analysis) rwEdges(g *Goroutine, w Wait, r *Resource) {
	writers, ok := a.writers[r]
	if !ok {
		for _, id := range r.Waiters {
			if o := a.gs[id]; o != nil && o.WaitReason == "sync.RWMutex.Lock" {
				writers = append(writers, id)
			}
		}
		if a.writers == nil {
			a.writers = map[*Resource][]int64{}
		}
		a.writers[r] = writers
	}
	pendingWriters := func() []int64 {
		var out []int64
		for _, id := range writers {
			if id != g.ID {
				out = append(out, id)
			}
		}
		return out
	}
	switch {
	case w.Op == OpRLock:
		for _, h := range r.Holders {
			if !h.Read && h.Evidence != EvidenceReference {
				a.addEdge(g.ID, h.Goroutine, r.ID)
			}
		}
		for _, id := range pendingWriters() {
			a.addEdge(g.ID, id, r.ID)
		}
	case g.WaitReason == "sync.RWMutex.Lock":
		for _, h := range r.Holders {
			if h.Read && h.Evidence != EvidenceReference {
				a.addEdge(g.ID, h.Goroutine, r.ID)
			}
		}
	default:
		for _, h := range r.Holders {
			if !h.Read && h.Evidence != EvidenceReference {
				a.addEdge(g.ID, h.Goroutine, r.ID)
			}
		}
		for _, id := range pendingWriters() {
			a.addEdge(g.ID, id, r.ID)
		}
	}
}

// cycles finds the strongly connected components of the wait-for graph
// (Tarjan); every component with a cycle is a deadlock, because each member
// is parked on a lock that only another member can release.
func (a *analysis) cycles() {
	ids := make([]int64, 0, len(a.next))
	for id := range a.next {
		ids = append(ids, id)
	}
	sortIDs(ids)
	// Goroutines numbered densely and the edges as one flat list: Tarjan
	// over arrays (over maps by goroutine id, and a slice per singleton
	// component, it was most of this phase at 100,000 goroutines).
	dense := make(map[int64]int32, len(ids))
	nodes := make([]int64, 0, len(ids))
	num := func(v int64) int32 {
		if k, ok := dense[v]; ok {
			return k
		}
		k := int32(len(nodes))
		dense[v] = k
		nodes = append(nodes, v)
		return k
	}
	for _, id := range ids {
		num(id)
	}
	first := make([]int32, len(ids)+1)
	var to []int32
	for i, id := range ids {
		for _, e := range a.next[id] {
			to = append(to, num(e.To))
		}
		first[i+1] = int32(len(to))
	}
	edges := func(v int32) []int32 {
		if int(v) >= len(ids) {
			return nil // waits for nobody
		}
		return to[first[v]:first[v+1]]
	}
	index := make([]int32, len(nodes))
	low := make([]int32, len(nodes))
	onStack := make([]bool, len(nodes))
	for i := range index {
		index[i] = -1
	}
	var stack []int32
	var n int32
	var comps [][]int64
	var strong func(v int32)
	strong = func(v int32) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges(v) {
			if index[w] < 0 {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			k := len(stack) - 1
			for stack[k] != v {
				k--
			}
			if k == len(stack)-1 && !a.selfLoop(nodes[v]) {
				// A goroutine in no cycle: no component to record.
				onStack[v] = false
				stack = stack[:k]
				return
			}
			var comp []int64
			for j := len(stack) - 1; j >= k; j-- {
				onStack[stack[j]] = false
				comp = append(comp, nodes[stack[j]])
			}
			stack = stack[:k]
			comps = append(comps, comp)
		}
	}
	for i := range ids {
		if index[i] < 0 {
			strong(int32(i))
		}
	}
	for _, comp := range comps {
		if len(comp) == 1 && !a.selfLoop(comp[0]) {
			continue
		}
		sortIDs(comp)
		a.reportCycle(comp)
	}
	sort.Slice(a.s.Cycles, func(i, j int) bool { return a.s.Cycles[i].Goroutines[0] < a.s.Cycles[j].Goroutines[0] })
}

func (a *analysis) selfLoop(id int64) bool {
	for _, e := range a.next[id] {
		if e.To == id {
			return true
		}
	}
	return false
}

// reportCycle walks the component from its lowest id, following edges
// inside it, and records the cycle, the verdicts and a finding.
func (a *analysis) reportCycle(comp []int64) {
	in := map[int64]bool{}
	for _, id := range comp {
		in[id] = true
	}
	c := Cycle{}
	seen := map[int64]bool{}
	cur := comp[0]
	for !seen[cur] {
		seen[cur] = true
		var next *edge
		for i := range a.next[cur] {
			e := a.next[cur][i]
			if in[e.To] && (next == nil || (!seen[e.To] && seen[next.To])) {
				next = &e
			}
		}
		if next == nil {
			break
		}
		c.Goroutines = append(c.Goroutines, cur)
		c.Resources = append(c.Resources, next.Res)
		cur = next.To
	}
	// The walk may close on a member other than where it started (a
	// component can hold several cycles): keep the cycle it closed.
	for i, id := range c.Goroutines {
		if id == cur && i > 0 {
			c.Goroutines, c.Resources = c.Goroutines[i:], c.Resources[i:]
			// Start it, as every cycle, at its lowest id.
			low := 0
			for j, g := range c.Goroutines {
				if g < c.Goroutines[low] {
					low = j
				}
			}
			c.Goroutines = append(append([]int64{}, c.Goroutines[low:]...), c.Goroutines[:low]...)
			c.Resources = append(append([]string{}, c.Resources[low:]...), c.Resources[:low]...)
			break
		}
	}
	if a.kind != nil {
		c.Kind = a.kind(c)
	} else {
		c.Kind = a.cycleKind(c)
	}
	a.s.Cycles = append(a.s.Cycles, c)
	if a.onlyCollect {
		return
	}

	f := Finding{Severity: SeverityError, Kind: FindingDeadlock, Goroutines: append([]int64{}, comp...)}
	switch c.Kind {
	case CycleSelf:
		f.Title = fmt.Sprintf("Deadlock: goroutine %d waits for a lock it already holds", comp[0])
	case CycleRWMutexReentry:
		f.Title = fmt.Sprintf("Deadlock: RWMutex read lock taken again while a writer waits (%d goroutines)", len(comp))
	case CycleChannelLock, CycleChannel, CycleWaitGroup, CycleCond, CycleFinalizer:
		f.Title = fmt.Sprintf("Deadlock (%s): %d goroutines can only be woken by each other, and all of them are parked", c.Kind, len(comp))
	default:
		f.Title = fmt.Sprintf("Deadlock: %d goroutines wait for each other's locks (%s)", len(comp), c.Kind)
	}
	for i, gid := range c.Goroutines {
		r := a.rs[c.Resources[i]]
		next := c.Goroutines[(i+1)%len(c.Goroutines)]
		f.Details = append(f.Details, a.step(gid, r, next))
		f.Resources = appendUnique(f.Resources, r.ID)
	}
	for _, id := range comp {
		g := a.gs[id]
		g.Verdict = VerdictDeadlocked
		g.Why = fmt.Sprintf("in a %s deadlock cycle with goroutines %s", c.Kind, joinIDs(comp))
	}
	a.s.Findings = append(a.s.Findings, f)
}

// step is one line of a cycle: "goroutine 19 (main.transfer at bank.go:30)
// waits for mutex 0x… (main.Account.mu), held by goroutine 20 since
// bank.go:25 (deferred Unlock pending)".
func (a *analysis) step(gid int64, r *Resource, holder int64) string {
	g := a.gs[gid]
	op := "lock"
	for _, w := range g.Waits {
		if w.Resource == r.ID {
			op = string(w.Op)
		}
	}
	s := fmt.Sprintf("goroutine %d%s %s %s", gid, where(g), Op(op).WaitsTo(), describeResource(r))
	for _, h := range r.Holders {
		if h.Goroutine == holder {
			mode := "held"
			if h.Read {
				mode = "read-held"
			}
			return s + fmt.Sprintf(", %s by %s", mode, DescribeHolder(h))
		}
	}
	if r.Kind == KindMutex || r.Kind == KindRWMutex {
		return s + fmt.Sprintf(", which goroutine %d is waiting to write-lock ahead of it", holder)
	}
	return s + fmt.Sprintf(", which goroutine %d (itself parked) can reach and could end", holder)
}

// where is " (func at file:line)" for the goroutine's innermost user frame.
func where(g *Goroutine) string {
	if g.TopUser < 0 {
		return ""
	}
	f := g.Frames[g.TopUser]
	return fmt.Sprintf(" (%s at %s:%d)", ShortFunc(f.Func), ShortFile(f.File), f.Line)
}

func (a *analysis) cycleKind(c Cycle) CycleKind {
	for _, id := range c.Goroutines {
		if a.gs[id].Role == RoleFinalizer {
			return CycleFinalizer
		}
	}
	if len(c.Goroutines) == 1 {
		return CycleSelf
	}
	for i, id := range c.Goroutines {
		for _, w := range a.gs[id].Waits {
			if w.Resource == c.Resources[i] && w.Op == OpRLock {
				return CycleRWMutexReentry
			}
		}
	}
	return CycleLockOrder
}

// behindCycles marks goroutines deadlocked that wait for a lock whose every
// possible releaser is deadlocked, until nothing changes.
func (a *analysis) behindCycles() {
	// A worklist over the reversed edges: each goroutine is looked at
	// again only when one it waits for has become deadlocked.
	waitedBy := map[int64][]int64{}
	for from, es := range a.next {
		for _, e := range es {
			waitedBy[e.To] = append(waitedBy[e.To], from)
		}
	}
	var queue []int64
	for _, g := range a.s.Goroutines {
		if g.Verdict == VerdictDeadlocked {
			queue = append(queue, g.ID)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		froms := waitedBy[id]
		sortIDs(froms)
		for _, from := range froms {
			g := a.gs[from]
			if g == nil || g.Verdict.Stuck() || len(g.Waits) != 1 {
				continue
			}
			all := true
			var by []int64
			for _, e := range a.next[from] {
				if a.gs[e.To].Verdict != VerdictDeadlocked {
					all = false
					break
				}
				by = appendUniqueID(by, e.To)
			}
			if !all {
				continue
			}
			g.Verdict = VerdictDeadlocked
			g.Why = fmt.Sprintf("waits for %s, held by deadlocked goroutine(s) %s", g.Waits[0].Resource, joinIDs(by))
			queue = append(queue, from)
		}
	}
	// One finding per resource with goroutines queued behind a deadlock.
	behind := map[string][]int64{}
	inCycle := map[int64]bool{}
	for _, c := range a.s.Cycles {
		for _, id := range c.Goroutines {
			inCycle[id] = true
		}
	}
	for _, g := range a.s.Goroutines {
		if g.Verdict == VerdictDeadlocked && !inCycle[g.ID] && len(g.Waits) == 1 {
			behind[g.Waits[0].Resource] = append(behind[g.Waits[0].Resource], g.ID)
		}
	}
	for _, rid := range sortedKeys(behind) {
		ids := behind[rid]
		r := a.rs[rid]
		f := Finding{Severity: SeverityError, Kind: FindingDeadlockBehind, Goroutines: ids, Resources: []string{rid},
			Title: fmt.Sprintf("%d goroutine(s) wait for %s, held by a deadlocked goroutine", len(ids), describeResource(r))}
		for _, h := range r.Holders {
			f.Details = append(f.Details, "held by "+DescribeHolder(h))
		}
		f.Details = append(f.Details, "waiting: goroutines "+joinIDs(ids))
		a.s.Findings = append(a.s.Findings, f)
	}
}

// orphanedLocks reports locks that are locked, have waiters, and no
// goroutine could be shown to hold them: usually an Unlock missing on some
// path (a return or panic between Lock and Unlock).
func (a *analysis) orphanedLocks() {
	for _, r := range a.s.Resources {
		if len(r.Holders) > 0 || len(r.Waiters) == 0 {
			continue
		}
		locked := (r.Mutex != nil && r.Mutex.Locked) || (r.RWMutex != nil && (r.RWMutex.WriterHeld || r.RWMutex.Readers > 0))
		if !locked {
			continue
		}
		a.s.Findings = append(a.s.Findings, Finding{
			Severity: SeverityWarning, Kind: FindingOrphanedLock, Goroutines: r.Waiters, Resources: []string{r.ID},
			Title: fmt.Sprintf("%s is locked and no goroutine can be shown to hold it (%d waiting)", describeResource(r), len(r.Waiters)),
			Details: []string{
				"no goroutine has a pending deferred Unlock for it, or locked it earlier in a frame still on its stack",
				"usually an Unlock is missing on some path (an early return or a panic between Lock and Unlock)",
				"waiting: goroutines " + joinIDs(r.Waiters),
			},
		})
	}
}

// findingRank orders findings of the same severity: deadlocks first, then
// what waits behind them, then leaks.
var findingRank = map[FindingKind]int{FindingDeadlock: 0, FindingDeadlockBehind: 1, FindingLeak: 2}

func sortFindings(fs []Finding) {
	rank := func(f Finding) int {
		if r, ok := findingRank[f.Kind]; ok {
			return r
		}
		return len(findingRank)
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Severity != fs[j].Severity {
			return fs[i].Severity > fs[j].Severity
		}
		if ri, rj := rank(fs[i]), rank(fs[j]); ri != rj {
			return ri < rj
		}
		return firstID(fs[i].Goroutines) < firstID(fs[j].Goroutines)
	})
}

func firstID(ids []int64) int64 {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ", ")
}

func appendUnique(ss []string, s string) []string {
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}

func appendUniqueID(ids []int64, id int64) []int64 {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ShortType drops the package paths in a type name or description, keeping
// the package name: "*github.com/x/y/store.Conn" → "*store.Conn",
// "x/y.Var (chan x/y.Event)" → "y.Var (chan y.Event)".
func ShortType(t string) string {
	if !strings.Contains(t, "/") {
		return t
	}
	return pkgPath.ReplaceAllString(t, "")
}

// pkgPath matches the directories of an import path ("github.com/x/y/").
var pkgPath = regexp.MustCompile(`(?:[\w.~-]+/)+`)

// ShortFunc drops the package path: "github.com/x/y/store.(*S).Get" →
// "store.(*S).Get".
func ShortFunc(fn string) string {
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		return fn[i+1:]
	}
	return fn
}
