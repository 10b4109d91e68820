package target

// The fast stack reader.
//
// Delve's GoroutinesInfo builds a Delve variable per goroutine and its
// GoroutineStacktrace evaluates DWARF (CFI, frame base, closure pointer) per
// frame; at 10,000 goroutines that is seconds and gigabytes. Parked
// goroutines do not need any of it: the runtime saved pc, sp and bp in
// g.sched, Go code keeps frame pointers on amd64, and the runtime's own
// function table (pclntab, in target memory) gives each function's frame size
// (pcsp) and inlining (FUNCDATA_InlTree + PCDATA_InlTreeIndex). So for each
// goroutine this reader does one bulk read of its stack and follows the frame
// pointer chain, checking every frame against pcsp; each distinct PC is
// symbolized once; goroutines with identical stacks share one frame slice.
//
// Whatever it cannot do exactly as Delve would, it leaves to Delve:
// goroutines running on a thread (their registers are live), goroutines whose
// chain does not check out (frameless or assembly frames, async preemption,
// signal frames, corrupt stacks), and targets whose runtime tables it does
// not understand (non-amd64, unknown pclntab layout).

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
)

// stackShape is one distinct unwound stack. Goroutines whose stacks have the
// same PCs at the same offsets from their stack top share it, so G.Frames of
// different goroutines may be the same slice: it must not be modified.
type stackShape struct {
	frames    []Frame // what G.Frames is, cap == len
	phys      []physInfo
	truncated bool
	pcs       []uint64 // physical frame PCs, to tell shapes apart
	next      *stackShape
	// openCoded lists the physical frames whose functions have open-coded
	// defers (scanOpenDefers), computed once per shape.
	openCoded     []shapeDefer
	openCodedDone bool
	// mask is where the shape's live pointers are (stackmaps.go), nil
	// when its stacks are scanned conservatively.
	mask     *stackMask
	maskDone bool
}

// shapeDefer is a frame of a shape with open-coded defers.
type shapeDefer struct {
	phys int // index in stackShape.phys
	fi   *funcInfo
}

// physInfo is one physical (non-inlined) frame of a shape.
type physInfo struct {
	index  int    // in frames
	entry  uint64 // function entry
	cfaOff int64  // CFA minus g.stack.hi
	// wrapper: a compiler wrapper, whose own frame is not in frames
	// (index is the last frame before it: its inlined callees, if any).
	wrapper bool
}

// physFrame is one physical (non-inlined) frame of a goroutine: what code
// that reads a frame's locals from raw memory (defers) needs.
type physFrame struct {
	// Index is the frame's index in G.Frames; the inlined frames of the
	// same function, if any, come right before it.
	Index int
	// Entry is the function's entry PC, 0 when the function is unknown.
	Entry uint64
	// CFA is the canonical frame address: the caller's SP, just above the
	// return address (amd64). 0 when unknown.
	CFA uint64
}

// physicalFrames lists g's physical frames, innermost first.
func (g *G) physicalFrames() []physFrame {
	if g.stk != nil {
		out := make([]physFrame, 0, len(g.stk.phys))
		for _, p := range g.stk.phys {
			if !p.wrapper {
				out = append(out, physFrame{Index: p.index, Entry: p.entry, CFA: uint64(int64(g.regs.hi) + p.cfaOff)})
			}
		}
		return out
	}
	var out []physFrame
	for i, f := range g.frames {
		if f.Inlined {
			continue
		}
		p := physFrame{Index: i, CFA: uint64(f.Regs.CFA)}
		if f.Call.Fn != nil {
			p.Entry = f.Call.Fn.Entry
		}
		out = append(out, p)
	}
	return out
}

// FrameCFA is the CFA of frame i of g.Frames (for an inlined frame, that of
// the function it is inlined into), 0 when unknown.
func (g *G) FrameCFA(i int) uint64 {
	if i < 0 || i >= len(g.Frames) {
		return 0
	}
	if g.stk != nil {
		for _, p := range g.stk.phys {
			if p.index >= i {
				return uint64(int64(g.regs.hi) + p.cfaOff)
			}
		}
		return 0
	}
	if i < len(g.frames) {
		return uint64(g.frames[i].Regs.CFA)
	}
	return 0
}

