package target

// Sampling the waits of a running process (hangtui top).
//
// A Sampler reads, with process_vm_readv on a raw target (raw.go), only
// what contention needs: the goroutines (runtime.allgs), the semaphore
// table (Mutex, RWMutex and WaitGroup waiters), each channel waiter's
// g.waiting sudogs, the notify lists of the sync.Conds it knows, and the top
// of each waiter's stack. The process keeps running, so every read may be
// torn; what is read is checked before it counts:
//
//   - every sudog and channel is a heap object of an in-use span, at the
//     object's start, and every sudog's goroutine is one of runtime.allgs;
//   - a waiter counts only when its goroutine, read in the same sample, is
//     parked with a wait reason of that kind of wait (else it is stale: it
//     was woken while the sample was read);
//   - a stack is read between two reads of its goroutine, and used only
//     when the goroutine's status, wait reason and saved registers are the
//     same in both (else the wait counts, without a code site);
//   - every walk is bounded (nodes, chain lengths, stack depth).
//
// A structure that does not check out (a treap node that is no sudog, a
// sudog pointing at no goroutine, a loop) drops the whole sample.

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// WaitKind is what a sampled goroutine waits on.
type WaitKind uint8

const (
	// WaitSema: a runtime semaphore (sync.Mutex, RWMutex, WaitGroup).
	WaitSema WaitKind = iota + 1
	// WaitChan: a channel send, receive or select case.
	WaitChan
	// WaitCond: a sync.Cond's notify list.
	WaitCond
)

// SampleWait is one goroutine parked on one object in a sample.
type SampleWait struct {
	Kind WaitKind
	// Addr is the semaphore (WaitSema), the hchan (WaitChan) or the
	// sync.Cond (WaitCond).
	Addr uint64
	// Select is set for a select case, Send for a channel send.
	Select, Send bool
	GoID         int64
	// Reason is the runtime's wait reason.
	Reason string
	// Frames is the top of the stack, innermost first (shared between
	// waits with the same stack: read only); nil when the stack could not
	// be read consistently.
	Frames    []Frame
	Truncated bool
	g         int32 // index in the sampler's goroutines
}

// Sample is what one pass over the process found.
type Sample struct {
	// Goroutines is the number of live goroutines.
	Goroutines int
	Waits      []SampleWait
	// Stale counts waits seen while they ended (not counted); Torn counts
	// stacks that changed while read (their waits count, without a site).
	Stale, Torn int
	// Drop says why the sample did not validate ("" when it did); a
	// dropped sample has no waits.
	Drop string
	// Bytes is how much target memory was read.
	Bytes int64
}

// Sampler samples a running process's waits. Use it from one goroutine.
type Sampler struct {
	t *Target
	// gaddrs are runtime.allgs (append-only: entries never change) and
	// gidx their indexes.
	gaddrs []uint64
	gidx   map[uint64]int32
	// conds are the sync.Conds known (from snapshots and discovered).
	conds map[uint64]bool
	// system caches, by g.startpc, whether a goroutine is the runtime's.
	system map[uint64]bool
	// stacks caches symbolized stack tops by the hash of their PCs.
	stacks map[uint64]*sampledStack
	// reasons classifies wait reason codes.
	reasons []reasonClass
	globLo  uint64
	globHi  uint64
	// sites caches each waiting goroutine's stack top while it stays
	// parked the same way (see readStacks).
	// sites is indexed like gaddrs (a goroutine's runtime.g never moves).
	sites []cachedStack
	// gen counts samples (sites' age).
	gen int
	// gplan is how the goroutines are read: the ranges of memory that hold
	// them, made again when allgs grows.
	gplan *rangePlan
	// lastWaits is the number of waits of the last sample (to size the
	// next one's).
	lastWaits int
	// per-sample state
	gs   []sg
	heap *heapMeta
}

// cachedStack is a goroutine's stack top as read in an earlier sample,
// with what identified its park then.
type cachedStack struct {
	park      parkKey
	frames    []Frame
	truncated bool
	gen       int // the last sample that used it
}

// parkKey identifies one park of a goroutine: what it waits on and where
// its stack stood.
type parkKey struct {
	goid                int64
	status              uint32
	reason              int
	pc, sp, bp, waiting uint64
	obj                 uint64
}

type sampledStack struct {
	pcs       []uint64
	frames    []Frame
	truncated bool
	next      *sampledStack
}

