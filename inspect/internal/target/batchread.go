package target

// Batched reads: many ranges per process_vm_readv (readMany, readEach),
// and every goroutine's stack read in batches by a second goroutine while
// the session goroutine unwinds them (fastStacks).

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sync"

	"github.com/go-delve/delve/pkg/proc"
)

// stackReader gives the words of one goroutine's stack: the window the
// batch read prefetched, extended by further reads for a deep stack.
type stackReader struct {
	t        *Target
	base, hi uint64 // the stack from base (the SP) up to hi
	buf      []byte // memory from base
}

const (
	stackWindow = 16 << 10 // first read of a stack, at most
	batchBytes  = 1 << 20  // stack bytes read per batch, at most
	batchGs     = 1024     // goroutines per batch, at most
)

func (s *stackReader) word(addr uint64) (uint64, bool) {
	if addr < s.base || addr+8 > s.hi {
		return 0, false
	}
	if n := uint64(len(s.buf)); addr+8 > s.base+n {
		want := min(max(addr+8-s.base, 2*n, stackWindow), s.hi-s.base)
		buf := make([]byte, want)
		copy(buf, s.buf)
		if m, err := s.t.mem.ReadMemory(buf[n:], s.base+n); err != nil || uint64(m) != want-n {
			return 0, false
		}
		s.buf = buf
	}
	return binary.LittleEndian.Uint64(s.buf[addr-s.base:]), true
}

// readMany reads len(bufs[i]) bytes at addrs[i] into bufs[i] for every i and
// reports which reads succeeded in full: batched into few syscalls for a live
// process, one by one through Delve otherwise.
func (t *Target) readMany(addrs []uint64, bufs [][]byte, ok []bool) {
	clear(ok)
	if t.live {
		readvBatch(t.pid, addrs, bufs, ok)
	}
	for i := range addrs {
		if !ok[i] {
			n, err := t.mem.ReadMemory(bufs[i], addrs[i])
			ok[i] = err == nil && n == len(bufs[i])
		}
	}
}

// readEach reads size bytes at each address and calls f with the index
// and bytes of each one that could be read, in address order. Objects that
// lie close together in memory (runtime.g structs come from the same spans)
// are read as one range; buf is only valid during the call.
func (t *Target) readEach(addrs []uint64, size int, f func(i int, buf []byte)) {
	t.readEachSized(addrs, nil, size, f)
}

// readEachSized is readEach for objects of different sizes: sizes[i] bytes
// at addrs[i] (size for all when sizes is nil). Overlapping objects are
// read once.
func (t *Target) readEachSized(addrs []uint64, sizes []int, size int, f func(i int, buf []byte)) {
	const (
		maxGap   = 512     // bytes between objects still read as one range
		maxRange = 1 << 20 // bytes in one range, at most
	)
	sizeOf := func(i int) int {
		if sizes != nil {
			return sizes[i]
		}
		return size
	}
	order := make([]int, len(addrs))
	for i := range order {
		order[i] = i
	}
	// pdqsort: linear when the addresses come sorted.
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(addrs[a], addrs[b]) })
	type rng struct {
		start, end  uint64
		first, last int // in order
	}
	var rngs []rng
	for k, i := range order {
		a, sz := addrs[i], uint64(sizeOf(i))
		if n := len(rngs); n > 0 && a <= rngs[n-1].end+maxGap && a+sz-rngs[n-1].start <= maxRange {
			rngs[n-1].end = max(rngs[n-1].end, a+sz)
			rngs[n-1].last = k
			continue
		}
		rngs = append(rngs, rng{start: a, end: a + sz, first: k, last: k})
	}
	var (
		raddrs []uint64
		bufs   [][]byte
		ok     []bool
		mem    []byte
	)
	for len(rngs) > 0 {
		// A batch of ranges, a few MB at most.
		n, total := 0, 0
		for n < len(rngs) && n < batchGs && (n == 0 || total+int(rngs[n].end-rngs[n].start) <= 4*maxRange) {
			total += int(rngs[n].end - rngs[n].start)
			n++
		}
		if mem == nil {
			mem = t.unwinder().readBuf
		}
		if cap(mem) < total {
			mem = make([]byte, max(total, 4*maxRange))
			t.unwinder().readBuf = mem
		}
		raddrs, bufs, ok = raddrs[:0], bufs[:0], ok[:0]
		off := 0
		for _, r := range rngs[:n] {
			l := int(r.end - r.start)
			raddrs, bufs, ok = append(raddrs, r.start), append(bufs, mem[off:off+l:off+l]), append(ok, false)
			off += l
		}
		t.readMany(raddrs, bufs, ok)
		for j, r := range rngs[:n] {
			for k := r.first; k <= r.last; k++ {
				i := order[k]
				a, sz := addrs[i], sizeOf(i)
				if ok[j] {
					f(i, bufs[j][a-r.start:a-r.start+uint64(sz)])
					continue
				}
				// Part of the range is unreadable: try the object alone.
				one := make([]byte, sz)
				if m, err := t.mem.ReadMemory(one, a); err == nil && m == sz {
					f(i, one)
				}
			}
		}
		rngs = rngs[n:]
	}
}

