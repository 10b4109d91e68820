package target

import (
	"errors"
	"fmt"
	"go/constant"

	"github.com/go-delve/delve/pkg/proc"
)

// Heap finds heap objects from arbitrary addresses using the runtime's own
// metadata (mheap_.arenas → heapArena.spans → mspan), and marks what is
// reachable from a set of roots. Scanning is conservative — every aligned
// word that points into an allocated span counts as a reference — so
// reachability is over-approximated: an object is only ever called
// unreachable when no word anywhere on the marked path points at it.
type Heap struct {
	t *Target

	arenaBase  uint64 // arenaBaseOffset of the target's platform
	arenaShift uint   // log2(heapArenaBytes)
	l2Bits     uint
	l1Addr     uint64 // &mheap_.arenas
	pagesPer   uint64
	spansOff   uint64
	arenas     map[uint64][]uint64 // arena index → its spans array (nil: not heap)

	spans                                             map[uint64]*span
	span                                              *structLayout
	fStart, fNpages, fElem, fClass, fState, fSpecials field

	marked  map[uint64]bool
	exclude map[uint64]bool
	// Parent, when non-nil, records for each marked object the object (or
	// root address) it was reached from: for explaining and debugging.
	Parent  map[uint64]uint64
	cur     uint64
	work    []uint64
	scanned uint64
	// Budget bounds the work; when it runs out, Drain fails and the caller
	// must not draw conclusions from what was marked.
	Budget uint64
}

type span struct {
	start, end, elem uint64
	noscan, inUse    bool
	specials         uint64
}

// ErrBudget means reachability was not computed completely.
var ErrBudget = errors.New("heap too large to walk within the budget")

// NewHeap prepares heap lookups. It fails on runtimes whose heap layout it
// does not understand; callers then skip reachability.
func (t *Target) NewHeap() (*Heap, error) {
	mh, err := loadStruct(t.bi, "runtime.mheap")
	if err != nil {
		return nil, err
	}
	ha, err := loadStruct(t.bi, "runtime.heapArena")
	if err != nil {
		return nil, err
	}
	ms, err := loadStruct(t.bi, "runtime.mspan")
	if err != nil {
		return nil, err
	}
	base, err := t.varAddr("runtime.mheap_")
	if err != nil {
		return nil, err
	}
	h := &Heap{t: t, arenas: map[uint64][]uint64{}, spans: map[uint64]*span{},
		marked: map[uint64]bool{}, exclude: map[uint64]bool{}, span: ms, Budget: 4 << 30}
	arenasF := mh.Field("arenas")
	spansF := ha.Field("spans")
	if !arenasF.OK || !spansF.OK {
		return nil, fmt.Errorf("mheap layout not understood")
	}
	h.l1Addr = base + uint64(arenasF.Off)
	h.spansOff = uint64(spansF.Off)
	h.pagesPer = uint64(spansF.Size) / 8
	const pageShift = 13
	heapArenaBytes := h.pagesPer << pageShift
	for h.arenaShift = 0; uint64(1)<<h.arenaShift < heapArenaBytes; h.arenaShift++ {
	}
	l1Entries := uint64(arenasF.Size) / 8
	if l1Entries != 1 {
		return nil, fmt.Errorf("two-level arena index (%d L1 entries) not supported", l1Entries)
	}
	// L2 covers the whole 48-bit address space on 64-bit linux.
	h.l2Bits = 48 - h.arenaShift
	if t.bi.Arch.Name == "amd64" {
		h.arenaBase = 0xffff800000000000
	}
	h.fStart, h.fNpages, h.fElem = ms.Field("startAddr"), ms.Field("npages"), ms.Field("elemsize")
	h.fClass, h.fState, h.fSpecials = ms.Field("spanclass"), ms.Field("state"), ms.Field("specials")
	return h, nil
}