type reasonClass uint8

const (
	reasonOther reasonClass = iota
	reasonSema
	reasonChan
	reasonCond
)

// sg is the part of a runtime.g a sample uses.
type sg struct {
	addr                 uint64
	goid                 int64
	status               uint32
	reason               int
	waiting              uint64
	pc, sp, bp, lo, hi   uint64
	startpc              uint64
	ok                   bool   // read
	waits                bool   // has a wait in this sample
	obj                  uint64 // the first object it waits on
	condFound            bool
	frames               []Frame
	truncated, stackRead bool
	window               []byte
}

// Bounds of a sample's walks.
const (
	maxSampleFrames = 48
	sampleWindow    = 2 << 10 // stack bytes read per waiter first
	sampleWindowMax = 16 << 10
	maxChainLen     = 1 << 16 // a select's cases, a notify list
	maxCondProbes   = 32      // stack words tried per undiscovered Cond waiter
)

// NewSampler prepares sampling on a raw target (RawClone). conds are the
// addresses of sync.Conds known to be waited on.
func (t *Target) NewSampler(conds []uint64) (*Sampler, error) {
	if t.t != nil {
		return nil, fmt.Errorf("sampling needs a raw target")
	}
	if u := t.unwinder(); !u.ok {
		return nil, fmt.Errorf("cannot read stacks of this target: %s", u.reason)
	}
	s := &Sampler{t: t, gidx: map[uint64]int32{}, conds: map[uint64]bool{}, system: map[uint64]bool{},
		stacks: map[uint64]*sampledStack{}}
	s.AddConds(conds...)
	s.reasons = make([]reasonClass, len(t.reasons))
	for i, r := range t.reasons {
		switch {
		case strings.HasPrefix(r, "sync.Cond.Wait"):
			s.reasons[i] = reasonCond
		case strings.HasPrefix(r, "sync.") || strings.HasPrefix(r, "semacquire"):
			s.reasons[i] = reasonSema
		case strings.Contains(r, "nil chan") || r == "select (no cases)":
			s.reasons[i] = reasonOther
		case strings.HasPrefix(r, "chan ") || strings.HasPrefix(r, "select"):
			s.reasons[i] = reasonChan
		}
	}
	if gl := t.userGlobals(); len(gl) > 0 {
		s.globLo, s.globHi = gl[0].addr, gl[len(gl)-1].addr+gl[len(gl)-1].size
	}
	return s, nil
}

// AddConds makes the sampler watch these sync.Conds' notify lists.
func (s *Sampler) AddConds(addrs ...uint64) {
	for _, a := range addrs {
		if a != 0 {
			s.conds[a] = true
		}
	}
}

// Conds lists the sync.Conds watched.
func (s *Sampler) Conds() []uint64 {
	out := make([]uint64, 0, len(s.conds))
	for a := range s.conds {
		out = append(out, a)
	}
	return out
}

// Target is the raw target sampled (for reads between samples on the same
// goroutine).
func (s *Sampler) Target() *Target { return s.t }

type dropError string

func (e dropError) Error() string { return string(e) }

func drop(format string, a ...any) { panic(dropError(fmt.Sprintf(format, a...))) }

// Sample reads the process's waits once. It never stops the process.
func (s *Sampler) Sample() (out *Sample) {
	out = &Sample{}
	t := s.t
	t.ClearCaches()
	defer func() {
		if r := recover(); r != nil {
			if d, ok := r.(dropError); ok {
				out.Drop = string(d)
			} else {
				out.Drop = fmt.Sprintf("internal error: %v", r)
			}
			out.Waits = nil
		}
	}()
	m, err := t.newHeapMeta()
	if err != nil {
		drop("heap metadata: %v", err)
	}
	s.heap = m
	// The wait structures first, then the goroutines: a waiter found in
	// a structure is checked against its goroutine read after it, so one
	// that parked while the sample was read still counts (reading the
	// goroutines first would call it stale, undercounting busy locks).
	ph := phaseTimer()
	s.readAllgs(out)
	ph("allgs")
	sema := s.semaEntries()
	ph("semtable")
	conds := s.condEntries()
	ph("conds")
	s.readGoroutines(out)
	ph("goroutines")
	waits := make([]SampleWait, 0, s.lastWaits+s.lastWaits/8+16)
	waits = s.semaWaits(out, waits, sema)
	waits = s.condWaits(out, waits, conds)
	waits = s.chanWaits(out, waits)
	ph("chans")
	s.readStacks(out)
	ph("stacks")
	waits = s.discoverConds(out, waits)
	ph("discover")
	for i := range waits {
		w := &waits[i]
		g := &s.gs[w.g]
		w.GoID, w.Reason = g.goid, t.waitReason(g.reason)
		w.Frames, w.Truncated = g.frames, g.truncated
	}
	out.Waits = waits
	s.lastWaits = len(waits)
	return out
}

