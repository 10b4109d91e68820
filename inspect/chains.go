package inspect

import (
	"fmt"
	"sort"
)

// Wait chains: goroutines queued on locks whose holders are themselves
// queued on locks, down to a head that waits for no lock holder — the one
// goroutine that, by moving, would let the whole chain move. Readers queued
// behind a writer queued behind a reader that holds its read lock while it
// waits on a channel are one chain, with that reader at the head.

// WaitChain is the set of goroutines that wait, directly or through other
// lock holders, for one head goroutine.
type WaitChain struct {
	// Head is the goroutine everything here waits for; it waits for no
	// lock holder itself (what it waits on, if anything, is in its Waits).
	Head int64
	// Waiters are the goroutines that wait for Head, directly or through
	// others, sorted.
	Waiters []int64
	// Resources are the locks the chain goes through, sorted.
	Resources []string
	// Longest is the longest path in the chain, from the goroutine that
	// waits longest (in links) to Head, with Via[i] the lock Longest[i]
	// waits for.
	Longest []int64
	Via     []string
}

// WaitChains computes the wait chains of a snapshot from its goroutines'
// waits and the resources' holders (as the analysis does), for snapshots
// made without the analysis (tests, tools). Snapshot.Chains already holds
// them for snapshots hangtui read.
func WaitChains(s *Snapshot) []WaitChain {
	c := *s
	c.Chains = nil
	a := newAnalysis(&c)
	a.lockEdges()
	a.waitChains()
	return c.Chains
}

// maxChains bounds the chains kept (the largest).
const maxChains = 100

// waitChains computes the chains over the lock wait-for edges, leaving out
// goroutines in cycles (cycles are reported as such).
func (a *analysis) waitChains() {
	inCycle := map[int64]bool{}
	for _, c := range a.s.Cycles {
		for _, id := range c.Goroutines {
			inCycle[id] = true
		}
	}
	// The lock edges, plus holders known only by reference evidence:
	// never used to prove anything, but the likeliest explanation of
	// what a queue waits for.
	// Sized: at 100,000 goroutines growing them was half the phase.
	out := make(map[int64][]edge, len(a.next))
	for from, es := range a.next {
		out[from] = es
	}
	for _, g := range a.s.Goroutines {
		for _, w := range g.Waits {
			r := a.rs[w.Resource]
			if r == nil || (r.Kind != KindMutex && r.Kind != KindRWMutex) {
				continue
			}
			for _, h := range r.Holders {
				if h.Evidence == EvidenceReference && h.Goroutine != g.ID && (!h.Read || w.Op != OpRLock) {
					out[g.ID] = append(out[g.ID], edge{To: h.Goroutine, Res: r.ID})
				}
			}
		}
	}
	into := make(map[int64][]edge, len(out)) // head side → edges from waiters
	for from, es := range out {
		if inCycle[from] {
			continue
		}
		for _, e := range es {
			if !inCycle[e.To] {
				into[e.To] = append(into[e.To], edge{To: from, Res: e.Res})
			}
		}
	}
	var heads []int64
	for id := range into {
		if len(out[id]) == 0 || allIn(out[id], inCycle) {
			heads = append(heads, id)
		}
	}
	sortIDs(heads)
	// Only the largest maxChains are kept: count each head's waiters
	// first (one visited map for all heads, no allocation per head), then
	// trace paths for those kept. At 100,000 goroutines in 50,000 pairs,
	// maps per head were half of this phase.
	type sized struct {
		head int64
		n    int
	}
	var sizes []sized
	visited := make(map[int64]int, len(into))
	var queue []int64
	for k, h := range heads {
		stamp := k + 1
		visited[h] = stamp
		queue = append(queue[:0], h)
		n := 0
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			for _, e := range into[id] {
				if visited[e.To] == stamp {
					continue
				}
				visited[e.To] = stamp
				n++
				queue = append(queue, e.To)
			}
		}
		if n > 0 {
			sizes = append(sizes, sized{h, n})
		}
	}
	sort.SliceStable(sizes, func(i, j int) bool { return sizes[i].n > sizes[j].n })
	if len(sizes) > maxChains {
		sizes = sizes[:maxChains]
	}
	var chains []WaitChain
	for _, sz := range sizes {
		h := sz.head
		c := WaitChain{Head: h}
		// Breadth-first outwards from the head: depth and parent give
		// the longest path (BFS depth is the shortest path to the head;
		// the deepest goroutine's path is reported).
		depth := map[int64]int{h: 0}
		parent := map[int64]edge{}
		queue := []int64{h}
		res := map[string]bool{}
		deepest := h
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			ins := into[id]
			sort.Slice(ins, func(i, j int) bool { return ins[i].To < ins[j].To })
			for _, e := range ins {
				res[e.Res] = true
				if _, seen := depth[e.To]; seen {
					continue
				}
				depth[e.To] = depth[id] + 1
				parent[e.To] = edge{To: id, Res: e.Res}
				c.Waiters = append(c.Waiters, e.To)
				queue = append(queue, e.To)
				if depth[e.To] > depth[deepest] {
					deepest = e.To
				}
			}
		}
		sortIDs(c.Waiters)
		for r := range res {
			c.Resources = append(c.Resources, r)
		}
		sort.Strings(c.Resources)
		for id := deepest; id != h; id = parent[id].To {
			c.Longest = append(c.Longest, id)
			c.Via = append(c.Via, parent[id].Res)
		}
		c.Longest = append(c.Longest, h)
		chains = append(chains, c)
	}
	a.s.Chains = chains
}

