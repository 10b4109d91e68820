package target

// What marking starts from: the data and bss segments, stacks and their
// scheduling contexts, deferred closures, thread registers, finalizer and
// cleanup specials, P timers, package variables' extents.

import (
	"sort"

	"github.com/go-delve/delve/pkg/proc"
)

// Globals returns the [lo, hi) ranges of the data and bss segments (globals
// that may hold pointers).
func (t *Target) Globals() ([][2]uint64, error) {
	md, buf, err := t.firstModuledata()
	if err != nil {
		return nil, err
	}
	ranges := [][2]uint64{
		{get(buf, md.Field("data")), get(buf, md.Field("edata"))},
		{get(buf, md.Field("bss")), get(buf, md.Field("ebss"))},
	}
	return ranges, t.checkGlobals(md, ranges)
}

// StackBounds returns g's stack [lo, hi), as read with the g.
func (t *Target) StackBounds(g *G) (lo, hi uint64) { return g.regs.lo, g.regs.hi }

// LiveStack returns the part of g's stack in use: [sp, hi) for a goroutine
// that is not running (its saved SP), the whole stack otherwise. Memory
// below SP belongs to returned frames and must not count as a reference.
func (t *Target) LiveStack(g *G) (lo, hi uint64) {
	lo, hi = g.regs.lo, g.regs.hi
	if g.OnThread || g.Status == Grunning || g.Status == Gsyscall {
		return lo, hi
	}
	if sp := g.regs.sp; sp > lo && sp < hi {
		lo = sp
	}
	return lo, hi
}

// SchedCtxt is g.sched.ctxt, a closure context saved with g's registers
// (the runtime's scanstack scans it): a root when g can run.
func (t *Target) SchedCtxt(g *G) uint64 { return g.regs.ctxt }

// HasStackWords reports whether the words of g's live stack (LiveStack)
// that may point into the heap were kept when its stack was read; if not,
// mark from LiveStack instead.
func (t *Target) HasStackWords(g *G) bool { return g.wordsOK }

// DeferRecords returns the addresses of g's heap-allocated _defer records
// and their closures (roots when g can run).
func (t *Target) DeferClosures(g *G) []uint64 {
	if g.regs.deferHead == 0 {
		return nil
	}
	dl, err := loadStruct(t.bi, "runtime._defer")
	if err != nil {
		return nil
	}
	head := g.regs.deferHead
	var out []uint64
	w := newChainWalk(10_000)
	for d := head; d != 0 && w.next(d); {
		buf, err := t.read(d, int(dl.Size))
		if err != nil {
			break
		}
		out = append(out, d, get(buf, dl.Field("fn")))
		d = get(buf, dl.Field("link"))
	}
	return out
}

// ThreadRegisters returns every general register value of every thread:
// a running goroutine may hold its only reference in a register.
func (t *Target) ThreadRegisters() []uint64 {
	var out []uint64
	if t.t == nil {
		return nil
	}
	for _, th := range t.t.ThreadList() {
		regs, err := th.Registers()
		if err != nil {
			continue
		}
		rs, err := regs.Slice(false)
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.Reg != nil {
				out = append(out, r.Reg.Uint64Val)
			}
		}
	}
	return out
}