// object reports whether p is the start of an allocated heap object of at
// least size bytes.
func (s *Sampler) object(p, size uint64) bool {
	if p == 0 || p%8 != 0 {
		return false
	}
	sp := s.heap.spanOf(p)
	return sp != nil && sp.inUse && sp.elem >= size && (p-sp.start)%sp.elem == 0
}

// inHeapOrGlobals reports whether p lies in an allocated heap object or in
// the program's package variables: where a sync object can live.
func (s *Sampler) inHeapOrGlobals(p uint64) bool {
	if p == 0 {
		return false
	}
	if p >= s.globLo && p < s.globHi {
		return true
	}
	sp := s.heap.spanOf(p)
	return sp != nil && sp.inUse && sp.elem > 0
}

// readAllgs brings the list of goroutines (runtime.allgs) up to date.
func (s *Sampler) readAllgs(out *Sample) {
	t := s.t
	base, err := t.varAddr("runtime.allgs")
	if err != nil {
		drop("runtime.allgs: %v", err)
	}
	hdr, err := t.read(base, 16)
	if err != nil {
		drop("runtime.allgs: %v", err)
	}
	ptr, n := decodeUint(hdr[:8]), decodeUint(hdr[8:16])
	if n > 50_000_000 || n < uint64(len(s.gaddrs)) || ptr == 0 {
		drop("runtime.allgs has implausible length %d", n)
	}
	if k := uint64(len(s.gaddrs)); n > k {
		// allgs only grows, and its entries never change: read the new
		// ones.
		raw, err := t.read(ptr+8*k, int(8*(n-k)))
		if err != nil {
			drop("runtime.allgs: %v", err)
		}
		out.Bytes += int64(len(raw))
		for i := uint64(0); i < n-k; i++ {
			a := decodeUint(raw[8*i : 8*i+8])
			if a == 0 || a%8 != 0 {
				drop("runtime.allgs[%d] is %#x", k+i, a)
			}
			s.gidx[a] = int32(len(s.gaddrs))
			s.gaddrs = append(s.gaddrs, a)
		}
	}
}

// readGoroutines reads every goroutine's g.
func (s *Sampler) readGoroutines(out *Sample) {
	t, l := s.t, s.t.lay
	if cap(s.gs) < len(s.gaddrs) {
		s.gs = make([]sg, len(s.gaddrs), len(s.gaddrs)+len(s.gaddrs)/4)
	}
	s.gs = s.gs[:len(s.gaddrs)]
	clear(s.gs)
	size := uint64(l.g.Size)
	if s.gplan == nil || s.gplan.n != len(s.gaddrs) {
		s.gplan = planRanges(s.gaddrs, size)
	}
	p := s.gplan
	clear(p.ok)
	readvBatch(t.pid, p.addrs, p.bufs, p.ok)
	for j, r := range p.ranges {
		for _, i := range r.objs {
			a := s.gaddrs[i]
			var buf []byte
			if p.ok[j] {
				buf = p.bufs[j][a-p.addrs[j] : a-p.addrs[j]+size]
			} else if b, err := t.read(a, int(size)); err == nil {
				buf = b // part of the range is unmapped: this one alone
			} else {
				continue
			}
			g := &s.gs[i]
			s.decodeG(g, buf)
			g.addr = a
			g.ok = true
		}
	}
	out.Bytes += int64(len(s.gaddrs)) * int64(size)
	for i := range s.gs {
		if g := &s.gs[i]; g.ok && g.status != Gdead && g.status != Gidle {
			out.Goroutines++
		}
	}
}

