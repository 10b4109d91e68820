package target

// GC-precise heap scanning.
//
// Since Go 1.22 ("allocation headers", runtime/mbitmap.go) the heap says
// which words of an object hold pointers in one of three ways, chosen by
// the span's element size and size class:
//
//   - elemsize <= 512 (heapBitsInSpan): a bit per word of the span, stored
//     at the end of the span (span.heapBitsSmallForAddr). With the Green
//     Tea GC (an experiment in Go 1.25, the default from 1.26) the span's
//     inline mark bits (runtime.spanInlineMarkBits, 128 bytes) come after
//     them; their last byte repeats the span class, which is checked.
//   - larger objects of a small size class: the object's first word is
//     a *_type header, the data follows it, and the type's GCData mask is
//     tiled over the data (typePointersOfUnchecked).
//   - a large object (size class 0, its own span): the type is in
//     mspan.largeType, the mask tiled from the span's start.
//
// GCData is the mask itself, except for Go 1.24+ types flagged
// TFlagGCMaskOnDemand, whose GCData points at a slot holding the mask the
// runtime builds on first use, and Go 1.22/1.23 types with a GC program
// (KindGCProg), which only appear behind a header as unrolled copies. Where
// the layout cannot be read — an unknown Go release, GOEXPERIMENT
// noallocheaders, user arena chunks, a span whose bitmap fails its check,
// a type that does not look like one, an on-demand mask not built yet —
// the object is scanned conservatively, every word. Noscan spans are never
// scanned at all.

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"time"
)

// Span layouts.
const (
	layoutConservative = iota
	layoutHeapBits     // a bit per word at the end of the span
	layoutHeaders      // a *_type header at the start of each object
	layoutLarge        // one object, its type in mspan.largeType
)

// Heap bits states of a span.
const (
	hbUnread = iota
	hbReading
	hbOK
	hbBad
)

// minSizeForMallocHeader is goarch.PtrSize * ptrBits on 64-bit targets:
// objects up to this size have their pointer bits in the span.
const minSizeForMallocHeader = 512

// heapLayout is what precise heap scanning needs to know about the
// target's runtime, read once per snapshot.
type heapLayout struct {
	ok    bool
	minor int    // Go 1.minor
	tail  uint64 // runtime.spanInlineMarkBits' size (Green Tea GC), 0 if none

	fLargeType, fUserArena                   field // mspan
	typ                                      *structLayout
	fSize, fPtrBytes, fTFlag, fKind, fGCData field // internal/abi.Type
	// inProgress is &runtime.inProgress (Go 1.24+): an on-demand mask
	// slot holding it is being built.
	inProgress uint64
	types      map[uint64]*typeInfo
	slab       []uint64 // spans' decoded heap bits are cut from it
}

// typeInfo is a type's pointer mask, nil in the cache when it cannot be
// used (scan conservatively).
type typeInfo struct {
	size, ptrBytes uint64
	mask           []byte // a bit per word of the first ptrBytes
}

// heapLayout reads the layout of the target's heap bits (ha and ms are
// runtime.heapArena and runtime.mspan), ok false where it is unknown.
func (t *Target) heapLayout(ha, ms *structLayout) heapLayout {
	var l heapLayout
	if !preciseScanning() || t.bi.Arch.Name != "amd64" {
		return l
	}
	minor, ok := releaseMinor(t.GoVersion())
	// Releases whose mbitmap.go was checked; Go 1.22 built with
	// GOEXPERIMENT=noallocheaders keeps its bitmap in heapArena.
	if !ok || minor < 22 || minor > 27 || ha.Field("bitmap").OK {
		return l
	}
	typ, err := loadStruct(t.bi, "internal/abi.Type")
	if err != nil {
		return l
	}
	l.fLargeType, l.fUserArena = ms.Field("largeType"), ms.Field("isUserArenaChunk")
	l.typ = typ
	l.fSize, l.fPtrBytes, l.fTFlag = typ.Field("Size_"), typ.Field("PtrBytes"), typ.Field("TFlag")
	l.fKind, l.fGCData = typ.Field("Kind_"), typ.Field("GCData")
	for _, f := range []field{l.fLargeType, l.fSize, l.fPtrBytes, l.fTFlag, l.fKind, l.fGCData} {
		if !f.OK {
			return l
		}
	}
	if minor >= 25 {
		if s, err := loadStruct(t.bi, "runtime.spanInlineMarkBits"); err == nil {
			l.tail = uint64(s.Size)
		}
	}
	if minor >= 24 {
		if addr, _, ok := t.lookupSym("runtime.inProgress"); ok {
			l.inProgress = addr
		}
	}
	l.minor = minor
	l.types = map[uint64]*typeInfo{}
	l.ok = true
	return l
}