// fastStacks unwinds every goroutine of gs that is not on a thread and not
// running, reading their stacks in batches. It sets g.stk, g.Frames and
// g.Truncated for each one it could do exactly; the others are Delve's.
func (t *Target) fastStacks(gs []*G, onThread map[int64]*proc.G) {
	u := t.unwinder()
	if !u.ok {
		return
	}
	// Stacks are shared within one snapshot only: a process that runs
	// between snapshots must not grow the table forever.
	// The previous snapshot's shapes are looked up again (a refresh sees
	// mostly the same stacks); older ones are dropped.
	u.prevShapes, u.shapes = u.shapes, make(map[uint64]*stackShape, len(u.shapes))
	// Batches of goroutines whose stacks are read together.
	var batches []*stackBatch
	b := &stackBatch{}
	for _, g := range gs {
		if onThread[g.ID] != nil {
			continue
		}
		_, sp, _, ok := g.startRegs()
		if !ok {
			continue
		}
		n := int(min(g.regs.hi-sp, stackWindow))
		if len(b.gs) == batchGs || b.total+n > batchBytes {
			batches, b = append(batches, b), &stackBatch{}
		}
		b.gs, b.addrs, b.sizes = append(b.gs, g), append(b.addrs, sp), append(b.sizes, n)
		b.total += n
	}
	if len(b.gs) > 0 {
		batches = append(batches, b)
	}
	var wf *wordFilter
	if !t.StacksOnly {
		wf = t.wordFilter()
	}
	unwind := func(b *stackBatch) {
		for i, g := range b.gs {
			pc, sp, bp, _ := g.startRegs()
			sr := stackReader{t: t, base: sp, hi: g.regs.hi}
			if !b.ok[i] {
				// The batch read missed it: read it through Delve.
				if m, err := t.mem.ReadMemory(b.bufs[i], b.addrs[i]); err == nil && m == len(b.bufs[i]) {
					b.ok[i] = true
				}
			}
			if b.ok[i] {
				sr.buf = b.bufs[i]
			}
			if t.unwindFP(u, g, pc, sp, bp, &sr) {
				t.scanOpenDefers(g, &sr)
			}
			// A deep stack the unwinder had to read further: its roots
			// can be kept too when it read all of it.
			if b.ok[i] && uint64(len(sr.buf)) == g.regs.hi-sp && len(sr.buf) > len(b.bufs[i]) {
				b.bufs[i] = sr.buf
			}
		}
	}
	// The roots on the stacks (stackwords.go) are kept once the stacks are
	// unwound: which words are live depends on the frames (stackmaps.go).
	keepRoots := func(words *wordArena, b *stackBatch) {
		for i, g := range b.gs {
			if b.ok[i] {
				words.keep(u, wf, g, b.addrs[i], b.bufs[i])
			}
		}
	}
	// Batch buffers are kept for the next snapshot.
	if len(u.stackBufs) < stacksInFlight {
		u.stackBufs = append(u.stackBufs, make([][]byte, stacksInFlight-len(u.stackBufs))...)
	}
	if !t.live {
		var words wordArena
		for _, b := range batches {
			b.alloc(u.stackBufs[0])
			u.stackBufs[0] = b.mem
			clear(b.ok)
			unwind(b)
			keepRoots(&words, b)
		}
		return
	}
	// A live process: a second goroutine reads the next batches with
	// process_vm_readv (a plain system call, no Delve) while this one
	// unwinds, and a third picks out the stacks' roots from the batches
	// unwound; buffers are recycled.
	free := make(chan []byte, stacksInFlight)
	for _, buf := range u.stackBufs {
		free <- buf
	}
	ready := make(chan *stackBatch, stacksInFlight)
	unwound := make(chan *stackBatch, stacksInFlight)
	done := make(chan struct{})
	go func() {
		defer close(ready)
		// hangtui must never die while the target is stopped: a panic
		// here leaves the batches not yet handed over to Delve.
		defer func() { _ = recover() }()
		for _, b := range batches {
			select {
			case buf := <-free:
				b.alloc(buf)
			case <-done:
				return
			}
			readvBatch(t.pid, b.addrs, b.bufs, b.ok)
			select {
			case ready <- b:
			case <-done:
				return
			}
		}
	}()
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		var words wordArena // the keeper's
		for b := range unwound {
			func() {
				// A panic leaves the rest of the batch without kept
				// roots: marking reads those stacks itself.
				defer func() { _ = recover() }()
				keepRoots(&words, b)
			}()
			free <- b.mem // never blocks: it has room for every buffer
			b.mem, b.bufs = nil, nil
		}
	}()
	// Whatever happens here (a panic is turned into an error by the
	// session), the reader must not be left blocked, nor the keeper.
	defer close(done)
	stopKeeper := sync.OnceFunc(func() {
		close(unwound)
		<-kept
	})
	defer stopKeeper()
	for b := range ready {
		unwind(b)
		unwound <- b
	}
	stopKeeper()
	// Keep the buffers for the next snapshot (fewer if a read panicked).
	for i := range u.stackBufs {
		select {
		case u.stackBufs[i] = <-free:
		default:
			u.stackBufs[i] = nil
		}
	}
}

// stacksInFlight is how many batches of stacks are read ahead.
const stacksInFlight = 3

// stackBatch is a group of goroutine stacks read with one batch of reads.
type stackBatch struct {
	gs    []*G
	addrs []uint64
	sizes []int
	total int
	mem   []byte
	bufs  [][]byte
	ok    []bool
}

// alloc lays the batch's buffers out in mem (grown as needed).
func (b *stackBatch) alloc(mem []byte) {
	if cap(mem) < b.total {
		mem = make([]byte, max(b.total, batchBytes))
	}
	b.mem = mem[:b.total]
	b.bufs, b.ok = make([][]byte, len(b.sizes)), make([]bool, len(b.sizes))
	off := 0
	for i, n := range b.sizes {
		b.bufs[i] = b.mem[off : off+n : off+n]
		off += n
	}
}