// ---- the unwinder ----

// pcSym is a symbolized PC: the frames it stands for (inlined calls first,
// then the physical function) and how to step over its frame.
type pcSym struct {
	frames  []Frame
	entry   uint64
	spdelta int64 // bytes the function has pushed below its return address at this PC
	bottom  bool  // runtime.goexit: the end of a goroutine stack
	bad     bool  // leave the goroutine to Delve
	wrapper bool  // a compiler wrapper: no frame of its own in frames
}

type unwinder struct {
	ok     bool   // the fast path can be used
	reason string // why not, for tests

	// The function table (pclntab.go), shared with the open-coded defer
	// reader; nil when it could not be read.
	*pclntab

	ptrSize                       uint64
	stackMaps                     bool // frames' pointer maps can be used (stackmaps.go)
	icSize, icNameOff, icParentPc int64

	syms     map[uint64]*pcSym // by pc, high bit set for a top frame
	startFns map[uint64]string // by g.startpc
	shapes   map[uint64]*stackShape
	// prevShapes are the previous snapshot's, for reuse by a refresh.
	prevShapes map[uint64]*stackShape
	labelsLay  *labelsLayout
	symCache   [4096]struct {
		key uint64
		sym *pcSym
	}
	vars   map[string]uint64    // package variable addresses (and constants)
	ranges map[string][2]uint64 // package variable extents (VarRange)
	// varOffs are frame variables' offsets from the CFA, by PC (PointerVar).
	varOffs map[varKey]int64
	varErrs map[varKey]error // variables the debug info does not locate
	// recipes compute lock receiver expressions by PC (LockAddrs).
	recipes map[varKey]*exprRecipe
	// frameVars are frames' variables by PC (ContainerOf).
	frameVars map[varKey]*frameVars
	// frameMaps are frames' pointer maps by PC, the top bit set for an
	// innermost frame (stackmaps.go).
	frameMaps map[uint64]*frameMap
	// stackBufs are fastStacks' batch buffers, kept between snapshots.
	stackBufs [][]byte
	// readBuf is readEach's buffer, kept between snapshots.
	readBuf []byte

	// arena hands out new shapes' slices.
	arena shapeArena

	// scratch, reused per goroutine
	scratchP []uint64
	scratchC []int64
	scratchS []*pcSym
}

// unwinder returns the target's unwinder, setting it up on first use.
func (t *Target) unwinder() *unwinder {
	if t.bin.unw != nil {
		return t.bin.unw
	}
	u := &unwinder{
		// An empty table until init reads the target's (all lookups
		// fail).
		pclntab:  &pclntab{pages: map[uint64][]byte{}, funcs: map[uint64]*fnMeta{}, strs: map[uint64]string{}},
		syms:     map[uint64]*pcSym{},
		startFns: map[uint64]string{},
		shapes:   map[uint64]*stackShape{},
		vars:     map[string]uint64{},
		ranges:   map[string][2]uint64{},
		varOffs:  map[varKey]int64{},
		varErrs:  map[varKey]error{},
		recipes:  map[varKey]*exprRecipe{},

		frameVars: map[varKey]*frameVars{},
		frameMaps: map[uint64]*frameMap{},
	}
	t.bin.unw = u
	if err := u.init(t); err != nil {
		u.reason = err.Error()
	} else {
		u.ok = true
	}
	return u
}