func (s *Sampler) decodeG(g *sg, buf []byte) {
	l := s.t.lay
	g.goid = int64(get(buf, l.gGoid))
	g.status = uint32(get(buf, l.gStatus)) &^ gscan
	g.reason = int(get(buf, l.gWaitReason))
	g.waiting = get(buf, l.gWaiting)
	g.pc, g.sp, g.bp = get(buf, l.gSchedPC), get(buf, l.gSchedSP), get(buf, l.gSchedBP)
	g.lo, g.hi = get(buf, l.gStackLo), get(buf, l.gStackHi)
	g.startpc = get(buf, l.gStartPC)
}

// parked reports whether g is parked with a wait reason of class c.
func (s *Sampler) parked(g *sg, c reasonClass) bool {
	if !g.ok || g.status != Gwaiting || g.reason < 0 || g.reason >= len(s.reasons) {
		return false
	}
	return s.reasons[g.reason] == c
}

// userG reports whether g is a user goroutine (the runtime's own are left
// out, as in the snapshot's model).
func (s *Sampler) userG(g *sg) bool {
	sys, ok := s.system[g.startpc]
	if !ok {
		if fn := s.t.bi.PCToFunc(g.startpc); fn != nil {
			sys = isSystemStartFunc(fn.Name)
		}
		s.system[g.startpc] = sys
	}
	return !sys
}

// isSystemStartFunc mirrors the runtime's isSystemGoroutine: goroutines
// started in package runtime, except runtime.main and the signal handler.
func isSystemStartFunc(start string) bool {
	switch start {
	case "", "runtime.main", "runtime.handleAsyncEvent":
		return false
	}
	return strings.HasPrefix(start, "runtime.")
}

// sudog reads a sudog, checking that it is one.
func (s *Sampler) sudog(p uint64) []byte {
	l := s.t.lay
	b, err := s.t.readSmall(p, int(l.sudog.Size))
	if err != nil {
		drop("sudog %#x: %v", p, err)
	}
	if !s.object(p, uint64(l.sudog.Size)) {
		drop("%#x is not a sudog", p)
	}
	return b
}

// entry is a goroutine found queued on an object.
type entry struct {
	obj uint64
	g   int32
}

// semaEntries walks the semaphore table's treaps. Each root is walked
// again (from fresh memory) when it changed meanwhile or holds fewer
// waiters than its own count says: a busy lock's treap changes every few
// microseconds, and one torn read would drop all but one of its waiters.
func (s *Sampler) semaEntries() []entry {
	t, l := s.t, s.t.lay
	base, err := t.varAddr("runtime.semtable")
	if err != nil {
		drop("runtime.semtable: %v", err)
	}
	table, err := t.read(base, int(l.semTableSize*l.semStride))
	if err != nil {
		drop("runtime.semtable: %v", err)
	}
	nwaitF := l.semaRoot.Field("nwait")
	rootSize := int(l.semTreap.Off + 8)
	if nwaitF.OK {
		rootSize = int(max(l.semTreap.Off+8, nwaitF.Off+nwaitF.Size))
	}
	var out []entry
	budget := 2*len(s.gaddrs) + 1024
	// Every root once, then the table again in one read: the roots that
	// did not change while they were walked (most) are done.
	type walked struct {
		i      int64
		treap  uint64
		es     []entry
		chunks []uint64
		why    string
		nwait  int
	}
	var ws []walked
	for i := int64(0); i < l.semTableSize; i++ {
		root := table[i*l.semStride : i*l.semStride+int64(rootSize)]
		treap := get(root, l.semTreap)
		if treap == 0 {
			continue
		}
		w := walked{i: i, treap: treap, nwait: int(get(root, nwaitF))}
		w.es, w.chunks, w.why = s.walkTreap(treap, &budget)
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return nil
	}
	again, err := t.read(base, int(l.semTableSize*l.semStride))
	if err != nil {
		drop("runtime.semtable: %v", err)
	}
	for _, w := range ws {
		root := again[w.i*l.semStride : w.i*l.semStride+int64(rootSize)]
		switch {
		case w.why != "":
		case get(root, l.semTreap) != w.treap:
			w.why = "the treap changed while read"
		case nwaitF.OK && len(w.es)+1 < w.nwait:
			w.why = "fewer waiters than the semaphore root counts"
		}
		if w.why == "" {
			out = append(out, w.es...)
			continue
		}
		es, why := w.es, w.why
		chunks := w.chunks
		for attempt := 1; attempt < 4 && why != ""; attempt++ {
			for _, c := range chunks {
				t.snap.chunks.forget(c)
			}
			root, err := t.read(base+uint64(w.i*l.semStride), rootSize)
			if err != nil {
				drop("runtime.semtable: %v", err)
			}
			treap := get(root, l.semTreap)
			es, chunks, why = s.walkTreap(treap, &budget)
			if why == "" && treap != 0 {
				after, err := t.read(base+uint64(w.i*l.semStride)+uint64(l.semTreap.Off), 8)
				switch {
				case err != nil:
					why = err.Error()
				case decodeUint(after) != treap:
					why = "the treap changed while read"
				case nwaitF.OK && len(es)+1 < int(get(root, nwaitF)):
					why = "fewer waiters than the semaphore root counts"
				}
			}
		}
		if why != "" && len(es) == 0 {
			drop("semaphore table: %s", why)
		}
		out = append(out, es...)
	}
	return out
}

