package report

import (
	"sort"

	"github.com/hangtui/hangtui/inspect"
)

// Wait chains over the Snapshot model, for the exports that draw the part
// of the wait-for graph that matters (the Markdown summary). The TUI's
// graph pane computes the same from its own context (ui/graph/analysis.go);
// this file depends on the model alone.

// WaitChain is a chain of goroutines each waiting for a lock the next one
// holds: Starters wait on Resources[0], held by Holders[0], which waits on
// Resources[1], held by Holders[1], and so on. The last holder waits on
// nothing that somebody is known to hold: Tail is what it waits on ("" for
// nothing), with TailOp.
type WaitChain struct {
	Starters  []int64
	Resources []string
	Holders   []int64
	Tail      string
	TailOp    inspect.Op
}

// Behind is how many goroutines wait behind the chain's last holder.
func (c WaitChain) Behind() int { return len(c.Starters) + len(c.Holders) - 1 }

// BehindSet is the goroutines waiting on one resource behind a cycle.
type BehindSet struct {
	Resource string
	IDs      []int64
}

// chainIndex looks goroutines and resources up by id.
type chainIndex struct {
	g map[int64]*inspect.Goroutine
	r map[string]*inspect.Resource
}

func newChainIndex(s *inspect.Snapshot) *chainIndex {
	x := &chainIndex{g: make(map[int64]*inspect.Goroutine, len(s.Goroutines)), r: make(map[string]*inspect.Resource, len(s.Resources))}
	for _, g := range s.Goroutines {
		if g != nil {
			x.g[g.ID] = g
		}
	}
	for _, r := range s.Resources {
		if r != nil {
			x.r[r.ID] = r
		}
	}
	return x
}

// BehindCycle returns the goroutines that wait, directly or through other
// locks, on locks held by the members of cycle c, grouped by the resource
// each waits on, nearest the cycle first. Goroutines in seen are skipped;
// those returned (and the members) are added to it.
func BehindCycle(s *inspect.Snapshot, c inspect.Cycle, seen map[int64]bool) []BehindSet {
	return newChainIndex(s).behindCycle(c, seen)
}

func (x *chainIndex) behindCycle(c inspect.Cycle, seen map[int64]bool) []BehindSet {
	var out []BehindSet
	frontier := append([]int64(nil), c.Goroutines...)
	for _, id := range frontier {
		seen[id] = true
	}
	for len(frontier) > 0 {
		var next []int64
		for _, id := range frontier {
			g := x.g[id]
			if g == nil {
				continue
			}
			for _, rid := range g.Holds {
				r := x.r[rid]
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
					out = append(out, BehindSet{Resource: rid, IDs: ids})
					next = append(next, ids...)
				}
			}
		}
		frontier = next
	}
	return out
}

// WaitChains returns up to limit of the longest wait chains that involve
// none of the goroutines in skip (for example the cycles and what waits
// behind them), longest first (then the most goroutines behind).
func WaitChains(s *inspect.Snapshot, skip map[int64]bool, limit int) []WaitChain {
	return newChainIndex(s).chains(s, skip, limit)
}

func (x *chainIndex) chains(s *inspect.Snapshot, skip map[int64]bool, limit int) []WaitChain {
	holderOf := func(r *inspect.Resource) int64 {
		for _, h := range r.Holders {
			if !skip[h.Goroutine] {
				return h.Goroutine
			}
		}
		return 0
	}
	var all []WaitChain
	later := map[string]bool{} // resources that appear after the start of some chain
	for _, r := range s.Resources {
		if r == nil || len(r.Holders) == 0 || len(r.Waiters) == 0 {
			continue
		}
		var starters []int64
		for _, w := range r.Waiters {
			if !skip[w] {
				starters = append(starters, w)
			}
		}
		if len(starters) == 0 || holderOf(r) == 0 {
			continue
		}
		c := WaitChain{Starters: starters}
		visited := map[string]bool{}
		for cur := r; cur != nil && !visited[cur.ID]; {
			visited[cur.ID] = true
			h := holderOf(cur)
			if h == 0 {
				break
			}
			c.Resources = append(c.Resources, cur.ID)
			c.Holders = append(c.Holders, h)
			g := x.g[h]
			cur = nil
			if g == nil {
				break
			}
			for _, w := range g.Waits {
				if nr := x.r[w.Resource]; nr != nil && holderOf(nr) != 0 && !visited[nr.ID] {
					cur = nr
					later[nr.ID] = true
					break
				}
			}
			if cur == nil && len(g.Waits) > 0 {
				c.Tail, c.TailOp = g.Waits[0].Resource, g.Waits[0].Op
			}
		}
		if len(c.Holders) > 0 {
			all = append(all, c)
		}
	}
	var out []WaitChain
	for _, c := range all {
		if !later[c.Resources[0]] {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i].Holders) != len(out[j].Holders) {
			return len(out[i].Holders) > len(out[j].Holders)
		}
		if out[i].Behind() != out[j].Behind() {
			return out[i].Behind() > out[j].Behind()
		}
		return out[i].Resources[0] < out[j].Resources[0]
	})
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
