package inspect

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
)

// The reachability proof's fixpoint (reachProof) on a fake heap: no
// process, only objects, the pointers they hold and the roots.

const fakeObjSize = 0x40

// fakeHeap is a heap of fakeObjSize objects at the keys of ptrs, each
// holding the pointers listed; marking follows them like the target's GC.
type fakeHeap struct {
	ptrs   map[uint64][]uint64
	marked map[uint64]bool
	gray   []uint64
	budget int // objects scanned before Drain fails; 0: no limit
	nscan  int
}

func (f *fakeHeap) base(p uint64) (uint64, bool) {
	b := p &^ (fakeObjSize - 1)
	_, ok := f.ptrs[b]
	return b, ok
}

func (f *fakeHeap) IsHeap(p uint64) bool { _, ok := f.base(p); return ok }

func (f *fakeHeap) Reached(p uint64) bool {
	b, ok := f.base(p)
	return ok && f.marked[b]
}

func (f *fakeHeap) mark(p uint64) {
	if b, ok := f.base(p); ok && !f.marked[b] {
		f.marked[b] = true
		f.gray = append(f.gray, b)
	}
}

func (f *fakeHeap) Drain() error {
	_, err := f.DrainUntil(nil)
	return err
}

func (f *fakeHeap) HasWork() bool { return len(f.gray) > 0 }

// DrainUntil asks stop after every object scanned (the target's heap asks
// as the bytes scanned double).
func (f *fakeHeap) DrainUntil(stop func() bool) (bool, error) {
	for len(f.gray) > 0 {
		if stop != nil && stop() {
			return true, nil
		}
		b := f.gray[len(f.gray)-1]
		f.gray = f.gray[:len(f.gray)-1]
		if f.nscan++; f.budget > 0 && f.nscan > f.budget {
			return false, errors.New("over budget")
		}
		for _, p := range f.ptrs[b] {
			f.mark(p)
		}
	}
	return false, nil
}

// fakeG is a goroutine: parked ones are candidates (waits set), the others
// run and their stack words are roots from the start.
type fakeG struct {
	id    int64
	waits []Wait
	stack []uint64 // pointer words on its live stack
}

// fakeRes is a resource at addr; lock holders are given by the edges.
type fakeRes struct {
	id   string
	kind Kind
	addr uint64
}

// Heap objects used below: channels at 0x1000.., plain objects at 0x8000..
const (
	chA, chB, chC = 0x1000, 0x1040, 0x1080
	objX, objY    = 0x8000, 0x8040
	mu            = 0x9000
	globalLo      = 0x500000 // the data and bss segment: [globalLo, globalHi)
	globalHi      = 0x600000
	stack1        = 0x7f0000 // goroutine 1's stack: [stack1, stack1+0x1000)
)

