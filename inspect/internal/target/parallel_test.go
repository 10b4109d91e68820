package target

import (
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestParallelMarking marks a fake heap of many lists that share nodes,
// with unreachable lists between them, on several workers from the first
// byte (the spans' metadata is the Heap's own, as NewPrivateHeap's is):
// exactly the objects reachable from the roots are marked, each once, with
// or without whole-span copies, and a limit stops the workers with the rest
// of the work kept.
func TestParallelMarking(t *testing.T) {
	oldAfter, oldCache := parallelAfter, spanCacheBytes
	defer func() { parallelAfter, spanCacheBytes = oldAfter, oldCache }()
	parallelAfter = 0
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	const nspans, per = 256, 128 // 64-byte objects, one page per span
	n := nspans * per
	for _, tc := range []struct {
		name       string
		cacheBytes int
		limit      bool
	}{
		{"cache holds all", 32 << 20, false},
		{"cache evicts", 4 * 8192, false},
		{"limit", 32 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spanCacheBytes = tc.cacheBytes
			f := &spanMem{base: 1 << 32, mem: make([]byte, nspans*8192)}
			// Each object points at up to two random others of the same
			// colour (even: reachable from the roots; odd: never).
			rng := rand.New(rand.NewPCG(1, 2))
			obj := func(i int) uint64 { return f.base + uint64(i)*64 }
			for i := range n {
				for k := range 2 {
					j := rng.IntN(n/2)*2 + i%2
					binary.LittleEndian.PutUint64(f.mem[i*64+k*8:], obj(j))
				}
			}
			h := fakeHeap(f, nspans)
			h.m.spanMarks = true
			for pg := range h.m.pagesPer {
				if s := h.m.arenas[f.base>>26].spans[pg].Load(); s != nil {
					s.marks = make([]uint64, 2)
				}
			}
			want := map[uint64]bool{}
			var walk func(i int)
			walk = func(i int) {
				if want[obj(i)] {
					return
				}
				want[obj(i)] = true
				for k := range 2 {
					p := binary.LittleEndian.Uint64(f.mem[i*64+k*8:])
					walk(int((p - f.base) / 64))
				}
			}
			for r := 0; r < 64; r += 2 {
				h.MarkPtr(obj(r * 101 % n &^ 1))
				walk(r * 101 % n &^ 1)
			}
			if tc.limit {
				h.Budget = 64 * 64
				if err := h.Drain(); err != ErrBudget {
					t.Fatalf("Drain: %v, want ErrBudget", err)
				}
				if !h.HasWork() {
					t.Fatal("no work left after the limit")
				}
				for i := range n {
					if h.Reached(obj(i)) && !want[obj(i)] {
						t.Fatalf("object %d reached, not reachable", i)
					}
				}
				return
			}
			runs := parallelDrains.Load()
			if err := h.Drain(); err != nil {
				t.Fatal(err)
			}
			if parallelDrains.Load() == runs {
				t.Fatal("marked by one worker")
			}
			got := 0
			for i := range n {
				r := h.Reached(obj(i))
				if r != want[obj(i)] {
					t.Fatalf("object %d: reached %v, want %v", i, r, want[obj(i)])
				}
				if r {
					got++
				}
			}
			if h.Marked() != got {
				t.Errorf("marked %d, counted %d: an object marked twice", h.Marked(), got)
			}
			if got < n/4 {
				t.Fatalf("only %d of %d objects reachable: the test walks too little", got, n)
			}
			t.Logf("%d objects marked", got)
		})
	}
}
