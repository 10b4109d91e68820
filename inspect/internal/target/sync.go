package target

import (
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
	seen := map[uint64]bool{}
	const maxNodes = 10_000_000
	var walk func(node uint64, depth int) error
	walk = func(node uint64, depth int) error {
		if node == 0 || seen[node] || len(seen) > maxNodes || depth > 200 {
			return nil
		}
		seen[node] = true
		buf, err := t.readSmall(node, int(l.sudog.Size))
		if err != nil {
			return err
		}
		sema := get(buf, l.sgElem)
		// The treap node itself, then the others waiting on the same address.
		for s, b := node, buf; s != 0; {
			out = append(out, SemaWaiter{Sema: sema, G: get(b, l.sgG), Sudog: s})
			next := get(b, l.sgWaitlink)
			if next == 0 || seen[next] {
				break
			}
			seen[next] = true
			s = next
			if b, err = t.readSmall(s, int(l.sudog.Size)); err != nil {
				return err
			}
		}
		if err := walk(get(buf, l.sgPrev), depth+1); err != nil {
			return err
		}
		return walk(get(buf, l.sgNext), depth+1)
	}
	table, err := t.read(base, int(l.semTableSize*l.semStride))
	if err != nil {
		return nil, err
	}
	for i := int64(0); i < l.semTableSize; i++ {
		off := i*l.semStride + l.semTreap.Off
		treap := decodeUint(table[off : off+8])
		if err := walk(treap, 0); err != nil {
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
func (t *Target) ChanWaits(g *G) []ChanWait {
	var out []ChanWait
	l := t.lay
	for s, n := g.Waiting, 0; s != 0 && n < 10_000; n++ {
		buf, err := t.readSmall(s, int(l.sudog.Size))
		if err != nil {
			break
		}
		out = append(out, ChanWait{Chan: get(buf, l.sgC), Sudog: s, IsSelect: get(buf, l.sgIsSelect) != 0})
		s = get(buf, l.sgWaitlink)
	}
	return out
}

// Chan is a channel header with its wait queues.
type Chan struct {
	Addr     uint64
	Len, Cap int
	Closed   bool
	ElemType string
	// Timer is set for channels fed by a runtime timer (time.After,
	// time.Ticker): a timer can always wake their receivers.
	Timer uint64
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
		return nil, err
	}
	c := &Chan{
		Addr:   addr,
		Len:    int(get(buf, l.chQcount)),
		Cap:    int(get(buf, l.chDataqsiz)),
		Closed: get(buf, l.chClosed) != 0,
	}
	c.ElemType = t.typeName(get(buf, l.chElemtype))
	c.Timer = get(buf, l.hchan.Field("timer"))
	c.RecvQ = t.queue(get(buf, l.chRecvqFirst))
	c.SendQ = t.queue(get(buf, l.chSendqFirst))
	return c, nil
}

func (t *Target) queue(first uint64) []QueueEntry {
	var out []QueueEntry
	l := t.lay
	for s, n := first, 0; s != 0 && n < 10_000_000; n++ {
		buf, err := t.readSmall(s, int(l.sudog.Size))
		if err != nil {
			break
		}
		out = append(out, QueueEntry{Sudog: s, G: get(buf, l.sgG)})
		s = get(buf, l.sgNext)
	}
	return out
}

// typeName names a runtime *_type, e.g. "int" or "main.Job". Cached.
func (t *Target) typeName(rtype uint64) string {
	if rtype == 0 {
		return "?"
	}
	if t.typeNames == nil {
		t.typeNames = map[uint64]string{}
	}
	if n, ok := t.typeNames[rtype]; ok {
		return n
	}
	name := "?"
	if t.t == nil {
		if name = t.typeNameRaw(rtype); name != "?" {
			t.typeNames[rtype] = name
		}
		return name
	}
	if t.mds == nil {
		t.mds, _ = proc.LoadModuleData(t.bi, t.mem)
	}
	if scope, err := t.globalScope(); err == nil {
		for _, tn := range []string{`"internal/abi.Type"`, "runtime._type"} {
			v, err := scope.EvalExpression(fmt.Sprintf("*(*%s)(%#x)", tn, rtype), proc.LoadConfig{})
			if err != nil {
				continue
			}
			if typ, _, err := proc.RuntimeTypeToDIE(v, 0, t.mds); err == nil && typ != nil {
				name = typ.String()
			}
			break
		}
	}
	name = goTypeName(name)
	t.typeNames[rtype] = name
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
	head, err := t.readPtr(addr + uint64(l.condNotify.Off+l.nlHead.Off))
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, e := range t.queue(head) {
		out = append(out, e.G)
	}
	return out, nil
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

// MLinks returns the addresses of every runtime.m (OS thread) structure.
func (t *Target) MLinks() []uint64 {
	ml, err := loadStruct(t.bi, "runtime.m")
	if err != nil {
		return nil
	}
	head, err := t.varAddr("runtime.allm")
	if err != nil {
		return nil
	}
	var out []uint64
	m, _ := t.readPtr(head)
	for n := 0; m != 0 && n < 100_000; n++ {
		out = append(out, m)
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