// spanOf returns the in-use or manual span containing p, or nil.
func (h *Heap) spanOf(p uint64) *span {
	idx := (p - h.arenaBase) >> h.arenaShift
	if idx >= 1<<h.l2Bits {
		return nil
	}
	spans, ok := h.arenas[idx]
	if !ok {
		spans = nil
		if l2, err := h.t.readPtr(h.l1Addr); err == nil && l2 != 0 {
			if arena, err := h.t.readPtr(l2 + idx*8); err == nil && arena != 0 {
				if raw, err := h.t.read(arena+h.spansOff, int(h.pagesPer*8)); err == nil {
					spans = make([]uint64, h.pagesPer)
					for i := range spans {
						spans[i] = decodeUint(raw[i*8 : i*8+8])
					}
				}
			}
		}
		h.arenas[idx] = spans
	}
	if spans == nil {
		return nil
	}
	sp := spans[(p>>13)%h.pagesPer]
	if sp == 0 {
		return nil
	}
	s, ok := h.spans[sp]
	if !ok {
		s = nil
		if buf, err := h.t.read(sp, int(h.span.Size)); err == nil {
			start := get(buf, h.fStart)
			s = &span{
				start:    start,
				end:      start + get(buf, h.fNpages)<<13,
				elem:     get(buf, h.fElem),
				noscan:   get(buf, h.fClass)&1 != 0,
				inUse:    get(buf, h.fState) == 1,
				specials: get(buf, h.fSpecials),
			}
		}
		h.spans[sp] = s
	}
	if s == nil || p < s.start || p >= s.end {
		return nil
	}
	return s
}

// Object returns the base and size of the heap object containing p.
func (h *Heap) Object(p uint64) (base, size uint64, ok bool) {
	s := h.spanOf(p)
	if s == nil || !s.inUse || s.elem == 0 {
		return 0, 0, false
	}
	base = s.start + (p-s.start)/s.elem*s.elem
	return base, s.elem, true
}

// Exclude keeps an object (and what only it references) out of marking:
// runtime bookkeeping such as g, m and sudog structures, which point at
// everything every goroutine waits on.
func (h *Heap) Exclude(p uint64) {
	if base, _, ok := h.Object(p); ok {
		h.exclude[base] = true
	}
}

// MarkPtr marks the object p points into, if it is a heap object.
func (h *Heap) MarkPtr(p uint64) {
	if p < 4096 {
		return
	}
	s := h.spanOf(p)
	if s == nil || !s.inUse || s.elem == 0 {
		return
	}
	base := s.start + (p-s.start)/s.elem*s.elem
	if h.marked[base] || h.exclude[base] {
		return
	}
	h.marked[base] = true
	if h.Parent != nil {
		h.Parent[base] = h.cur
	}
	if !s.noscan {
		h.work = append(h.work, base)
	}
}

// MarkRange scans memory [lo, hi) as roots.
func (h *Heap) MarkRange(lo, hi uint64) error {
	lo &^= 7
	for lo < hi {
		n := hi - lo
		if n > 1<<20 {
			n = 1 << 20
		}
		buf, err := h.t.read(lo, int(n))
		if err != nil {
			return err
		}
		h.scanned += n
		for i := uint64(0); i+8 <= n; i += 8 {
			h.cur = lo + i
			h.MarkPtr(decodeUint(buf[i : i+8]))
		}
		lo += n
	}
	return nil
}

// Drain scans every marked object until nothing new is reached.
func (h *Heap) Drain() error {
	for len(h.work) > 0 {
		base := h.work[len(h.work)-1]
		h.work = h.work[:len(h.work)-1]
		s := h.spanOf(base)
		if s == nil {
			continue
		}
		if h.scanned > h.Budget {
			return ErrBudget
		}
		size := s.elem
		if size > 64<<20 {
			size = 64 << 20
		}
		if err := h.MarkRange(base, base+size); err != nil {
			// An unreadable object: treat as scanned (nothing to follow).
			continue
		}
	}
	return nil
}

// Path explains how the object containing p was reached: the chain of
// addresses back to a root (only when Parent is set).
func (h *Heap) Path(p uint64) []uint64 {
	base, _, ok := h.Object(p)
	if !ok || h.Parent == nil {
		return nil
	}
	var out []uint64
	for i := 0; i < 64 && base != 0; i++ {
		out = append(out, base)
		next, ok := h.Parent[base]
		if !ok {
			break
		}
		if b2, _, ok := h.Object(next); ok {
			out = append(out, next)
			base = b2
			continue
		}
		out = append(out, next)
		break
	}
	return out
}

// Reached reports whether the heap object containing p has been marked.
// Non-heap addresses report false: the caller classifies those.
func (h *Heap) Reached(p uint64) bool {
	base, _, ok := h.Object(p)
	return ok && h.marked[base]
}

// IsHeap reports whether p is inside an allocated heap object.
func (h *Heap) IsHeap(p uint64) bool {
	_, _, ok := h.Object(p)
	return ok
}

// Scanned is the number of bytes read while marking.
func (h *Heap) Scanned() uint64 { return h.scanned }

// Marked is the number of objects marked.
func (h *Heap) Marked() int { return len(h.marked) }

