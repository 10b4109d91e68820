package inspect

import (
	"strings"

	"github.com/hangtui/hangtui/inspect/dump"
)

// waitArgFuncs are the functions whose arguments dumpWait reads.
var waitArgFuncs = map[string]bool{
	"runtime.semacquire1": true, "runtime.semacquire": true,
	"sync.(*Mutex).lockSlow": true, "internal/sync.(*Mutex).lockSlow": true, "sync.(*Mutex).Lock": true,
	"sync.(*RWMutex).Lock": true, "sync.(*RWMutex).RLock": true, "sync.(*WaitGroup).Wait": true,
	"sync.(*Cond).Wait": true, "sync.runtime_notifyListWait": true, "runtime.notifyListWait": true,
	"runtime.chanrecv": true, "runtime.chanrecv1": true, "runtime.chanrecv2": true,
	"runtime.chansend": true, "runtime.chansend1": true,
}

// waits links every parked goroutine to what it waits on, from the
// argument words printed in its traceback. Only words the runtime printed
// without "?" (known live) are used: a stale word would invent a link.
func (db *dumpBuilder) waits() {
	for _, g := range db.s.Goroutines {
		if g.State != StateWaiting || g.WaitReason == "" {
			continue
		}
		dg := db.raw[g.ID]
		kind, addr, op, ok := dumpWait(g, dg)
		if !ok {
			if waitsOnObject(g.WaitReason) {
				db.unknownWaits++
			}
			continue
		}
		db.addWait(g, db.resource(kind, addr), op)
	}
}

// waitsOnObject says whether a wait reason is about an object another
// goroutine could release (as opposed to sleeping or I/O).
func waitsOnObject(reason string) bool {
	return strings.HasPrefix(reason, "sync.") || strings.HasPrefix(reason, "chan ") ||
		strings.HasPrefix(reason, "select") || strings.HasPrefix(reason, "semacquire")
}

// certainArg returns argument i of the first frame running fn, if the
// runtime printed it as a live word.
func certainArg(g *Goroutine, dg *dump.Goroutine, i int, fns ...string) (uint64, bool) {
	for fi, f := range g.Frames {
		for _, fn := range fns {
			if f.Func != fn || f.Inlined {
				continue
			}
			if v, ok := certainWord(dg.ArgValues(fi), i); ok {
				return v, true
			}
		}
	}
	return 0, false
}

// certainWord is argument i when it is evidence: a scalar word known to be
// live (printed without "?", or a Delve server's value), not zero.
func certainWord(args []dump.Arg, i int) (uint64, bool) {
	if i >= len(args) {
		return 0, false
	}
	a := args[i]
	if a.Uncertain || a.Aggregate || a.Unknown || a.Value == 0 {
		return 0, false
	}
	return a.Value, true
}

func semaArg(g *Goroutine, dg *dump.Goroutine) (uint64, bool) {
	return certainArg(g, dg, 0, "runtime.semacquire1", "runtime.semacquire")
}

// dumpWait finds what g waits on from its printed arguments: the sync
// method's receiver or the channel where the traceback shows it, else the
// semaphore semacquire was given, classified as memory's semaphore waits
// are (knownSyncOffsets: no binary, no DWARF).
func dumpWait(g *Goroutine, dg *dump.Goroutine) (Kind, uint64, Op, bool) {
	r := g.WaitReason
	sema := false
	switch {
	case r == "sync.Mutex.Lock":
		if hasFrame(g, "sync.(*RWMutex).Lock") {
			// The writer's inner Mutex is the RWMutex's first field.
			if a, ok := certainArg(g, dg, 0, "sync.(*RWMutex).Lock", "sync.(*Mutex).lockSlow", "internal/sync.(*Mutex).lockSlow"); ok {
				return KindRWMutex, a, OpLock, true
			}
		} else if a, ok := certainArg(g, dg, 0, "sync.(*Mutex).lockSlow", "internal/sync.(*Mutex).lockSlow", "sync.(*Mutex).Lock"); ok {
			return KindMutex, a, OpLock, true
		}
		sema = true
	case r == "sync.RWMutex.RLock":
		if a, ok := certainArg(g, dg, 0, "sync.(*RWMutex).RLock"); ok {
			return KindRWMutex, a, OpRLock, true
		}
		sema = true
	case r == "sync.RWMutex.Lock":
		if a, ok := certainArg(g, dg, 0, "sync.(*RWMutex).Lock"); ok {
			return KindRWMutex, a, OpLock, true
		}
		sema = true
	case strings.HasPrefix(r, "sync.WaitGroup.Wait"):
		if a, ok := certainArg(g, dg, 0, "sync.(*WaitGroup).Wait"); ok {
			return KindWaitGroup, a, OpWait, true
		}
		sema = true
	case r == "sync.Cond.Wait":
		if a, ok := certainArg(g, dg, 0, "sync.(*Cond).Wait"); ok {
			return KindCond, a, OpWait, true
		}
		if l, ok := certainArg(g, dg, 0, "sync.runtime_notifyListWait", "runtime.notifyListWait"); ok && knownSyncOffsets.condOK {
			return KindCond, l - knownSyncOffsets.condNotify, OpWait, true
		}
	case strings.HasPrefix(r, "semacquire"):
		sema = true
	case strings.HasPrefix(r, "chan receive") && !strings.Contains(r, "nil chan"):
		if c, ok := certainArg(g, dg, 0, "runtime.chanrecv", "runtime.chanrecv1", "runtime.chanrecv2"); ok {
			return KindChan, c, OpRecv, true
		}
	case strings.HasPrefix(r, "chan send") && !strings.Contains(r, "nil chan"):
		if c, ok := certainArg(g, dg, 0, "runtime.chansend", "runtime.chansend1"); ok {
			return KindChan, c, OpSend, true
		}
	}
	if sema {
		if s, ok := semaArg(g, dg); ok {
			k, a, op := knownSyncOffsets.classifySema(r, g.Frames, nil, s)
			return k, a, op, true
		}
	}
	return "", 0, "", false
}