func allIn(es []edge, set map[int64]bool) bool {
	for _, e := range es {
		if !set[e.To] {
			return false
		}
	}
	return true
}

// chainFindings reports, for each chain through an RWMutex or two links or
// more deep, who is at its head and what it waits on: the goroutine to look
// at. Information only: nothing here is proven stuck.
func (a *analysis) chainFindings() {
	for _, c := range a.s.Chains {
		rw := false
		for _, id := range c.Resources {
			if r := a.rs[id]; r != nil && r.Kind == KindRWMutex {
				rw = true
			}
		}
		if !rw && len(c.Longest) < 3 {
			continue
		}
		h := a.gs[c.Head]
		if h == nil || h.Verdict.Stuck() {
			continue
		}
		f := Finding{Severity: SeverityInfo, Kind: FindingWaitChain, Goroutines: append(append([]int64{}, c.Waiters...), c.Head),
			Resources: append([]string{}, c.Resources...)}
		sortIDs(f.Goroutines)
		f.Title = fmt.Sprintf("%s wait, through %s, for goroutine %d%s", Plural(len(c.Waiters), "goroutine"),
			Plural(len(c.Resources), "lock"), c.Head, where(h))
		for i, id := range c.Longest[:len(c.Longest)-1] {
			f.Details = append(f.Details, a.step(id, a.rs[c.Via[i]], c.Longest[i+1]))
		}
		f.Details = append(f.Details, fmt.Sprintf("goroutine %d is at the head: %s", c.Head, headState(a, h)))
		a.s.Findings = append(a.s.Findings, f)
	}
}

// headState says what the head of a chain is doing.
func headState(a *analysis, g *Goroutine) string {
	if len(g.Waits) > 0 {
		w := g.Waits[0]
		if r := a.rs[w.Resource]; r != nil {
			return fmt.Sprintf("it %s %s", w.Op.WaitsTo(), describeResource(r))
		}
	}
	switch g.State {
	case StateWaiting:
		return "it is parked (" + g.WaitReason + ")"
	case StateRunning, StateRunnable:
		return "it is running: the chain moves when it releases"
	case StateSyscall:
		return "it is in a system call"
	}
	return string(g.State)
}

