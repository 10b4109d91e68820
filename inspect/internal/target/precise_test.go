package target

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/hangtui/hangtui/internal/fixture"
)

// TestObjBits checks reading an object's pointer bits out of a span's
// bitmap, across bitmap words.
func TestObjBits(t *testing.T) {
	// A span of 48-byte objects (6 words) whose objects' bits are
	// 0b100001 (a pointer in the first and the last word).
	const elem = 48
	s := &span{start: 0x10000, elem: elem, end: 0x10000 + 8192}
	s.hbits = make([]uint64, 8192/8/64+1)
	for base := s.start; base+elem <= s.end; base += elem {
		for _, w := range []uint64{0, 5} {
			bit := (base-s.start)/8 + w
			s.hbits[bit/64] |= 1 << (bit % 64)
		}
	}
	for base := s.start; base+elem <= s.end; base += elem {
		if got := s.objBits(base); got != 0b100001 {
			t.Fatalf("object at +%d: bits %b, want 100001", base-s.start, got)
		}
	}
	// 512-byte objects: all 64 bits of a word.
	s = &span{start: 0x20000, elem: 512, end: 0x20000 + 8192, hbits: make([]uint64, 17)}
	s.hbits[3] = 0x8000000000000001
	if got := s.objBits(s.start + 3*512); got != 0x8000000000000001 {
		t.Errorf("512-byte object: bits %x", got)
	}
}

// TestTypedTiling checks the runtime's tiling of a type's mask over an
// array (typePointers): pointers repeat every element, nothing after
// ptrBytes, phase for objects read in chunks.
func TestTypedTiling(t *testing.T) {
	// struct{ a *T; b int; c *T; d [5]int }: 64 bytes, pointers at 0 and
	// 16, ptrBytes 24.
	ti := &typeInfo{size: 64, ptrBytes: 24, mask: []byte{0b101}}
	var got []uint64
	ti.eachPointer(3*64, 0, func(off uint64) { got = append(got, off) })
	if want := []uint64{0, 16, 64, 80, 128, 144}; !slices.Equal(got, want) {
		t.Errorf("offsets %v, want %v", got, want)
	}
	// A chunk starting 80 bytes in: the second element's c, the third's a and c.
	got = got[:0]
	ti.eachPointer(100, 80, func(off uint64) { got = append(got, off) })
	if want := []uint64{0, 48, 64}; !slices.Equal(got, want) {
		t.Errorf("phase 80: offsets %v, want %v", got, want)
	}
}

// TestRootWalker checks what a precise mask yields: live slots and
// conservative ranges, and stack objects only when something live points
// into them (or the goroutine has defers).
func TestRootWalker(t *testing.T) {
	const hi = 0x7000_0000
	sp := uint64(hi - 16*8)
	words := make([]uint64, 16) // words[i] is at sp+8i, i.e. hi + 8*(i-16)
	at := func(o int32) *uint64 { return &words[16+int(o)] }
	const heapA, heapB, heapC, heapD = 0x1000_0000, 0x1000_1000, 0x1000_2000, 0x1000_3000
	*at(-1) = heapA               // a live slot
	*at(-2) = heapB               // a dead slot
	*at(-4) = sp + 8*uint64(16-6) // a live slot pointing into object 1 (words -7..-5)
	*at(-7) = heapC               // object 1's pointer word
	*at(-10) = heapD              // object 2's pointer word (not reached)
	mask := &stackMask{
		spOff: -16 * 8,
		ptrs:  []int32{-4, -1},
		objs: []stackObj{
			{lo: -11, hi: -9, ptrs: []int32{-10}},
			{lo: -7, hi: -4, ptrs: []int32{-7}},
		},
	}
	g := &G{regs: gRegs{sp: sp, hi: hi, lo: hi - 4096}, stk: &stackShape{mask: mask}}
	buf := make([]byte, 16*8)
	for i, w := range words {
		binary.LittleEndian.PutUint64(buf[i*8:], w)
	}
	collect := func() []uint64 {
		var out []uint64
		var w rootWalker
		w.walk(g, sp, buf, func(v uint64) {
			if v != 0 {
				out = append(out, v)
			}
		})
		slices.Sort(out)
		return out
	}
	if got, want := collect(), []uint64{heapA, heapC}; !slices.Equal(got, want) {
		t.Errorf("roots %#x, want %#x", got, want)
	}
	g.regs.deferHead = 0x4242 // defers: every object is live
	if got, want := collect(), []uint64{heapA, heapC, heapD}; !slices.Equal(got, want) {
		t.Errorf("with defers: roots %#x, want %#x", got, want)
	}
	g.regs.deferHead = 0
	g.stk.mask = nil // conservative: every word
	if got := collect(); len(got) != 5 {
		t.Errorf("conservative: roots %#x, want all 5 non-zero words", got)
	}
}