// walkTreap lists the waiters of one semaphore root's treap; why is set
// when what was read does not check out. chunks are the cache chunks it
// read sudogs from.
func (s *Sampler) walkTreap(treap uint64, budget *int) (out []entry, chunks []uint64, why string) {
	l := s.t.lay
	// A treap or wait list that loops runs out of nodes: more nodes than
	// goroutines.
	nodes := len(s.gaddrs) + 1
	type item struct {
		node  uint64
		depth int
	}
	todo := []item{{treap, 0}}
	read := func(p uint64) ([]byte, string) {
		b, err := s.t.readSmall(p, int(l.sudog.Size))
		chunks = append(chunks, p&^(chunkSize-1))
		if err != nil {
			return nil, err.Error()
		}
		if !s.object(p, uint64(l.sudog.Size)) {
			return nil, fmt.Sprintf("%#x is not a sudog", p)
		}
		return b, ""
	}
	for len(todo) > 0 && treap != 0 {
		it := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if nodes--; nodes < 0 || it.depth > 200 {
			return out, chunks, "the treap loops"
		}
		buf, why := read(it.node)
		if why != "" {
			return out, chunks, why
		}
		sema := get(buf, l.sgElem)
		if sema == 0 {
			return out, chunks, "a treap node has no semaphore"
		}
		for b, n := buf, 0; ; n++ {
			if *budget--; *budget < 0 || n > maxChainLen {
				drop("semaphore table larger than its goroutines")
			}
			if ga := get(b, l.sgG); ga != 0 {
				gi, ok := s.gidx[ga]
				if !ok {
					return out, chunks, fmt.Sprintf("%#x is not a goroutine", ga)
				}
				out = append(out, entry{sema, gi})
			}
			next := get(b, l.sgWaitlink)
			if next == 0 {
				break
			}
			if nodes--; nodes < 0 {
				return out, chunks, "a wait list loops"
			}
			if b, why = read(next); why != "" {
				return out, chunks, why
			}
		}
		for _, c := range []uint64{get(buf, l.sgPrev), get(buf, l.sgNext)} {
			if c != 0 {
				todo = append(todo, item{c, it.depth + 1})
			}
		}
	}
	return out, chunks, ""
}

// semaWaits keeps the semaphore waiters whose goroutine is parked on a
// semaphore.
func (s *Sampler) semaWaits(out *Sample, waits []SampleWait, es []entry) []SampleWait {
	for _, e := range es {
		g := &s.gs[e.g]
		switch {
		case !s.parked(g, reasonSema):
			out.Stale++
		case s.userG(g) && !g.waits:
			g.waits, g.obj = true, e.obj
			waits = append(waits, SampleWait{Kind: WaitSema, Addr: e.obj, g: e.g})
		}
	}
	return waits
}

// chanWaits follows g.waiting of every goroutine parked in a channel
// operation or a select.
func (s *Sampler) chanWaits(out *Sample, waits []SampleWait) []SampleWait {
	l := s.t.lay
	for i := range s.gs {
		g := &s.gs[i]
		if g.waiting == 0 || !s.parked(g, reasonChan) || !s.userG(g) {
			continue
		}
		send := strings.HasPrefix(s.t.waitReason(g.reason), "chan send")
		start := len(waits)
		stale := false
		for sd, n := g.waiting, 0; sd != 0; n++ {
			if n > maxChainLen {
				drop("g.waiting of goroutine %d longer than %d", g.goid, maxChainLen)
			}
			b := s.sudog(sd)
			if get(b, l.sgG) != g.addr {
				// Woken and its sudogs released since g was read.
				stale = true
				break
			}
			c := get(b, l.sgC)
			if c == 0 {
				stale = true
				break
			}
			if !s.object(c, uint64(l.hchan.Size)) {
				drop("sudog %#x: %#x is not a channel", sd, c)
			}
			waits = append(waits, SampleWait{Kind: WaitChan, Addr: c, Select: get(b, l.sgIsSelect) != 0, Send: send, g: int32(i)})
			sd = get(b, l.sgWaitlink)
		}
		if stale {
			waits = waits[:start]
			out.Stale++
			continue
		}
		if len(waits) > start {
			g.waits, g.obj = true, waits[start].Addr
		}
	}
	return waits
}