func (u *unwinder) init(t *Target) error {
	if t.bi.Arch.Name != "amd64" {
		return fmt.Errorf("frame pointer unwinding is only implemented for amd64, not %s", t.bi.Arch.Name)
	}
	l := t.lay
	for _, f := range []field{l.gSchedPC, l.gSchedSP, l.gSchedBP, l.gStackLo, l.gStackHi} {
		if !f.OK {
			return fmt.Errorf("runtime.g has no field %s", f.Name)
		}
	}
	u.ptrSize = uint64(t.bi.Arch.PtrSize())
	p, err := t.functab()
	if err != nil {
		return err
	}
	if len(p.ftab) == 0 || p.gofunc == 0 || p.pctab == 0 {
		return fmt.Errorf("runtime.firstmoduledata looks wrong")
	}
	u.pclntab = p
	ic, err := loadStruct(t.bi, "runtime.inlinedCall")
	if err != nil {
		return err
	}
	fields := map[string]field{}
	for _, name := range []string{"nameOff", "parentPc"} {
		fields["inlinedCall."+name] = ic.Field(name)
	}
	for name, f := range fields {
		if !f.OK {
			return fmt.Errorf("runtime table layout not understood: no %s", name)
		}
	}
	// Stack maps are read for the releases whose tables were checked.
	if minor, ok := releaseMinor(t.GoVersion()); ok && minor >= 22 && minor <= 27 && u.fArgs >= 0 {
		u.stackMaps = true
	}
	u.icSize = ic.Size
	u.icNameOff = fields["inlinedCall.nameOff"].Off
	u.icParentPc = fields["inlinedCall.parentPc"].Off
	return nil
}

// noFastPath are functions whose frames the frame-pointer walk must not
// step over: stack switches, signal and preemption frames, and functions
// that only appear on system stacks. Delve handles them.
var noFastPath = map[string]bool{
	"runtime.asyncPreempt": true, "runtime.sigpanic": true, "runtime.sigtramp": true,
	"runtime.sigtrampgo": true, "runtime.sigreturn": true, "runtime.sigreturn__sigaction": true,
	"runtime.mcall": true, "runtime.morestack": true, "runtime.morestack_noctxt": true,
	"runtime.systemstack": true, "runtime.systemstack_switch": true,
	"runtime.cgocallback": true, "runtime.cgocallback_gofunc": true, "runtime.asmcgocall": true,
	"runtime.debugCallV2": true, "runtime.gogo": true, "runtime.rt0_go": true,
	"runtime.mstart": true, "runtime.mstart0": true, "runtime.mstart1": true,
	"runtime.goexit0": true, "runtime.goexit1": true, "crosscall2": true,
}

var badSym = &pcSym{bad: true}

// symbolize turns a frame's PC into frames exactly as Delve's stack
// iterator does: the top frame is looked up at pc, the others (return
// addresses) at pc-1, and every frame carries PC = pc. Inlined calls come
// from the runtime's inline tree; each inlined frame's file:line is the
// line table at the call site the tree records.
func (u *unwinder) symbolize(t *Target, pc uint64, top bool) *pcSym {
	key := pc
	if top {
		key |= 1 << 63
	}
	// A direct-mapped cache in front of the map: stacks revisit the same
	// few hundred PCs over and over.
	slot := &u.symCache[(key^key>>13)%uint64(len(u.symCache))]
	if slot.key == key && slot.sym != nil {
		return slot.sym
	}
	s, ok := u.syms[key]
	if !ok {
		s = u.symbolize1(t, pc, top)
		u.syms[key] = s
	}
	slot.key, slot.sym = key, s
	return s
}

