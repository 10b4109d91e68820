package target

import (
	"fmt"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
)

// UnlockKind says what a deferred call releases.
type UnlockKind int

const (
	NotUnlock     UnlockKind = iota
	UnlockMutex              // sync.Mutex.Unlock
	UnlockRWWrite            // sync.RWMutex.Unlock
	UnlockRWRead             // sync.RWMutex.RUnlock
	UnlockUnsure             // calls through an interface (sync.Locker)
)

// PendingDefer is a deferred call that has not run yet.
type PendingDefer struct {
	// Frame is the index in G.Frames of the function that deferred it.
	Frame int
	// Func is the deferred function (a deferwrap closure or a method value).
	Func string
	// File and Line locate the defer statement.
	File string
	Line int
	// Captured are the pointer-sized words the closure captured: for
	// `defer mu.Unlock()` the first is &mu.
	Captured []uint64
	Unlock   UnlockKind
	// OpenCoded is true for defers the compiler inlined into the function
	// (tracked by the frame's deferBits), false for runtime _defer records.
	OpenCoded bool
}

// funcInfo is what hangtui needs from a function's runtime metadata.
type funcInfo struct {
	deferBitsOff, slotsOff uint64
	openCoded              bool
}

// deferTab is the open-coded defer reader's view of the function table
// (pclntab.go) and what it learnt about functions; kept for the target's
// life.
type deferTab struct {
	tab        *pclntab
	funcs      map[uint64]*funcInfo
	unlocks    map[uint64]UnlockKind
	entryLines map[uint64]fileLine // by function entry
}

type fileLine struct {
	file string
	line int
}

func (t *Target) loadDeferTab() (*deferTab, error) {
	if t.bin.defers != nil {
		return t.bin.defers, nil
	}
	tab, err := t.functab()
	if err != nil {
		return nil, err
	}
	if tab.gofunc == 0 {
		return nil, fmt.Errorf("runtime.moduledata layout not understood")
	}
	t.bin.defers = &deferTab{tab: tab, funcs: map[uint64]*funcInfo{}, unlocks: map[uint64]UnlockKind{}}
	return t.bin.defers, nil
}

// funcInfo reads the open-coded defer metadata (FUNCDATA_OpenCodedDeferInfo)
// of the function starting at entry.
func (t *Target) funcInfo(p *deferTab, entry uint64) *funcInfo {
	if fi, ok := p.funcs[entry]; ok {
		return fi
	}
	fi := &funcInfo{}
	p.funcs[entry] = fi
	m := p.tab.funcMeta(t, entry)
	if m == nil || m.openCodedDeferInfo == 0 {
		return fi
	}
	data, err := t.read(m.openCodedDeferInfo, 20)
	if err != nil {
		return fi
	}
	a, k := uvarint(data)
	b, _ := uvarint(data[k:])
	fi.deferBitsOff, fi.slotsOff, fi.openCoded = a, b, true
	return fi
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	var shift uint
	for i, c := range b {
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i + 1
		}
		shift += 7
	}
	return v, len(b)
}

// PendingDefers lists the deferred calls of g that have not run yet: the
// open-coded ones (from each frame's deferBits and closure slots, which
// Delve does not show) and the runtime's _defer records.
func (t *Target) PendingDefers(g *G) ([]PendingDefer, error) {
	if g.openDefersOK {
		// Found while the stack was read (scanOpenDefers).
		if len(g.openDefers) == 0 && g.regs.deferHead == 0 {
			return nil, nil
		}
		p, err := t.loadDeferTab()
		if err != nil {
			return nil, err
		}
		var out []PendingDefer
		for _, od := range g.openDefers {
			d, ok := PendingDefer{}, false
			if od.onStack {
				d, ok = t.decodeClosureWords(p, od.words)
			} else {
				d, ok = t.decodeClosure(p, od.closure)
			}
			if ok {
				d.Frame, d.OpenCoded = od.index, true
				out = append(out, d)
			}
		}
		if g.regs.deferHead != 0 {
			out = append(out, t.deferRecords(p, g, g.physicalFrames())...)
		}
		return out, nil
	}
	phys := g.physicalFrames()
	if len(phys) == 0 {
		return nil, nil
	}
	p, err := t.loadDeferTab()
	if err != nil {
		return nil, err
	}
	ps := uint64(t.bi.Arch.PtrSize())
	// varp is the frame's saved-frame-pointer slot: CFA minus the return
	// address (x86) and the saved frame pointer.
	varpDelta := 2 * ps
	if t.bi.Arch.Name == "arm64" {
		varpDelta = ps
	}
	var out []PendingDefer
	for _, f := range phys {
		if f.Entry == 0 || f.CFA == 0 {
			continue
		}
		fi := t.funcInfo(p, f.Entry)
		if !fi.openCoded {
			continue
		}
		varp := f.CFA - varpDelta
		bits, err := t.readUint(varp-fi.deferBitsOff, 1)
		if err != nil || bits == 0 {
			continue
		}
		for slot := uint64(0); slot < 8; slot++ {
			if bits&(1<<slot) == 0 {
				continue
			}
			closure, err := t.readPtr(varp - fi.slotsOff + slot*ps)
			if err != nil || closure == 0 {
				continue
			}
			if d, ok := t.decodeClosure(p, closure); ok {
				d.Frame, d.OpenCoded = f.Index, true
				out = append(out, d)
			}
		}
	}
	out = append(out, t.deferRecords(p, g, phys)...)
	return out, nil
}

