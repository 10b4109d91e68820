package target

// Marking: a bitmap per span, objects read in batches and scanned by their
// pointer bits (or conservatively), stacks by their stack maps; reached
// objects and the path that reached them.

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"
)

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

// markWord is the word and mask of object i of s in h's marks: on the
// span when its metadata is h's alone, in h.marks otherwise.
func (h *Heap) markWord(s *span, i uint64) (*uint64, uint64) {
	if s.marks != nil {
		return &s.marks[i/64], 1 << (i % 64)
	}
	return bit(&h.marks, s, i)
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
	w, m := h.markWord(s, i)
	if h.par {
		// Workers mark side by side: the first to set the bit scans.
		if atomic.LoadUint64(w)&m != 0 || testBit(h.excl, s, i) || atomic.OrUint64(w, m)&m != 0 {
			return
		}
	} else {
		if *w&m != 0 || testBit(h.excl, s, i) {
			return
		}
		*w |= m
	}
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

// PrefetchStackSpans reads ahead, in one batch, what marking from the kept
// stack words of gs (MarkStackWords) will look up: the spans they point
// into.
func (h *Heap) PrefetchStackSpans(gs []*G) {
	h.m.prefetchSpans(func(f func(uint64)) {
		for _, g := range gs {
			g.words.each(f)
		}
	})
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
	_, err := h.DrainUntil(nil)
	return err
}

// DrainUntil is Drain that may end early: stop (when not nil) is asked each
// time the bytes scanned double, from 1 MB, and when it says so, marking
// ends with work left (HasWork) and reports true. Ending early is sound
// only for questions that more marking cannot change the answer of, such
// as "is everything asked about reached": marking only ever adds.
func (h *Heap) DrainUntil(stop func() bool) (bool, error) {
	var addrs []uint64
	next := max(2*h.scanned, 1<<20)
	timed := !h.Deadline.IsZero()
	for batch := 0; len(h.work) > 0; batch++ {
		if h.scanned > h.Budget {
			return false, ErrBudget
		}
		// A batch is about 1,000 objects: the clock is read every 16.
		if timed && batch%16 == 0 && time.Now().After(h.Deadline) {
			return false, ErrPauseBudget
		}
		if stop != nil && h.scanned >= next {
			if stop() {
				return true, nil
			}
			next = 2 * h.scanned
		}
		if n := h.workers(); n > 1 {
			// Until the next question (or the budget), on every core.
			limit := h.Budget + 1
			if stop != nil {
				limit = min(limit, next)
			}
			if err := h.drainParallel(n, limit); err != nil {
				return false, err
			}
			continue
		}
		addrs = h.drainBatch(addrs)
	}
	return false, nil
}

// Drain's batches: about 1,000 objects, or 4 MB.
const (
	drainObjs  = 1024
	drainBytes = 4 << 20
	bigObject  = 1 << 20 // read on its own, in chunks
)

// drainBatch takes a batch of objects off the work list and scans them
// (an object larger than bigObject alone, in chunks). addrs is a buffer
// to reuse, returned.
func (h *Heap) drainBatch(addrs []uint64) []uint64 {
	addrs = addrs[:0]
	total := 0
	for len(h.work) > 0 && len(addrs) < drainObjs && total < drainBytes {
		base := h.work[len(h.work)-1]
		s := h.spanOf(base)
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
	if len(addrs) > 0 {
		if h.reads == nil {
			h.reads = &objReads{}
		}
		h.readObjects(addrs, h.reads)
	}
	return addrs
}

// HasWork reports whether marked objects are left to scan (DrainUntil
// ended early).
func (h *Heap) HasWork() bool { return len(h.work) > 0 }

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
	// readWhole's (spancache.go)
	rest, whole []uint64
	wspans      []*span // whole's spans
	wstarts     []uint64
	wbufs       [][]byte
	wneed       []*span
}

// objRange is memory read as one range: neighbouring objects, and the heap
// bits at the end of their spans.
type objRange struct{ start, end uint64 }

// readObjects reads and scans the objects at addrs. Objects
// that lie close together (marking reaches neighbours from the same span)
// are read as one range: the kernel pins and walks pages per range, so a
// range per object cost more than the bytes between them. The heap bits
// of spans seen for the first time (heapbits.go) are read in the same
// batch, usually in the same range as the span's last objects.
func (h *Heap) readObjects(addrs []uint64, rb *objReads) {
	const maxGap = 256
	// Objects of small spans are scanned from whole-span copies
	// (spancache.go); the others are read here.
	addrs, total := h.readWhole(addrs, rb)
	if len(addrs) == 0 {
		return
	}
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
		s := h.spanOf(base)
		rb.spans = append(rb.spans, s)
		for pending < len(rb.bits) && bitsAt <= base {
			rb.bitsRng = append(rb.bitsRng, add(bitsAt, bitsAt+uint64(bitsLen)))
			if pending++; pending < len(rb.bits) {
				bitsAt, bitsLen = h.m.bits.bitsRange(rb.bits[pending])
			}
		}
		if h.precise && s.layout == layoutHeapBits && s.hstate.Load() == hbUnread && s.hstate.CompareAndSwap(hbUnread, hbReading) {
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
			s.hstate.Store(hbBad)
			continue
		}
		at, n := h.m.bits.bitsRange(s)
		if at < rngs[j].start || at+uint64(n) > rngs[j].end {
			// Not in the range it was merged into (an object of the
			// span's last bytes came before it): read it alone.
			buf, err := h.r.read(at, n)
			if err != nil {
				s.hstate.Store(hbBad)
				continue
			}
			h.m.setBits(s, buf)
			continue
		}
		o := at - rngs[j].start
		h.m.setBits(s, rb.bufs[j][o:o+uint64(n)])
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
	if !ok {
		return false
	}
	if s.marks != nil {
		return s.marks[i/64]&(1<<(i%64)) != 0
	}
	return testBit(h.marks, s, i)
}

// Scanned is the number of bytes read while marking.
func (h *Heap) Scanned() uint64 { return h.scanned }

// Marked is the number of objects marked.
func (h *Heap) Marked() int { return h.nmarked }
