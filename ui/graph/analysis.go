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
// in skip (cycles and what waits behind them), longest first: inspect's
// chains (Snapshot.Chains; computed here for snapshots made without the
// analysis), drawn as their longest path.
func chains(d *uictx.Data, skip map[int64]bool, limit int) []Chain {
	wcs := d.Snap.Chains
	if wcs == nil {
		wcs = inspect.WaitChains(d.Snap)
	}
	var out []Chain
	for _, wc := range wcs {
		if skip[wc.Head] || len(wc.Longest) < 2 {
			continue
		}
		c := Chain{Resources: wc.Via, Holders: wc.Longest[1:]}
		inPath := map[int64]bool{}
		for _, id := range c.Holders {
			inPath[id] = true
		}
		// The starters: every waiter of the first lock that is not
		// further along the path.
		if r := d.R[wc.Via[0]]; r != nil {
			for _, w := range r.Waiters {
				if !inPath[w] && !skip[w] {
					c.Starters = append(c.Starters, w)
				}
			}
		}
		if len(c.Starters) == 0 {
			c.Starters = []int64{wc.Longest[0]}
		}
		if g := d.G[wc.Head]; g != nil && len(g.Waits) > 0 {
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
