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
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/op"
	"github.com/go-delve/delve/pkg/proc"
)

// gRegs is what the unwinder needs from runtime.g besides G's own fields.
type gRegs struct {
	pc, sp, bp, lr                  uint64 // g.sched
	lo, hi                          uint64 // g.stack
	syscallpc, syscallsp, syscallbp uint64
	m                               uint64
	labels                          uint64
	deferHead                       uint64 // g._defer
	ctxt                            uint64 // g.sched.ctxt: a closure context the GC scans
	panic                           uint64 // g._panic (on the stack)
}

// decodeRegs fills g.regs from the bytes of its runtime.g.
func (l *layouts) decodeRegs(g *G, buf []byte) {
	g.regs = gRegs{
		pc: get(buf, l.gSchedPC), sp: get(buf, l.gSchedSP), bp: get(buf, l.gSchedBP), lr: get(buf, l.gSchedLR),
		lo: get(buf, l.gStackLo), hi: get(buf, l.gStackHi),
		syscallpc: get(buf, l.gSyscallPC), syscallsp: get(buf, l.gSyscallSP), syscallbp: get(buf, l.gSyscallBP),
		m:         get(buf, l.gM),
		labels:    get(buf, l.gLabels),
		deferHead: get(buf, l.gDefer),
		ctxt:      get(buf, l.gSchedCtxt),
		panic:     get(buf, l.gPanic),
	}
}

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

// fnMeta is what the unwinder reads from a function's runtime._func.
type fnMeta struct {
	entry uint64
	pcsp  uint32 // pctab offset of the SP delta table
	// pcfile and pcln are the pctab offsets of the file and line tables,
	// cuOff the function's compilation unit's first index in cutab.
	pcfile, pcln, cuOff uint32
	inlIdx              uint32 // pctab offset of PCDATA_InlTreeIndex, 0 if none
	inlTree             uint64 // address of FUNCDATA_InlTree, 0 if none
	// Pointer maps (stackmaps.go): the argument frame size (_func.args),
	// the pctab offset of PCDATA_StackMapIndex and the addresses of
	// FUNCDATA_ArgsPointerMaps, FUNCDATA_LocalsPointerMaps and
	// FUNCDATA_StackObjects (0 when absent).
	args        int32
	stackMapIdx uint32
	funcdata    [3]uint64
}

type unwinder struct {
	ok     bool   // the fast path can be used
	reason string // why not, for tests

	ptrSize                           uint64
	text, minpc, maxpc                uint64
	funcnametab, pctab, pclntable     uint64
	gofunc                            uint64
	ftab                              []uint32 // pairs entryoff, funcoff
	fEntryOff, fNameOff, fPcsp        int64
	fArgs                             int64  // _func.args, -1 when unknown
	rodata                            uint64 // moduledata.rodata: stack objects' gcdata base
	stackMaps                         bool   // frames' pointer maps can be used (stackmaps.go)
	fNpcdata, fNfuncdata, fPcdataBase int64
	icSize, icNameOff, icParentPc     int64
	// Line tables (lines.go); lines is false when the layout lacks them.
	lines                  bool
	fPcfile, fPcln, fCuOff int64
	cutab, filetab         uint64

	pages    map[uint64][]byte
	funcs    map[uint64]*fnMeta // by entry
	syms     map[uint64]*pcSym  // by pc, high bit set for a top frame
	strs     map[uint64]string  // runtime table strings by address
	startFns map[uint64]string  // by g.startpc
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

	// scratch, reused per goroutine
	scratchP []uint64
	scratchC []int64
	scratchS []*pcSym
}

const pageSize = 4096