// classify sets a new span's layout from its mspan bytes.
func (l *heapLayout) classify(s *span, buf []byte) {
	// 8-byte objects in a scan span are one pointer each: scanning them
	// conservatively is the same (and Go 1.24+ does not keep their bits).
	if !l.ok || s.noscan || !s.inUse || s.elem <= 8 || get(buf, l.fUserArena) != 0 {
		return
	}
	switch {
	case s.elem <= minSizeForMallocHeader:
		// The inline mark bits are at the end of the first page.
		if l.tail == 0 || s.end-s.start == 8192 {
			s.layout = layoutHeapBits
		}
	case s.class>>1 != 0:
		s.layout = layoutHeaders
	default:
		s.layout = layoutLarge
		s.largeType = get(buf, l.fLargeType)
	}
}

// bitsRange is where s's heap bits are read from: the bitmap and, with
// the Green Tea GC, the inline mark bits after it (up to the span's end).
func (l *heapLayout) bitsRange(s *span) (addr uint64, n int) {
	size := (s.end - s.start) / 64
	return s.end - size - l.tail, int(size + l.tail)
}

// setBits is heapLayout.setBits under h.mu, for the span whose heap bits
// the caller claimed (hbReading).
func (h *heapMeta) setBits(s *span, raw []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bits.setBits(s, raw)
}

// setBits decodes s's heap bits from raw (bitsRange), checking the last
// byte of the span: the span class after the inline mark bits, or the
// (always clear) bits of the bitmap's own last words. The state is set
// last: workers that see it read the bits.
func (l *heapLayout) setBits(s *span, raw []byte) {
	want := byte(0)
	if l.tail > 0 {
		want = s.class
	}
	if len(raw) == 0 || raw[len(raw)-1] != want {
		s.hstate.Store(hbBad)
		return
	}
	raw = raw[:uint64(len(raw))-l.tail]
	n := len(raw)/8 + 1 // +1: objBits reads a word ahead
	if cap(l.slab)-len(l.slab) < n {
		l.slab = make([]uint64, 0, max(n, 1<<16))
	}
	s.hbits = l.slab[len(l.slab) : len(l.slab)+n : len(l.slab)+n]
	l.slab = l.slab[:len(l.slab)+n]
	for i := range len(raw) / 8 {
		s.hbits[i] = binary.LittleEndian.Uint64(raw[i*8:])
	}
	s.hstate.Store(hbOK)
}

// objBits is the pointer bits of the object at base (layoutHeapBits), one
// per word from base.
func (s *span) objBits(base uint64) uint64 {
	w := (base - s.start) / 8
	i, j := w/64, w%64
	n := s.elem / 8
	b := s.hbits[i] >> j
	if j != 0 && j+n > 64 {
		b |= s.hbits[i+1] << (64 - j)
	}
	if n < 64 {
		b &= 1<<n - 1
	}
	return b
}

