package target

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
)

// spanMem is target memory for marking without a process: ranges that
// fail to read make whole-span reads fall back to per-object reads.
type spanMem struct {
	base  uint64
	mem   []byte
	holes [][2]uint64  // [lo, hi) unreadable
	reads atomic.Int64 // ranges read
}

func (f *spanMem) read(addr uint64, n int) ([]byte, error) {
	f.reads.Add(1)
	for _, h := range f.holes {
		if addr < h[1] && addr+uint64(n) > h[0] {
			return nil, fmt.Errorf("hole")
		}
	}
	if addr < f.base || addr+uint64(n) > f.base+uint64(len(f.mem)) {
		return nil, fmt.Errorf("out of range")
	}
	return append([]byte(nil), f.mem[addr-f.base:addr-f.base+uint64(n)]...), nil
}

func (f *spanMem) readSmall(addr uint64, n int) ([]byte, error) { return f.read(addr, n) }

func (f *spanMem) readMany(addrs []uint64, bufs [][]byte, ok []bool) {
	for i, a := range addrs {
		b, err := f.read(a, len(bufs[i]))
		ok[i] = err == nil
		if ok[i] {
			copy(bufs[i], b)
		}
	}
}

// fakeHeap lays out nspans one-page spans of 64-byte objects from base, in
// one arena, every object in use.
func fakeHeap(f *spanMem, nspans int) *Heap {
	const page = 8192
	m := &heapMeta{arenaShift: 26, l2Bits: 8, pagesPer: 1 << 13, arenas: map[uint64]*arenaSpans{}, spans: map[uint64]*span{}}
	a := &arenaSpans{addrs: make([]uint64, m.pagesPer), spans: make([]atomic.Pointer[span], m.pagesPer)}
	for i := 0; i < nspans; i++ {
		start := f.base + uint64(i)*page
		s := &span{id: i, start: start, end: start + page, elem: 64, inUse: true, divMul: ^uint32(0)/64 + 1}
		pg := (start >> 13) % m.pagesPer
		a.spans[pg].Store(s)
	}
	m.arenas[f.base>>26] = a
	return &Heap{m: m, r: f, Budget: 1 << 30, seen: [4096]uint64{}}
}

// TestSpanCacheMarking marks lists that run backwards through many spans
// (as a list built by prepending is laid out) with whole-span reads, a
// cache smaller than the heap, and a span that cannot be read whole:
// exactly the list's objects are marked, in far fewer reads than objects.
func TestSpanCacheMarking(t *testing.T) {
	old := spanCacheBytes
	defer func() { spanCacheBytes = old }()
	for _, tc := range []struct {
		name       string
		cacheBytes int
		hole       bool
	}{
		{"cache holds all", 32 << 20, false},
		{"cache evicts", 3 * 8192, false},
		{"span not readable whole", 32 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spanCacheBytes = tc.cacheBytes
			const nspans, per = 64, 128
			f := &spanMem{base: 1 << 32, mem: make([]byte, nspans*8192)}
			// Two lists, interleaved object by object: list k uses the
			// objects with index%2 == k, each node pointing at the one
			// before it in memory. Object 0 and 1 end them.
			n := nspans * per
			for i := 2; i < n; i++ {
				binary.LittleEndian.PutUint64(f.mem[i*64:], f.base+uint64(i-2)*64)
			}
			if tc.hole {
				// Span 5 cannot be read whole: its last 8 bytes (in object
				// 767, of the list not marked) are unreadable. List 0's
				// objects in it are read alone.
				lo := f.base + 5*8192
				f.holes = [][2]uint64{{lo + 8192 - 8, lo + 8192}}
			}
			h := fakeHeap(f, nspans)
			h.MarkPtr(f.base + uint64(n-2)*64) // head of list 0
			if err := h.Drain(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				want := i%2 == 0
				if got := h.Reached(f.base + uint64(i)*64); got != want {
					t.Fatalf("object %d: reached %v, want %v", i, got, want)
				}
			}
			if tc.hole && f.reads.Load() <= nspans {
				t.Errorf("%d reads: the span not readable whole was not read object by object", f.reads.Load())
			}
			if max := nspans * 4; f.reads.Load() > int64(max) && !tc.hole {
				t.Errorf("%d reads for %d objects in %d spans, want at most %d", f.reads.Load(), n/2, nspans, max)
			}
		})
	}
}

// A pointer into a span's tail, past its last whole object (960-byte
// objects in an 8 KB span: 8 objects and 512 bytes left; corrupt sizes in a
// core do the same), is not an object: marking neither reaches it nor
// reads past the span (a fuzzed core found the read).
func TestSpanTailIsNoObject(t *testing.T) {
	f := &spanMem{base: 1 << 32, mem: make([]byte, 2*8192)}
	h := fakeHeap(f, 2)
	s := h.m.spanOf(f.base)
	s.elem, s.divMul = 960, ^uint32(0)/960+1
	// Object 0 points into the tail; the tail would point on.
	binary.LittleEndian.PutUint64(f.mem[0:], f.base+8*960+16)
	binary.LittleEndian.PutUint64(f.mem[8*960+16:], f.base+8192)
	h.MarkPtr(f.base)
	if err := h.Drain(); err != nil {
		t.Fatal(err)
	}
	if !h.Reached(f.base) {
		t.Fatal("object 0 not reached")
	}
	if h.Reached(f.base+8*960+16) || h.Reached(f.base+8192) {
		t.Fatal("the span's tail was taken for an object")
	}
}
