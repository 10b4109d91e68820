package inspect

import (
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// holderPass finds who holds the locks goroutines waited on in the last
// sample, without stopping the target: every goroutine's stack is read
// (those running on a thread have no stack to read, and hold nothing as
// far as this pass can tell), and the snapshot's own evidence is applied
// to them: a pending deferred Unlock of the lock, or a Lock earlier in the
// frame's function with no Unlock since (receivers evaluated only where the
// attached snapshot learnt how at that code location), else frameHolders.
// As in snapshots, a holder is only claimed when the lock's own state
// agrees. It runs on a goroutine of its own with a raw target of its own
// (t) beside the samples, and touches nothing of the sampler's: waits are
// the last sample's lock waiters; the result is applied by applyHolders.
func holderPass(t *target.Target, src *sourceIndex, info Target, waits map[*ContendedResource][]int64) (out *holderOut) {
	t0 := time.Now()
	out = &holderOut{found: map[*ContendedResource]*holderFound{}}
	defer func() {
		if recover() != nil { // a torn read is a pass without answers
			out.found = nil
		}
		out.took = time.Since(t0)
	}()
	t.ClearCaches()
	gs, _, err := t.Goroutines()
	if err != nil {
		return out
	}
	b := &builder{
		t:        t,
		progress: func(Progress) {},
		snap:     &Snapshot{Target: info, TakenAt: time.Now()},
		byAdr:    make(map[uint64]*Goroutine, len(gs)),
		byID:     make(map[int64]*Goroutine, len(gs)),
		raw:      make(map[int64]*target.G, len(gs)),
		chans:    map[uint64]*target.Chan{},
		frames:   frameFinder{},
		gs:       gs,
	}
	stacks := stackCache{}
	var slab []Goroutine
	for _, rg := range gs {
		g := newGoroutine(rg, t, stacks, &slab)
		b.byAdr[rg.Addr], b.byID[g.ID], b.raw[g.ID] = g, g, rg
		b.snap.Goroutines = append(b.snap.Goroutines, g)
	}
	byID := map[string]*ContendedResource{}
	for cr, ids := range waits {
		r := b.resource(cr.Kind, cr.Addr)
		for _, id := range ids {
			if g := b.byID[id]; g != nil {
				b.addWait(g, r, OpLock)
			}
		}
		if len(r.Waiters) > 0 {
			byID[r.ID] = cr
		}
	}
	if len(byID) == 0 {
		return out
	}
	b.holders()
	b.sourceHolders(src)
	frameHolders(b, src, byID)
	for id, cr := range byID {
		r := b.resByID(id)
		f := &holderFound{holders: append([]Holder(nil), r.Holders...)}
		seen := map[siteKey]bool{}
		for _, h := range r.Holders {
			fn, file, line := holderSite(b.byID[h.Goroutine], h)
			k := siteKey{fn, file, line}
			if !seen[k] {
				seen[k] = true
				f.sites = append(f.sites, ContentionSite{Func: fn, File: file, Line: line, Evidence: h.Evidence})
			}
		}
		out.found[cr] = f
	}
	return out
}

// holderOut is what a holder pass found, by resource.
type holderOut struct {
	took  time.Duration
	found map[*ContendedResource]*holderFound // nil: the pass failed
}

type holderFound struct {
	holders []Holder
	sites   []ContentionSite
}

// startHolders starts a holder pass when one is due and none runs.
func (cs *ContentionSampler) startHolders(now time.Time) {
	if cs.opts.HolderDuty <= 0 || cs.holderRaw == nil || cs.holderBusy || len(cs.lastWaits) == 0 || now.Before(cs.nextHolder) {
		return
	}
	cs.holderBusy = true
	waits := make(map[*ContendedResource][]int64, len(cs.lastWaits))
	for r, ids := range cs.lastWaits {
		waits[r] = ids // not modified after the sample
	}
	t, src, info := cs.holderRaw, cs.src, cs.prof.Target
	go func() { cs.holderDone <- holderPass(t, src, info, waits) }()
}

// applyHolders takes the result of a finished holder pass, if any (wait:
// until it finishes).
func (cs *ContentionSampler) applyHolders(wait bool) {
	if !cs.holderBusy {
		return
	}
	var out *holderOut
	if wait {
		out = <-cs.holderDone
	} else {
		select {
		case out = <-cs.holderDone:
		default:
			return
		}
	}
	cs.holderBusy = false
	cs.prof.HolderTime += out.took
	cs.nextHolder = time.Now().Add(max(250*time.Millisecond, time.Duration(float64(out.took)/cs.opts.HolderDuty)))
	if out.found == nil {
		return
	}
	cs.prof.HolderSamples++
	for cr, f := range out.found {
		cr.HolderSamples++
		cr.LastHolders = f.holders
		for _, site := range f.sites {
			k := siteKey{site.Func, site.File, site.Line}
			s := cr.holdSites[k]
			if s == nil {
				c := site
				s = &c
				cr.holdSites[k] = s
			}
			s.Samples++
		}
	}
}

// holderSite is where a holder is now in the frame that holds the lock:
// the line that frame is executing (the slow call made with the lock held).
func holderSite(g *Goroutine, h Holder) (fn, file string, line int) {
	if h.Frame == nil {
		return "?", "", 0
	}
	if g != nil {
		for _, f := range g.Frames {
			if f.PC == h.Frame.PC && f.Func == h.Frame.Func {
				return f.Func, f.File, f.Line
			}
		}
	}
	return h.Frame.Func, h.Frame.File, h.Frame.Line
}

// frameHolders names the holder of a lock that neither a deferred Unlock
// nor a receiver evaluated in the frame tied to a goroutine (a raw target
// cannot evaluate receivers at code locations the attached snapshot did not
// see): a frame whose source holds a lock at its current line and whose
// stack words point into the object containing this lock. Only when exactly
// one goroutine has such a frame, as "reference" evidence. The frames are
// found and read once for all the locks.
func frameHolders(b *builder, src *sourceIndex, byID map[string]*ContendedResource) {
	type span struct {
		lo, hi  uint64
		r       *Resource
		waiting map[int64]bool
		found   []Holder
	}
	var spans []*span
	var heap *target.Heap
	for id := range byID {
		r := b.resByID(id)
		if len(r.Holders) > 0 || !b.lockStateAgrees(r, false) && !b.lockStateAgrees(r, true) {
			continue
		}
		sp := &span{lo: r.Addr, hi: r.Addr + 8, r: r, waiting: map[int64]bool{}}
		if heap == nil {
			heap, _ = b.t.NewHeap()
		}
		if heap != nil {
			if base, size, ok := heap.Object(r.Addr); ok {
				sp.lo, sp.hi = base, base+size
			}
		}
		for _, w := range r.Waiters {
			sp.waiting[w] = true
		}
		spans = append(spans, sp)
	}
	if len(spans) == 0 {
		return
	}
	const maxFrames = 4096 // frames read per pass, at most
	read := 0
	for _, rg := range b.gs {
		g := b.byAdr[rg.Addr]
		if g == nil || g.System {
			continue
		}
	frames:
		for i, f := range g.Frames {
			if !IsUserFunc(f.Func) || f.File == "" {
				continue
			}
			calls := src.heldAt(f.File, f.Line, f.Func)
			if len(calls) == 0 {
				continue
			}
			if read++; read > maxFrames {
				return
			}
			words, err := b.t.FrameWords(rg, i, 64)
			if err != nil {
				continue
			}
			for _, sp := range spans {
				if sp.waiting[g.ID] {
					continue
				}
				for _, c := range calls {
					if c.read && sp.r.Kind == KindMutex {
						continue
					}
					for _, w := range words {
						if w >= sp.lo && w < sp.hi {
							sp.found = append(sp.found, Holder{Goroutine: g.ID, Evidence: EvidenceReference, Read: c.read,
								Frame: &Frame{Func: f.Func, File: f.File, Line: c.line, PC: f.PC}})
							continue frames
						}
					}
				}
			}
		}
	}
	for _, sp := range spans {
		if len(sp.found) == 1 {
			b.addHolder(b.byID[sp.found[0].Goroutine], sp.r, sp.found[0])
		}
	}
}
