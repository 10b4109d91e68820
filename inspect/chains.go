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
	into := map[int64][]edge{} // head side → edges from waiters
	for from, es := range a.next {
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
		if len(a.next[id]) == 0 || allIn(a.next[id], inCycle) {
			heads = append(heads, id)
		}
	}
	sortIDs(heads)
	var chains []WaitChain
	for _, h := range heads {
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
		if len(c.Waiters) == 0 {
			continue
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
	sort.SliceStable(chains, func(i, j int) bool {
		if len(chains[i].Waiters) != len(chains[j].Waiters) {
			return len(chains[i].Waiters) > len(chains[j].Waiters)
		}
		return chains[i].Head < chains[j].Head
	})
	if len(chains) > maxChains {
		chains = chains[:maxChains]
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
		f.Title = fmt.Sprintf("%s wait, through %s, for goroutine %d%s", plural(len(c.Waiters), "1 goroutine", fmt.Sprintf("%d goroutines", len(c.Waiters))),
			plural(len(c.Resources), "1 lock", fmt.Sprintf("%d locks", len(c.Resources))), c.Head, where(h))
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
