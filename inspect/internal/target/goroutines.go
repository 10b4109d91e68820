package target

import (
	"fmt"
	"go/constant"
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
	"golang.org/x/arch/x86/x86asm"
	"golang.org/x/sys/unix"
)

// Frame is one call frame, innermost first. Its fields are inspect.Frame's,
// in the same order: the model shares the unwinder's frame slices instead
// of copying them (inspect/build.go converts them in place).
type Frame struct {
	Func    string
	File    string
	Line    int
	Inlined bool
	PC      uint64
}

// G is a goroutine as read from runtime.g plus its unwound stack.
type G struct {
	Addr       uint64
	ID         int64
	Status     uint32 // runtime _G* status with the scan bit removed
	WaitReason string
	WaitCode   int
	// WaitSince is runtime.nanotime() when the goroutine was seen parked by
	// a GC, 0 when not recorded.
	WaitSince  int64
	Waiting    uint64 // first sudog of g.waiting
	ParentID   int64
	GoPC       uint64
	StartPC    uint64
	StartFunc  string
	Labels     map[string]string // pprof labels, nil if none; shared by goroutines with the same labels pointer: read only
	Frames     []Frame           // may be shared by goroutines with identical stacks: read only
	Truncated  bool
	OnThread   bool
	StackError string

	// dg and frames are Delve's view of the goroutine and its stack, for
	// goroutines Delve unwound (see unwind.go); dg is also made on demand
	// for an EvalScope.
	dg     *proc.G
	frames []proc.Stackframe
	// Fast stack reader state (unwind.go): allgs index, saved registers,
	// and the shared stack shape when it unwound the goroutine.
	idx  int
	regs gRegs
	stk  *stackShape
	// words are the possible heap pointers on the live stack, kept by the
	// fast reader when it read all of it (wordsOK).
	words   stackWords
	wordsOK bool
	// openDefers are the pending open-coded defers found while the stack
	// was read (openDefersOK).
	openDefers   []openDefer
	openDefersOK bool
}

// Runtime goroutine statuses (runtime2.go).
const (
	Gidle      = 0
	Grunnable  = 1
	Grunning   = 2
	Gsyscall   = 3
	Gwaiting   = 4
	Gdead      = 6
	Gcopystack = 8
	Gpreempted = 9
	gscan      = 0x1000
)

// MaxFrames bounds how deep a stack is unwound.
const MaxFrames = 256