// ChainPath is a wait chain drawn as its longest path: Starters wait on
// Resources[0], held (or write-waited) by Holders[0], which waits on
// Resources[1], ... up to the head, Holders[len-1], which waits on Tail (""
// for nothing known) with TailOp. What the graph pane and the Markdown
// summary draw.
type ChainPath struct {
	Starters  []int64
	Resources []string
	Holders   []int64
	Tail      string
	TailOp    Op
}

// Behind is how many goroutines wait behind the head.
func (c ChainPath) Behind() int { return len(c.Starters) + len(c.Holders) - 1 }

// ChainPaths are the longest paths of the snapshot's wait chains
// (Snapshot.Chains, or WaitChains for a snapshot made without the
// analysis) whose head is not in skip, longest first, at most limit.
func ChainPaths(s *Snapshot, skip map[int64]bool, limit int) []ChainPath {
	wcs := s.Chains
	if wcs == nil {
		wcs = WaitChains(s)
	}
	var gs map[int64]*Goroutine
	var rs map[string]*Resource
	var out []ChainPath
	for _, wc := range wcs {
		if skip[wc.Head] || len(wc.Longest) < 2 {
			continue
		}
		if gs == nil {
			gs, rs = indexSnapshot(s)
		}
		c := ChainPath{Resources: wc.Via, Holders: wc.Longest[1:]}
		inPath := map[int64]bool{}
		for _, id := range c.Holders {
			inPath[id] = true
		}
		// The starters: every waiter of the first lock that is not
		// further along the path.
		if r := rs[wc.Via[0]]; r != nil {
			for _, w := range r.Waiters {
				if !inPath[w] && !skip[w] {
					c.Starters = append(c.Starters, w)
				}
			}
		}
		if len(c.Starters) == 0 {
			c.Starters = []int64{wc.Longest[0]}
		}
		if g := gs[wc.Head]; g != nil && len(g.Waits) > 0 {
			c.Tail, c.TailOp = g.Waits[0].Resource, g.Waits[0].Op
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i].Holders) != len(out[j].Holders) {
			return len(out[i].Holders) > len(out[j].Holders)
		}
		return out[i].Behind() > out[j].Behind()
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// BehindSet is the goroutines waiting on one resource behind a cycle.
type BehindSet struct {
	Resource string
	IDs      []int64
}

// BehindCycles returns, for each cycle in order, the goroutines that wait
// (directly or through other locks) on locks held by its members, grouped
// by the resource each waits on, nearest the cycle first. A goroutine is
// listed once, behind the first cycle it waits behind; seen (may be nil)
// gets every member and every goroutine listed.
func BehindCycles(s *Snapshot, cycles []Cycle, seen map[int64]bool) [][]BehindSet {
	if seen == nil {
		seen = map[int64]bool{}
	}
	gs, rs := indexSnapshot(s)
	out := make([][]BehindSet, len(cycles))
	for ci, c := range cycles {
		frontier := append([]int64(nil), c.Goroutines...)
		for _, id := range frontier {
			seen[id] = true
		}
		for len(frontier) > 0 {
			var next []int64
			for _, id := range frontier {
				g := gs[id]
				if g == nil {
					continue
				}
				for _, rid := range g.Holds {
					r := rs[rid]
					if r == nil {
						continue
					}
					var ids []int64
					for _, w := range r.Waiters {
						if !seen[w] {
							seen[w] = true
							ids = append(ids, w)
						}
					}
					if len(ids) > 0 {
						out[ci] = append(out[ci], BehindSet{Resource: rid, IDs: ids})
						next = append(next, ids...)
					}
				}
			}
			frontier = next
		}
	}
	return out
}

func indexSnapshot(s *Snapshot) (map[int64]*Goroutine, map[string]*Resource) {
	gs := make(map[int64]*Goroutine, len(s.Goroutines))
	for _, g := range s.Goroutines {
		if g != nil {
			gs[g.ID] = g
		}
	}
	rs := make(map[string]*Resource, len(s.Resources))
	for _, r := range s.Resources {
		if r != nil {
			rs[r.ID] = r
		}
	}
	return gs, rs
}
