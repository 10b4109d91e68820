package target

import (
	"errors"
	"fmt"
	"time"
)

// Heap finds heap objects from arbitrary addresses using the runtime's own
// metadata (mheap_.arenas → heapArena.spans → mspan), and marks what is
// reachable from a set of roots. Objects are scanned by their pointer bits
// (heapbits.go) and stacks by their stack maps (stackmaps.go), as the
// runtime's GC scans them; where that metadata is missing, every aligned
// word that points into an allocated span counts as a reference. Either
// way reachability is over-approximated: an object is only ever called
// unreachable when no live pointer on any marked path points at it.
//
// Span metadata is read once per snapshot and shared by every Heap of that
// snapshot (heapMeta); marks are per Heap, one bit per object of a span.
type Heap struct {
	t *Target
	m *heapMeta
	r reader // how marking reads (the Target, or a private reader)

	marks, excl [][]uint64 // by span id: a bit per object
	// precise: objects are scanned by their pointer bits (heapbits.go)
	// where the span's layout is known, stacks by their stack maps.
	precise bool
	walker  rootWalker
	seen    [4096]uint64
	nmarked int
	// Parent, when non-nil, records for each marked object the object (or
	// root address) it was reached from: for explaining and debugging.
	Parent  map[uint64]uint64
	cur     uint64
	work    []uint64
	spans   *spanCache // small spans read whole (spancache.go)
	last    *span      // object's last span
	scanned uint64
	// Budget bounds the work; when it runs out, Drain fails and the caller
	// must not draw conclusions from what was marked.
	Budget uint64
	// Deadline, when set, bounds the work in time: past it Drain fails
	// with ErrPauseBudget (a live target is stopped meanwhile).
	Deadline time.Time
}

// heapMeta is what is known about the heap's spans: read lazily, kept for
// one snapshot (the process does not run meanwhile).
type heapMeta struct {
	t          *Target
	r          reader
	arenaBase  uint64 // arenaBaseOffset of the target's platform
	arenaShift uint   // log2(heapArenaBytes)
	l2Bits     uint
	l1Addr     uint64 // &mheap_.arenas
	l2         uint64 // the L2 array, 0 until read
	pagesPer   uint64
	spansOff   uint64
	arenas     map[uint64]*arenaSpans // arena index → its spans (nil: not heap)
	lastIdx    uint64
	last       *arenaSpans
	recent     [256]recentArena

	spans                                             map[uint64]*span // by mspan address
	nspans                                            int
	span                                              *structLayout
	fStart, fNpages, fElem, fClass, fState, fSpecials field
	// Pointer layout of objects (heapbits.go).
	bits heapLayout
}

type recentArena struct {
	idx uint64
	a   *arenaSpans
	ok  bool
}

// arenaSpans is a heapArena's page → mspan table, resolved page by page.
type arenaSpans struct {
	addrs []uint64 // mspan address per page
	spans []*span  // resolved, nil until looked up (or not a span)
	done  []bool
}

type span struct {
	id               int
	start, end, elem uint64
	noscan, inUse    bool
	specials         uint64
	// Where its objects' pointer bits are (heapbits.go).
	layout    uint8
	class     uint8  // mspan.spanclass
	hstate    uint8  // heap bits: unread, being read, read, unusable
	largeType uint64 // mspan.largeType (layoutLarge)
	hbits     []uint64
	copy      spanCopy // its bytes, when read whole (spancache.go)
	divMul    uint32   // ^uint32(0)/elem + 1, for index
}

// ErrBudget means reachability was not computed completely.
var ErrBudget = errors.New("heap too large to walk within the budget")

// ErrPauseBudget means reachability was not computed completely: the walk
// reached its Deadline.
var ErrPauseBudget = errors.New("heap walk stopped at the pause budget")