func (u *unwinder) symbolize1(t *Target, pc uint64, top bool) *pcSym {
	fn := t.bi.PCToFunc(pc)
	if fn == nil || noFastPath[fn.Name] || (!top && pc == fn.Entry) {
		return badSym
	}
	m := u.funcMeta(t, fn.Entry)
	if m == nil {
		return badSym
	}
	spdelta := u.pcvalue(t, m, m.pcsp, pc)
	if spdelta < 0 {
		return badSym
	}
	s := &pcSym{entry: fn.Entry, spdelta: spdelta, bottom: fn.Name == "runtime.goexit"}
	lookup := pc
	if !top {
		lookup--
	}
	file, line, ok := u.fileLine(t, m, lookup)
	if !ok {
		var lfn *proc.Function
		file, line, lfn = t.pcToLine(lookup)
		if lfn != fn {
			return badSym
		}
	}
	if m.inlTree != 0 {
		idx := u.pcvalue(t, m, m.inlIdx, lookup)
		for n := 0; idx >= 0; n++ {
			if n > 1000 {
				return badSym
			}
			ic, ok := u.bytes(t, m.inlTree+uint64(idx)*uint64(u.icSize), int(u.icSize))
			if !ok {
				return badSym
			}
			name, ok := u.funcName(t, int32(binary.LittleEndian.Uint32(ic[u.icNameOff:])))
			if !ok {
				return badSym
			}
			s.frames = append(s.frames, Frame{Func: name, File: file, Line: line, PC: pc, Inlined: true})
			parent := fn.Entry + uint64(int64(int32(binary.LittleEndian.Uint32(ic[u.icParentPc:]))))
			if file, line, ok = u.fileLine(t, m, parent); !ok {
				var pfn *proc.Function
				file, line, pfn = t.pcToLine(parent)
				if pfn != fn {
					return badSym
				}
			}
			idx = u.pcvalue(t, m, m.inlIdx, parent)
		}
	}
	if s.wrapper = compilerWrapper(fn.Name, file); !s.wrapper {
		s.frames = append(s.frames, Frame{Func: fn.Name, File: file, Line: line, PC: pc})
	}
	return s
}

