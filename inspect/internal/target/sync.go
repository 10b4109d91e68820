package target

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
)

// SemaWaiter is one goroutine parked on a runtime semaphore.
type SemaWaiter struct {
	Sema  uint64 // address of the uint32 semaphore
	G     uint64 // runtime.g address
	Sudog uint64
}

// SemaWaiters walks the runtime's semaphore table (runtime.semtable: 251
// treaps of sudogs keyed by semaphore address, each with a wait list) and
// returns every parked waiter, in queue order per semaphore. This is the
// ground truth for sync.Mutex, RWMutex and WaitGroup waiters: the runtime
// links those goroutines nowhere else.
func (t *Target) SemaWaiters() ([]SemaWaiter, error) {
	base, err := t.varAddr("runtime.semtable")
	if err != nil {
		return nil, fmt.Errorf("reading runtime.semtable: %w", err)
	}
	l := t.lay
	var out []SemaWaiter
	// Every node and waiter is a distinct sudog: a repeat is a cycle.
	seen := map[uint64]bool{}
	maxNodes := int(min(10_000_000, t.memTotal()/uint64(max(l.sudog.Size, 1))))
	bad := func(addr uint64, field, why string, err error) error {
		return corrupt(addr, "runtime.sudog"+field, why, err).withRead("%d semaphore waiters", len(out))
	}
	var walk func(node, from uint64, field string, depth int) error
	walk = func(node, from uint64, field string, depth int) error {
		if node == 0 {
			return nil
		}
		if seen[node] || depth > 200 {
			return bad(from, field, "a cycle, or a treap too deep", nil)
		}
		if len(seen) > maxNodes {
			return bad(from, field, "more sudogs than memory", nil)
		}
		seen[node] = true
		buf, err := t.readSmall(node, int(l.sudog.Size))
		if err != nil {
			return bad(node, "", "unreadable", err)
		}
		sema := get(buf, l.sgElem)
		// The treap node itself, then the others waiting on the same address.
		for s, b := node, buf; s != 0; {
			out = append(out, SemaWaiter{Sema: sema, G: get(b, l.sgG), Sudog: s})
			next := get(b, l.sgWaitlink)
			if next == 0 {
				break
			}
			if seen[next] {
				return bad(s+uint64(l.sgWaitlink.Off), ".waitlink", "a cycle", nil)
			}
			if len(seen) > maxNodes {
				return bad(s+uint64(l.sgWaitlink.Off), ".waitlink", "more sudogs than memory", nil)
			}
			seen[next] = true
			s = next
			if b, err = t.readSmall(s, int(l.sudog.Size)); err != nil {
				return bad(s, "", "unreadable", err)
			}
		}
		if err := walk(get(buf, l.sgPrev), node+uint64(l.sgPrev.Off), ".prev", depth+1); err != nil {
			return err
		}
		return walk(get(buf, l.sgNext), node+uint64(l.sgNext.Off), ".next", depth+1)
	}
	table, err := t.read(base, int(l.semTableSize*l.semStride))
	if err != nil {
		return nil, corrupt(base, "runtime.semtable", "unreadable", err)
	}
	for i := int64(0); i < l.semTableSize; i++ {
		off := i*l.semStride + l.semTreap.Off
		treap := decodeUint(table[off : off+8])
		if err := walk(treap, base+uint64(off), "", 0); err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) && ce.Type == "runtime.sudog" && ce.Addr == base+uint64(off) {
				ce.Type = "runtime.semtable" // the root's treap pointer
			}
			return out, err
		}
	}
	return out, nil
}

// ChanWait is one entry of a goroutine's g.waiting list: a channel it is
// queued on (several for a select).
type ChanWait struct {
	Chan     uint64
	Sudog    uint64
	IsSelect bool
}

