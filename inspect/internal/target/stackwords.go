package target

import (
	"sort"
)

// Stack words kept for the reachability proof.
//
// While the stack reader has a goroutine's stack at hand it keeps the words
// that may point at something marking cares about, so that marking never
// reads the stacks again. At 100,000 goroutines with deep stacks these
// words are the largest part of a snapshot, so only words that point into
// a heap arena or at a package variable are kept (marking ignores anything
// else; holder references look for locks, which live in one or the other),
// and heap words are stored as 32-bit offsets when the whole heap fits in a
// 4 GiB window, which it does in all but the largest processes.

// wordFilter says which stack words are worth keeping, for one snapshot.
type wordFilter struct {
	ok bool
	// arenaBase/arenaShift map an address to its arena index; arenas is
	// a bit set of the heap's arenas over indexes [minIdx, maxIdx].
	arenaBase      uint64
	arenaShift     uint
	minIdx, maxIdx uint64
	arenas         []uint64
	// heapLow is the lowest heap arena's start; narrow is whether every
	// heap address is within 4 GiB of it.
	heapLow uint64
	narrow  bool
	// globals is the range of the program's package variables.
	globLo, globHi uint64
}

// wordFilter reads the heap's arena list (mheap_.heapArenas, allArenas
// before Go 1.26) once per snapshot. Without it every word is kept.
func (t *Target) wordFilter() *wordFilter {
	f := &wordFilter{}
	mh, err := loadStruct(t.bi, "runtime.mheap")
	if err != nil {
		return f
	}
	ha, err := loadStruct(t.bi, "runtime.heapArena")
	if err != nil {
		return f
	}
	base, err := t.varAddr("runtime.mheap_")
	if err != nil {
		return f
	}
	arr := firstOK(mh.Field("heapArenas.array"), mh.Field("allArenas.array"))
	n := firstOK(mh.Field("heapArenas.len"), mh.Field("allArenas.len"))
	spans := ha.Field("spans")
	if !arr.OK || !n.OK || !spans.OK || t.bi.Arch.Name != "amd64" {
		return f
	}
	hdr, err := t.read(base, int(max(arr.Off+arr.Size, n.Off+n.Size)))
	if err != nil {
		return f
	}
	ptr, count := get(hdr, arr), get(hdr, n)
	// A 48-bit address space has 2^22 arenas of 64 MiB.
	if ptr == 0 || count == 0 || count > 1<<22 {
		return f
	}
	raw, err := t.read(ptr, int(count)*8)
	if err != nil {
		return f
	}
	pagesPer := uint64(spans.Size) / 8
	heapArenaBytes := pagesPer << 13
	for f.arenaShift = 0; uint64(1)<<f.arenaShift < heapArenaBytes; f.arenaShift++ {
	}
	f.arenaBase = 0xffff800000000000
	idxs := make([]uint64, count)
	for i := range idxs {
		idxs[i] = decodeUint(raw[i*8 : i*8+8])
	}
	sort.Slice(idxs, func(i, j int) bool { return idxs[i] < idxs[j] })
	f.minIdx, f.maxIdx = idxs[0], idxs[len(idxs)-1]
	if f.maxIdx-f.minIdx > 1<<22 {
		return f
	}
	f.arenas = make([]uint64, (f.maxIdx-f.minIdx)/64+1)
	for _, idx := range idxs {
		d := idx - f.minIdx
		f.arenas[d/64] |= 1 << (d % 64)
	}
	f.heapLow = (f.minIdx << f.arenaShift) + f.arenaBase
	heapHigh := ((f.maxIdx + 1) << f.arenaShift) + f.arenaBase
	f.narrow = heapHigh-f.heapLow <= 1<<32
	if gs := t.userGlobals(); len(gs) > 0 {
		f.globLo = gs[0].addr
		for _, g := range gs {
			f.globHi = max(f.globHi, g.addr+g.size)
		}
	}
	f.ok = true
	return f
}

// inHeap reports whether v is in one of the heap's arenas.
func (f *wordFilter) inHeap(v uint64) bool {
	idx := (v - f.arenaBase) >> f.arenaShift
	if idx < f.minIdx || idx > f.maxIdx {
		return false
	}
	d := idx - f.minIdx
	return f.arenas[d/64]&(1<<(d%64)) != 0
}

// stackWords are the kept words of one goroutine's stack: heap words as
// offsets from heapLow (narrow filters) or as they are, and the others.
type stackWords struct {
	heap32 []uint32
	wide   []uint64
	low    uint64
}

// wordArena holds kept stack words, a chunk at a time.
type wordArena struct {
	w32    []uint32
	w64    []uint64
	walker rootWalker
}

// keep keeps the words of g's live stack [sp, hi) that may point into
// the heap or at a package variable, when buf holds all of it: the
// reachability proof marks from them without reading the stack again. When
// g's stack shape has a precise mask (stackmaps.go) only the slots the
// target's stack maps say hold live pointers are looked at.
func (a *wordArena) keep(u *unwinder, f *wordFilter, g *G, sp uint64, buf []byte) {
	if f == nil {
		return // stacks read for something else (a raw target's holder pass)
	}
	if g.Status == Gsyscall || sp != g.regs.sp || uint64(len(buf)) != g.regs.hi-sp || sp%8 != 0 {
		return
	}
	n := len(buf) / 8
	if cap(a.w32)-len(a.w32) < n {
		a.w32 = make([]uint32, 0, max(n, 1<<16))
	}
	if cap(a.w64)-len(a.w64) < n {
		a.w64 = make([]uint64, 0, max(n, 1<<14))
	}
	s32, s64 := len(a.w32), len(a.w64)
	k := keeper{a: a, u: u, f: f, lo: g.regs.lo, hi: g.regs.hi}
	a.walker.walk(g, sp, buf, k.add)
	g.words = stackWords{heap32: a.w32[s32:len(a.w32):len(a.w32)], wide: a.w64[s64:len(a.w64):len(a.w64)], low: f.heapLow}
	g.wordsOK = true
}

// keeper filters one goroutine's stack words into a wordArena.
type keeper struct {
	a      *wordArena
	u      *unwinder
	f      *wordFilter
	lo, hi uint64 // the goroutine's stack
	// Stacks repeat values (an argument passed down through every frame):
	// a small table drops most repeats; marking a value twice is a no-op.
	seen [64]uint64
}

func (k *keeper) add(v uint64) {
	if v < 4096 || (v >= k.lo && v < k.hi) || (v >= k.u.minpc && v < k.u.maxpc) {
		return
	}
	s := &k.seen[(v>>3)%uint64(len(k.seen))]
	if *s == v {
		return
	}
	*s = v
	f, a := k.f, k.a
	switch {
	case !f.ok:
		a.w64 = append(a.w64, v)
	case f.inHeap(v):
		if f.narrow {
			a.w32 = append(a.w32, uint32(v-f.heapLow))
		} else {
			a.w64 = append(a.w64, v)
		}
	case v >= f.globLo && v < f.globHi:
		a.w64 = append(a.w64, v)
	}
}

// len is how many words are kept.
func (w *stackWords) len() int { return len(w.heap32) + len(w.wide) }

// each calls fn with every word, as an address.
func (w *stackWords) each(fn func(v uint64)) {
	for _, o := range w.heap32 {
		fn(w.low + uint64(o))
	}
	for _, v := range w.wide {
		fn(v)
	}
}