// compilerWrapper reports whether a function is one the compiler generated
// around user code — the closures behind `go f(x)` and `defer f(x)`
// (gowrapN, deferwrapN), method values (-fm) and method wrappers — which the
// runtime's own traceback leaves out. Their frames are left out of the
// stacks hangtui shows (the code they call still is shown).
func compilerWrapper(name, file string) bool {
	if file == "<autogenerated>" || strings.HasSuffix(name, "-fm") {
		return true
	}
	for _, w := range []string{".gowrap", ".deferwrap"} {
		i := strings.LastIndex(name, w)
		if i < 0 {
			continue
		}
		digits := name[i+len(w):]
		if digits == "" {
			return false
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return false
}

// startRegs is where the fast reader starts unwinding g, ok false when g
// must be left to Delve (running, or in a state it does not know).
func (g *G) startRegs() (pc, sp, bp uint64, ok bool) {
	r := &g.regs
	pc, sp, bp = r.pc, r.sp, r.bp
	switch g.Status {
	case Gwaiting, Grunnable, Gpreempted, gLeaked:
	case Gsyscall:
		// entersyscall saved the caller's registers here; g.sched may
		// have been reused since by systemstack.
		if r.syscallsp != 0 {
			pc, sp, bp = r.syscallpc, r.syscallsp, r.syscallbp
		}
	default:
		return 0, 0, 0, false
	}
	if pc == 0 || r.hi <= r.lo || sp < r.lo || sp >= r.hi || r.hi-r.lo > 1<<30 {
		return 0, 0, 0, false
	}
	return pc, sp, bp, true
}

// unwindFP walks g's frame pointer chain from pc, sp, bp, checking each
// frame against the function's frame size. It returns false, leaving g
// untouched, when anything does not check out.
func (t *Target) unwindFP(u *unwinder, g *G, pc, sp, bp uint64, sr *stackReader) bool {
	hi := g.regs.hi
	pcs, cfas, syms := u.scratchP[:0], u.scratchC[:0], u.scratchS[:0]
	defer func() { u.scratchP, u.scratchC, u.scratchS = pcs, cfas, syms }()
	nframes := 0
	bottom := false
	h := uint64(14695981039346656037)
	for top := true; ; top = false {
		s := u.symbolize(t, pc, top)
		if s.bad {
			return false
		}
		cfa := sp + uint64(s.spdelta) + u.ptrSize
		if cfa > hi || cfa <= sp {
			return false
		}
		pcs, cfas, syms = append(pcs, pc), append(cfas, int64(cfa)-int64(hi)), append(syms, s)
		h = (h ^ pc) * 1099511628211
		h = (h ^ (cfa - hi)) * 1099511628211
		nframes += len(s.frames)
		if s.bottom {
			bottom = true
			break
		}
		// Every frame above goexit must have pushed a frame pointer just
		// below its return address; anything else (frameless or
		// assembly frames, a clobbered bp) is Delve's job.
		if bp+2*u.ptrSize != cfa {
			return false
		}
		if nframes > MaxFrames {
			break
		}
		ret, ok1 := sr.word(cfa - u.ptrSize)
		nbp, ok2 := sr.word(bp)
		if !ok1 || !ok2 || ret == 0 {
			return false
		}
		pc, sp, bp = ret, cfa, nbp
	}
	if !bottom {
		h ^= 1
	}
	g.stk = u.shape(h, pcs, cfas, syms, !bottom)
	if !g.stk.maskDone {
		g.stk.maskDone = true
		if u.stackMaps && preciseScanning() {
			g.stk.mask = u.buildMask(t, g.stk, syms)
		}
	}
	g.Frames = g.stk.frames
	g.Truncated = g.stk.truncated
	return true
}

// shapeArena hands out the slices of new stack shapes from shared blocks:
// an allocation per block instead of three per shape. A snapshot of 10,000
// goroutines with varied stacks makes 5,700 shapes of 70 frames; their
// allocation was a fifth of reading the stacks. A block lives as long as
// any shape cut from it (a refresh reuses the shapes it sees again).
type shapeArena struct {
	frames []Frame
	phys   []physInfo
	pcs    []uint64
}

// shapeArenaBlock is how many frames (and physical frames) a block holds.
const shapeArenaBlock = 4096

// alloc returns an empty frame slice with room for nf frames, and nphys
// physical frames and PCs; every slice's capacity is its own.
func (a *shapeArena) alloc(nf, nphys int) ([]Frame, []physInfo, []uint64) {
	if len(a.frames) < nf {
		a.frames = make([]Frame, max(nf, shapeArenaBlock))
	}
	if len(a.phys) < nphys {
		a.phys = make([]physInfo, max(nphys, shapeArenaBlock))
	}
	if len(a.pcs) < nphys {
		a.pcs = make([]uint64, max(nphys, shapeArenaBlock))
	}
	frames := a.frames[:0:nf]
	phys := a.phys[:nphys:nphys]
	pcs := a.pcs[:nphys:nphys]
	a.frames, a.phys, a.pcs = a.frames[nf:], a.phys[nphys:], a.pcs[nphys:]
	return frames, phys, pcs
}

// shape returns the shared stackShape for an unwound stack.
func (u *unwinder) shape(h uint64, pcs []uint64, cfas []int64, syms []*pcSym, truncated bool) *stackShape {
	head := u.shapes[h]
find:
	for s := head; s != nil; s = s.next {
		if s.truncated != truncated || len(s.pcs) != len(pcs) {
			continue
		}
		for i := range pcs {
			if s.pcs[i] != pcs[i] || s.phys[i].cfaOff != cfas[i] {
				continue find
			}
		}
		return s
	}
	// Seen in the previous snapshot: reuse it (its frames are shared
	// read-only by that snapshot's model too).
	for s := u.prevShapes[h]; s != nil; s = s.next {
		if s.truncated != truncated || len(s.pcs) != len(pcs) {
			continue
		}
		same := true
		for i := range pcs {
			if s.pcs[i] != pcs[i] || s.phys[i].cfaOff != cfas[i] {
				same = false
				break
			}
		}
		if same {
			// Moved into this snapshot's table; a prev entry chained
			// behind it (a hash collision) is just rebuilt if needed.
			s.next = head
			u.shapes[h] = s
			return s
		}
	}
	n := 0
	for _, sym := range syms {
		n += len(sym.frames)
	}
	frames, phys, spcs := u.arena.alloc(n, len(syms))
	copy(spcs, pcs)
	s := &stackShape{
		frames:    frames,
		phys:      phys,
		pcs:       spcs,
		truncated: truncated,
		next:      head,
	}
	for i, sym := range syms {
		s.frames = append(s.frames, sym.frames...)
		s.phys[i] = physInfo{index: len(s.frames) - 1, entry: sym.entry, cfaOff: cfas[i], wrapper: sym.wrapper}
	}
	u.shapes[h] = s
	return s
}