// NewHeap prepares heap lookups. It fails on runtimes whose heap layout it
// does not understand; callers then skip reachability.
func (t *Target) NewHeap() (*Heap, error) {
	if t.snap.heap == nil {
		m, err := t.newHeapMeta()
		if err != nil {
			return nil, err
		}
		t.snap.heap = m
	}
	return &Heap{t: t, m: t.snap.heap, r: t, Budget: 4 << 30, precise: preciseScanning()}, nil
}

func (t *Target) newHeapMeta() (*heapMeta, error) {
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
	h := &heapMeta{t: t, r: t, arenas: map[uint64]*arenaSpans{}, spans: map[uint64]*span{}, span: ms, lastIdx: ^uint64(0)}
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
	if l2, err := t.readPtr(h.l1Addr); err == nil {
		h.l2 = l2
	}
	h.bits = t.heapLayout(ha, ms)
	return h, nil
}

// arena returns the spans table of the arena with index idx, nil when it
// is not part of the heap.
func (h *heapMeta) arena(idx uint64) *arenaSpans {
	if idx == h.lastIdx {
		return h.last
	}
	// Stacks hold many values that are not heap pointers; a small
	// direct-mapped cache in front of the map keeps their lookups cheap.
	r := &h.recent[idx%uint64(len(h.recent))]
	if r.ok && r.idx == idx {
		h.lastIdx, h.last = idx, r.a
		return r.a
	}
	a, ok := h.arenas[idx]
	if !ok {
		if h.l2 != 0 {
			if b, err := h.r.readSmall(h.l2+idx*8, 8); err == nil && decodeUint(b) != 0 {
				arena := decodeUint(b)
				if raw, err := h.r.read(arena+h.spansOff, int(h.pagesPer*8)); err == nil {
					a = &arenaSpans{addrs: make([]uint64, h.pagesPer), spans: make([]*span, h.pagesPer), done: make([]bool, h.pagesPer)}
					for i := range a.addrs {
						a.addrs[i] = decodeUint(raw[i*8 : i*8+8])
					}
				}
			}
		}
		h.arenas[idx] = a
	}
	*r = recentArena{idx, a, true}
	h.lastIdx, h.last = idx, a
	return a
}

// spanOf returns the in-use or manual span containing p, or nil.
func (h *heapMeta) spanOf(p uint64) *span {
	idx := (p - h.arenaBase) >> h.arenaShift
	if idx >= 1<<h.l2Bits {
		return nil
	}
	a := h.arena(idx)
	if a == nil {
		return nil
	}
	page := (p >> 13) % h.pagesPer
	if a.done[page] {
		return a.spans[page]
	}
	s := h.lookupSpan(a.addrs[page])
	if s != nil && (p < s.start || p >= s.end) {
		s = nil
	}
	a.spans[page], a.done[page] = s, true
	return s
}

func (h *heapMeta) lookupSpan(sp uint64) *span {
	if sp == 0 {
		return nil
	}
	s, ok := h.spans[sp]
	if !ok {
		s = nil
		if buf, err := h.r.readSmall(sp, int(h.span.Size)); err == nil {
			s = h.decodeSpan(sp, buf)
		}
		h.spans[sp] = s
	}
	return s
}

// decodeSpan makes a span of the bytes of the runtime.mspan at sp; nil
// when they are not plausible.
func (h *heapMeta) decodeSpan(sp uint64, buf []byte) *span {
	start := get(buf, h.fStart)
	s := &span{
		id:       h.nspans,
		start:    start,
		end:      start + get(buf, h.fNpages)<<13,
		elem:     get(buf, h.fElem),
		noscan:   get(buf, h.fClass)&1 != 0,
		inUse:    get(buf, h.fState) == 1,
		specials: get(buf, h.fSpecials),
		class:    uint8(get(buf, h.fClass)),
	}
	h.bits.classify(s, buf)
	h.nspans++
	if !h.t.plausibleSpan(s.start, s.end, s.elem) || !h.ownsPages(sp, s) {
		return nil // corrupt: no objects in it
	}
	if s.elem > 0 && s.elem < 1<<32 {
		s.divMul = uint32(^uint32(0)/uint32(s.elem) + 1)
	}
	return s
}

