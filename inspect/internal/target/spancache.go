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

// spanCache is one marking worker's copies of whole spans, evicted oldest
// first beyond its limit (spanCacheBytes, shared out between parallel
// workers). Copies are found by span id: the spans themselves are shared by
// the snapshot's marking runs and by parallel workers.
type spanCache struct {
	limit  int
	at     []int32 // by span id: 1 + the index of its entry in copies, 0 if none
	copies []spanCopy
	unused []int32 // indexes of copies free for reuse
	order  []*span // spans copied, oldest first
	head   int
	bytes  int
	free   map[int][][]byte // evicted buffers by length, for reuse
}

// spanCopy is a span's bytes as one marking run read them.
type spanCopy struct {
	buf   []byte
	bad   bool // could not be read whole
	batch int  // readWhole's batch that is reading it, +1
}

func newSpanCache(limit int) *spanCache {
	return &spanCache{limit: limit, free: map[int][][]byte{}}
}

// entry is the cache's entry for s, nil if none: valid until the next add.
func (c *spanCache) entry(s *span) *spanCopy {
	if s.id < len(c.at) {
		if k := c.at[s.id]; k > 0 {
			return &c.copies[k-1]
		}
	}
	return nil
}

// add makes an empty entry for s (which has none).
func (c *spanCache) add(s *span) *spanCopy {
	if s.id >= len(c.at) {
		c.at = append(c.at, make([]int32, s.id+1-len(c.at)+len(c.at)/2)...)
	}
	var k int32
	if n := len(c.unused); n > 0 {
		k, c.unused = c.unused[n-1], c.unused[:n-1]
	} else {
		c.copies = append(c.copies, spanCopy{})
		k = int32(len(c.copies) - 1)
	}
	c.copies[k] = spanCopy{}
	c.at[s.id] = k + 1
	return &c.copies[k]
}

func (c *spanCache) remove(s *span) {
	k := c.at[s.id] - 1
	c.at[s.id] = 0
	c.copies[k] = spanCopy{}
	c.unused = append(c.unused, k)
}

// get returns the copy of s this cache holds, if any.
func (c *spanCache) get(s *span) []byte {
	if e := c.entry(s); e != nil {
		return e.buf
	}
	return nil
}

// wholeSpan reports whether s's objects are read by reading s whole.
func (c *spanCache) wholeSpan(s *span) bool {
	if s.elem > wholeSpanMaxElem || s.end-s.start > wholeSpanMaxBytes {
		return false
	}
	e := c.entry(s)
	return e == nil || !e.bad
}

func (c *spanCache) buffer(n int) []byte {
	if l := c.free[n]; len(l) > 0 {
		b := l[len(l)-1]
		c.free[n] = l[:len(l)-1]
		return b
	}
	return make([]byte, n)
}

// put keeps buf as s's copy (s has an entry).
func (c *spanCache) put(s *span, buf []byte) {
	e := c.entry(s)
	e.buf, e.batch = buf, 0
	c.order = append(c.order, s)
	c.bytes += len(buf)
	c.evict(c.limit)
}

// evict drops the oldest copies until at most limit bytes are kept.
func (c *spanCache) evict(limit int) {
	for c.bytes > limit && c.head < len(c.order) {
		old := c.order[c.head]
		c.order[c.head] = nil
		c.head++
		if e := c.entry(old); e != nil && e.buf != nil {
			c.bytes -= len(e.buf)
			c.free[len(e.buf)] = append(c.free[len(e.buf)], e.buf)
			c.remove(old)
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
		h.spans = newSpanCache(spanCacheBytes)
	}
	c := h.spans
	rest, total := rb.rest[:0], 0
	whole, wspans := rb.whole[:0], rb.wspans[:0]
	starts, bufs, need := rb.wstarts[:0], rb.wbufs[:0], rb.wneed[:0]
	for _, base := range addrs {
		s := h.spanOf(base)
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
		if c.entry(s) != nil {
			continue // copied, or being read in this batch
		}
		c.add(s).batch = len(need) + 1
		need = append(need, s)
		starts = append(starts, s.start)
		bufs = append(bufs, c.buffer(int(s.end-s.start)))
	}
	if len(need) > 0 {
		rb.ok = slices.Grow(rb.ok[:0], len(need))[:len(need)]
		h.r.readMany(starts, bufs, rb.ok)
		for i, s := range need {
			if !rb.ok[i] {
				c.entry(s).bad = true
				continue
			}
			if h.precise && s.layout == layoutHeapBits && s.hstate.Load() == hbUnread {
				at, n := h.m.bits.bitsRange(s)
				if at >= s.start && at+uint64(n) <= s.end && s.hstate.CompareAndSwap(hbUnread, hbReading) {
					h.m.setBits(s, bufs[i][at-s.start:at-s.start+uint64(n)])
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
			i := -1
			if e := c.entry(s); e != nil {
				i = e.batch - 1
			}
			if i < 0 || !rb.ok[i] {
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
