package target

import (
	"fmt"
	"sort"
	"strings"
)

// Finalizer goroutine status bits (runtime.fingStatus, mfinal.go; the same
// in every release from Go 1.22 to 1.27).
const (
	FingCreated          = 1 << 0
	FingRunningFinalizer = 1 << 1
	FingWait             = 1 << 2
	FingWake             = 1 << 3
)

// FinQueue is the runtime's finalizer machinery (and, from Go 1.25, its
// separate cleanup queue) as read from memory.
type FinQueue struct {
	// Fing is the address of the finalizer goroutine's g, 0 when the process
	// never registered a finalizer (the goroutine is created on first use).
	Fing uint64
	// Status is runtime.fingStatus; StatusOK says it could be read.
	Status   uint32
	StatusOK bool
	// Pending groups the queued finalizers that have not started yet (the
	// one running now is not counted). On Go 1.24, cleanups run on the
	// finalizer goroutine and are queued here too (Cleanup set).
	Pending []FinGroup
	// Running is the finalizer being run, when it could be told apart from
	// the queued ones (nil otherwise: the stack still names the function).
	Running *FinGroup
	// Queued and Executed are runtime.finqueued/finexecuted (Go 1.25+), set
	// when HasCounts. Executed only moves once a whole block of queued
	// finalizers has run.
	Queued, Executed uint64
	HasCounts        bool
	// Cleanups is the Go 1.25+ cleanup queue, nil on older runtimes.
	Cleanups *CleanupQueue
}

// CleanupQueue is runtime.gcCleanups (Go 1.25+).
type CleanupQueue struct {
	// Pending groups the cleanups queued and not started.
	Pending []FinGroup
	// Queued (gcCleanups.queued plus every P's cleanupsQueued) and Executed.
	Queued, Executed uint64
	// Goroutines is how many cleanup goroutines exist, Running how many run a
	// cleanup now, Asleep how many wait for work.
	Goroutines, Running, Asleep uint32
	// IncludesRunning: Pending also counts the cleanups being run now (Go
	// 1.25 clears an entry only after its call returns).
	IncludesRunning bool
}

// FinGroup counts queued finalizers (or cleanups) with the same function and
// object type.
type FinGroup struct {
	// Func is the function's entry: name, file and the line it starts at.
	Func Frame
	// Type is the type of the pointer to the finalized object, e.g.
	// "*main.Conn"; empty for cleanups (the runtime keeps no type for them).
	Type    string
	Cleanup bool
	Count   int
}

// maxFinEntries bounds how many queue entries are decoded: a queue that long
// is already the finding, and the count stays exact.
const maxFinEntries = 1_000_000

// Finalizers reads the finalizer queue and the cleanup queue.
func (t *Target) Finalizers() (*FinQueue, error) {
	q := &FinQueue{}
	if a, err := t.varAddr("runtime.fing"); err == nil {
		q.Fing, _ = t.readPtr(a)
	}
	if a, err := t.varAddr("runtime.fingStatus"); err == nil {
		if v, err := t.readUint(a, 4); err == nil {
			q.Status, q.StatusOK = uint32(v), true
		}
	}
	if a, err := t.varAddr("runtime.finqueued"); err == nil {
		if b, err := t.varAddr("runtime.finexecuted"); err == nil {
			q1, e1 := t.readUint(a, 8)
			q2, e2 := t.readUint(b, 8)
			if e1 == nil && e2 == nil {
				q.Queued, q.Executed, q.HasCounts = q1, q2, true
			}
		}
	}
	if err := t.readFinBlocks(q); err != nil {
		return q, err
	}
	if _, err := t.varAddr("runtime.gcCleanups"); err == nil {
		cq, err := t.readCleanups()
		if err != nil {
			return q, fmt.Errorf("cleanup queue: %w", err)
		}
		q.Cleanups = cq
	}
	return q, nil
}

// finEntry is one entry of a finalizer block still to run.
type finEntry struct {
	fn, arg, fint, ot uint64
	// running: the entry the finalizer goroutine is running now (the last
	// one of a block it took off finq), when that can be told.
	running bool
}

