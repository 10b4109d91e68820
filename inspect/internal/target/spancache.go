package target

// Whole-span reads for marking: a linked structure is reached one object
// per step, and each step's objects lie in spans other steps read too.
// Reading an object alone costs the kernel a page walk per object
// (process_vm_readv pins pages per range); reading its small span whole,
// once, and scanning later objects of that span from the copy costs one.
// On a 1 GB heap of linked 64-byte nodes this took marking from 8.4
// million ranges to about 65,000.

import "slices"

// Spans read whole: small objects (the span's heap bits, at its end, come
// with it) in spans of a few pages. Larger spans hold few objects; reading
// them whole would read more than marking needs.
const (
	wholeSpanMaxElem  = 2 << 10
	wholeSpanMaxBytes = 64 << 10
)

// spanCacheBytes bounds the copies kept at once: marking's working set is
// the spans of the current frontier, a few MB on the heaps measured. A
// variable for tests.
var spanCacheBytes = 32 << 20

// spanCache is one marking run's copies of whole spans, evicted oldest
// first beyond spanCacheBytes.
// The copy itself hangs off the span (span.copy, owned by one cache: the
// spans are shared by the snapshot's marking runs).
type spanCache struct {
	order []*span // spans copied, oldest first
	head  int
	bytes int
	free  map[int][][]byte // evicted buffers by length, for reuse
}

// spanCopy is a span's bytes as one marking run read them.
type spanCopy struct {
	owner *spanCache
	buf   []byte
	bad   bool // could not be read whole
	batch int  // readWhole's batch that is reading it, +1
}

func newSpanCache() *spanCache {
	return &spanCache{free: map[int][][]byte{}}
}

// get returns the copy of s this cache holds, if any.
func (c *spanCache) get(s *span) []byte {
	if s.copy.owner == c {
		return s.copy.buf
	}
	return nil
}

// wholeSpan reports whether s's objects are read by reading s whole.
func (c *spanCache) wholeSpan(s *span) bool {
	return s.elem <= wholeSpanMaxElem && s.end-s.start <= wholeSpanMaxBytes && !(s.copy.owner == c && s.copy.bad)
}

func (c *spanCache) buffer(n int) []byte {
	if l := c.free[n]; len(l) > 0 {
		b := l[len(l)-1]
		c.free[n] = l[:len(l)-1]
		return b
	}
	return make([]byte, n)
}

func (c *spanCache) put(s *span, buf []byte) {
	s.copy = spanCopy{owner: c, buf: buf}
	c.order = append(c.order, s)
	c.bytes += len(buf)
	for c.bytes > spanCacheBytes && c.head < len(c.order) {
		old := c.order[c.head]
		c.order[c.head] = nil
		c.head++
		if old.copy.owner == c && old.copy.buf != nil {
			c.bytes -= len(old.copy.buf)
			c.free[len(old.copy.buf)] = append(c.free[len(old.copy.buf)], old.copy.buf)
			old.copy = spanCopy{}
		}
	}
	if c.head > len(c.order)/2 && c.head > 1024 {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// readWhole scans the objects at addrs whose spans are read whole, reading
// the spans not yet copied in one batch; it returns the other objects
// (those of large spans, and of spans that could not be read whole) for
// readObjects' per-range reads, and their total size.
func (h *Heap) readWhole(addrs []uint64, rb *objReads) ([]uint64, int) {
	if h.spans == nil {
		h.spans = newSpanCache()
	}
	c := h.spans
	rest, total := rb.rest[:0], 0
	whole, wspans := rb.whole[:0], rb.wspans[:0]
	starts, bufs, need := rb.wstarts[:0], rb.wbufs[:0], rb.wneed[:0]
	for _, base := range addrs {
		s := h.m.spanOf(base)
		// The span the page table gives may not be the one base was
		// found in (object's last-span shortcut) when a corrupt mspan
		// claims pages of others: its copy must hold the whole object.
		if s != nil && (base < s.start || base-s.start+s.elem > s.end-s.start) {
			s = nil
		}
		if s == nil || !c.wholeSpan(s) {
			rest = append(rest, base)
			if s != nil {
				total += int(min(s.elem, 64<<20))
			}
			continue
		}
		whole, wspans = append(whole, base), append(wspans, s)
		if s.copy.owner == c {
			continue // copied, or being read in this batch
		}
		s.copy = spanCopy{owner: c, batch: len(need) + 1}
		need = append(need, s)
		starts = append(starts, s.start)
		bufs = append(bufs, c.buffer(int(s.end-s.start)))
	}
	if len(need) > 0 {
		rb.ok = slices.Grow(rb.ok[:0], len(need))[:len(need)]
		h.r.readMany(starts, bufs, rb.ok)
		for i, s := range need {
			if !rb.ok[i] {
				s.copy.bad = true
				continue
			}
			if h.precise && s.layout == layoutHeapBits && s.hstate == hbUnread {
				at, n := h.m.bits.bitsRange(s)
				if at >= s.start && at+uint64(n) <= s.end {
					h.m.bits.setBits(s, bufs[i][at-s.start:at-s.start+uint64(n)])
				}
			}
		}
	}
	// Scanned before this batch's copies are cached: a batch may need
	// more spans than the cache keeps.
	for k, base := range whole {
		s := wspans[k]
		buf := c.get(s)
		if buf == nil {
			i := s.copy.batch - 1
			if s.copy.owner != c || i < 0 || !rb.ok[i] {
				rest = append(rest, base)
				total += int(s.elem)
				continue
			}
			buf = bufs[i]
		}
		o := base - s.start
		h.scanObject(s, base, buf[o:o+s.elem])
		h.scanCopied()
	}
	for i, s := range need {
		if rb.ok[i] {
			c.put(s, bufs[i])
		}
	}
	rb.rest, rb.whole, rb.wspans, rb.wstarts, rb.wbufs, rb.wneed = rest, whole, wspans, starts, bufs, need
	return rest, total
}

// scanCopied scans the objects just marked whose spans are copied already,
// depth first: a list's next node is mostly in the span just scanned, so
// its bytes are still in the CPU's cache (scanning the same objects a batch
// at a time, breadth first, missed it on every pointer).
func (h *Heap) scanCopied() {
	c := h.spans
	for len(h.work) > 0 && h.scanned <= h.Budget {
		base := h.work[len(h.work)-1]
		s, _, ok := h.object(base)
		if !ok {
			return
		}
		buf := c.get(s)
		if buf == nil {
			return
		}
		h.work = h.work[:len(h.work)-1]
		o := base - s.start
		h.scanObject(s, base, buf[o:o+s.elem])
	}
}