// ChanWaits follows g.waiting (the sudogs of a goroutine parked in a channel
// operation or select, in lock order).
func (t *Target) ChanWaits(g *G) ([]ChanWait, error) {
	var out []ChanWait
	l := t.lay
	// A select has a sudog per case (at most 65536 cases).
	w := newChainWalk(1 << 16)
	from, field := g.Addr+uint64(l.gWaiting.Off), "runtime.g.waiting"
	for s := g.Waiting; s != 0; {
		if !w.next(s) {
			return out, corrupt(from, field, "a cycle, or too long", nil).withRead("%d channels of goroutine %d", len(out), g.ID)
		}
		buf, err := t.readSmall(s, int(l.sudog.Size))
		if err != nil {
			return out, corrupt(s, "runtime.sudog", "unreadable", err).withRead("%d channels of goroutine %d", len(out), g.ID)
		}
		out = append(out, ChanWait{Chan: get(buf, l.sgC), Sudog: s, IsSelect: get(buf, l.sgIsSelect) != 0})
		from, field = s+uint64(l.sgWaitlink.Off), "runtime.sudog.waitlink"
		s = get(buf, l.sgWaitlink)
	}
	return out, nil
}

// Chan is a channel header with its wait queues.
type Chan struct {
	Addr     uint64
	Len, Cap int
	Closed   bool
	ElemType string
	// Timer is set for channels fed by a runtime timer (time.After,
	// time.Ticker): a timer can wake their receivers...
	Timer uint64
	// TimerStopped: ...unless it is stopped, with no run under way
	// (TimerStopped, timerchan.go).
	TimerStopped bool
	// RecvQ and SendQ hold (sudog, g) pairs in queue order.
	RecvQ, SendQ []QueueEntry
}

// QueueEntry is one sudog in a wait queue.
type QueueEntry struct {
	Sudog, G uint64
}

// ReadChan decodes a runtime.hchan.
func (t *Target) ReadChan(addr uint64) (*Chan, error) {
	l := t.lay
	buf, err := t.readSmall(addr, int(l.hchan.Size))
	if err != nil {
		return nil, corrupt(addr, "runtime.hchan", "unreadable", err)
	}
	c := &Chan{
		Addr:   addr,
		Len:    int(get(buf, l.chQcount)),
		Cap:    int(get(buf, l.chDataqsiz)),
		Closed: get(buf, l.chClosed) != 0,
	}
	c.ElemType = t.typeName(get(buf, l.chElemtype))
	c.Timer = get(buf, l.hchan.Field("timer"))
	c.TimerStopped = c.Timer != 0 && t.TimerStopped(c.Timer)
	if c.RecvQ, err = t.queue(get(buf, l.chRecvqFirst), addr+uint64(l.chRecvqFirst.Off), "runtime.hchan.recvq"); err != nil {
		return c, err
	}
	if c.SendQ, err = t.queue(get(buf, l.chSendqFirst), addr+uint64(l.chSendqFirst.Off), "runtime.hchan.sendq"); err != nil {
		return c, err
	}
	return c, nil
}

// queue reads a wait queue (a channel's, a notify list's) from its first
// sudog, found at from (a field of type typ). A queue that loops or that
// leads to memory the target does not have is an error, with the entries
// read before it.
func (t *Target) queue(first, from uint64, typ string) ([]QueueEntry, error) {
	if first == 0 {
		return nil, nil // most queues: nothing to walk, nothing to bound
	}
	var out []QueueEntry
	l := t.lay
	w := newChainWalk(int(min(10_000_000, t.memTotal()/uint64(max(l.sudog.Size, 1)))))
	for s := first; s != 0; {
		if !w.next(s) {
			return out, corrupt(from, typ, "a cycle, or too long", nil).withRead("%d queued goroutines", len(out))
		}
		buf, err := t.readSmall(s, int(l.sudog.Size))
		if err != nil {
			return out, corrupt(s, "runtime.sudog", "unreadable", err).withRead("%d queued goroutines", len(out))
		}
		out = append(out, QueueEntry{Sudog: s, G: get(buf, l.sgG)})
		from, typ = s+uint64(l.sgNext.Off), "runtime.sudog.next"
		s = get(buf, l.sgNext)
	}
	return out, nil
}