// walkFinBlocks visits every finalizer entry still to run. Every finBlock is
// on runtime.allfin; a block holds cnt entries still to run: those of finq,
// and those of the block the finalizer goroutine took off finq and is
// working through from the end (cnt drops after each call returns, so the
// running entry is fin[cnt-1] of that block). Free blocks have cnt 0.
// runningCandidates is how many blocks off finq had entries: the running
// entry is only known when it is 1.
func (t *Target) walkFinBlocks(fingRunning bool, visit func(finEntry) bool) (runningCandidates int, err error) {
	// runtime.finBlock since Go 1.25, runtime.finblock before.
	fb, err := loadStruct(t.bi, "runtime.finBlock")
	if err != nil {
		if fb, err = loadStruct(t.bi, "runtime.finblock"); err != nil {
			return 0, err
		}
	}
	fr, err := loadStruct(t.bi, "runtime.finalizer")
	if err != nil {
		return 0, err
	}
	allfin, err := t.varAddr("runtime.allfin")
	if err != nil {
		return 0, err
	}
	// Every block is a distinct finBlock of the target's memory: a repeat
	// is a cycle.
	maxBlocks := int(min(100_000, t.memTotal()/uint64(max(fb.Size, 1))))
	typ := fb.Name
	onFinq := map[uint64]bool{}
	if a, err := t.varAddr("runtime.finq"); err == nil {
		w := newChainWalk(maxBlocks)
		blk, _ := t.readPtr(a)
		for blk != 0 && w.next(blk) {
			onFinq[blk] = true
			blk, _ = t.readPtr(blk + uint64(fb.Field("next").Off))
		}
		// A loop of finq is harmless here: only membership is asked.
	}
	type block struct {
		buf []byte
		cnt uint64
		run bool
	}
	var blocks []block
	w := newChainWalk(maxBlocks)
	from, field := allfin, "runtime.allfin"
	blk, _ := t.readPtr(allfin)
	for blk != 0 {
		if !w.next(blk) {
			return 0, corrupt(from, field, "a cycle, or too long", nil).withRead("%d finalizer blocks", len(blocks))
		}
		buf, err := t.read(blk, int(fb.Size))
		if err != nil {
			return 0, corrupt(blk, typ, "unreadable", err).withRead("%d finalizer blocks", len(blocks))
		}
		cnt := get(buf, fb.Field("cnt"))
		capacity := uint64((int64(len(buf)) - fb.Field("fin").Off) / fr.Size)
		if cnt > capacity {
			return 0, corrupt(blk+uint64(fb.Field("cnt").Off), typ+".cnt", fmt.Sprintf("count %d over capacity %d", cnt, capacity), nil).
				withRead("%d finalizer blocks", len(blocks))
		}
		b := block{buf: buf, cnt: cnt, run: fingRunning && !onFinq[blk] && cnt > 0}
		if b.run {
			runningCandidates++
		}
		blocks = append(blocks, b)
		from, field = blk+uint64(fb.Field("alllink").Off), typ+".alllink"
		blk = get(buf, fb.Field("alllink"))
	}
	finOff := fb.Field("fin").Off
	for _, b := range blocks {
		for i := uint64(0); i < b.cnt; i++ {
			e := b.buf[finOff+int64(i)*fr.Size:]
			ent := finEntry{fn: get(e, fr.Field("fn")), arg: get(e, fr.Field("arg")),
				fint: get(e, fr.Field("fint")), ot: get(e, fr.Field("ot")),
				running: b.run && runningCandidates == 1 && i == b.cnt-1}
			if !visit(ent) {
				return runningCandidates, nil
			}
		}
	}
	return runningCandidates, nil
}

// FingRunning reports whether runtime.fingStatus says a finalizer is running.
func (t *Target) FingRunning() bool {
	a, err := t.varAddr("runtime.fingStatus")
	if err != nil {
		return false
	}
	v, err := t.readUint(a, 4)
	return err == nil && v&FingRunningFinalizer != 0
}

// readFinBlocks groups the pending finalizers and finds the running one.
func (t *Target) readFinBlocks(q *FinQueue) error {
	running := q.StatusOK && q.Status&FingRunningFinalizer != 0
	groups := map[finKey]int{}
	decoded := 0
	candidates, err := t.walkFinBlocks(running, func(e finEntry) bool {
		// Go 1.24 queues cleanups with no type.
		k := finKey{pc: t.funcvalPC(e.fn), ot: e.ot, cleanup: e.fint == 0}
		if e.running {
			g := t.finGroup(k, 1)
			q.Running = &g
			return true
		}
		groups[k]++
		decoded++
		return decoded < maxFinEntries
	})
	if err != nil {
		return err
	}
	// With several blocks taken off finq at once, which of their last
	// entries runs is not knowable: the runtime runs exactly one finalizer
	// at a time, so one of the entries counted is not pending.
	if running && candidates > 1 {
		for k, n := range groups {
			if n > 0 {
				groups[k]--
				break
			}
		}
	}
	for k, n := range groups {
		if n > 0 {
			q.Pending = append(q.Pending, t.finGroup(k, n))
		}
	}
	sortFinGroups(q.Pending)
	return nil
}