// TestPreciseHeapObjects marks from the uintptr-ref fixture's objects —
// one with its pointer bits in its span, one with a type header, a large
// one, a package variable — each holding an owner pointer and a channel
// as a uintptr: precise marking reaches the owner and not the channel;
// conservative marking reaches both.
func TestPreciseHeapObjects(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "uintptr-ref")
	tg := attachTo(t, p.PID)
	if _, _, err := tg.Goroutines(); err != nil {
		t.Fatal(err)
	}
	addr := func(name string) uint64 { return p.Manifest.Addr(t, name) }
	layouts := map[string]uint8{"small": layoutHeapBits, "table": layoutHeaders, "large": layoutLarge}
	for _, where := range []string{"small", "table", "large", "global"} {
		for _, precise := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/precise=%v", where, precise), func(t *testing.T) {
				h, err := tg.NewHeap()
				if err != nil {
					t.Fatal(err)
				}
				h.precise = precise
				obj := addr(where + "_obj")
				if where == "global" {
					globals, err := tg.Globals()
					if err != nil {
						t.Fatal(err)
					}
					masks := tg.GlobalMasks()
					if precise && masks[1] == nil {
						t.Fatalf("no .bss pointer mask")
					}
					if err := h.MarkGlobals(obj, obj+16, globals[1][0], masks[1]); err != nil {
						t.Fatal(err)
					}
				} else {
					s := h.m.spanOf(obj)
					if s == nil || s.layout != layouts[where] {
						t.Fatalf("span of %#x: %+v, want layout %d", obj, s, layouts[where])
					}
					h.MarkPtr(obj)
				}
				if err := h.Drain(); err != nil {
					t.Fatal(err)
				}
				if !h.Reached(addr("owner_" + where)) {
					t.Errorf("owner not reached")
				}
				if got := h.Reached(addr(where)); got != !precise {
					t.Errorf("channel (a uintptr) reached: %v", got)
				}
				if s := h.m.spanOf(obj); precise && s != nil && s.layout == layoutHeapBits && s.hstate.Load() != hbOK {
					t.Errorf("heap bits not used (state %d)", s.hstate.Load())
				}
			})
		}
	}
}

// TestDeadSlot checks the dead-slot fixture's supervisors: the collector's
// channel is still in a stack slot (a conservative scan finds it), but the
// frame's stack map says the slot is dead, so the kept roots do not have
// it.
func TestDeadSlot(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "dead-slot")
	tg := attachTo(t, p.PID)
	gs, _, err := tg.Goroutines()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]*G{}
	for _, g := range gs {
		byID[g.ID] = g
	}
	for i, id := range p.Manifest.Groups["supervisor"] {
		g := byID[id]
		ch := p.Manifest.Addr(t, "samples"+strconv.Itoa(i))
		if g == nil || g.maskFor(g.regs.sp) == nil || !g.wordsOK {
			t.Fatalf("supervisor %d: no precise stack roots (%+v)", id, g)
		}
		lo, hi := tg.LiveStack(g)
		raw, err := tg.read(lo, int(hi-lo))
		if err != nil {
			t.Fatal(err)
		}
		stale := false
		for k := 0; k+8 <= len(raw); k += 8 {
			stale = stale || binary.LittleEndian.Uint64(raw[k:]) == ch
		}
		if !stale {
			t.Errorf("supervisor %d: the channel %#x is not on its stack at all: the fixture does not test a dead slot", id, ch)
		}
		g.words.each(func(v uint64) {
			if v == ch {
				t.Errorf("supervisor %d: the dead slot's channel %#x is a root", id, ch)
			}
		})
	}
}

// TestPreciseSubset marks from every goroutine's stack and the package
// variables of a fixture with many kinds of goroutines, precisely and
// conservatively: the precise marks must be a subset (it reads a subset
// of the same words), and most frames must have been described precisely.
func TestPreciseSubset(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range []string{"all", "healthy-net", "labels"} {
		t.Run(sc, func(t *testing.T) {
			p := fixture.Start(t, exe, sc)
			tg := attachTo(t, p.PID)
			gs, _, err := tg.Goroutines()
			if err != nil {
				t.Fatal(err)
			}
			prec := tg.StackPrecision(gs)
			t.Logf("%d goroutines: frames %d precise, %d conservative (%v); %d goroutines conservative",
				len(gs), prec.PreciseFrames, prec.ConservativeFrames, prec.ConservativeFuncs, prec.ConservativeGoroutines)
			if prec.PreciseFrames == 0 || prec.ConservativeFrames > prec.PreciseFrames/10 {
				t.Errorf("stack maps hardly used")
			}
			globals, err := tg.Globals()
			if err != nil {
				t.Fatal(err)
			}
			masks := tg.GlobalMasks()
			mark := func(precise bool) *Heap {
				h, err := tg.NewHeap()
				if err != nil {
					t.Fatal(err)
				}
				h.precise = precise
				for _, g := range gs {
					if precise && g.wordsOK {
						h.MarkStackWords(0, g)
					} else if err := h.MarkStack(g); err != nil {
						t.Fatal(err)
					}
				}
				for i, r := range globals {
					if err := h.MarkGlobals(r[0], r[1], r[0], masks[i]); err != nil {
						t.Fatal(err)
					}
				}
				if err := h.Drain(); err != nil {
					t.Fatal(err)
				}
				return h
			}
			hp, hc := mark(true), mark(false)
			extra := 0
			for _, s := range hp.m.spans {
				if s == nil || s.elem == 0 {
					continue
				}
				for i := uint64(0); i < (s.end-s.start)/s.elem; i++ {
					if testBit(hp.marks, s, i) && !testBit(hc.marks, s, i) {
						extra++
					}
				}
			}
			t.Logf("marked %d objects precisely, %d conservatively", hp.Marked(), hc.Marked())
			if extra > 0 {
				t.Errorf("%d objects marked precisely but not conservatively", extra)
			}
		})
	}
}