// condEntries walks the notify lists of the known sync.Conds.
func (s *Sampler) condEntries() []entry {
	l := s.t.lay
	if !l.condNotify.OK || !l.nlHead.OK {
		return nil
	}
	var out []entry
	for c := range s.conds {
		if !s.inHeapOrGlobals(c) {
			delete(s.conds, c) // freed
			continue
		}
		es, ok := s.walkCond(c, 0, false)
		if !ok {
			delete(s.conds, c)
			continue
		}
		out = append(out, es...)
	}
	return out
}

// condWaits keeps the Cond waiters whose goroutine is parked in Cond.Wait.
func (s *Sampler) condWaits(out *Sample, waits []SampleWait, es []entry) []SampleWait {
	for _, e := range es {
		g := &s.gs[e.g]
		switch {
		case !s.parked(g, reasonCond):
			out.Stale++
		case !g.condFound && s.userG(g):
			g.condFound, g.waits, g.obj = true, true, e.obj
			waits = append(waits, SampleWait{Kind: WaitCond, Addr: e.obj, g: e.g})
		}
	}
	return waits
}

// walkCond lists the goroutines on the notify list of the sync.Cond at c.
// With soft set (c is a guess), a list that does not check out is not a
// reason to drop the sample: it returns false instead; want, when not 0,
// is a goroutine that must be on the list.
func (s *Sampler) walkCond(c, want uint64, soft bool) ([]entry, bool) {
	l := s.t.lay
	hb, err := s.t.readSmall(c+uint64(l.condNotify.Off+l.nlHead.Off), 8)
	if err != nil {
		return nil, false
	}
	var out []entry
	has := want == 0
	for sd, n := decodeUint(hb), 0; sd != 0; n++ {
		if n > maxChainLen {
			if soft {
				return nil, false
			}
			drop("notify list of sync.Cond %#x longer than %d", c, maxChainLen)
		}
		if soft && !s.object(sd, uint64(l.sudog.Size)) {
			return nil, false
		}
		b := s.sudog(sd)
		if ga := get(b, l.sgG); ga != 0 {
			gi, ok := s.gidx[ga]
			if !ok {
				if soft {
					return nil, false
				}
				drop("%#x is not a goroutine", ga)
			}
			has = has || ga == want
			out = append(out, entry{c, gi})
		}
		sd = get(b, l.nlSgNext)
	}
	if !has {
		return nil, false
	}
	return out, true
}

// readStacks reads the top of the stack of every goroutine with a wait
// (and of Cond waiters whose Cond is not known yet), between two reads of
// the goroutine: a stack whose goroutine changed meanwhile is not used.
//
// A goroutine still parked exactly as in the previous sample (same id,
// status, wait reason, saved registers, g.waiting and object waited on)
// keeps the stack top read then, without a read: most parked goroutines
// stay parked, and reading 10,000 stacks ten times a second would cost
// more than everything else. (A goroutine that woke and parked again in
// between on the same object with its stack at the same place keeps its
// earlier stack top: the same function at the same depth, perhaps another
// line.)
func (s *Sampler) readStacks(out *Sample) {
	var todo []int32
	s.gen++
	for i := range s.gs {
		g := &s.gs[i]
		if !g.waits && !(s.parked(g, reasonCond) && s.userG(g)) {
			continue
		}
		if g.sp < g.lo || g.sp >= g.hi || g.hi-g.lo > 1<<30 || g.pc == 0 {
			continue
		}
		if i < len(s.sites) {
			if c := &s.sites[i]; c.gen != 0 && g.waits && c.park == s.parkOf(g) {
				g.frames, g.truncated, g.stackRead = c.frames, c.truncated, true
				c.gen = s.gen
				continue
			}
		}
		todo = append(todo, int32(i))
	}
	if len(todo) > 0 {
		s.readTodo(out, todo)
	}
	if s.gen%32 == 0 {
		// Forget the goroutines no longer parked as they were.
		for i := range s.sites {
			if c := &s.sites[i]; c.gen != s.gen {
				*c = cachedStack{}
			}
		}
	}
}