// finKey groups queue entries: the code the entry runs (the user's
// function, unwrapped from runtime.AddCleanup's closure) and the object type.
type finKey struct {
	pc, ot  uint64
	cleanup bool
}

// funcvalPC is the code a funcval runs. runtime.AddCleanup (Go 1.24 and
// 1.25) queues a closure `func() { cleanup(arg) }`: its first captured
// variable is the user's cleanup function, which is what people need to see.
func (t *Target) funcvalPC(fv uint64) uint64 {
	// Through the chunk cache: thousands of queued finalizers share a few
	// funcvals, and a read per entry was most of reading the queue.
	pc, err := t.smallPtr(fv)
	if err != nil {
		return 0
	}
	if f, ok := t.Location(pc); ok && strings.HasPrefix(f.Func, "runtime.AddCleanup") {
		if inner, err := t.smallPtr(fv + 8); err == nil && inner != 0 {
			if ipc, err := t.smallPtr(inner); err == nil {
				if _, ok := t.Location(ipc); ok {
					return ipc
				}
			}
		}
	}
	return pc
}

// finGroup names a queue entry's function (the funcval's code pointer) and
// object type.
func (t *Target) finGroup(k finKey, count int) FinGroup {
	g := FinGroup{Cleanup: k.cleanup, Count: count}
	if k.pc != 0 {
		if f, ok := t.Location(k.pc); ok {
			g.Func = f
		} else {
			g.Func = Frame{Func: fmt.Sprintf("func@%#x", k.pc), PC: k.pc}
		}
	}
	if k.ot != 0 && !k.cleanup {
		g.Type = t.typeName(k.ot)
	}
	return g
}

// readCleanups reads runtime.gcCleanups (Go 1.25+). Its list of all blocks
// includes the per-P blocks still being filled, the full ones waiting for a
// cleanup goroutine and those being run; an entry is pending while its fn is
// set (runCleanups clears each entry before calling it).
func (t *Target) readCleanups() (*CleanupQueue, error) {
	cq, err := loadStruct(t.bi, "runtime.cleanupQueue")
	if err != nil {
		return nil, err
	}
	base, err := t.varAddr("runtime.gcCleanups")
	if err != nil {
		return nil, err
	}
	buf, err := t.read(base, int(cq.Size))
	if err != nil {
		return nil, err
	}
	out := &CleanupQueue{
		Executed:   get(buf, cq.Field("executed")),
		Queued:     get(buf, cq.Field("queued")),
		Goroutines: uint32(get(buf, cq.Field("ng"))),
		Running:    uint32(get(buf, cq.Field("running"))),
		Asleep:     uint32(get(buf, cq.Field("asleep"))),
	}
	// Cleanups queued by live Ps are counted on the P until it dies.
	if pl, err := loadStruct(t.bi, "runtime.p"); err == nil {
		if f := pl.Field("cleanupsQueued"); f.OK {
			ps, _ := t.allP()
			for _, p := range ps {
				if v, err := t.readUint(p+uint64(f.Off), f.Size); err == nil {
					out.Queued += v
				}
			}
		}
	}
	groups := map[finKey]int{}
	decoded := 0
	out.IncludesRunning, err = t.walkCleanupBlocks(get(buf, cq.Field("all")), func(fn, arg uint64) bool {
		groups[finKey{pc: t.funcvalPC(fn), cleanup: true}]++
		decoded++
		return decoded < maxFinEntries
	})
	if err != nil {
		return nil, err
	}
	for k, c := range groups {
		out.Pending = append(out.Pending, t.finGroup(k, c))
	}
	sortFinGroups(out.Pending)
	return out, nil
}