// unwinder returns the target's unwinder, setting it up on first use.
func (t *Target) unwinder() *unwinder {
	if t.lay.unw != nil {
		return t.lay.unw
	}
	u := &unwinder{
		pages:    map[uint64][]byte{},
		funcs:    map[uint64]*fnMeta{},
		syms:     map[uint64]*pcSym{},
		strs:     map[uint64]string{},
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
	t.lay.unw = u
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
	md, err := loadStruct(t.bi, "runtime.moduledata")
	if err != nil {
		return err
	}
	fn, err := loadStruct(t.bi, "runtime._func")
	if err != nil {
		return err
	}
	ic, err := loadStruct(t.bi, "runtime.inlinedCall")
	if err != nil {
		return err
	}
	fields := map[string]field{}
	for _, name := range []string{"funcnametab.array", "pctab.array", "pclntable.array", "ftab.array", "ftab.len", "text", "minpc", "maxpc", "gofunc"} {
		fields["md."+name] = md.Field(name)
	}
	for _, name := range []string{"entryOff", "nameOff", "pcsp", "npcdata", "nfuncdata"} {
		fields["_func."+name] = fn.Field(name)
	}
	for _, name := range []string{"nameOff", "parentPc"} {
		fields["inlinedCall."+name] = ic.Field(name)
	}
	for name, f := range fields {
		if !f.OK {
			return fmt.Errorf("runtime table layout not understood: no %s", name)
		}
	}
	base, err := t.varAddr("runtime.firstmoduledata")
	if err != nil {
		return err
	}
	buf, err := t.read(base, int(md.Size))
	if err != nil {
		return err
	}
	u.funcnametab = get(buf, fields["md.funcnametab.array"])
	u.pctab = get(buf, fields["md.pctab.array"])
	u.pclntable = get(buf, fields["md.pclntable.array"])
	u.text = get(buf, fields["md.text"])
	u.minpc = get(buf, fields["md.minpc"])
	u.maxpc = get(buf, fields["md.maxpc"])
	u.gofunc = get(buf, fields["md.gofunc"])
	u.rodata = get(buf, md.Field("rodata"))
	u.fArgs = -1
	if f := fn.Field("args"); f.OK && f.Size == 4 {
		u.fArgs = f.Off
	}
	// Stack maps are read for the releases whose tables were checked.
	if minor, ok := releaseMinor(t.GoVersion()); ok && minor >= 22 && minor <= 27 && u.fArgs >= 0 {
		u.stackMaps = true
	}
	u.fEntryOff = fields["_func.entryOff"].Off
	u.fNameOff = fields["_func.nameOff"].Off
	u.fPcsp = fields["_func.pcsp"].Off
	u.fNpcdata = fields["_func.npcdata"].Off
	u.fNfuncdata = fields["_func.nfuncdata"].Off
	u.fPcdataBase = u.fNfuncdata + 1
	u.icSize = ic.Size
	u.icNameOff = fields["inlinedCall.nameOff"].Off
	u.icParentPc = fields["inlinedCall.parentPc"].Off
	u.initLines(md, fn, buf)
	ftab, n := get(buf, fields["md.ftab.array"]), get(buf, fields["md.ftab.len"])
	if n == 0 || n > 10_000_000 || u.gofunc == 0 || u.pctab == 0 {
		return fmt.Errorf("runtime.firstmoduledata looks wrong")
	}
	raw, err := t.read(ftab, int(n*8))
	if err != nil {
		return err
	}
	u.ftab = make([]uint32, 2*n)
	for i := range u.ftab {
		u.ftab[i] = binary.LittleEndian.Uint32(raw[i*4:])
	}
	return nil
}

// bytes reads n bytes of (read-only) runtime table memory through a page
// cache.
func (u *unwinder) bytes(t *Target, addr uint64, n int) ([]byte, bool) {
	out := make([]byte, 0, n)
	for n > 0 {
		page := addr &^ (pageSize - 1)
		p, ok := u.pages[page]
		if !ok {
			p = make([]byte, pageSize)
			if m, err := t.mem.ReadMemory(p, page); err != nil || m != pageSize {
				p = nil
			}
			u.pages[page] = p
		}
		if p == nil {
			return nil, false
		}
		off := int(addr - page)
		k := min(n, pageSize-off)
		out = append(out, p[off:off+k]...)
		addr += uint64(k)
		n -= k
	}
	return out, true
}

func (u *unwinder) u32(t *Target, addr uint64) (uint32, bool) {
	b, ok := u.bytes(t, addr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// funcMeta finds the runtime._func of the function starting at entry.
func (u *unwinder) funcMeta(t *Target, entry uint64) *fnMeta {
	if m, ok := u.funcs[entry]; ok {
		return m
	}
	u.funcs[entry] = nil
	if entry < u.text || entry < u.minpc || entry >= u.maxpc {
		return nil
	}
	off := uint32(entry - u.text)
	n := len(u.ftab) / 2
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if u.ftab[2*mid] < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo >= n || u.ftab[2*lo] != off {
		return nil
	}
	fn := u.pclntable + uint64(u.ftab[2*lo+1])
	hdr, ok := u.bytes(t, fn, int(u.fPcdataBase))
	if !ok || binary.LittleEndian.Uint32(hdr[u.fEntryOff:]) != off {
		return nil
	}
	m := &fnMeta{entry: entry, pcsp: binary.LittleEndian.Uint32(hdr[u.fPcsp:])}
	npcdata := uint64(binary.LittleEndian.Uint32(hdr[u.fNpcdata:]))
	nfuncdata := uint64(hdr[u.fNfuncdata])
	const pcdataInlTreeIndex, funcdataInlTree = 2, 3
	if npcdata > pcdataInlTreeIndex && nfuncdata > funcdataInlTree {
		idx, ok1 := u.u32(t, fn+uint64(u.fPcdataBase)+pcdataInlTreeIndex*4)
		tree, ok2 := u.u32(t, fn+uint64(u.fPcdataBase)+npcdata*4+funcdataInlTree*4)
		if !ok1 || !ok2 {
			return nil
		}
		if idx != 0 && tree != ^uint32(0) {
			m.inlIdx, m.inlTree = idx, u.gofunc+uint64(tree)
		}
	}
	u.readPointerMaps(t, m, fn, hdr, npcdata, nfuncdata)
	if u.lines {
		m.pcfile = binary.LittleEndian.Uint32(hdr[u.fPcfile:])
		m.pcln = binary.LittleEndian.Uint32(hdr[u.fPcln:])
		m.cuOff = binary.LittleEndian.Uint32(hdr[u.fCuOff:])
	}
	u.funcs[entry] = m
	return m
}

// pcvalue decodes the pc-value table at pctab+off for targetpc, like the
// runtime's pcvalue. It returns -1 when there is no value.
func (u *unwinder) pcvalue(t *Target, m *fnMeta, off uint32, targetpc uint64) int64 {
	if off == 0 {
		return -1
	}
	addr := u.pctab + uint64(off)
	var chunk []byte
	next := func() (byte, bool) {
		if len(chunk) == 0 {
			n := pageSize - int(addr&(pageSize-1))
			b, ok := u.bytes(t, addr, n)
			if !ok {
				return 0, false
			}
			chunk = b
			addr += uint64(n)
		}
		c := chunk[0]
		chunk = chunk[1:]
		return c, true
	}
	varint := func() (uint32, bool) {
		var v, shift uint32
		for i := 0; i < 5; i++ {
			c, ok := next()
			if !ok {
				return 0, false
			}
			v |= uint32(c&0x7f) << shift
			if c&0x80 == 0 {
				return v, true
			}
			shift += 7
		}
		return 0, false
	}
	pc := m.entry
	val := int32(-1)
	for first := true; ; first = false {
		uvdelta, ok := varint()
		if !ok || (uvdelta == 0 && !first) {
			return -1
		}
		val += int32(-(uvdelta & 1) ^ (uvdelta >> 1))
		pcdelta, ok := varint()
		if !ok {
			return -1
		}
		pc += uint64(pcdelta) // PCQuantum is 1 on amd64
		if targetpc < pc {
			return int64(val)
		}
	}
}

// funcName reads a function name from funcnametab.
func (u *unwinder) funcName(t *Target, nameOff int32) (string, bool) {
	return u.cString(t, u.funcnametab+uint64(nameOff))
}

// cString reads a NUL-terminated string (at most 64 KiB) of runtime table
// memory, once per address.
func (u *unwinder) cString(t *Target, addr uint64) (string, bool) {
	if s, ok := u.strs[addr]; ok {
		return s, s != ""
	}
	var sb strings.Builder
	for a := addr; sb.Len() < 64<<10; {
		n := pageSize - int(a&(pageSize-1))
		b, ok := u.bytes(t, a, n)
		if !ok {
			break
		}
		if i := strings.IndexByte(string(b), 0); i >= 0 {
			sb.Write(b[:i])
			u.strs[addr] = sb.String()
			return u.strs[addr], u.strs[addr] != ""
		}
		sb.Write(b)
		a += uint64(n)
	}
	u.strs[addr] = ""
	return "", false
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

// gLeaked is Go 1.26's _Gleaked: a parked goroutine the GC found
// unreachable (GOEXPERIMENT=goroutineleakprofile).
const gLeaked = 10

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
	s := &stackShape{
		frames:    make([]Frame, 0, n),
		phys:      make([]physInfo, len(syms)),
		pcs:       append([]uint64(nil), pcs...),
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

// threadGoroutines maps the goroutines that are current on a thread (their
// live registers matter; Delve unwinds them) to Delve's view of them.
func (t *Target) threadGoroutines() map[int64]*proc.G {
	out := map[int64]*proc.G{}
	if t.t == nil {
		return out // a raw target: running goroutines are not unwound
	}
	for _, th := range t.t.ThreadList() {
		if dg, _ := proc.GetG(th); dg != nil && dg.ID != 0 {
			out[dg.ID] = dg
		}
	}
	return out
}

// delveG returns Delve's view of g, made on first use: by allgs index, which
// costs one G, rather than FindGoroutine, which may parse all of them.
func (t *Target) delveG(g *G) (*proc.G, error) {
	if g.dg != nil {
		return g.dg, nil
	}
	if t.t == nil {
		return nil, errNoDelve
	}
	gs, _, err := proc.GoroutinesInfo(t.t, g.idx, 1)
	if err == nil && len(gs) == 1 && gs[0].Unreadable == nil && gs[0].ID == g.ID {
		g.dg = gs[0]
		return g.dg, nil
	}
	dg, err := proc.FindGoroutine(t.t, g.ID)
	if err != nil {
		return nil, err
	}
	if dg == nil || dg.Unreadable != nil {
		return nil, fmt.Errorf("goroutine %d: Delve could not read it", g.ID)
	}
	g.dg = dg
	return dg, nil
}

// evalScope is a Delve EvalScope for frame i of g.Frames. For a physical
// frame of a goroutine the fast reader unwound it is built directly (see
// fastFrame); otherwise Delve's G and stack are made for g.
func (t *Target) evalScope(g *G, i int) (*proc.EvalScope, error) {
	if t.t == nil {
		return nil, errNoDelve
	}
	if f, pc, ok := t.fastFrame(g, i); ok {
		sc := proc.FrameToScope(t.t, t.mem, nil, 0, f)
		sc.PC = pc
		return sc, nil
	}
	dg, frames, err := t.delveFrames(g, i)
	if err != nil {
		return nil, err
	}
	threadID := 0
	if dg.Thread != nil {
		threadID = dg.Thread.ThreadID()
	}
	return proc.FrameToScope(t.t, t.mem, dg, threadID, frames...), nil
}

// fastFrame is the Stackframe Delve's unwinder would make for physical
// frame i of a goroutine the fast reader unwound, and the PC its EvalScope
// uses (the call instruction's, below the top frame). Go keeps no
// callee-saved registers, so below the top frame all Delve knows is SP,
// BP, PC and the CFA, all of which the fast reader has. ok is false for
// inlined frames (Delve describes them with a Function only it can make),
// range-over-func bodies (their scope needs the goroutine), runtime.goexit
// and goroutines Delve unwound.
func (t *Target) fastFrame(g *G, i int) (f proc.Stackframe, scopePC uint64, ok bool) {
	if g.stk == nil || i < 0 || i >= len(g.Frames) || g.Frames[i].Inlined {
		return f, 0, false
	}
	k := -1
	for j, p := range g.stk.phys {
		if p.index == i {
			k = j
			break
		}
	}
	if k < 0 || (k == len(g.stk.phys)-1 && !g.stk.truncated) {
		// Not a physical frame, or runtime.goexit, whose BP is
		// whatever the first function saved: not worth a read.
		return f, 0, false
	}
	fr := g.Frames[i]
	fn := t.bi.PCToFunc(fr.PC)
	if fn == nil || fn.Entry != g.stk.phys[k].entry || strings.Contains(fn.Name, "-range") {
		return f, 0, false
	}
	hi := int64(g.regs.hi)
	cfa := uint64(hi + g.stk.phys[k].cfaOff)
	var sp, bp uint64
	scopePC = fr.PC - 1
	if k == 0 {
		var started bool
		_, sp, bp, started = g.startRegs()
		if !started {
			return f, 0, false
		}
		scopePC = fr.PC
	} else {
		sp = uint64(hi + g.stk.phys[k-1].cfaOff)
		bp = cfa - 2*uint64(t.bi.Arch.PtrSize())
	}
	arch := t.bi.Arch
	regs := op.NewDwarfRegisters(t.bi.PCToImage(fr.PC).StaticBase, nil, binary.LittleEndian, arch.PCRegNum, arch.SPRegNum, arch.BPRegNum, arch.LRRegNum)
	regs.AddReg(arch.PCRegNum, op.DwarfRegisterFromUint64(fr.PC))
	regs.AddReg(arch.SPRegNum, op.DwarfRegisterFromUint64(sp))
	regs.AddReg(arch.BPRegNum, op.DwarfRegisterFromUint64(bp))
	regs.CFA = int64(cfa)
	regs.FrameBase = int64(cfa) // Go's DW_AT_frame_base is DW_OP_call_frame_cfa
	cur := proc.Location{PC: fr.PC, Fn: fn}
	cur.File, cur.Line, _ = t.bi.PCToLine(fr.PC)
	f = proc.Stackframe{
		Current: cur,
		Call:    proc.Location{PC: fr.PC, File: fr.File, Line: fr.Line, Fn: fn},
		Regs:    *regs,
	}
	return f, scopePC, true
}

// delveFrames returns Delve's G and stack frames for g starting at frame i
// of g.Frames (for an EvalScope), unwinding with Delve only as deep as
// needed.
func (t *Target) delveFrames(g *G, i int) (*proc.G, []proc.Stackframe, error) {
	if i < 0 || i >= len(g.Frames) {
		return nil, nil, fmt.Errorf("goroutine %d has no frame %d", g.ID, i)
	}
	dg, err := t.delveG(g)
	if err != nil {
		return nil, nil, err
	}
	frames := g.frames
	if frames == nil {
		if frames, err = proc.GoroutineStacktrace(t.t, dg, i+1, 0); err != nil {
			return nil, nil, err
		}
	}
	same := func(j int) bool {
		if j >= len(frames) {
			return false
		}
		f := frames[j]
		return f.Call.Fn != nil && f.Call.Fn.Name == g.Frames[i].Func && f.Call.PC == g.Frames[i].PC && f.Inlined == g.Frames[i].Inlined
	}
	if same(i) {
		return dg, frames[i:], nil
	}
	// The stacks differ (they should not): find the same occurrence of the
	// same frame in Delve's full stack.
	if g.frames == nil {
		if frames, err = proc.GoroutineStacktrace(t.t, dg, MaxFrames, 0); err != nil {
			return nil, nil, err
		}
	}
	k := 0
	for j := 0; j < i; j++ {
		if g.Frames[j] == g.Frames[i] {
			k++
		}
	}
	for j := range frames {
		if same(j) {
			if k == 0 {
				return dg, frames[j:], nil
			}
			k--
		}
	}
	return nil, nil, fmt.Errorf("goroutine %d: Delve does not see frame %d (%s)", g.ID, i, g.Frames[i].Func)
}

// ---- goroutine metadata ----

// startFunc is the function a goroutine was started with, unwrapping the
// compiler's wrappers like Delve's G.StartLoc.
func (t *Target) startFunc(pc uint64) string {
	u := t.unwinder()
	if s, ok := u.startFns[pc]; ok {
		return s
	}
	var name string
	if fn := t.bi.PCToFunc(pc); fn != nil {
		name = fn.Name
		if (strings.Contains(fn.Name, "·dwrap·") || fn.Trampoline) && t.t != nil {
			if insts, err := proc.Disassemble(t.mem, nil, t.t.Breakpoints(), t.bi, fn.Entry, fn.End); err == nil {
				for _, in := range insts {
					if in.Kind == proc.CallInstruction && in.DestLoc != nil && in.DestLoc.Fn != nil && !privateRuntime(in.DestLoc.Fn.Name) {
						name = in.DestLoc.Fn.Name
						break
					}
				}
			}
		}
	}
	u.startFns[pc] = name
	return name
}

func privateRuntime(name string) bool {
	const n = len("runtime.")
	return len(name) > n && name[:n] == "runtime." && !('A' <= name[n] && name[n] <= 'Z')
}