// FinalizerRoots returns the closures and objects of every finalizer and
// cleanup that may still run: queued ones (finq) and those registered on
// live objects (span specials). A goroutine woken by one of them is not
// stuck while the finalizer goroutine can run.
func (h *Heap) FinalizerRoots() ([]uint64, error) {
	t := h.t
	var out []uint64
	// Queued finalizers, on finq or in the block the finalizer goroutine is
	// working through. The one it runs now is not a root: it can never run
	// again, and what it uses is on the finalizer goroutine's stack.
	_, _ = t.walkFinBlocks(t.FingRunning(), func(e finEntry) bool {
		if !e.running {
			out = append(out, e.fn, e.arg)
		}
		return true
	})
	// Queued cleanups (Go 1.25+: their own queue, off-heap blocks).
	if head := t.CleanupQueueHead(); head != 0 {
		_, _ = t.walkCleanupBlocks(head, func(fn, arg uint64) bool {
			out = append(out, fn, arg)
			return true
		})
	}
	// Registered finalizers and cleanups: the specials of every in-use span.
	mh, err := loadStruct(t.bi, "runtime.mheap")
	if err != nil {
		return out, err
	}
	base, err := t.varAddr("runtime.mheap_")
	if err != nil {
		return out, err
	}
	all := mh.Field("allspans")
	raw, n, err := t.readSliceOf(base+uint64(all.Off), uint64(h.m.span.Size), "runtime.mheap_.allspans")
	if err != nil {
		return out, err
	}
	sp, _ := loadStruct(t.bi, "runtime.special")
	sf, _ := loadStruct(t.bi, "runtime.specialfinalizer")
	sc, _ := loadStruct(t.bi, "runtime.specialCleanup")
	next, off, kind := sp.Field("next"), sp.Field("offset"), sp.Field("kind")
	spans := make([]uint64, n)
	for i := range spans {
		spans[i] = decodeUint(raw[i*8 : i*8+8])
	}
	// The mspans come from a few chunks: read them in batches, then follow
	// the specials of those that have any.
	type withSpecials struct{ start, specials uint64 }
	var todo []withSpecials
	t.readEach(spans, int(h.m.span.Size), func(_ int, buf []byte) {
		if get(buf, h.m.fState) == 1 && get(buf, h.m.fSpecials) != 0 {
			todo = append(todo, withSpecials{get(buf, h.m.fStart), get(buf, h.m.fSpecials)})
		}
	})
	if len(todo) == 0 {
		return out, nil
	}
	// Delve finds a constant only after scanning every variable and
	// function: ask only when there are specials to classify.
	kindFinalizer, kindCleanup := t.constant("runtime._KindSpecialFinalizer", 1), t.constant("runtime._KindSpecialCleanup", -1)
	for _, sp := range todo {
		start := sp.start
		w := newChainWalk(1_000_000)
		for rec := sp.specials; rec != 0 && w.next(rec); {
			rb, err := t.read(rec, 64)
			if err != nil {
				break
			}
			switch k := int64(get(rb, kind)); {
			case k == kindFinalizer && sf != nil:
				out = append(out, get(rb, sf.Field("fn")), start+get(rb, off))
			case k == kindCleanup && sc != nil:
				out = append(out, get(rb, sc.Field("cleanup.fn")), get(rb, sc.Field("cleanup.arg")), get(rb, sc.Field("fn")))
			}
			rec = get(rb, next)
		}
	}
	return out, nil
}

// VarRange is the [lo, hi) address range of a package variable.
func (t *Target) VarRange(name string) (lo, hi uint64, ok bool) {
	u := t.unwinder()
	if r, found := u.ranges[name]; found {
		return r[0], r[1], r[1] > r[0]
	}
	lo, hi, ok = t.varRange(name)
	u.ranges[name] = [2]uint64{lo, hi} // a package variable does not move
	return lo, hi, ok
}

func (t *Target) varRange(name string) (lo, hi uint64, ok bool) {
	if addr, size, found := t.lookupSym(name); found {
		return addr, addr + size, true
	}
	if t.knownMissing(name) || t.t == nil {
		return 0, 0, false
	}
	scope, err := t.globalScope()
	if err != nil {
		return 0, 0, false
	}
	v, err := scope.EvalExpression(name, proc.LoadConfig{})
	if err != nil || v.Unreadable != nil || v.RealType == nil {
		return 0, 0, false
	}
	return v.Addr, v.Addr + uint64(v.RealType.Size()), true
}

// AllGAddrs returns the address of every runtime.g, dead ones included.
func (t *Target) AllGAddrs() []uint64 {
	sliceAddr, err := t.varAddr("runtime.allgs")
	if err != nil {
		return nil
	}
	raw, n, err := t.readSliceOf(sliceAddr, uint64(t.lay.g.Size), "runtime.allgs")
	if err != nil {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = decodeUint(raw[i*8 : i*8+8])
	}
	return out
}