func (s *Sampler) parkOf(g *sg) parkKey {
	return parkKey{goid: g.goid, status: g.status, reason: g.reason, pc: g.pc, sp: g.sp, bp: g.bp, waiting: g.waiting, obj: g.obj}
}

// readTodo reads and unwinds the stacks of todo, then reads their
// goroutines again.
func (s *Sampler) readTodo(out *Sample, todo []int32) {
	more := s.readWindows(out, todo, sampleWindow)
	if len(more) > 0 {
		s.readWindows(out, more, sampleWindowMax)
	}
	// The second read of each goroutine.
	l := s.t.lay
	addrs := make([]uint64, len(todo))
	for k, i := range todo {
		addrs[k] = s.gs[i].addr
	}
	same := make([]bool, len(todo))
	s.t.readEach(addrs, int(l.g.Size), func(k int, buf []byte) {
		var g2 sg
		s.decodeG(&g2, buf)
		g := &s.gs[todo[k]]
		same[k] = g2.goid == g.goid && g2.status == g.status && g2.reason == g.reason &&
			g2.pc == g.pc && g2.sp == g.sp && g2.bp == g.bp && g2.waiting == g.waiting
	})
	out.Bytes += int64(len(addrs)) * l.g.Size
	for k, i := range todo {
		g := &s.gs[i]
		if !same[k] {
			g.frames, g.truncated, g.stackRead, g.window = nil, false, false, nil
			if g.waits {
				out.Torn++
			}
			continue
		}
		if g.waits && g.stackRead {
			if len(s.sites) < len(s.gs) {
				s.sites = append(s.sites, make([]cachedStack, len(s.gs)-len(s.sites))...)
			}
			s.sites[i] = cachedStack{park: s.parkOf(g), frames: g.frames, truncated: g.truncated, gen: s.gen}
		}
	}
}

// readWindows reads n bytes of stack above each goroutine's saved SP and
// unwinds it; it returns the goroutines whose stack goes on past the
// window.
func (s *Sampler) readWindows(out *Sample, todo []int32, n uint64) (more []int32) {
	addrs := make([]uint64, len(todo))
	bufs := make([][]byte, len(todo))
	ok := make([]bool, len(todo))
	total := uint64(0)
	for _, i := range todo {
		g := &s.gs[i]
		total += min(n, g.hi-g.sp)
	}
	mem := make([]byte, total)
	off := uint64(0)
	for k, i := range todo {
		g := &s.gs[i]
		m := min(n, g.hi-g.sp)
		addrs[k], bufs[k] = g.sp, mem[off:off+m:off+m]
		off += m
	}
	s.t.readMany(addrs, bufs, ok)
	out.Bytes += int64(total)
	for k, i := range todo {
		g := &s.gs[i]
		if !ok[k] {
			continue
		}
		frames, truncated, short := s.unwind(g, bufs[k])
		if short && n < sampleWindowMax && uint64(len(bufs[k])) < g.hi-g.sp {
			more = append(more, i)
			continue
		}
		g.frames, g.truncated, g.stackRead, g.window = frames, truncated || short, true, bufs[k]
	}
	return more
}

