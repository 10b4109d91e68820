package target

import (
	"encoding/binary"
	"errors"
	"fmt"
	"go/constant"
	"os"
	"slices"
	"sort"

	"github.com/go-delve/delve/pkg/proc"
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
	scanned uint64
	// Budget bounds the work; when it runs out, Drain fails and the caller
	// must not draw conclusions from what was marked.
	Budget uint64
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
}

// ErrBudget means reachability was not computed completely.
var ErrBudget = errors.New("heap too large to walk within the budget")

// NewHeap prepares heap lookups. It fails on runtimes whose heap layout it
// does not understand; callers then skip reachability.
func (t *Target) NewHeap() (*Heap, error) {
	if t.heap == nil {
		m, err := t.newHeapMeta()
		if err != nil {
			return nil, err
		}
		t.heap = m
	}
	return &Heap{t: t, m: t.heap, r: t, Budget: 4 << 30, precise: preciseScanning()}, nil
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
			start := get(buf, h.fStart)
			s = &span{
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
			if !h.t.plausibleSpan(s.start, s.end, s.elem) {
				s = nil // corrupt: no objects in it
			}
		}
		h.spans[sp] = s
	}
	return s
}

// object returns the allocated span and object index containing p.
func (h *Heap) object(p uint64) (*span, uint64, bool) {
	s := h.m.spanOf(p)
	if s == nil || !s.inUse || s.elem == 0 {
		return nil, 0, false
	}
	return s, (p - s.start) / s.elem, true
}

// Object returns the base and size of the heap object containing p.
func (h *Heap) Object(p uint64) (base, size uint64, ok bool) {
	s, i, ok := h.object(p)
	if !ok {
		return 0, 0, false
	}
	return s.start + i*s.elem, s.elem, true
}

// bit returns the word and mask of object i of s in a per-span bitmap,
// growing the bitmap table as needed.
func bit(bm *[][]uint64, s *span, i uint64) (*uint64, uint64) {
	if s.id >= len(*bm) {
		*bm = append(*bm, make([][]uint64, s.id+1-len(*bm)+len(*bm)/2)...)
	}
	words := (*bm)[s.id]
	if words == nil {
		words = make([]uint64, ((s.end-s.start)/s.elem+63)/64)
		(*bm)[s.id] = words
	}
	return &words[i/64], 1 << (i % 64)
}

func testBit(bm [][]uint64, s *span, i uint64) bool {
	if s.id >= len(bm) || bm[s.id] == nil {
		return false
	}
	return bm[s.id][i/64]&(1<<(i%64)) != 0
}

// Exclude keeps an object (and what only it references) out of marking:
// runtime bookkeeping such as g, m and sudog structures, which point at
// everything every goroutine waits on.
func (h *Heap) Exclude(p uint64) {
	if s, i, ok := h.object(p); ok {
		w, m := bit(&h.excl, s, i)
		*w |= m
	}
}

// MarkPtr marks the object p points into, if it is a heap object.
func (h *Heap) MarkPtr(p uint64) {
	if p < 4096 {
		return
	}
	// Stacks and objects repeat the same pointers (shared channels,
	// closures passed down through every frame): a value seen lately has
	// been dealt with, and marking is idempotent.
	seen := &h.seen[(p>>3^p>>17)%uint64(len(h.seen))]
	if *seen == p {
		return
	}
	*seen = p
	s, i, ok := h.object(p)
	if !ok {
		return
	}
	w, m := bit(&h.marks, s, i)
	if *w&m != 0 || testBit(h.excl, s, i) {
		return
	}
	*w |= m
	h.nmarked++
	base := s.start + i*s.elem
	if h.Parent != nil {
		h.Parent[base] = h.cur
	}
	if !s.noscan {
		h.work = append(h.work, base)
	}
}

// MarkStackWords marks what the kept words of g's live stack point into
// (HasStackWords): roots read with the stack, never read again.
func (h *Heap) MarkStackWords(root uint64, g *G) {
	h.cur = root
	h.scanned += uint64(g.words.len()) * 8
	g.words.each(h.MarkPtr)
}

// MarkStack marks from g's live stack (LiveStack), read now: the slots its
// stack maps say hold live pointers when its shape has a precise mask,
// every word otherwise.
func (h *Heap) MarkStack(g *G) error {
	lo, hi := h.t.LiveStack(g)
	if hi <= lo || hi-lo >= 1<<30 {
		return nil
	}
	if debugStackMaps {
		fmt.Fprintf(os.Stderr, "markstack g%d [%#x, %#x) status %d mask %v\n", g.ID, lo, hi, g.Status, g.maskFor(lo) != nil)
	}
	if !h.precise || g.maskFor(lo) == nil {
		return h.MarkRange(lo, hi)
	}
	buf, err := h.r.read(lo, int(hi-lo))
	if err != nil {
		return err
	}
	h.scanned += uint64(len(buf))
	h.cur = lo
	h.walker.walk(g, lo, buf, h.MarkPtr)
	return nil
}

