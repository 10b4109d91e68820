package graph

import (
	"sort"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// Behind is a set of goroutines waiting on one resource behind a cycle.
type Behind struct {
	Resource string
	IDs      []int64
}

// behindCycle returns the goroutines that wait, directly or through other
// locks, on locks held by the members of a cycle, grouped by the resource
// each waits on; in BFS order (nearest the cycle first).
func behindCycle(d *uictx.Data, c inspect.Cycle, seen map[int64]bool) []Behind {
	var out []Behind
	frontier := append([]int64(nil), c.Goroutines...)
	for _, id := range frontier {
		seen[id] = true
	}
	for len(frontier) > 0 {
		var next []int64
		for _, id := range frontier {
			g := d.G[id]
			if g == nil {
				continue
			}
			for _, rid := range g.Holds {
				r := d.R[rid]
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
					out = append(out, Behind{Resource: rid, IDs: ids})
					next = append(next, ids...)
				}
			}
		}
		frontier = next
	}
	return out
}

// Chain is a wait chain: Starters wait on Resources[0], held by Holders[0],
// which waits on Resources[1], held by Holders[1], ... The last holder waits
// on nothing somebody holds (Tail is what it waits on, "" for nothing).
type Chain struct {
	Starters  []int64
	Resources []string
	Holders   []int64
	Tail      string
	TailOp    inspect.Op
}

// Behind is how many goroutines wait behind the last holder.
func (c Chain) Behind() int { return len(c.Starters) + len(c.Holders) - 1 }

// chains returns the longest wait chains that do not involve the goroutines
// in skip (cycles and what waits behind them), longest first.
func chains(d *uictx.Data, skip map[int64]bool, limit int) []Chain {
	holderOf := func(r *inspect.Resource) int64 {
		for _, h := range r.Holders {
			if !skip[h.Goroutine] {
				return h.Goroutine
			}
		}
		return 0
	}
	var all []Chain
	later := map[string]bool{} // resources that appear after the start of some chain
	for _, r := range d.Snap.Resources {
		if r == nil || len(r.Holders) == 0 || len(r.Waiters) == 0 {
			continue
		}
		var starters []int64
		for _, w := range r.Waiters {
			if !skip[w] {
				starters = append(starters, w)
			}
		}
		h := holderOf(r)
		if len(starters) == 0 || h == 0 {
			continue
		}
		c := Chain{Starters: starters}
		visited := map[string]bool{}
		cur := r
		for cur != nil && !visited[cur.ID] {
			visited[cur.ID] = true
			h := holderOf(cur)
			if h == 0 {
				break
			}
			c.Resources = append(c.Resources, cur.ID)
			c.Holders = append(c.Holders, h)
			g := d.G[h]
			cur = nil
			if g == nil {
				break
			}
			for _, w := range g.Waits {
				if nr := d.R[w.Resource]; nr != nil && holderOf(nr) != 0 && !visited[nr.ID] {
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
	var out []Chain
	for _, c := range all {
		if !later[c.Resources[0]] {
			out = append(out, c)
		}
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