// Globals returns the [lo, hi) ranges of the data and bss segments (globals
// that may hold pointers).
func (t *Target) Globals() ([][2]uint64, error) {
	md, buf, err := t.firstModuledata()
	if err != nil {
		return nil, err
	}
	return [][2]uint64{
		{get(buf, md.Field("data")), get(buf, md.Field("edata"))},
		{get(buf, md.Field("bss")), get(buf, md.Field("ebss"))},
	}, nil
}

// StackBounds returns g's stack [lo, hi), as read with the g.
func (t *Target) StackBounds(g *G) (lo, hi uint64) { return g.regs.lo, g.regs.hi }

// LiveStack returns the part of g's stack in use: [sp, hi) for a goroutine
// that is not running (its saved SP), the whole stack otherwise. Memory
// below SP belongs to returned frames and must not count as a reference.
func (t *Target) LiveStack(g *G) (lo, hi uint64) {
	lo, hi = g.regs.lo, g.regs.hi
	if g.OnThread || g.Status == Grunning || g.Status == Gsyscall {
		return lo, hi
	}
	if sp := g.regs.sp; sp > lo && sp < hi {
		lo = sp
	}
	return lo, hi
}

// DeferRecords returns the addresses of g's heap-allocated _defer records
// and their closures (roots when g can run).
func (t *Target) DeferClosures(g *G) []uint64 {
	dl, err := loadStruct(t.bi, "runtime._defer")
	if err != nil {
		return nil
	}
	head := g.regs.deferHead
	var out []uint64
	for d, n := head, 0; d != 0 && n < 10_000; n++ {
		buf, err := t.read(d, int(dl.Size))
		if err != nil {
			break
		}
		out = append(out, d, get(buf, dl.Field("fn")))
		d = get(buf, dl.Field("link"))
	}
	return out
}

// ThreadRegisters returns every general register value of every thread:
// a running goroutine may hold its only reference in a register.
func (t *Target) ThreadRegisters() []uint64 {
	var out []uint64
	for _, th := range t.t.ThreadList() {
		regs, err := th.Registers()
		if err != nil {
			continue
		}
		rs, err := regs.Slice(false)
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.Reg != nil {
				out = append(out, r.Reg.Uint64Val)
			}
		}
	}
	return out
}

// FinalizerRoots returns the closures and objects of every finalizer and
// cleanup that may still run: queued ones (finq) and those registered on
// live objects (span specials). A goroutine woken by one of them is not
// stuck while the finalizer goroutine can run.
func (h *Heap) FinalizerRoots() ([]uint64, error) {
	t := h.t
	var out []uint64
	// Queued finalizers, on finq or in the block the finalizer goroutine is
	// working through. The one it runs now is not a root: it can never run
	// again, and what it uses is on the finalizer goroutine's stack.
	_, _ = t.walkFinBlocks(t.FingRunning(), func(e finEntry) bool {
		if !e.running {
			out = append(out, e.fn, e.arg)
		}
		return true
	})
	// Queued cleanups (Go 1.25+: their own queue, off-heap blocks).
	if head := t.CleanupQueueHead(); head != 0 {
		_, _ = t.walkCleanupBlocks(head, func(fn, arg uint64) bool {
			out = append(out, fn, arg)
			return true
		})
	}
	// Registered finalizers and cleanups: the specials of every in-use span.
	mh, err := loadStruct(t.bi, "runtime.mheap")
	if err != nil {
		return out, err
	}
	base, err := t.varAddr("runtime.mheap_")
	if err != nil {
		return out, err
	}
	all := mh.Field("allspans")
	ptr, _ := t.readPtr(base + uint64(all.Off))
	n, _ := t.readPtr(base + uint64(all.Off) + 8)
	if n > 50_000_000 {
		return out, fmt.Errorf("implausible allspans length %d", n)
	}
	raw, err := t.read(ptr, int(n*8))
	if err != nil {
		return out, err
	}
	sp, _ := loadStruct(t.bi, "runtime.special")
	sf, _ := loadStruct(t.bi, "runtime.specialfinalizer")
	sc, _ := loadStruct(t.bi, "runtime.specialCleanup")
	next, off, kind := sp.Field("next"), sp.Field("offset"), sp.Field("kind")
	kindFinalizer, kindCleanup := t.constant("runtime._KindSpecialFinalizer", 1), t.constant("runtime._KindSpecialCleanup", -1)
	for i := uint64(0); i < n; i++ {
		s := decodeUint(raw[i*8 : i*8+8])
		buf, err := t.read(s, int(h.span.Size))
		if err != nil || get(buf, h.fState) != 1 {
			continue
		}
		start := get(buf, h.fStart)
		for rec, k := get(buf, h.fSpecials), 0; rec != 0 && k < 1_000_000; k++ {
			rb, err := t.read(rec, 64)
			if err != nil {
				break
			}
			switch k := int64(get(rb, kind)); {
			case k == kindFinalizer && sf != nil:
				out = append(out, get(rb, sf.Field("fn")), start+get(rb, off))
			case k == kindCleanup && sc != nil:
				out = append(out, get(rb, sc.Field("cleanup.fn")), get(rb, sc.Field("cleanup.arg")), get(rb, sc.Field("fn")))
			}
			rec = get(rb, next)
		}
	}
	return out, nil
}