// openDefer is a pending open-coded defer found by scanOpenDefers.
type openDefer struct {
	index   int    // frame index in G.Frames
	closure uint64 // the deferred func value
	// words are the closure's first words when it is on the stack
	// (onStack): its code pointer and captured values.
	words   [4]uint64
	onStack bool
}

// scanOpenDefers finds g's pending open-coded defers in the stack the fast
// reader has just read (the same reads PendingDefers would make, without a
// system call per frame). It leaves g alone when a word is out of reach;
// PendingDefers then reads the target.
func (t *Target) scanOpenDefers(g *G, sr *stackReader) {
	p, err := t.loadDeferTab()
	if err != nil || g.stk == nil {
		return
	}
	const ps = 8 // amd64 only, like the fast reader
	stk := g.stk
	if !stk.openCodedDone {
		// Once per distinct stack: which of its frames have open-coded
		// defers.
		for k, ph := range stk.phys {
			if ph.entry == 0 {
				continue
			}
			if fi := t.funcInfo(p, ph.entry); fi.openCoded {
				stk.openCoded = append(stk.openCoded, shapeDefer{k, fi})
			}
		}
		stk.openCodedDone = true
	}
	var out []openDefer
	for _, sd := range stk.openCoded {
		ph, fi := stk.phys[sd.phys], sd.fi
		cfa := uint64(int64(g.regs.hi) + ph.cfaOff)
		if cfa == 0 {
			continue
		}
		varp := cfa - 2*ps
		at := varp - fi.deferBitsOff
		w, ok := sr.word(at &^ 7)
		if !ok {
			return
		}
		bits := byte(w >> (8 * (at & 7)))
		for slot := uint64(0); slot < 8; slot++ {
			if bits&(1<<slot) == 0 {
				continue
			}
			a := varp - fi.slotsOff + slot*ps
			if a%8 != 0 {
				return
			}
			closure, ok := sr.word(a)
			if !ok {
				return
			}
			if closure == 0 {
				continue
			}
			od := openDefer{index: ph.index, closure: closure}
			if closure >= sr.base && closure+32 <= sr.hi && closure%8 == 0 {
				od.onStack = true
				for k := range od.words {
					if od.words[k], ok = sr.word(closure + uint64(k)*8); !ok {
						od.onStack = false
						break
					}
				}
			}
			out = append(out, od)
		}
	}
	g.openDefers, g.openDefersOK = out, true
}

// deferRecords reads g._defer, the runtime's list of defers that were not
// open-coded (defers in loops, functions with many defers).
func (t *Target) deferRecords(p *deferTab, g *G, phys []physFrame) []PendingDefer {
	dl, err := loadStruct(t.bi, "runtime._defer")
	if err != nil {
		return nil
	}
	head := g.regs.deferHead
	if head == 0 {
		return nil
	}
	fnF, linkF, spF := dl.Field("fn"), dl.Field("link"), dl.Field("sp")
	var out []PendingDefer
	for d, n := head, 0; d != 0 && n < 10_000; n++ {
		buf, err := t.read(d, int(dl.Size))
		if err != nil {
			break
		}
		closure := get(buf, fnF)
		sp := get(buf, spF)
		if closure != 0 {
			if pd, ok := t.decodeClosure(p, closure); ok {
				pd.Frame = -1
				for _, f := range phys {
					if f.CFA > sp {
						pd.Frame = f.Index
						break
					}
				}
				out = append(out, pd)
			}
		}
		d = get(buf, linkF)
	}
	return out
}