// heapBitsOK reports whether s's heap bits are read and usable: waiting
// while another marking worker reads them (it claimed them in the same
// batch, and sets them before it scans anything). A worker that never
// sets them (it panicked) is waited for a second at most: the object is
// then scanned conservatively, which only ever marks more.
func (s *span) heapBitsOK() bool {
	var since time.Time
	for {
		switch s.hstate.Load() {
		case hbOK:
			return true
		case hbReading:
			if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) > time.Second {
				return false
			}
			runtime.Gosched()
		default:
			return false
		}
	}
}

// typeAt returns the pointer mask of the *_type at addr, nil when it cannot
// be used.
func (h *heapMeta) typeAt(addr uint64) *typeInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := &h.bits
	if ti, ok := l.types[addr]; ok {
		return ti
	}
	ti := h.readType(addr)
	l.types[addr] = ti
	return ti
}

func (h *heapMeta) readType(addr uint64) *typeInfo {
	l := &h.bits
	if addr < 4096 {
		return nil
	}
	buf, err := h.r.readSmall(addr, int(l.typ.Size))
	if err != nil {
		return nil
	}
	size, ptrBytes := get(buf, l.fSize), get(buf, l.fPtrBytes)
	tflag, kind, gcdata := get(buf, l.fTFlag), get(buf, l.fKind), get(buf, l.fGCData)
	if size == 0 || size%8 != 0 || size > 1<<40 || ptrBytes == 0 || ptrBytes%8 != 0 || ptrBytes > size || gcdata < 4096 {
		return nil
	}
	const (
		kindGCProg          = 1 << 6 // Go 1.22/1.23
		tflagGCMaskOnDemand = 1 << 4 // Go 1.24+ (TFlagUnrolledBitmap before)
	)
	if l.minor <= 23 && kind&kindGCProg != 0 {
		return nil
	}
	if l.minor >= 24 && tflag&tflagGCMaskOnDemand != 0 {
		if l.inProgress == 0 {
			return nil
		}
		slot, err := h.r.readSmall(gcdata, 8)
		if err != nil {
			return nil
		}
		gcdata = binary.LittleEndian.Uint64(slot)
		if gcdata < 4096 || gcdata == l.inProgress {
			return nil // not built yet
		}
	}
	words := ptrBytes / 8
	mask, err := h.r.readSmall(gcdata, int((words+7)/8))
	if err != nil {
		return nil
	}
	return &typeInfo{size: size, ptrBytes: ptrBytes, mask: append([]byte(nil), mask...)}
}

// scanObject marks from the object at base (buf holds its elem bytes):
// by its pointer bits where s's layout is known, every word otherwise.
func (h *Heap) scanObject(s *span, base uint64, buf []byte) {
	if !h.precise {
		h.scanBuf(base, buf)
		return
	}
	switch s.layout {
	case layoutHeapBits:
		if !s.heapBitsOK() {
			break
		}
		h.scanned += uint64(len(buf))
		for b := s.objBits(base); b != 0; b &= b - 1 {
			k := uint64(bits.TrailingZeros64(b)) * 8
			if k+8 > uint64(len(buf)) {
				break
			}
			h.cur = base + k
			h.MarkPtr(binary.LittleEndian.Uint64(buf[k:]))
		}
		return
	case layoutHeaders:
		if len(buf) < 8 {
			break
		}
		if ti := h.m.typeAt(binary.LittleEndian.Uint64(buf)); ti != nil {
			h.scanned += 8
			h.scanTyped(base+8, buf[8:], ti, 0)
			return
		}
	case layoutLarge:
		if ti := h.m.typeAt(s.largeType); ti != nil {
			h.scanTyped(base, buf, ti, 0)
			return
		}
	}
	h.scanBuf(base, buf)
}

// scanTyped marks from the pointer words of buf, memory at addr holding an
// array of ti starting phase bytes into its first element.
func (h *Heap) scanTyped(addr uint64, buf []byte, ti *typeInfo, phase uint64) {
	h.scanned += uint64(len(buf))
	ti.eachPointer(uint64(len(buf)), phase, func(i uint64) {
		h.cur = addr + i
		h.MarkPtr(binary.LittleEndian.Uint64(buf[i:]))
	})
}