// constant evaluates an integer constant of the target's packages, e.g.
// "runtime._KindSpecialFinalizer" (they differ between Go releases).
func (t *Target) constant(name string, fallback int64) int64 {
	scope, err := proc.ThreadScope(t.t, t.t.CurrentThread())
	if err != nil {
		return fallback
	}
	v, err := scope.EvalExpression(name, proc.LoadConfig{})
	if err != nil || v.Value == nil || v.Value.Kind() != constant.Int {
		return fallback
	}
	n, ok := constant.Int64Val(v.Value)
	if !ok {
		return fallback
	}
	return n
}

// VarRange is the [lo, hi) address range of a package variable.
func (t *Target) VarRange(name string) (lo, hi uint64, ok bool) {
	scope, err := proc.ThreadScope(t.t, t.t.CurrentThread())
	if err != nil {
		return 0, 0, false
	}
	v, err := scope.EvalExpression(name, proc.LoadConfig{})
	if err != nil || v.Unreadable != nil || v.RealType == nil {
		return 0, 0, false
	}
	return v.Addr, v.Addr + uint64(v.RealType.Size()), true
}

// AllGAddrs returns the address of every runtime.g, dead ones included.
func (t *Target) AllGAddrs() []uint64 {
	sliceAddr, err := t.varAddr("runtime.allgs")
	if err != nil {
		return nil
	}
	ptr, err1 := t.readPtr(sliceAddr)
	n, err2 := t.readPtr(sliceAddr + 8)
	if err1 != nil || err2 != nil || n > 50_000_000 {
		return nil
	}
	raw, err := t.read(ptr, int(n*8))
	if err != nil {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = decodeUint(raw[i*8 : i*8+8])
	}
	return out
}

// PTimers returns the P structures and the timers in their heaps: the
// runtime will fire these timers, so what they reference can be woken.
func (t *Target) PTimers() (ps, timers []uint64) {
	pl, err := loadStruct(t.bi, "runtime.p")
	if err != nil {
		return nil, nil
	}
	sliceAddr, err := t.varAddr("runtime.allp")
	if err != nil {
		return nil, nil
	}
	ptr, _ := t.readPtr(sliceAddr)
	n, _ := t.readPtr(sliceAddr + 8)
	if n > 100_000 {
		return nil, nil
	}
	heapF := pl.Field("timers.heap") // Go 1.23+: []timerWhen{timer, when}
	stride := uint64(16)
	if !heapF.OK {
		heapF = pl.Field("timers") // Go 1.22: []*timer
		stride = 8
	}
	for i := uint64(0); i < n; i++ {
		p, err := t.readPtr(ptr + i*8)
		if err != nil || p == 0 {
			continue
		}
		ps = append(ps, p)
		arr, _ := t.readPtr(p + uint64(heapF.Off))
		cnt, _ := t.readPtr(p + uint64(heapF.Off) + 8)
		if cnt > 10_000_000 {
			continue
		}
		for j := uint64(0); j < cnt; j++ {
			if tm, err := t.readPtr(arr + j*stride); err == nil && tm != 0 {
				timers = append(timers, tm)
			}
		}
	}
	return ps, timers
}

// StackPointsInto reports whether a word on g's live stack points into
// [lo, hi).
func (t *Target) StackPointsInto(g *G, lo, hi uint64) bool {
	slo, shi := t.LiveStack(g)
	if shi <= slo || shi-slo > 1<<20 {
		return false
	}
	buf, err := t.read(slo&^7, int(shi-slo&^7))
	if err != nil {
		return false
	}
	for i := 0; i+8 <= len(buf); i += 8 {
		if v := decodeUint(buf[i : i+8]); v >= lo && v < hi {
			return true
		}
	}
	return false
}