// unwind follows g's frame pointers through its stack window, up to
// maxSampleFrames physical frames. short is set when the window ended
// before the stack did.
func (s *Sampler) unwind(g *sg, win []byte) (frames []Frame, truncated, short bool) {
	t := s.t
	u := t.unwinder()
	word := func(a uint64) (uint64, bool) {
		if a < g.sp || a+8 > g.sp+uint64(len(win)) {
			return 0, false
		}
		return binary.LittleEndian.Uint64(win[a-g.sp:]), true
	}
	pc, sp, bp := g.pc, g.sp, g.bp
	var pcs [maxSampleFrames]uint64
	var syms [maxSampleFrames]*pcSym
	n := 0
	h := uint64(14695981039346656037)
	bottom := false
	for top := true; n < maxSampleFrames; top = false {
		sym := u.symbolize(t, pc, top)
		if sym.bad {
			break
		}
		pcs[n], syms[n] = pc, sym
		n++
		h = (h ^ pc) * 1099511628211
		if sym.bottom {
			bottom = true
			break
		}
		cfa := sp + uint64(sym.spdelta) + 8
		if cfa > g.hi || cfa <= sp || bp+16 != cfa {
			break
		}
		ret, ok1 := word(cfa - 8)
		nbp, ok2 := word(bp)
		if !ok1 || !ok2 {
			short = true
			break
		}
		if ret == 0 {
			break
		}
		pc, sp, bp = ret, cfa, nbp
	}
	truncated = !bottom
	if bottom {
		h ^= 1
	}
	for st := s.stacks[h]; st != nil; st = st.next {
		if st.truncated == truncated && len(st.pcs) == n && equalPCs(st.pcs, pcs[:n]) {
			return st.frames, truncated, short
		}
	}
	st := &sampledStack{pcs: append([]uint64(nil), pcs[:n]...), truncated: truncated, next: s.stacks[h]}
	for _, sym := range syms[:n] {
		st.frames = append(st.frames, sym.frames...)
	}
	if len(s.stacks) < 1<<16 {
		s.stacks[h] = st
	}
	return st.frames, truncated, short
}

func equalPCs(a, b []uint64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// discoverConds finds the sync.Cond of goroutines parked in Cond.Wait on a
// Cond the sampler does not know: a word of the waiter's stack that points
// at the Cond (the receiver of Wait) or its notify list, confirmed by
// finding the waiter on that list. Found Conds are watched from then on.
func (s *Sampler) discoverConds(out *Sample, waits []SampleWait) []SampleWait {
	l := s.t.lay
	if !l.condNotify.OK || !l.nlHead.OK {
		return waits
	}
	off := uint64(l.condNotify.Off)
	tried := 0
	for i := range s.gs {
		g := &s.gs[i]
		if g.condFound || !g.stackRead || !s.parked(g, reasonCond) || !s.userG(g) {
			continue
		}
		if tried++; tried > 64 {
			break // the rest in later samples
		}
		probes := 0
		for a := 0; a+8 <= len(g.window) && probes < maxCondProbes && !g.condFound; a += 8 {
			w := binary.LittleEndian.Uint64(g.window[a:])
			if !s.inHeapOrGlobals(w) {
				continue
			}
			probes++
			for _, c := range []uint64{w, w - off} {
				if s.conds[c] || !s.inHeapOrGlobals(c) {
					continue
				}
				if es, ok := s.walkCond(c, g.addr, true); ok {
					s.conds[c] = true
					waits = s.condWaits(out, waits, es)
					break
				}
			}
		}
	}
	return waits
}

// phaseTimer prints each phase's wall time with HANGTUI_DEBUG_SAMPLES set.
func phaseTimer() func(string) {
	if os.Getenv("HANGTUI_DEBUG_SAMPLES") == "" {
		return func(string) {}
	}
	last := time.Now()
	return func(name string) {
		now := time.Now()
		fmt.Fprintf(os.Stderr, "  %s %v", name, now.Sub(last).Round(10*time.Microsecond))
		last = now
	}
}

// rangePlan reads many objects of one size as few ranges of memory, into
// buffers kept from one sample to the next.
type rangePlan struct {
	n      int // objects planned
	addrs  []uint64
	bufs   [][]byte
	ok     []bool
	ranges []planRange
}

type planRange struct{ objs []int32 }

// planRanges groups objects at addrs (size bytes each) that lie close
// together into ranges of at most 1 MiB.
func planRanges(addrs []uint64, size uint64) *rangePlan {
	order := make([]int32, len(addrs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(addrs[a], addrs[b]) })
	p := &rangePlan{n: len(addrs)}
	var start, end uint64
	var cur []int32
	flush := func() {
		if len(cur) > 0 {
			p.addrs = append(p.addrs, start)
			p.bufs = append(p.bufs, make([]byte, end-start))
			p.ranges = append(p.ranges, planRange{objs: cur})
			cur = nil
		}
	}
	for _, i := range order {
		a := addrs[i]
		if len(cur) > 0 && a <= end+512 && a+size-start <= 1<<20 {
			end = max(end, a+size)
			cur = append(cur, i)
			continue
		}
		flush()
		start, end, cur = a, a+size, []int32{i}
	}
	flush()
	p.ok = make([]bool, len(p.addrs))
	return p
}