// ownsPages reports whether the heap's page table gives the span at sp for
// the first and last pages s claims, as the runtime sets it for every page
// of a span. A corrupt mspan (its npages mutated in a core) claims pages of
// other spans: trusted, objects found in it and read through the span the
// page table gives would not match (a fuzzed core read past a span).
func (h *heapMeta) ownsPages(sp uint64, s *span) bool {
	for _, p := range [2]uint64{s.start, s.end - 1} {
		idx := (p - h.arenaBase) >> h.arenaShift
		if idx >= 1<<h.l2Bits {
			return false
		}
		a := h.arena(idx)
		if a == nil || a.addrs[(p>>13)%h.pagesPer] != sp {
			return false
		}
	}
	return true
}

// prefetchSpans reads the mspans of the spans that the words ptrs yields
// point into and that are not looked up yet, in one batch of reads. Words
// on stacks point into many distinct spans; looked up one at a time, each
// is a system call (10,000 goroutines over a 1 GB heap: 48 ms of a 250 ms
// pause). The words are not collected: at 100,000 goroutines they were
// 17 MB.
func (h *heapMeta) prefetchSpans(ptrs func(func(uint64))) {
	var want []uint64
	seen := map[uint64]bool{}
	ptrs(func(p uint64) {
		idx := (p - h.arenaBase) >> h.arenaShift
		if idx >= 1<<h.l2Bits {
			return
		}
		a := h.arena(idx)
		if a == nil {
			return
		}
		page := (p >> 13) % h.pagesPer
		sp := a.addrs[page]
		if a.done[page] || sp == 0 || seen[sp] {
			return
		}
		if _, ok := h.spans[sp]; ok {
			return
		}
		seen[sp] = true
		want = append(want, sp)
	})
	if len(want) < 2 {
		return
	}
	size := int(h.span.Size)
	slab := make([]byte, len(want)*size)
	bufs, ok := make([][]byte, len(want)), make([]bool, len(want))
	for i := range bufs {
		bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
	}
	h.r.readMany(want, bufs, ok)
	for i, sp := range want {
		if ok[i] {
			h.spans[sp] = h.decodeSpan(sp, bufs[i])
		}
	}
}

// object returns the allocated span and object index containing p.
func (h *Heap) object(p uint64) (*span, uint64, bool) {
	s := h.last
	if s == nil || p < s.start || p >= s.end {
		// Pointers mostly lead to the span of the last one (a list's
		// next node, a struct's fields).
		if s = h.m.spanOf(p); s == nil || !s.inUse || s.elem == 0 {
			return nil, 0, false
		}
		h.last = s
	}
	i := s.index(p)
	if (i+1)*s.elem > s.end-s.start {
		// The tail of a span past its last whole object holds no object
		// (and a corrupt span's sizes can put p there): reading the
		// object would run past the span.
		return nil, 0, false
	}
	return s, i, true
}

// index returns the object number of p, in s: by the runtime's reciprocal
// (mspan.divMul) where it is exact, a division otherwise.
func (s *span) index(p uint64) uint64 {
	off := p - s.start
	if s.divMul != 0 && off < 1<<32 {
		if i := off * uint64(s.divMul) >> 32; i*s.elem <= off && off < (i+1)*s.elem {
			return i
		}
	}
	return off / s.elem
}

// Object returns the base and size of the heap object containing p.
func (h *Heap) Object(p uint64) (base, size uint64, ok bool) {
	s, i, ok := h.object(p)
	if !ok {
		return 0, 0, false
	}
	return s.start + i*s.elem, s.elem, true
}

// IsHeap reports whether p is inside an allocated heap object.
func (h *Heap) IsHeap(p uint64) bool {
	_, _, ok := h.Object(p)
	return ok
}