// PTimers returns the P structures and the timers in their heaps: the
// runtime will fire these timers, so what they reference can be woken.
func (t *Target) PTimers() (ps, timers []uint64) {
	pl, err := loadStruct(t.bi, "runtime.p")
	if err != nil {
		return nil, nil
	}
	sliceAddr, err := t.varAddr("runtime.allp")
	if err != nil {
		return nil, nil
	}
	ptr, _ := t.readPtr(sliceAddr)
	n, _ := t.readPtr(sliceAddr + 8)
	if n > 100_000 {
		return nil, nil
	}
	heapF := pl.Field("timers.heap") // Go 1.23+: []timerWhen{timer, when}
	stride := uint64(16)
	if !heapF.OK {
		heapF = pl.Field("timers") // Go 1.22: []*timer
		stride = 8
	}
	for i := uint64(0); i < n; i++ {
		p, err := t.readPtr(ptr + i*8)
		if err != nil || p == 0 {
			continue
		}
		ps = append(ps, p)
		arr, _ := t.readPtr(p + uint64(heapF.Off))
		cnt, _ := t.readPtr(p + uint64(heapF.Off) + 8)
		if cnt == 0 {
			continue
		}
		raw, err := t.readArray(arr, cnt, stride, "runtime.p.timers")
		if err != nil {
			continue
		}
		for j := uint64(0); j < cnt; j++ {
			if tm := decodeUint(raw[j*stride : j*stride+8]); tm != 0 {
				timers = append(timers, tm)
			}
		}
	}
	return ps, timers
}

// StacksPointingInto finds, for each range [lo, hi) (each with lo >= 4096),
// the goroutines of gs with a word on their live stack pointing into it,
// in one pass over the stacks: at most limit per range, as indexes into gs.
// skip(gi, ri) leaves goroutine gi out for range ri.
func (t *Target) StacksPointingInto(gs []*G, ranges [][2]uint64, limit int, skip func(gi, ri int) bool) [][]int {
	out := make([][]int, len(ranges))
	if len(ranges) == 0 {
		return out
	}
	order := make([]int, len(ranges))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ranges[order[a]][0] < ranges[order[b]][0] })
	starts := make([]uint64, len(order))
	maxLen := uint64(0)
	for k, i := range order {
		starts[k] = ranges[i][0]
		maxLen = max(maxLen, ranges[i][1]-ranges[i][0])
	}
	full := 0
	var hits []int // ranges hit by the current goroutine
	hit := func(gi int, v uint64) {
		// Ranges starting in (v-maxLen, v] may contain v.
		k := sort.Search(len(starts), func(k int) bool { return starts[k] > v })
		for k--; k >= 0 && v-starts[k] < maxLen; k-- {
			ri := order[k]
			if v >= ranges[ri][1] || len(out[ri]) >= limit || skip(gi, ri) {
				continue
			}
			if n := len(out[ri]); n > 0 && out[ri][n-1] == gi {
				continue
			}
			out[ri] = append(out[ri], gi)
			hits = append(hits, ri)
			if len(out[ri]) == limit {
				full++
			}
		}
	}
	lo, hi := starts[0], uint64(0)
	for _, r := range ranges {
		hi = max(hi, r[1])
	}
	for gi, g := range gs {
		if full == len(ranges) {
			break
		}
		hits = hits[:0]
		if g.wordsOK {
			g.words.each(func(v uint64) {
				if v >= lo && v < hi {
					hit(gi, v)
				}
			})
			continue
		}
		slo, shi := t.LiveStack(g)
		if shi <= slo || shi-slo > 1<<20 {
			continue
		}
		buf, err := t.read(slo&^7, int(shi-slo&^7))
		if err != nil {
			continue
		}
		for i := 0; i+8 <= len(buf); i += 8 {
			if v := decodeUint(buf[i : i+8]); v >= lo && v < hi {
				hit(gi, v)
			}
		}
	}
	return out
}