// decodeClosure reads a func() value: the code pointer and the captured
// words, and works out whether calling it unlocks a sync lock.
func (t *Target) decodeClosure(p *deferTab, closure uint64) (PendingDefer, bool) {
	if c, ok := t.snap.closures[closure]; ok {
		// Many goroutines defer the same static closure; Captured is
		// shared and read only.
		return c.d, c.ok
	}
	d, ok := t.decodeClosure1(p, closure)
	if t.snap.closures == nil {
		t.snap.closures = map[uint64]cachedClosure{}
	}
	t.snap.closures[closure] = cachedClosure{d, ok}
	return d, ok
}

type cachedClosure struct {
	d  PendingDefer
	ok bool
}

func (t *Target) decodeClosure1(p *deferTab, closure uint64) (PendingDefer, bool) {
	raw, err := t.read(closure, 4*8)
	if err != nil {
		return PendingDefer{}, false
	}
	var words [4]uint64
	for i := range words {
		words[i] = decodeUint(raw[i*8 : i*8+8])
	}
	return t.decodeClosureWords(p, words)
}

// decodeClosureWords decodes a func value from its first four words.
func (t *Target) decodeClosureWords(p *deferTab, words [4]uint64) (PendingDefer, bool) {
	pc := words[0]
	fn := t.bi.PCToFunc(pc)
	if fn == nil {
		return PendingDefer{}, false
	}
	d := PendingDefer{Func: fn.Name}
	fl, ok := p.entryLines[fn.Entry]
	if !ok {
		fl.file, fl.line, _ = t.pcToLine(fn.Entry)
		if p.entryLines == nil {
			p.entryLines = map[uint64]fileLine{}
		}
		p.entryLines[fn.Entry] = fl
	}
	d.File, d.Line = fl.file, fl.line
	d.Captured = append(d.Captured, words[1:]...)
	d.Unlock = t.unlockKind(p, fn)
	return d, true
}

// unlockKinds names the functions whose call releases a lock.
var unlockKinds = map[string]UnlockKind{
	"sync.(*Mutex).Unlock":              UnlockMutex,
	"sync.(*Mutex).unlockSlow":          UnlockMutex,
	"internal/sync.(*Mutex).Unlock":     UnlockMutex,
	"internal/sync.(*Mutex).unlockSlow": UnlockMutex,
	"sync.(*RWMutex).Unlock":            UnlockRWWrite,
	"sync.(*RWMutex).RUnlock":           UnlockRWRead,
	"sync.(*RWMutex).rUnlockSlow":       UnlockRWRead,
}

// unlockKind decides what a deferred function releases: a method value
// ("sync.(*Mutex).Unlock-fm") says so in its name; a compiler deferwrap
// closure is disassembled to see which unlock it calls (Unlock itself may be
// inlined, leaving a call to unlockSlow).
func (t *Target) unlockKind(p *deferTab, fn *proc.Function) UnlockKind {
	if k, ok := p.unlocks[fn.Entry]; ok {
		return k
	}
	k := NotUnlock
	if base, ok := strings.CutSuffix(fn.Name, "-fm"); ok {
		k = unlockKinds[base]
	} else if t.t == nil {
		k = t.unlockKindRaw(fn)
	} else if fn.End > fn.Entry && fn.End-fn.Entry < 4096 {
		insts, err := proc.Disassemble(t.mem, nil, t.t.Breakpoints(), t.bi, fn.Entry, fn.End)
		if err == nil {
			for _, in := range insts {
				if in.Kind != proc.CallInstruction {
					continue
				}
				if in.DestLoc == nil || in.DestLoc.Fn == nil {
					if k == NotUnlock && strings.Contains(fn.Name, "deferwrap") {
						k = UnlockUnsure
					}
					continue
				}
				if uk, ok := unlockKinds[in.DestLoc.Fn.Name]; ok {
					k = uk
					break
				}
			}
		}
	}
	p.unlocks[fn.Entry] = k
	return k
}

// unlockKindRaw is unlockKind for a raw target, without Delve's
// disassembler (which resolves every instruction's line through caches that
// are not safe beside Delve): the direct calls of the deferred function are
// decoded and their targets looked up by address.
func (t *Target) unlockKindRaw(fn *proc.Function) UnlockKind {
	k := NotUnlock
	t.eachCall(fn, func(dst *proc.Function, direct bool) bool {
		if !direct {
			if k == NotUnlock && strings.Contains(fn.Name, "deferwrap") {
				k = UnlockUnsure
			}
		} else if dst != nil {
			if uk, ok := unlockKinds[dst.Name]; ok {
				k = uk
				return false
			}
		}
		return true
	})
	return k
}