// typeName names a runtime *_type, e.g. "int" or "main.Job". Cached.
func (t *Target) typeName(rtype uint64) string {
	if rtype == 0 {
		return "?"
	}
	if t.bin.typeNames == nil {
		t.bin.typeNames = map[uint64]string{}
	}
	if n, ok := t.bin.typeNames[rtype]; ok {
		return n
	}
	name := "?"
	if t.t == nil {
		if name = t.typeNameRaw(rtype); name != "?" {
			t.bin.typeNames[rtype] = name
		}
		return name
	}
	if t.bin.mds == nil {
		t.bin.mds, _ = proc.LoadModuleData(t.bi, t.mem)
	}
	if scope, err := t.globalScope(); err == nil {
		for _, tn := range []string{`"internal/abi.Type"`, "runtime._type"} {
			v, err := scope.EvalExpression(fmt.Sprintf("*(*%s)(%#x)", tn, rtype), proc.LoadConfig{})
			if err != nil {
				continue
			}
			if typ, _, err := proc.RuntimeTypeToDIE(v, 0, t.bin.mds); err == nil && typ != nil {
				name = typ.String()
			}
			break
		}
	}
	name = goTypeName(name)
	t.bin.typeNames[rtype] = name
	return name
}

// MutexWord is a sync.Mutex's state decoded.
type MutexWord struct {
	Locked, Woken, Starving bool
	Waiters                 int
}

func decodeMutex(state uint32) MutexWord {
	return MutexWord{
		Locked:   state&1 != 0,
		Woken:    state&2 != 0,
		Starving: state&4 != 0,
		Waiters:  int(state >> 3),
	}
}

// MutexSemaOffset is the offset of the semaphore inside sync.Mutex.
func (t *Target) MutexSemaOffset() uint64 { return uint64(t.lay.muSema.Off) }

// ReadMutex reads the sync.Mutex at addr.
func (t *Target) ReadMutex(addr uint64) (MutexWord, error) {
	b, err := t.readSmall(addr+uint64(t.lay.muState.Off), 4)
	if err != nil {
		return MutexWord{}, err
	}
	return decodeMutex(uint32(decodeUint(b))), nil
}

// RWMutexWord is a sync.RWMutex decoded.
type RWMutexWord struct {
	W           MutexWord
	ReaderCount int32 // negative while a writer is pending or holding
	ReaderWait  int32 // readers the pending writer still waits for
}

// RWMutexOffsets are the offsets of the three semaphores of sync.RWMutex:
// the inner writer mutex's sema, writerSem and readerSem.
func (t *Target) RWMutexOffsets() (wSema, writerSem, readerSem uint64, ok bool) {
	l := t.lay
	if !l.rwWriterSem.OK {
		return 0, 0, 0, false
	}
	return uint64(l.rwW.Off) + uint64(l.muSema.Off), uint64(l.rwWriterSem.Off), uint64(l.rwReaderSem.Off), true
}

// ReadRWMutex reads the sync.RWMutex at addr.
func (t *Target) ReadRWMutex(addr uint64) (RWMutexWord, error) {
	l := t.lay
	buf, err := t.readSmall(addr, int(l.rwmutex.Size))
	if err != nil {
		return RWMutexWord{}, err
	}
	w := uint32(decodeUint(buf[l.rwW.Off+l.muState.Off : l.rwW.Off+l.muState.Off+4]))
	return RWMutexWord{
		W:           decodeMutex(w),
		ReaderCount: int32(get(buf, l.rwReaderCount)),
		ReaderWait:  int32(get(buf, l.rwReaderWait)),
	}, nil
}

// WaitGroupSemaOffset is the offset of the semaphore inside sync.WaitGroup.
func (t *Target) WaitGroupSemaOffset() (uint64, bool) {
	return uint64(t.lay.wgSema.Off), t.lay.wgSema.OK && t.lay.wgState.Size == 8
}

// ReadWaitGroup returns the counter and waiter count of the WaitGroup at addr.
func (t *Target) ReadWaitGroup(addr uint64) (counter, waiters int, err error) {
	v, err := t.readUint(addr+uint64(t.lay.wgState.Off), 8)
	// High 32 bits: counter. Low bits: waiters (bit 31 is the synctest bubble
	// flag since Go 1.25).
	return int(int32(v >> 32)), int(uint32(v) & 0x7fffffff), err
}

// ReadSema reads a semaphore's value.
func (t *Target) ReadSema(addr uint64) (uint32, error) {
	v, err := t.readUint(addr, 4)
	return uint32(v), err
}