// eachPointer calls fn with the offset of every pointer word in n bytes of
// an array of ti, starting phase bytes into an element (the runtime's
// tiling: the mask covers ptrBytes, the rest of each element has none).
func (ti *typeInfo) eachPointer(n, phase uint64, fn func(off uint64)) {
	n &^= 7
	off := phase % ti.size
	for i := uint64(0); i < n; {
		if off >= ti.ptrBytes {
			// The rest of this element holds no pointers.
			i += ti.size - off
			off = 0
			continue
		}
		if w := off / 8; ti.mask[w/8]&(1<<(w%8)) != 0 {
			fn(i)
		}
		i += 8
		if off += 8; off == ti.size {
			off = 0
		}
	}
}

// scanLarge scans an object too large to read in one piece, a chunk at a
// time: precisely when its span has a usable type. Unreadable parts count
// as scanned (nothing to follow).
func (h *Heap) scanLarge(s *span, base, size uint64) {
	var ti *typeInfo
	if h.precise && s.layout == layoutLarge {
		ti = h.m.typeAt(s.largeType)
	}
	if ti == nil {
		_ = h.MarkRange(base, base+size)
		return
	}
	const chunk = 1 << 20
	for off := uint64(0); off < size; off += chunk {
		if h.scanned > h.Budget {
			return // Drain reports it
		}
		n := min(chunk, size-off)
		buf, err := h.r.read(base+off, int(n))
		if err != nil {
			h.scanned += n
			continue
		}
		h.scanTyped(base+off, buf, ti, off)
	}
}

// GlobalMasks returns, for each range of Globals (data, then bss), the
// runtime's pointer mask of it (moduledata.gcdatamask, gcbssmask: a bit
// per word, what the GC's markrootBlock scans), nil where it cannot be
// read or precise scanning is off: scan that range conservatively.
func (t *Target) GlobalMasks() [][]byte {
	out := make([][]byte, 2)
	if !preciseScanning() {
		return out
	}
	if minor, ok := releaseMinor(t.GoVersion()); !ok || minor < 22 || minor > 27 {
		return out
	}
	md, buf, err := t.firstModuledata()
	if err != nil {
		return out
	}
	for i, seg := range [][3]string{{"data", "edata", "gcdatamask"}, {"bss", "ebss", "gcbssmask"}} {
		lo, hi := get(buf, md.Field(seg[0])), get(buf, md.Field(seg[1]))
		nf, pf := md.Field(seg[2]+".n"), md.Field(seg[2]+".bytedata")
		if !nf.OK || !pf.OK || hi <= lo {
			continue
		}
		n, p := uint64(int32(get(buf, nf))), get(buf, pf)
		words := (hi - lo) / 8
		if p == 0 || n < words || n > words+64 {
			continue
		}
		if mask, err := t.read(p, int((words+7)/8)); err == nil {
			out[i] = mask
		}
	}
	return out
}

// MarkGlobals marks from the package variables in [lo, hi), part of the
// segment starting at seg whose pointer mask is mask (GlobalMasks): only
// the words the mask says hold pointers, every word when mask is nil.
func (h *Heap) MarkGlobals(lo, hi, seg uint64, mask []byte) error {
	if mask == nil || !h.precise {
		return h.MarkRange(lo, hi)
	}
	lo &^= 7
	for lo < hi {
		n := min(hi-lo, 1<<20)
		buf, err := h.r.read(lo, int(n))
		if err != nil {
			return err
		}
		h.scanned += n
		for i := uint64(0); i+8 <= n; i += 8 {
			w := (lo + i - seg) / 8
			if w/8 < uint64(len(mask)) && mask[w/8]&(1<<(w%8)) != 0 {
				h.cur = lo + i
				h.MarkPtr(binary.LittleEndian.Uint64(buf[i:]))
			}
		}
		lo += n
	}
	return nil
}