// walkCleanupBlocks calls visit with the function and argument of every
// pending cleanup in the list of cleanup blocks starting at blk, until visit
// returns false. Go 1.26+ keeps {call, fn, arg} entries and clears each
// before calling it; Go 1.25 keeps one closure pointer per entry and clears
// it only after the call returns, so there the entries of the cleanups
// running now are visited too (includesRunning).
func (t *Target) walkCleanupBlocks(blk uint64, visit func(fn, arg uint64) bool) (includesRunning bool, err error) {
	cb, err := loadStruct(t.bi, "runtime.cleanupBlock")
	if err != nil {
		return false, err
	}
	stride, fnOff, argOff := int64(8), int64(0), int64(-1)
	if cf, err := loadStruct(t.bi, "runtime.cleanupFn"); err == nil {
		stride, fnOff, argOff = cf.Size, cf.Field("fn").Off, cf.Field("arg").Off
	} else {
		includesRunning = true
	}
	nField := firstOK(cb.Field("cleanupBlockHeader.n"), cb.Field("n"))
	allField := firstOK(cb.Field("cleanupBlockHeader.alllink"), cb.Field("alllink"))
	arr := cb.Field("cleanups")
	if !nField.OK || !allField.OK || !arr.OK || stride <= 0 {
		return includesRunning, fmt.Errorf("runtime.cleanupBlock has an unknown layout")
	}
	w := newChainWalk(int(min(100_000, t.memTotal()/uint64(max(cb.Size, 1)))))
	from, field := uint64(0), "runtime.gcCleanups.all"
	for blk != 0 {
		if !w.next(blk) {
			return includesRunning, corrupt(from, field, "a cycle, or too long", nil).withRead("%d cleanup blocks", w.n())
		}
		b, err := t.read(blk, int(cb.Size))
		if err != nil {
			return includesRunning, corrupt(blk, "runtime.cleanupBlock", "unreadable", err).withRead("%d cleanup blocks", w.n()-1)
		}
		cnt := get(b, nField)
		capacity := uint64((int64(len(b)) - arr.Off) / stride)
		if cnt > capacity {
			return includesRunning, corrupt(blk+uint64(nField.Off), "runtime.cleanupBlock.n", fmt.Sprintf("count %d over capacity %d", cnt, capacity), nil).
				withRead("%d cleanup blocks", w.n()-1)
		}
		for i := uint64(0); i < cnt; i++ {
			e := arr.Off + int64(i)*stride
			fn := decodeUint(b[e+fnOff : e+fnOff+8])
			if fn == 0 {
				continue
			}
			var arg uint64
			if argOff >= 0 {
				arg = decodeUint(b[e+argOff : e+argOff+8])
			}
			if !visit(fn, arg) {
				return includesRunning, nil
			}
		}
		from, field = blk+uint64(allField.Off), "runtime.cleanupBlock.alllink"
		blk = get(b, allField)
	}
	return includesRunning, nil
}

// CleanupQueueHead is the first block of runtime.gcCleanups' list of all
// cleanup blocks (Go 1.25+), 0 when the runtime has none.
func (t *Target) CleanupQueueHead() uint64 {
	cq, err := loadStruct(t.bi, "runtime.cleanupQueue")
	if err != nil {
		return 0
	}
	base, err := t.varAddr("runtime.gcCleanups")
	if err != nil {
		return 0
	}
	f := cq.Field("all")
	v, _ := t.readUint(base+uint64(f.Off), f.Size)
	return v
}

// allP returns the addresses of the runtime's Ps.
func (t *Target) allP() ([]uint64, error) {
	sliceAddr, err := t.varAddr("runtime.allp")
	if err != nil {
		return nil, err
	}
	n, err := t.readPtr(sliceAddr + 8)
	if err == nil && n > 100_000 { // GOMAXPROCS is at most 2^20, and never near it
		return nil, corrupt(sliceAddr+8, "runtime.allp", fmt.Sprintf("length %d", n), nil)
	}
	raw, n, err := t.readSliceOf(sliceAddr, 1, "runtime.allp")
	if err != nil {
		return nil, err
	}
	var out []uint64
	for i := uint64(0); i < n; i++ {
		if p := decodeUint(raw[i*8 : i*8+8]); p != 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// sortFinGroups orders by count (largest first), then function and type, so
// output is deterministic.
func sortFinGroups(gs []FinGroup) {
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Func.Func != b.Func.Func {
			return a.Func.Func < b.Func.Func
		}
		return a.Type < b.Type
	})
}
