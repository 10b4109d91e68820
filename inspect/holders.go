package inspect

import (
	"strings"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// holders finds who holds each lock, with evidence:
//   - defer: a pending deferred Unlock/RUnlock of that lock in a frame, both
//     open-coded defers (decoded from the frame's deferBits and closure
//     slots) and the runtime's _defer records;
//   - source: see sourceHolders.
//
// A claim is only made when the lock's own state agrees (a Mutex with a
// pending deferred Unlock must be locked), so a stale defer never invents a
// holder.
func (b *builder) holders() {
	n := len(b.gs)
	corrupt := false // said once: the runtime's tables are the same for all
	for i, rg := range b.gs {
		if i%5000 == 4999 {
			b.progress(Progress{Phase: "finding lock holders", Done: n/3 + i/3, Total: n})
		}
		g := b.model(i)
		defers, err := b.t.PendingDefers(rg)
		if err != nil {
			if !target.IsCorrupt(err) {
				b.warn("defers of goroutine %d: %v", g.ID, err)
			} else if !corrupt {
				corrupt = true
				b.warn("deferred calls: %v", err)
			}
			continue
		}
		for _, d := range defers {
			if len(d.Captured) == 0 {
				continue
			}
			addr := d.Captured[0]
			var r *Resource
			read := false
			switch d.Unlock {
			case target.UnlockMutex:
				if w, err := b.t.ReadMutex(addr); err != nil || !w.Locked {
					continue
				}
				r = b.resource(KindMutex, addr)
			case target.UnlockRWWrite:
				if w, err := b.t.ReadRWMutex(addr); err != nil || !w.W.Locked {
					continue
				}
				r = b.resource(KindRWMutex, addr)
			case target.UnlockRWRead:
				if w, err := b.t.ReadRWMutex(addr); err != nil || (w.ReaderCount <= 0 && w.ReaderWait <= 0) {
					continue
				}
				r, read = b.resource(KindRWMutex, addr), true
			default:
				continue
			}
			var fr *Frame
			if d.Frame >= 0 && d.Frame < len(g.Frames) {
				f := g.Frames[d.Frame]
				fr = &Frame{Func: f.Func, File: d.File, Line: d.Line, PC: f.PC}
			}
			b.addHolder(g, r, Holder{Goroutine: g.ID, Evidence: EvidenceDefer, Frame: fr, Read: read})
		}
	}
}

// nameResources finds, for each sync object, the variable or struct field
// that contains it ("main.Store.mu"), from the frames of the goroutines that
// wait on it or hold it: a frame that locks s.mu usually has s in scope.
func (b *builder) nameResources() {
	b.prefetchNaming()
	for _, r := range b.snap.Resources {
		if r.Kind == KindSema {
			continue
		}
		if r.Kind == KindChan {
			// A channel is named by the global that holds it, if any,
			// or the struct field (of a global, or of what a waiter's
			// frame points to) that does.
			if name := b.t.GlobalHolding(r.Addr); name != "" {
				r.Type = name + " (" + r.Type + ")"
			} else if name := b.chanField(r); name != "" {
				r.Type = name + " (" + r.Type + ")"
			}
			continue
		}
		if name := b.containerOf(namingCandidates(r), r.Addr); name != "" {
			r.Type = name
		} else if name := b.t.GlobalContaining(r.Addr); name != "" {
			r.Type = name
		} else if name := b.t.GlobalHolding(r.Addr); name != "" {
			// A pointer to it in a package variable: var c = sync.NewCond(...).
			r.Type = name + " (*" + r.Type + ")"
		}
	}
}

// chanField names the struct field holding channel r: a field of a
// package variable ("main.pool.drained") or of a struct a waiter's frame
// points to ("main.Pipeline.out"); "" when none.
func (b *builder) chanField(r *Resource) string {
	if b.globalWords == nil {
		b.globalWords = b.t.GlobalWords()
	}
	if loc, ok := b.globalWords[r.Addr]; ok {
		if name := b.t.GlobalContaining(loc); strings.Count(name, ".") >= 2 {
			return name
		}
	}
	return b.fromUserFrames(namingCandidates(r), func(g *target.G, frame int) string { return b.t.FieldHolding(g, frame, r.Addr) })
}

func (b *builder) containerOf(ids []int64, addr uint64) string {
	return b.fromUserFrames(ids, func(g *target.G, frame int) string { return b.t.ContainerOf(g, frame, addr) })
}

// fromUserFrames asks name of the first three user frames (not inlined)
// of each goroutine of ids, and returns the first answer that is not "".
// Three: the variable naming a sync object is in the frames that use it.
func (b *builder) fromUserFrames(ids []int64, name func(g *target.G, frame int) string) string {
	found := ""
	b.eachUserFrame(ids, func(rg *target.G, i int) bool {
		found = name(rg, i)
		return found == ""
	})
	return found
}

// eachUserFrame calls f with the frames fromUserFrames looks at, in its
// order, until f returns false.
func (b *builder) eachUserFrame(ids []int64, f func(rg *target.G, frame int) bool) {
	for _, id := range ids {
		g := b.byID[id]
		if g == nil {
			continue
		}
		rg := b.rawOf(g)
		if rg == nil {
			continue
		}
		for _, i := range b.firstUserFrames(g.Frames) {
			if !f(rg, i) {
				return
			}
		}
	}
}

// firstUserFrames are the indexes of the first three user frames (not
// inlined) of a stack, once per distinct stack (goroutines with the same
// stack share its frames).
func (b *builder) firstUserFrames(frames []Frame) []int {
	if len(frames) == 0 {
		return nil
	}
	key := userFramesKey{&frames[0], len(frames)}
	if idx, ok := b.userFrames[key]; ok {
		return idx
	}
	var idx []int
	for i, fr := range frames {
		if IsUserFunc(fr.Func) && !fr.Inlined {
			if idx = append(idx, i); len(idx) == 3 {
				break
			}
		}
	}
	if b.userFrames == nil {
		b.userFrames = map[userFramesKey][]int{}
	}
	b.userFrames[key] = idx
	return idx
}

type userFramesKey struct {
	first *Frame
	n     int
}

// namingCandidates are the goroutines whose frames name r (nameResources).
func namingCandidates(r *Resource) []int64 {
	var cands []int64
	if r.Kind != KindChan {
		for _, h := range r.Holders {
			cands = append(cands, h.Goroutine)
		}
	}
	cands = append(cands, r.Waiters...)
	if len(cands) > 4 {
		cands = cands[:4]
	}
	return cands
}

// prefetchNaming reads the frame variables nameResources will look at for
// locks, Conds and WaitGroups in one batch (channels are named by a global
// or a struct field first, and reading ahead for them cost more than it
// saved).
func (b *builder) prefetchNaming() {
	var reqs []target.FrameReq
	for _, r := range b.snap.Resources {
		if r.Kind == KindSema || r.Kind == KindChan {
			continue
		}
		b.eachUserFrame(namingCandidates(r), func(rg *target.G, i int) bool {
			reqs = append(reqs, target.FrameReq{G: rg, Frame: i})
			return true
		})
	}
	b.t.PrefetchFrameVars(reqs)
}

// referenceHolders is the fallback for a locked lock with waiters and no
// holder found by defer or source evidence: if exactly one other goroutine
// has a word on its live stack pointing into the lock (or into the heap
// object containing it), it is named as the likely holder with "reference"
// evidence. Such a holder is shown, but never used to prove a deadlock.
func (b *builder) referenceHolders() {
	var rs []*Resource
	var ranges [][2]uint64
	var heap *target.Heap
	for _, r := range b.snap.Resources {
		if len(r.Holders) > 0 || len(r.Waiters) == 0 || !b.lockStateAgrees(r, false) && !b.lockStateAgrees(r, true) {
			continue
		}
		if heap == nil {
			h, err := b.t.NewHeap()
			if err != nil {
				return
			}
			heap = h
		}
		lo, hi := r.Addr, r.Addr+8
		if base, size, ok := heap.Object(r.Addr); ok {
			lo, hi = base, base+size
		}
		if lo < 4096 {
			continue
		}
		rs, ranges = append(rs, r), append(ranges, [2]uint64{lo, hi})
	}
	if len(rs) == 0 {
		return
	}
	// One pass over every stack for all the locks (waiters and runtime
	// goroutines do not count); two hits are as good as many: ambiguous.
	waiting := map[waitKey]bool{}
	for ri, r := range rs {
		for _, id := range r.Waiters {
			waiting[waitKey{id, ri}] = true
		}
	}
	hits := b.t.StacksPointingInto(b.gs, ranges, 2, func(gi, ri int) bool {
		g := b.model(gi)
		return g.System || waiting[waitKey{g.ID, ri}]
	})
	for ri, r := range rs {
		if len(hits[ri]) != 1 {
			continue
		}
		g := b.model(hits[ri][0])
		var fr *Frame
		if g.TopUser >= 0 {
			f := g.Frames[g.TopUser]
			fr = &f
		}
		b.addHolder(g, r, Holder{Goroutine: g.ID, Evidence: EvidenceReference, Frame: fr})
	}
}

type waitKey struct {
	g int64
	r int
}