func TestReachProofFake(t *testing.T) {
	t.Parallel()
	recv := func(res string) Wait { return Wait{Resource: res, Op: OpRecv} }
	chans := []fakeRes{{"A", KindChan, chA}, {"B", KindChan, chB}, {"C", KindChan, chC}}
	for _, tc := range []struct {
		name string
		heap map[uint64][]uint64 // object → pointers it holds
		// globalWords are the pointers the data and bss segments hold.
		globalWords []uint64
		gs          []fakeG
		res         []fakeRes
		edges       []string // lock wait-for edges "from>to"
		budget      int
		wantStuck   []int64
		wantErr     bool
		// wantEarly: marking ends with work left, every candidate live.
		wantEarly bool
	}{
		{
			name: "a large heap left unwalked once every candidate is live",
			heap: func() map[uint64][]uint64 {
				m := map[uint64][]uint64{chA: nil}
				for i := uint64(0); i < 200; i++ {
					m[objX+i*fakeObjSize] = []uint64{objX + (i+1)*fakeObjSize}
				}
				return m
			}(),
			globalWords: []uint64{chA, objX},
			gs:          []fakeG{{id: 1, waits: []Wait{recv("A")}}, {id: 2, stack: []uint64{objX}}},
			res:         chans,
			wantEarly:   true,
		},
		{
			name: "reached only from a stuck goroutine",
			heap: map[uint64][]uint64{chA: nil},
			gs: []fakeG{
				{id: 1, waits: []Wait{recv("A")}, stack: []uint64{chA}},
				{id: 2}, // runs, holds nothing
			},
			res:       chans,
			wantStuck: []int64{1},
		},
		{
			name:        "reached from a global",
			heap:        map[uint64][]uint64{chA: nil},
			globalWords: []uint64{chA},
			gs:          []fakeG{{id: 1, waits: []Wait{recv("A")}}},
			res:         chans,
		},
		{
			name:        "reached from a global through two objects",
			heap:        map[uint64][]uint64{objX: {objY}, objY: {chA + 8}, chA: nil},
			globalWords: []uint64{objX},
			gs:          []fakeG{{id: 1, waits: []Wait{recv("A")}}},
			res:         chans,
		},
		{
			name: "reached from a running goroutine's stack",
			heap: map[uint64][]uint64{objX: {chA}, chA: nil},
			gs:   []fakeG{{id: 1, waits: []Wait{recv("A")}}, {id: 2, stack: []uint64{objX}}},
			res:  chans,
		},
		{
			name: "two stuck goroutines that reach each other's channel",
			heap: map[uint64][]uint64{chA: nil, chB: nil},
			gs: []fakeG{
				{id: 1, waits: []Wait{recv("A")}, stack: []uint64{chB}},
				{id: 2, waits: []Wait{recv("B")}, stack: []uint64{chA}},
				{id: 3},
			},
			res:       chans,
			wantStuck: []int64{1, 2},
		},
		{
			name: "woken in turn: a live goroutine wakes 1, which can then wake 2",
			heap: map[uint64][]uint64{chA: nil, chB: nil, chC: nil},
			gs: []fakeG{
				{id: 1, waits: []Wait{recv("A")}, stack: []uint64{chB}},
				{id: 2, waits: []Wait{recv("B")}, stack: []uint64{chC}},
				{id: 3, waits: []Wait{recv("C")}},
				{id: 4, stack: []uint64{chA}},
			},
			res: chans,
			// 3 is reachable once 2 is live: all wake in turn.
		},
		{
			name: "a cycle kept apart from a live goroutine",
			heap: map[uint64][]uint64{chA: nil, chB: nil, chC: nil, objX: {chC}},
			gs: []fakeG{
				{id: 1, waits: []Wait{recv("A")}, stack: []uint64{chB}},
				{id: 2, waits: []Wait{recv("B")}, stack: []uint64{chA}},
				{id: 3, waits: []Wait{recv("C")}},
				{id: 4, stack: []uint64{objX}},
			},
			res:       chans,
			wantStuck: []int64{1, 2},
		},
		{
			name:        "a channel that is itself a global",
			heap:        map[uint64][]uint64{},
			gs:          []fakeG{{id: 1, waits: []Wait{recv("G")}}},
			res:         []fakeRes{{"G", KindChan, globalLo + 0x100}},
			globalWords: nil,
		},
		{
			name: "a channel on its own waiter's stack",
			heap: map[uint64][]uint64{},
			gs:   []fakeG{{id: 1, waits: []Wait{recv("S")}}, {id: 2}},
			res:  []fakeRes{{"S", KindChan, stack1 + 0x10}},
			// Only goroutine 1 can use its stack, and it is parked.
			wantStuck: []int64{1},
		},
		{
			name: "a lock whose holder is stuck",
			heap: map[uint64][]uint64{chA: nil, mu: nil},
			gs: []fakeG{
				{id: 1, waits: []Wait{{Resource: "M", Op: OpLock}}},
				{id: 2, waits: []Wait{recv("A")}},
				{id: 3, stack: []uint64{mu}}, // reaching the mutex does not unlock it
			},
			res:       append([]fakeRes{{"M", KindMutex, mu}}, chans...),
			edges:     []string{"1>2"},
			wantStuck: []int64{1, 2},
		},
		{
			name: "a lock whose holder is woken",
			heap: map[uint64][]uint64{chA: nil, mu: nil},
			gs: []fakeG{
				{id: 1, waits: []Wait{{Resource: "M", Op: OpLock}}},
				{id: 2, waits: []Wait{recv("A")}},
				{id: 3, stack: []uint64{chA}},
			},
			res:   append([]fakeRes{{"M", KindMutex, mu}}, chans...),
			edges: []string{"1>2"},
		},
		{
			name: "a lock with no known holder: reachability decides",
			heap: map[uint64][]uint64{mu: nil},
			gs: []fakeG{
				{id: 1, waits: []Wait{{Resource: "M", Op: OpLock}}},
				{id: 3, stack: []uint64{mu}},
			},
			res: []fakeRes{{"M", KindMutex, mu}},
		},
		{
			name:   "over the marking budget: no conclusion",
			heap:   map[uint64][]uint64{objX: {objY}, objY: {objX}, chA: nil},
			gs:     []fakeG{{id: 1, waits: []Wait{recv("A")}}, {id: 2, stack: []uint64{objX}}},
			res:    chans,
			budget: 1,
			// wantErr: the caller claims nothing.
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHeap{ptrs: tc.heap, marked: map[uint64]bool{}, budget: tc.budget}
			for _, p := range tc.globalWords {
				h.mark(p)
			}
			res := map[string]*Resource{}
			for _, r := range tc.res {
				res[r.id] = &Resource{ID: r.id, Kind: r.kind, Addr: r.addr}
			}
			next := map[int64][]edge{}
			for _, e := range tc.edges {
				var from, to int64
				if _, err := fmt.Sscanf(e, "%d>%d", &from, &to); err != nil {
					t.Fatal(err)
				}
				next[from] = append(next[from], edge{To: to, Res: "M"})
			}
			live := map[int64]bool{}
			stackWords := map[int64][]uint64{}
			var candidates []*Goroutine
			var stacks []stackRange
			for i, fg := range tc.gs {
				g := &Goroutine{ID: fg.id, Waits: fg.waits}
				stackWords[fg.id] = fg.stack
				lo := stack1 + uint64(i)*0x1000
				stacks = append(stacks, stackRange{lo, lo + 0x1000, fg.id})
				if len(fg.waits) > 0 {
					candidates = append(candidates, g)
					continue
				}
				live[fg.id] = true
				for _, p := range fg.stack {
					h.mark(p)
				}
			}
			p := &reachProof{
				mem: h, res: res, next: next, live: live,
				globals: [][2]uint64{{globalLo, globalHi}}, stacks: stacks,
				markLive: func(gs []*Goroutine) {
					for _, g := range gs {
						for _, w := range stackWords[g.ID] {
							h.mark(w)
						}
					}
				},
			}
			err := p.run(candidates)
			if (err != nil) != tc.wantErr {
				t.Fatalf("run: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var stuck []int64
			for _, g := range candidates {
				if !live[g.ID] {
					stuck = append(stuck, g.ID)
				}
			}
			sort.Slice(stuck, func(i, j int) bool { return stuck[i] < stuck[j] })
			if !reflect.DeepEqual(stuck, tc.wantStuck) {
				t.Errorf("stuck %v, want %v", stuck, tc.wantStuck)
			}
			if p.partial && len(stuck) > 0 {
				t.Errorf("marking ended early, yet %v called stuck", stuck)
			}
			if tc.wantEarly && (!p.partial || h.nscan >= len(tc.heap)) {
				t.Errorf("marking scanned %d of %d objects (ended early: %v), want it to end early", h.nscan, len(tc.heap), p.partial)
			}
		})
	}
}