// MarkRange scans memory [lo, hi) as roots.
func (h *Heap) MarkRange(lo, hi uint64) error {
	lo &^= 7
	for lo < hi {
		n := hi - lo
		if n > 1<<20 {
			n = 1 << 20
		}
		buf, err := h.r.read(lo, int(n))
		if err != nil {
			return err
		}
		h.scanBuf(lo, buf)
		lo += n
	}
	return nil
}

func (h *Heap) scanBuf(addr uint64, buf []byte) {
	h.scanned += uint64(len(buf))
	for i := 0; i+8 <= len(buf); i += 8 {
		h.cur = addr + uint64(i)
		h.MarkPtr(binary.LittleEndian.Uint64(buf[i:]))
	}
}

// Drain scans every marked object until nothing new is reached. Objects
// are read a batch at a time (few system calls for many small objects);
// the order of scanning does not change what is reached.
func (h *Heap) Drain() error {
	const (
		batchObjs  = 1024
		batchBytes = 4 << 20
		bigObject  = 1 << 20 // read on its own, in chunks
	)
	var (
		addrs []uint64
		rb    objReads
	)
	for len(h.work) > 0 {
		if h.scanned > h.Budget {
			return ErrBudget
		}
		addrs = addrs[:0]
		total := 0
		for len(h.work) > 0 && len(addrs) < batchObjs && total < batchBytes {
			base := h.work[len(h.work)-1]
			s := h.m.spanOf(base)
			if s == nil {
				h.work = h.work[:len(h.work)-1]
				continue
			}
			size := min(s.elem, 64<<20)
			if size > bigObject {
				if len(addrs) > 0 {
					break // after this batch
				}
				h.work = h.work[:len(h.work)-1]
				h.scanLarge(s, base, s.elem)
				continue
			}
			h.work = h.work[:len(h.work)-1]
			addrs = append(addrs, base)
			total += int(size)
		}
		if len(addrs) == 0 {
			continue
		}
		h.readObjects(addrs, total, &rb)
	}
	return nil
}

// objReads is Drain's read buffers, reused from batch to batch.
type objReads struct {
	rngs    []objRange
	starts  []uint64
	spans   []*span // each object's span, in addrs order
	bits    []*span // spans whose heap bits are read with the batch
	bitsRng []int   // the range each of bits is read in
	bufs    [][]byte
	ok      []bool
	mem     []byte
}

// objRange is memory read as one range: neighbouring objects, and the heap
// bits at the end of their spans.
type objRange struct{ start, end uint64 }