// Goroutines reads every live goroutine with its stack. Goroutines that are
// not running are unwound by the fast reader (unwind.go); Delve unwinds the
// others.
func (t *Target) Goroutines() ([]*G, []string, error) {
	raws, warnings, err := t.readAllGWarn()
	if err != nil {
		return nil, nil, err
	}
	onThread := t.threadGoroutines()
	t.fastStacks(raws, onThread)
	out := make([]*G, 0, len(raws))
	for _, g := range raws {
		if g.Status == Gdead || g.Status == Gidle {
			continue
		}
		g.StartFunc = t.startFunc(g.StartPC)
		if dg := onThread[g.ID]; dg != nil {
			g.OnThread = true
			t.delveStack(g, dg)
		} else if g.stk == nil {
			dg, err := t.delveG(g)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("goroutine %d: Delve could not read it", g.ID))
				out = append(out, g)
				continue
			}
			t.delveStack(g, dg)
		}
		out = append(out, g)
	}
	// Labels for all at once: goroutines share label maps, and the
	// reads are batched.
	if t.StacksOnly {
		// No labels.
	} else if w := t.readLabels(out); w != "" {
		warnings = append(warnings, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, warnings, nil
}

// delveStack unwinds g with Delve. Compiler wrappers are left out, as the
// fast reader leaves them out (compilerWrapper); g.frames stays index for
// index with g.Frames.
func (t *Target) delveStack(g *G, dg *proc.G) {
	g.dg = dg
	frames, err := proc.GoroutineStacktrace(t.t, dg, MaxFrames, 0)
	if err != nil {
		g.StackError = err.Error()
	}
	if n := len(frames); n > MaxFrames && !frames[n-1].Bottom {
		g.Truncated = true
	}
	kept := frames[:0:0]
	for _, f := range frames {
		fr := Frame{File: f.Call.File, Line: f.Call.Line, PC: f.Call.PC, Inlined: f.Inlined}
		if f.Call.Fn != nil {
			fr.Func = f.Call.Fn.Name
		} else {
			fr.Func = fmt.Sprintf("?%#x", f.Call.PC)
		}
		if !f.Inlined && f.Call.Fn != nil && compilerWrapper(fr.Func, fr.File) {
			continue
		}
		g.Frames = append(g.Frames, fr)
		kept = append(kept, f)
	}
	g.frames = kept
}

// readAllG decodes every runtime.g in runtime.allgs from raw memory.
func (t *Target) readAllG() ([]*G, error) {
	gs, _, err := t.readAllGWarn()
	return gs, err
}

// readAllGWarn is readAllG, with a warning about the goroutines left out.
// The slice's length is the target's word: it is checked against the
// memory the target has before anything is sized by it, and a g that
// cannot be read is left out with a warning.
func (t *Target) readAllGWarn() ([]*G, []string, error) {
	sliceAddr, err := t.varAddr("runtime.allgs")
	if err != nil {
		return nil, nil, fmt.Errorf("reading runtime.allgs: %w", err)
	}
	ps := uint64(t.bi.Arch.PtrSize())
	hdr, err := t.read(sliceAddr, int(2*ps))
	if err != nil {
		return nil, nil, corrupt(sliceAddr, "runtime.allgs", "unreadable slice header", err)
	}
	ptr, n := decodeUint(hdr[:ps]), decodeUint(hdr[ps:])
	l := t.lay
	// Each g is a runtime.g somewhere in the target's memory.
	if n > 50_000_000 || !t.plausibleCount(n, uint64(l.g.Size)) {
		return nil, nil, corrupt(sliceAddr+ps, "runtime.allgs", fmt.Sprintf("length %d", n), nil)
	}
	ptrs, err := t.readArray(ptr, n, ps, "runtime.allgs")
	if err != nil {
		return nil, nil, err
	}
	out := make([]*G, 0, n)
	addrs, idxs := make([]uint64, 0, n), make([]int, 0, n)
	for i := uint64(0); i < n; i++ {
		if addr := decodeUint(ptrs[i*ps : (i+1)*ps]); addr != 0 {
			addrs, idxs = append(addrs, addr), append(idxs, int(i))
		}
	}
	read := make([]bool, len(addrs))
	var slab []G // Gs are allocated a chunk at a time
	t.readEach(addrs, int(l.g.Size), func(k int, buf []byte) {
		addr := addrs[k]
		read[k] = true
		if len(slab) == 0 {
			slab = make([]G, 128)
		}
		// A fresh, zeroed G: set fields one by one (a composite literal
		// would copy the whole G, through write barriers during a GC).
		g := &slab[0]
		slab = slab[1:]
		g.Addr = addr
		g.ID = int64(get(buf, l.gGoid))
		g.Status = uint32(get(buf, l.gStatus)) &^ gscan
		g.WaitCode = int(get(buf, l.gWaitReason))
		g.WaitSince = int64(get(buf, l.gWaitSince))
		g.Waiting = get(buf, l.gWaiting)
		g.ParentID = int64(get(buf, l.gParentGoid))
		g.GoPC = get(buf, l.gGoPC)
		g.StartPC = get(buf, l.gStartPC)
		g.idx = idxs[k]
		l.decodeRegs(g, buf)
		// A goroutine the runtime's goroutine leak detector caught
		// (gLeaked, until the next leak-detecting GC) is still parked
		// for its wait reason, as its traceback says.
		if g.Status == Gwaiting || g.Status == Gpreempted || g.Status == gLeaked {
			g.WaitReason = t.waitReason(g.WaitCode)
		}
		out = append(out, g)
	})
	var warnings []string
	if len(out) < len(addrs) {
		for k, ok := range read {
			if !ok {
				e := corrupt(addrs[k], "runtime.g", "unreadable", nil).withRead("%d of %d goroutines", len(out), len(addrs))
				warnings = append(warnings, fmt.Sprintf("%d goroutines of runtime.allgs left out: %v", len(addrs)-len(out), e))
				break
			}
		}
	}
	return out, warnings, nil
}

// waitReason turns a waitReason code into the runtime's own text.
func (t *Target) waitReason(code int) string {
	if code >= 0 && code < len(t.reasons) {
		return t.reasons[code]
	}
	return fmt.Sprintf("wait reason %d", code)
}

// readWaitReasons reads runtime.waitReasonStrings from the target, so that a
// Go release newer than hangtui still gets its own texts. Falls back to the
// table of the Go release hangtui was built with.
func (t *Target) readWaitReasons() []string {
	scope, err := t.globalScope()
	if err == nil {
		v, err := scope.EvalExpression("runtime.waitReasonStrings", proc.LoadConfig{MaxArrayValues: 512, MaxStringLen: 256})
		if err == nil && v.Unreadable == nil && len(v.Children) > 0 {
			out := make([]string, len(v.Children))
			for i, c := range v.Children {
				if c.Value != nil && c.Value.Kind() == constant.String {
					out[i] = constant.StringVal(c.Value)
				}
			}
			return out
		}
	}
	return fallbackWaitReasons
}

// Location resolves a PC to a frame (cached: many goroutines share their
// go statement).
func (t *Target) Location(pc uint64) (Frame, bool) {
	if pc == 0 {
		return Frame{}, false
	}
	if f, ok := t.bin.locs[pc]; ok {
		return f, f.Func != ""
	}
	if t.bin.locs == nil {
		t.bin.locs = map[uint64]Frame{}
	}
	var f Frame
	if fn := t.bi.PCToFunc(pc); fn != nil {
		// The runtime's line table when the unwinder reads it (lines.go),
		// Delve's DWARF line program otherwise: the same answer.
		file, line, ok := "", 0, false
		if u := t.unwinder(); u.ok {
			if m := u.funcMeta(t, fn.Entry); m != nil {
				file, line, ok = u.fileLine(t, m, pc)
			}
		}
		if !ok {
			file, line, _ = t.pcToLine(pc)
		}
		f = Frame{Func: fn.Name, File: file, Line: line, PC: pc}
	}
	t.bin.locs[pc] = f
	return f, f.Func != ""
}

// Nanotime is the target's runtime.nanotime() now (live targets only): Go
// reads CLOCK_MONOTONIC, which is shared by every process on the machine.
func (t *Target) Nanotime() (int64, bool) {
	if !t.live {
		return 0, false
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}

// GoVersion is the Go release that built the target, e.g. "go1.26.8".
func (t *Target) GoVersion() string {
	p := t.bi.Producer()
	if i := strings.Index(p, "go1"); i >= 0 {
		v := p[i:]
		if j := strings.IndexAny(v, " ;"); j >= 0 {
			v = v[:j]
		}
		return v
	}
	return ""
}

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

// gLeaked is Go 1.26's _Gleaked: a parked goroutine the GC found
// unreachable (GOEXPERIMENT=goroutineleakprofile).
const gLeaked = 10

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
		if strings.Contains(fn.Name, "·dwrap·") || fn.Trampoline {
			name = t.wrappedFunc(fn)
		}
	}
	u.startFns[pc] = name
	return name
}

