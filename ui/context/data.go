package context

import (
	"sort"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
)

// Change says how a goroutine differs from the previous snapshot.
type Change uint8

const (
	// ChangeNone: present before with the same state, wait reason and stack.
	ChangeNone Change = iota
	// ChangeNew: not in the previous snapshot.
	ChangeNew
	// ChangeMoved: present before, but its state, wait reason or stack changed.
	ChangeMoved
)

// Data is one snapshot with everything the panes look up in it, computed
// once, off the UI goroutine (the engine builds it). It is never modified
// after Build returns.
type Data struct {
	Snap *inspect.Snapshot
	// Prev is the previous snapshot's data (its own Prev is dropped), or nil.
	Prev *Data
	// Seq counts snapshots: 1 for the first.
	Seq int

	G map[int64]*inspect.Goroutine
	R map[string]*inspect.Resource

	// Groups are the goroutines grouped by identical stack, in report order.
	Groups []report.Group
	// GroupOf is the index in Groups of each goroutine.
	GroupOf map[int64]int
	// Order is every goroutine, most severe verdict first, then by id.
	Order []*inspect.Goroutine

	// Changes holds the goroutines that are New or Moved since Prev.
	Changes map[int64]Change
	// Unchanged counts, per goroutine, the consecutive snapshots (this one
	// included) in which its state, wait reason and stack stayed the same.
	Unchanged map[int64]int
	hash      map[int64]uint64
	// NewCount, EndedCount and MovedCount sum up the changes since Prev.
	NewCount, EndedCount, MovedCount int

	// InCycle maps the goroutines and resources of cycles to the cycle's
	// index in Snap.Cycles.
	InCycle    map[int64]int
	ResInCycle map[string]int

	// Headline is report.Headline of the snapshot.
	Headline string
	// Stuck counts deadlocked and leaked goroutines.
	Stuck int
	// Fin follows the finalizer goroutine and queues across refreshes.
	Fin *FinHistory
}

// Build indexes snap; prev is the data of the previous snapshot of the same
// target, or nil.
func Build(snap *inspect.Snapshot, prev *Data) *Data {
	d := &Data{
		Snap:       snap,
		Seq:        1,
		G:          make(map[int64]*inspect.Goroutine, len(snap.Goroutines)),
		R:          make(map[string]*inspect.Resource, len(snap.Resources)),
		GroupOf:    make(map[int64]int, len(snap.Goroutines)),
		Changes:    map[int64]Change{},
		Unchanged:  make(map[int64]int, len(snap.Goroutines)),
		hash:       make(map[int64]uint64, len(snap.Goroutines)),
		InCycle:    map[int64]int{},
		ResInCycle: map[string]int{},
		Headline:   report.Headline(snap),
		Order:      make([]*inspect.Goroutine, 0, len(snap.Goroutines)),
	}
	var prevFin *FinHistory
	if prev != nil {
		p := *prev
		p.Prev = nil // keep one snapshot of history, not all of them
		d.Prev = &p
		d.Seq = prev.Seq + 1
		prevFin = prev.Fin
	}
	d.Fin = nextFinHistory(prevFin, snap)
	for _, g := range snap.Goroutines {
		if g == nil {
			continue
		}
		d.G[g.ID] = g
		d.Order = append(d.Order, g)
		if g.Verdict.Stuck() {
			d.Stuck++
		}
	}
	for _, r := range snap.Resources {
		if r != nil {
			d.R[r.ID] = r
		}
	}
	sort.SliceStable(d.Order, func(i, j int) bool {
		a, b := d.Order[i], d.Order[j]
		if ra, rb := a.Verdict.Rank(), b.Verdict.Rank(); ra != rb {
			return ra < rb
		}
		return a.ID < b.ID
	})
	d.Groups = report.GroupGoroutines(d.Order)
	for i, grp := range d.Groups {
		for _, g := range grp.Goroutines {
			d.GroupOf[g.ID] = i
		}
	}
	for i, c := range snap.Cycles {
		for _, id := range c.Goroutines {
			if _, ok := d.InCycle[id]; !ok {
				d.InCycle[id] = i
			}
		}
		for _, r := range c.Resources {
			if _, ok := d.ResInCycle[r]; !ok {
				d.ResInCycle[r] = i
			}
		}
	}

	// Changes since the previous snapshot, by id and stack hash.
	for id, g := range d.G {
		h := stateHash(g)
		d.hash[id] = h
		d.Unchanged[id] = 1
		if prev == nil {
			continue
		}
		ph, ok := prev.hash[id]
		switch {
		case !ok:
			d.Changes[id] = ChangeNew
			d.NewCount++
		case ph != h:
			d.Changes[id] = ChangeMoved
			d.MovedCount++
		default:
			d.Unchanged[id] = prev.Unchanged[id] + 1
		}
	}
	if prev != nil {
		for id := range prev.G {
			if _, ok := d.G[id]; !ok {
				d.EndedCount++
			}
		}
	}
	return d
}

// stateHash identifies a goroutine's state, wait reason, waits and stack
// (FNV-1a, without allocating: it runs for every goroutine of every
// snapshot).
func stateHash(g *inspect.Goroutine) uint64 {
	h := uint64(14695981039346656037)
	str := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	num := func(n int) {
		h ^= uint64(n)
		h *= 1099511628211
	}
	str(string(g.State))
	str(g.WaitReason)
	str(string(g.Verdict))
	for _, x := range g.Waits {
		str(x.Resource)
	}
	for _, f := range g.Frames {
		str(f.Func)
		str(f.File)
		num(f.Line)
	}
	return h
}

// Goroutine returns a goroutine of this snapshot or, when it has ended
// since, of the previous one (ended reports that).
func (d *Data) Goroutine(id int64) (g *inspect.Goroutine, ended bool) {
	if d == nil {
		return nil, false
	}
	if g := d.G[id]; g != nil {
		return g, false
	}
	if d.Prev != nil {
		if g := d.Prev.G[id]; g != nil {
			return g, true
		}
	}
	return nil, false
}

// GroupUnchanged is the smallest Unchanged count of a group's members.
func (d *Data) GroupUnchanged(grp report.Group) int {
	n := 0
	for i, g := range grp.Goroutines {
		if u := d.Unchanged[g.ID]; i == 0 || u < n {
			n = u
		}
	}
	return n
}

// GroupChanges counts the members of a group that are new or moved.
func (d *Data) GroupChanges(grp report.Group) (newN, moved int) {
	if len(d.Changes) == 0 {
		return 0, 0
	}
	for _, g := range grp.Goroutines {
		switch d.Changes[g.ID] {
		case ChangeNew:
			newN++
		case ChangeMoved:
			moved++
		}
	}
	return newN, moved
}
