package target

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	// ac is this Heap's cache of arena lookups (heapMeta.spanVia), made
	// by its first lookup: each marking worker has its own (parallel.go).
	ac *arenaCache
	// par: other workers mark beside this one (parallel.go); marks are
	// set atomically.
	par bool
	// helpers are the other workers of parallel marking, kept from one
	// run to the next (parallel.go).
	helpers []*Heap
	reads   *objReads // Drain's read buffers, reused from batch to batch
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
//
// Marking workers (parallel.go) share it: what they find resolved (an
// arena's page table, a page's span, a span's heap bits) is read without a
// lock; whatever is read from the target or added to it is done under mu.
type heapMeta struct {
	t          *Target
	r          reader // under mu (its small reads have a cache)
	arenaBase  uint64 // arenaBaseOffset of the target's platform
	arenaShift uint   // log2(heapArenaBytes)
	l2Bits     uint
	l1Addr     uint64 // &mheap_.arenas
	l2         uint64 // the L2 array, 0 until read
	pagesPer   uint64
	spansOff   uint64
	// cache is the arena lookups of callers other than a Heap (the
	// contention sampler).
	cache arenaCache

	mu     sync.Mutex
	arenas map[uint64]*arenaSpans // arena index → its spans (nil: not heap); under mu
	spans  map[uint64]*span       // by mspan address: spans read ahead, across arenas, or unusable (resolve); under mu
	nspans int                    // under mu
	// spanMarks: each span carries its own mark bits (span.marks), for the
	// one Heap this metadata is private to (NewPrivateHeap); cut from
	// markSlab, under mu.
	spanMarks                                         bool
	markSlab                                          []uint64
	spanSlab                                          []span // decodeSpan's, under mu
	span                                              *structLayout
	fStart, fNpages, fElem, fClass, fState, fSpecials field
	// Pointer layout of objects (heapbits.go); its caches under mu.
	bits heapLayout
}

// arenaCache is one reader's lookups of arenas, in front of heapMeta's
// map.
type arenaCache struct {
	lastIdx uint64
	last    *arenaSpans
	recent  [256]recentArena
}

func newArenaCache() *arenaCache { return &arenaCache{lastIdx: ^uint64(0)} }

type recentArena struct {
	idx uint64
	a   *arenaSpans
	ok  bool
}

// arenaSpans is a heapArena's page → mspan table, resolved page by page.
type arenaSpans struct {
	addrs []uint64 // mspan address per page; read only once made
	// spans is each page's span once looked up: nil until then, noSpan
	// when it is not an allocated span.
	spans []atomic.Pointer[span]
}

// noSpan marks a page looked up and found in no usable span.
var noSpan = &span{}