// wrappedFunc is the function a go statement's wrapper (or a trampoline)
// calls: its first call to a function that is not the runtime's own; the
// wrapper's name when none is found.
func (t *Target) wrappedFunc(fn *proc.Function) string {
	pick := func(f *proc.Function) bool { return !privateRuntime(f.Name) }
	if callee, ok := t.directCallee(fn, pick); ok {
		if callee != nil {
			return callee.Name
		}
		return fn.Name
	}
	if t.t != nil {
		if insts, err := proc.Disassemble(t.mem, nil, t.t.Breakpoints(), t.bi, fn.Entry, fn.End); err == nil {
			for _, in := range insts {
				if in.Kind == proc.CallInstruction && in.DestLoc != nil && in.DestLoc.Fn != nil && pick(in.DestLoc.Fn) {
					return in.DestLoc.Fn.Name
				}
			}
		}
	}
	return fn.Name
}

// directCallee is the first function fn calls directly that pick
// accepts, nil if none; ok is false where fn's code is not decoded here
// (eachCall), and then Delve's disassembler is the fallback. Delve's
// resolves every instruction's source line through the DWARF line program:
// 1-2 ms per wrapper function, several per first snapshot. A call through
// a register (a closure) has no target here, nor in Delve's.
func (t *Target) directCallee(fn *proc.Function, pick func(*proc.Function) bool) (callee *proc.Function, ok bool) {
	ok = t.eachCall(fn, func(dst *proc.Function, direct bool) bool {
		if direct && dst != nil && pick(dst) {
			callee = dst
			return false
		}
		return true
	})
	return callee, ok
}

// eachCall decodes fn's code and calls visit with each CALL in order: the
// function it calls when the call is direct (a relative target) and the
// target is a known function, nil otherwise; visit returns false to stop.
// ok is false where the code is not decoded here (not amd64, unreadable,
// over 4 KB).
func (t *Target) eachCall(fn *proc.Function, visit func(dst *proc.Function, direct bool) bool) (ok bool) {
	if t.bi.Arch.Name != "amd64" || fn.End <= fn.Entry || fn.End-fn.Entry >= 4096 {
		return false
	}
	code := make([]byte, fn.End-fn.Entry)
	if _, err := t.mem.ReadMemory(code, fn.Entry); err != nil {
		return false
	}
	for pc := fn.Entry; len(code) > 0; {
		inst, err := x86asm.Decode(code, 64)
		if err != nil || inst.Len == 0 {
			break
		}
		next := pc + uint64(inst.Len)
		if inst.Op == x86asm.CALL {
			var dst *proc.Function
			rel, direct := inst.Args[0].(x86asm.Rel)
			if direct {
				dst = t.bi.PCToFunc(uint64(int64(next) + int64(rel)))
			}
			if !visit(dst, direct) {
				break
			}
		}
		code = code[inst.Len:]
		pc = next
	}
	return true
}

func privateRuntime(name string) bool {
	const n = len("runtime.")
	return len(name) > n && name[:n] == "runtime." && !('A' <= name[n] && name[n] <= 'Z')
}
