package target

import (
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/proc"
)

// layouts holds every runtime and sync struct layout hangtui decodes, read
// once per target from its DWARF. Field names differ between Go releases;
// where they do, both spellings are tried.
type layouts struct {
	g, sudog, hchan, semaRoot *structLayout
	mutex, rwmutex, waitgroup *structLayout
	cond, notifyList          *structLayout

	// runtime.g
	gGoid, gStatus, gWaitReason, gWaitSince, gWaiting, gParentGoid field
	gGoPC, gStartPC, gLabels                                       field
	// runtime.g: saved registers and stack bounds, for unwind.go
	gSchedPC, gSchedSP, gSchedBP, gSchedLR field
	gSchedCtxt                             field
	gStackLo, gStackHi                     field
	gDefer, gPanic                         field
	gSyscallPC, gSyscallSP, gSyscallBP, gM field
	// runtime.sudog
	sgG, sgNext, sgPrev, sgElem, sgIsSelect, sgWaitlink, sgC, sgTicket, sgAcquire field
	// runtime.hchan
	chQcount, chDataqsiz, chClosed, chElemtype, chRecvqFirst, chSendqFirst field
	// runtime.semaRoot inside runtime.semTable
	semTreap     field
	semStride    int64
	semTableSize int64
	// sync.Mutex (Go 1.24+ wraps internal/sync.Mutex in field mu)
	muState, muSema field
	// sync.RWMutex
	rwW, rwWriterSem, rwReaderSem, rwReaderCount, rwReaderWait field
	// sync.WaitGroup
	wgState, wgSema field
	// sync.Cond and runtime.notifyList
	condNotify                       field
	nlWait, nlNotify, nlHead, nlTail field
	nlSgNext                         field
}

func firstOK(fs ...field) field {
	for _, f := range fs {
		if f.OK {
			return f
		}
	}
	return fs[0]
}

func loadLayouts(bi *proc.BinaryInfo) (*layouts, error) {
	l := &layouts{}
	var err error
	must := func(name string) *structLayout {
		if err != nil {
			return nil
		}
		var s *structLayout
		s, err = loadStruct(bi, name)
		return s
	}
	l.g = must("runtime.g")
	l.sudog = must("runtime.sudog")
	l.hchan = must("runtime.hchan")
	l.semaRoot = must("runtime.semaRoot")
	if err != nil {
		return nil, err
	}
	// sync types are only in the binary when the program uses them.
	l.mutex, _ = loadStruct(bi, "sync.Mutex")
	l.rwmutex, _ = loadStruct(bi, "sync.RWMutex")
	l.waitgroup, _ = loadStruct(bi, "sync.WaitGroup")
	l.cond, _ = loadStruct(bi, "sync.Cond")
	l.notifyList, _ = loadStruct(bi, "runtime.notifyList")

	g := l.g
	l.gGoid = g.Field("goid")
	l.gStatus = g.Field("atomicstatus")
	l.gWaitReason = g.Field("waitreason")
	l.gWaitSince = g.Field("waitsince")
	l.gWaiting = g.Field("waiting")
	l.gParentGoid = g.Field("parentGoid")
	l.gGoPC = g.Field("gopc")
	l.gStartPC = g.Field("startpc")
	l.gLabels = g.Field("labels")
	l.gSchedPC = g.Field("sched.pc")
	l.gSchedSP = g.Field("sched.sp")
	l.gSchedBP = g.Field("sched.bp")
	l.gSchedLR = g.Field("sched.lr")
	l.gSchedCtxt = g.Field("sched.ctxt")
	l.gStackLo = g.Field("stack.lo")
	l.gDefer = g.Field("_defer")
	l.gPanic = g.Field("_panic")
	l.gStackHi = g.Field("stack.hi")
	l.gSyscallPC = g.Field("syscallpc")
	l.gSyscallSP = g.Field("syscallsp")
	l.gSyscallBP = g.Field("syscallbp")
	l.gM = g.Field("m")
	for _, f := range []field{l.gGoid, l.gStatus, l.gWaitReason, l.gWaiting} {
		if !f.OK {
			return nil, fmt.Errorf("runtime.g has no field %q: unsupported Go runtime", f.Name)
		}
	}

	s := l.sudog
	l.sgG = s.Field("g")
	l.sgNext = s.Field("next")
	l.sgPrev = s.Field("prev")
	l.sgElem = s.Field("elem")
	l.sgIsSelect = s.Field("isSelect")
	l.sgWaitlink = s.Field("waitlink")
	l.sgC = s.Field("c")
	l.sgTicket = s.Field("ticket")
	l.sgAcquire = s.Field("acquiretime")

	c := l.hchan
	l.chQcount = c.Field("qcount")
	l.chDataqsiz = c.Field("dataqsiz")
	l.chClosed = c.Field("closed")
	l.chElemtype = c.Field("elemtype")
	l.chRecvqFirst = c.Field("recvq.first")
	l.chSendqFirst = c.Field("sendq.first")

	l.semTreap = l.semaRoot.Field("treap")
	if st, e := bi.FindType("runtime.semTable"); e == nil {
		if at, ok := resolve(st).(*godwarf.ArrayType); ok {
			l.semTableSize = at.Count
			l.semStride = resolve(at.Type).Size()
		}
	}
	if l.semStride == 0 {
		// Go releases before semTable was a named type: 251 cache-line
		// padded roots.
		l.semTableSize, l.semStride = 251, 64
	}

	l.muState = firstOK(l.mutex.Field("mu.state"), l.mutex.Field("state"))
	l.muSema = firstOK(l.mutex.Field("mu.sema"), l.mutex.Field("sema"))
	l.rwW = l.rwmutex.Field("w")
	l.rwWriterSem = l.rwmutex.Field("writerSem")
	l.rwReaderSem = l.rwmutex.Field("readerSem")
	l.rwReaderCount = l.rwmutex.Field("readerCount")
	l.rwReaderWait = l.rwmutex.Field("readerWait")
	l.wgState = firstOK(l.waitgroup.Field("state"), l.waitgroup.Field("state1"))
	l.wgSema = firstOK(l.waitgroup.Field("sema"), l.waitgroup.Field("state2"))
	l.condNotify = l.cond.Field("notify")
	l.nlWait = l.notifyList.Field("wait")
	l.nlNotify = l.notifyList.Field("notify")
	l.nlHead = l.notifyList.Field("head")
	l.nlTail = l.notifyList.Field("tail")
	l.nlSgNext = l.sgNext
	return l, nil
}