// readObjects reads and scans the objects at addrs (total bytes). Objects
// that lie close together (marking reaches neighbours from the same span)
// are read as one range: the kernel pins and walks pages per range, so a
// range per object cost more than the bytes between them. The heap bits
// of spans seen for the first time (heapbits.go) are read in the same
// batch, usually in the same range as the span's last objects.
func (h *Heap) readObjects(addrs []uint64, total int, rb *objReads) {
	const maxGap = 256
	slices.Sort(addrs)
	rb.starts, rb.bufs, rb.spans, rb.bits, rb.bitsRng = rb.starts[:0], rb.bufs[:0], rb.spans[:0], rb.bits[:0], rb.bitsRng[:0]
	rngs := rb.rngs[:0]
	add := func(start, end uint64) int {
		if n := len(rngs); n > 0 && start <= rngs[n-1].end+maxGap {
			rngs[n-1].end = max(rngs[n-1].end, end)
			return n - 1
		}
		rngs = append(rngs, objRange{start, end})
		return len(rngs) - 1
	}
	// Objects in address order; a span's heap bits (at its end) go in
	// once the objects before them are in.
	var bitsAt uint64
	var bitsLen, pending int
	for _, base := range addrs {
		s := h.m.spanOf(base)
		rb.spans = append(rb.spans, s)
		for pending < len(rb.bits) && bitsAt <= base {
			rb.bitsRng = append(rb.bitsRng, add(bitsAt, bitsAt+uint64(bitsLen)))
			if pending++; pending < len(rb.bits) {
				bitsAt, bitsLen = h.m.bits.bitsRange(rb.bits[pending])
			}
		}
		if h.precise && s.layout == layoutHeapBits && s.hstate == hbUnread {
			s.hstate = hbReading
			rb.bits = append(rb.bits, s)
			if len(rb.bits) == pending+1 {
				bitsAt, bitsLen = h.m.bits.bitsRange(s)
			}
		}
		add(base, base+s.elem)
	}
	for ; pending < len(rb.bits); pending++ {
		bitsAt, bitsLen = h.m.bits.bitsRange(rb.bits[pending])
		rb.bitsRng = append(rb.bitsRng, add(bitsAt, bitsAt+uint64(bitsLen)))
	}
	rb.rngs = rngs
	size := 0
	for _, r := range rngs {
		size += int(r.end - r.start)
	}
	if cap(rb.mem) < size {
		rb.mem = make([]byte, max(size, total))
	}
	off := 0
	for _, r := range rngs {
		n := int(r.end - r.start)
		rb.starts, rb.bufs = append(rb.starts, r.start), append(rb.bufs, rb.mem[off:off+n:off+n])
		off += n
	}
	rb.ok = slices.Grow(rb.ok[:0], len(rngs))[:len(rngs)]
	h.r.readMany(rb.starts, rb.bufs, rb.ok)
	for k, s := range rb.bits {
		j := rb.bitsRng[k]
		if !rb.ok[j] {
			s.hstate = hbBad
			continue
		}
		at, n := h.m.bits.bitsRange(s)
		if at < rngs[j].start || at+uint64(n) > rngs[j].end {
			// Not in the range it was merged into (an object of the
			// span's last bytes came before it): read it alone.
			buf, err := h.r.read(at, n)
			if err != nil {
				s.hstate = hbBad
				continue
			}
			h.m.bits.setBits(s, buf)
			continue
		}
		o := at - rngs[j].start
		h.m.bits.setBits(s, rb.bufs[j][o:o+uint64(n)])
	}
	j := 0
	for k, base := range addrs {
		for rngs[j].end <= base {
			j++
		}
		s := rb.spans[k]
		if rb.ok[j] && base >= rngs[j].start && base+s.elem <= rngs[j].end {
			o := base - rngs[j].start
			h.scanObject(s, base, rb.bufs[j][o:o+s.elem])
			continue
		}
		// Part of the range is unreadable: the object alone.
		if one, err := h.r.read(base, int(s.elem)); err == nil {
			h.scanObject(s, base, one)
		}
	}
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
	s, i, ok := h.object(p)
	return ok && testBit(h.marks, s, i)
}

// IsHeap reports whether p is inside an allocated heap object.
func (h *Heap) IsHeap(p uint64) bool {
	_, _, ok := h.Object(p)
	return ok
}

// Scanned is the number of bytes read while marking.
func (h *Heap) Scanned() uint64 { return h.scanned }

// Marked is the number of objects marked.
func (h *Heap) Marked() int { return h.nmarked }