// CondNotifyOffset is the offset of the notifyList inside sync.Cond.
func (t *Target) CondNotifyOffset() (uint64, bool) {
	return uint64(t.lay.condNotify.Off), t.lay.condNotify.OK
}

// ReadCondWaiters returns the goroutines (g addresses) queued on the
// notifyList of the sync.Cond at addr.
func (t *Target) ReadCondWaiters(addr uint64) ([]uint64, error) {
	l := t.lay
	if !l.condNotify.OK || !l.nlHead.OK {
		return nil, fmt.Errorf("sync.Cond layout unknown")
	}
	at := addr + uint64(l.condNotify.Off+l.nlHead.Off)
	head, err := t.readPtr(at)
	if err != nil {
		return nil, corrupt(at, "runtime.notifyList.head", "unreadable", err)
	}
	q, err := t.queue(head, at, "runtime.notifyList.head")
	var out []uint64
	for _, e := range q {
		out = append(out, e.G)
	}
	return out, err
}

// goTypeName turns a DWARF type name as Delve prints it into Go syntax:
// "struct struct {}" → "struct {}", "func() void" → "func()".
func goTypeName(s string) string {
	s = strings.TrimPrefix(s, "struct struct")
	if strings.HasPrefix(s, " {") {
		s = "struct" + s
	}
	// Named struct types print as "struct main.Event".
	if rest, ok := strings.CutPrefix(s, "struct "); ok && !strings.HasPrefix(rest, "{") {
		s = rest
	}
	return strings.ReplaceAll(s, ") void", ")")
}

// MLinks returns the addresses of every runtime.m (OS thread) structure
// and of each one's g0 and gsignal goroutines: runtime bookkeeping, like
// allgs. (A g0 is not in allgs; a thread's register names it, and its
// stack.hi, one past its stack, may point at the heap object that follows,
// a sudog on a lock or a Cond.)
func (t *Target) MLinks() []uint64 {
	ml, err := loadStruct(t.bi, "runtime.m")
	if err != nil {
		return nil
	}
	head, err := t.varAddr("runtime.allm")
	if err != nil {
		return nil
	}
	var gs []field
	for _, name := range []string{"g0", "gsignal"} {
		if f := ml.Field(name); f.OK && f.Size == 8 {
			gs = append(gs, f)
		}
	}
	var out []uint64
	w := newChainWalk(100_000)
	m, _ := t.readPtr(head)
	for m != 0 && w.next(m) {
		out = append(out, m)
		for _, f := range gs {
			if g, err := t.readPtr(m + uint64(f.Off)); err == nil && g != 0 {
				out = append(out, g)
			}
		}
		m, _ = t.readPtr(m + uint64(ml.Field("alllink").Off))
	}
	return out
}

// typeNameRaw names a runtime type from memory, as the runtime's own
// rtype.string does: the name at moduledata.types+Str, less the '*' that
// TFlagExtraStar marks. "?" when it cannot.
func (t *Target) typeNameRaw(rtype uint64) string {
	tl, err := loadStruct(t.bi, "internal/abi.Type")
	if err != nil {
		return "?"
	}
	strF, flagF := tl.Field("Str"), tl.Field("TFlag")
	md, buf, err := t.firstModuledata()
	if err != nil || !strF.OK || !flagF.OK {
		return "?"
	}
	types, etypes := get(buf, md.Field("types")), get(buf, md.Field("etypes"))
	b, err := t.read(rtype, int(tl.Size))
	if err != nil {
		return "?"
	}
	p := types + uint64(int64(int32(get(b, strF))))
	if types == 0 || p < types || p >= etypes {
		return "?"
	}
	hdr, err := t.read(p, 11)
	if err != nil {
		return "?"
	}
	n, k := uvarint(hdr[1:])
	if n == 0 || n > 1024 {
		return "?"
	}
	raw, err := t.read(p+1+uint64(k), int(n))
	if err != nil {
		return "?"
	}
	name := string(raw)
	if get(b, flagF)&2 != 0 && len(name) > 0 && name[0] == '*' {
		name = name[1:]
	}
	return name
}