type span struct {
	id               int
	start, end, elem uint64
	noscan, inUse    bool
	specials         uint64
	// Where its objects' pointer bits are (heapbits.go).
	layout uint8
	class  uint8 // mspan.spanclass
	// hstate is the heap bits' state: unread, being read, read,
	// unusable (atomic: marking workers share spans).
	hstate    atomic.Uint32
	largeType uint64 // mspan.largeType (layoutLarge)
	hbits     []uint64
	divMul    uint32 // ^uint32(0)/elem + 1, for index
	// marks is a bit per object, when the span's metadata belongs to one
	// Heap (heapMeta.spanMarks).
	marks []uint64
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
	h := &heapMeta{t: t, r: t, arenas: map[uint64]*arenaSpans{}, spans: map[uint64]*span{}, span: ms, cache: arenaCache{lastIdx: ^uint64(0)}}
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

// arenaVia returns the spans table of the arena with index idx, nil when
// it is not part of the heap, through c, one reader's cache.
func (h *heapMeta) arenaVia(c *arenaCache, idx uint64) *arenaSpans {
	if idx == c.lastIdx {
		return c.last
	}
	// Stacks hold many values that are not heap pointers; a small
	// direct-mapped cache in front of the map keeps their lookups cheap.
	r := &c.recent[idx%uint64(len(c.recent))]
	if r.ok && r.idx == idx {
		c.lastIdx, c.last = idx, r.a
		return r.a
	}
	a := func() *arenaSpans {
		h.mu.Lock()
		defer h.mu.Unlock() // even on a panic: other workers wait for it
		return h.arenaLocked(idx)
	}()
	*r = recentArena{idx, a, true}
	c.lastIdx, c.last = idx, a
	return a
}

// arenaLocked is arena without a cache in front; h.mu is held.
func (h *heapMeta) arenaLocked(idx uint64) *arenaSpans {
	a, ok := h.arenas[idx]
	if !ok {
		if h.l2 != 0 {
			if b, err := h.r.readSmall(h.l2+idx*8, 8); err == nil && decodeUint(b) != 0 {
				arena := decodeUint(b)
				if raw, err := h.r.read(arena+h.spansOff, int(h.pagesPer*8)); err == nil {
					a = &arenaSpans{addrs: make([]uint64, h.pagesPer), spans: make([]atomic.Pointer[span], h.pagesPer)}
					for i := range a.addrs {
						a.addrs[i] = decodeUint(raw[i*8 : i*8+8])
					}
				}
			}
		}
		h.arenas[idx] = a
	}
	return a
}

// spanOf returns the in-use or manual span containing p, or nil.
func (h *heapMeta) spanOf(p uint64) *span { return h.spanVia(&h.cache, p) }

// spanVia is spanOf through c, one reader's arena cache.
func (h *heapMeta) spanVia(c *arenaCache, p uint64) *span {
	idx := (p - h.arenaBase) >> h.arenaShift
	if idx >= 1<<h.l2Bits {
		return nil
	}
	a := h.arenaVia(c, idx)
	if a == nil {
		return nil
	}
	page := (p >> 13) % h.pagesPer
	if s := a.spans[page].Load(); s != nil {
		if s == noSpan {
			return nil
		}
		return s
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resolve(a, idx, page, p)
}

// resolve is the span of page in a (arena idx) for p, read the first time,
// nil when p is in no usable span; h.mu is held. Every page of a span that
// lies in one arena is resolved with the first: most spans are looked up
// only here, once, and need no entry in h.spans.
func (h *heapMeta) resolve(a *arenaSpans, idx, page, p uint64) *span {
	if s := a.spans[page].Load(); s != nil { // another worker's
		if s == noSpan {
			return nil
		}
		return s
	}
	sp := a.addrs[page]
	// h.spans holds the spans read ahead (prefetchSpans), those across
	// arenas and the mspans found unusable.
	s, known := h.spans[sp]
	if !known && sp != 0 {
		if buf, err := h.r.readSmall(sp, int(h.span.Size)); err == nil {
			s = h.decodeSpan(sp, buf)
		}
		if s == nil || !h.fill(a, idx, sp, s) {
			h.spans[sp] = s
		}
	}
	if s != nil && (p < s.start || p >= s.end) {
		s = nil
	}
	if s == nil {
		a.spans[page].Store(noSpan)
	} else {
		a.spans[page].Store(s)
	}
	return s
}

// fill resolves the pages of arena a (index idx) the span s (the mspan at
// sp) covers; false when s does not lie in a alone. h.mu is held.
func (h *heapMeta) fill(a *arenaSpans, idx, sp uint64, s *span) bool {
	if (s.start-h.arenaBase)>>h.arenaShift != idx || (s.end-1-h.arenaBase)>>h.arenaShift != idx {
		return false
	}
	for q := (s.start >> 13) % h.pagesPer; q <= ((s.end-1)>>13)%h.pagesPer; q++ {
		if a.addrs[q] == sp && a.spans[q].Load() == nil {
			a.spans[q].Store(s)
		}
	}
	return true
}

// decodeSpan makes a span of the bytes of the runtime.mspan at sp; nil
// when they are not plausible. h.mu is held.
func (h *heapMeta) decodeSpan(sp uint64, buf []byte) *span {
	start := get(buf, h.fStart)
	// Spans are allocated a block at a time (a 1 GB heap has 131,072
	// spans of a page).
	if len(h.spanSlab) == 0 {
		h.spanSlab = make([]span, 256)
	}
	s := &h.spanSlab[0]
	h.spanSlab = h.spanSlab[1:]
	*s = span{
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
	if h.spanMarks && s.inUse && s.elem > 0 {
		n := int(((s.end-s.start)/s.elem + 63) / 64)
		if cap(h.markSlab)-len(h.markSlab) < n {
			h.markSlab = make([]uint64, 0, max(n, 1<<14))
		}
		s.marks = h.markSlab[len(h.markSlab) : len(h.markSlab)+n : len(h.markSlab)+n]
		h.markSlab = h.markSlab[:len(h.markSlab)+n]
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
		a := h.arenaLocked(idx)
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
	h.mu.Lock()
	defer h.mu.Unlock()
	var (
		want  []uint64
		where []arenaPage
	)
	seen := map[uint64]bool{}
	ptrs(func(p uint64) {
		idx := (p - h.arenaBase) >> h.arenaShift
		if idx >= 1<<h.l2Bits {
			return
		}
		a := h.arenaLocked(idx)
		if a == nil {
			return
		}
		page := (p >> 13) % h.pagesPer
		sp := a.addrs[page]
		if a.spans[page].Load() != nil || sp == 0 || seen[sp] {
			return
		}
		if _, ok := h.spans[sp]; ok {
			return
		}
		seen[sp] = true
		want = append(want, sp)
		where = append(where, arenaPage{a, idx})
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
			if s := h.decodeSpan(sp, bufs[i]); s == nil || !h.fill(where[i].a, where[i].idx, sp, s) {
				h.spans[sp] = s
			}
		}
	}
}

// arenaPage is an arena's table and index.
type arenaPage struct {
	a   *arenaSpans
	idx uint64
}

// object returns the allocated span and object index containing p.
func (h *Heap) object(p uint64) (*span, uint64, bool) {
	s := h.last
	if s == nil || p < s.start || p >= s.end {
		// Pointers mostly lead to the span of the last one (a list's
		// next node, a struct's fields).
		if s = h.spanOf(p); s == nil || !s.inUse || s.elem == 0 {
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

// spanOf is heapMeta.spanOf through h's own arena cache.
func (h *Heap) spanOf(p uint64) *span {
	if h.ac == nil {
		h.ac = newArenaCache()
	}
	return h.m.spanVia(h.ac, p)
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