// Globals returns the [lo, hi) ranges of the data and bss segments (globals
// that may hold pointers).
func (t *Target) Globals() ([][2]uint64, error) {
	md, buf, err := t.firstModuledata()
	if err != nil {
		return nil, err
	}
	ranges := [][2]uint64{
		{get(buf, md.Field("data")), get(buf, md.Field("edata"))},
		{get(buf, md.Field("bss")), get(buf, md.Field("ebss"))},
	}
	return ranges, t.checkGlobals(md, ranges)
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

// SchedCtxt is g.sched.ctxt, a closure context saved with g's registers
// (the runtime's scanstack scans it): a root when g can run.
func (t *Target) SchedCtxt(g *G) uint64 { return g.regs.ctxt }

// HasStackWords reports whether the words of g's live stack (LiveStack)
// that may point into the heap were kept when its stack was read; if not,
// mark from LiveStack instead.
func (t *Target) HasStackWords(g *G) bool { return g.wordsOK }

// DeferRecords returns the addresses of g's heap-allocated _defer records
// and their closures (roots when g can run).
func (t *Target) DeferClosures(g *G) []uint64 {
	if g.regs.deferHead == 0 {
		return nil
	}
	dl, err := loadStruct(t.bi, "runtime._defer")
	if err != nil {
		return nil
	}
	head := g.regs.deferHead
	var out []uint64
	w := newChainWalk(10_000)
	for d := head; d != 0 && w.next(d); {
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
	if t.t == nil {
		return nil
	}
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
	raw, n, err := t.readSliceOf(base+uint64(all.Off), uint64(h.m.span.Size), "runtime.mheap_.allspans")
	if err != nil {
		return out, err
	}
	sp, _ := loadStruct(t.bi, "runtime.special")
	sf, _ := loadStruct(t.bi, "runtime.specialfinalizer")
	sc, _ := loadStruct(t.bi, "runtime.specialCleanup")
	next, off, kind := sp.Field("next"), sp.Field("offset"), sp.Field("kind")
	spans := make([]uint64, n)
	for i := range spans {
		spans[i] = decodeUint(raw[i*8 : i*8+8])
	}
	// The mspans come from a few chunks: read them in batches, then follow
	// the specials of those that have any.
	type withSpecials struct{ start, specials uint64 }
	var todo []withSpecials
	t.readEach(spans, int(h.m.span.Size), func(_ int, buf []byte) {
		if get(buf, h.m.fState) == 1 && get(buf, h.m.fSpecials) != 0 {
			todo = append(todo, withSpecials{get(buf, h.m.fStart), get(buf, h.m.fSpecials)})
		}
	})
	if len(todo) == 0 {
		return out, nil
	}
	// Delve finds a constant only after scanning every variable and
	// function: ask only when there are specials to classify.
	kindFinalizer, kindCleanup := t.constant("runtime._KindSpecialFinalizer", 1), t.constant("runtime._KindSpecialCleanup", -1)
	for _, sp := range todo {
		start := sp.start
		w := newChainWalk(1_000_000)
		for rec := sp.specials; rec != 0 && w.next(rec); {
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
	u := t.unwinder()
	key := "const " + name
	if v, ok := u.vars[key]; ok {
		return int64(v)
	}
	v, ok, missing := t.releaseConstant(name)
	switch {
	case missing:
		v = fallback
	case !ok:
		v = t.constant1(name, fallback)
	}
	u.vars[key] = uint64(v) // a property of the binary
	return v
}

func (t *Target) constant1(name string, fallback int64) int64 {
	if t.t == nil {
		return fallback
	}
	scope, err := t.globalScope()
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
	u := t.unwinder()
	if r, found := u.ranges[name]; found {
		return r[0], r[1], r[1] > r[0]
	}
	lo, hi, ok = t.varRange(name)
	u.ranges[name] = [2]uint64{lo, hi} // a package variable does not move
	return lo, hi, ok
}

func (t *Target) varRange(name string) (lo, hi uint64, ok bool) {
	if addr, size, found := t.lookupSym(name); found {
		return addr, addr + size, true
	}
	if t.knownMissing(name) || t.t == nil {
		return 0, 0, false
	}
	scope, err := t.globalScope()
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
	raw, n, err := t.readSliceOf(sliceAddr, uint64(t.lay.g.Size), "runtime.allgs")
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
		if cnt == 0 {
			continue
		}
		raw, err := t.readArray(arr, cnt, stride, "runtime.p.timers")
		if err != nil {
			continue
		}
		for j := uint64(0); j < cnt; j++ {
			if tm := decodeUint(raw[j*stride : j*stride+8]); tm != 0 {
				timers = append(timers, tm)
			}
		}
	}
	return ps, timers
}

// StacksPointingInto finds, for each range [lo, hi) (each with lo >= 4096),
// the goroutines of gs with a word on their live stack pointing into it,
// in one pass over the stacks: at most limit per range, as indexes into gs.
// skip(gi, ri) leaves goroutine gi out for range ri.
func (t *Target) StacksPointingInto(gs []*G, ranges [][2]uint64, limit int, skip func(gi, ri int) bool) [][]int {
	out := make([][]int, len(ranges))
	if len(ranges) == 0 {
		return out
	}
	order := make([]int, len(ranges))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ranges[order[a]][0] < ranges[order[b]][0] })
	starts := make([]uint64, len(order))
	maxLen := uint64(0)
	for k, i := range order {
		starts[k] = ranges[i][0]
		maxLen = max(maxLen, ranges[i][1]-ranges[i][0])
	}
	full := 0
	var hits []int // ranges hit by the current goroutine
	hit := func(gi int, v uint64) {
		// Ranges starting in (v-maxLen, v] may contain v.
		k := sort.Search(len(starts), func(k int) bool { return starts[k] > v })
		for k--; k >= 0 && v-starts[k] < maxLen; k-- {
			ri := order[k]
			if v >= ranges[ri][1] || len(out[ri]) >= limit || skip(gi, ri) {
				continue
			}
			if n := len(out[ri]); n > 0 && out[ri][n-1] == gi {
				continue
			}
			out[ri] = append(out[ri], gi)
			hits = append(hits, ri)
			if len(out[ri]) == limit {
				full++
			}
		}
	}
	lo, hi := starts[0], uint64(0)
	for _, r := range ranges {
		hi = max(hi, r[1])
	}
	for gi, g := range gs {
		if full == len(ranges) {
			break
		}
		hits = hits[:0]
		if g.wordsOK {
			g.words.each(func(v uint64) {
				if v >= lo && v < hi {
					hit(gi, v)
				}
			})
			continue
		}
		slo, shi := t.LiveStack(g)
		if shi <= slo || shi-slo > 1<<20 {
			continue
		}
		buf, err := t.read(slo&^7, int(shi-slo&^7))
		if err != nil {
			continue
		}
		for i := 0; i+8 <= len(buf); i += 8 {
			if v := decodeUint(buf[i : i+8]); v >= lo && v < hi {
				hit(gi, v)
			}
		}
	}
	return out
}
