package target

import (
	"fmt"
	"go/constant"
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
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
	var warnings []string
	raws, err := t.readAllG()
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
	sliceAddr, err := t.varAddr("runtime.allgs")
	if err != nil {
		return nil, fmt.Errorf("reading runtime.allgs: %w", err)
	}
	ptr, err := t.readPtr(sliceAddr)
	if err != nil {
		return nil, err
	}
	n, err := t.readPtr(sliceAddr + uint64(t.bi.Arch.PtrSize()))
	if err != nil {
		return nil, err
	}
	if n > 50_000_000 {
		return nil, fmt.Errorf("runtime.allgs has implausible length %d", n)
	}
	ps := uint64(t.bi.Arch.PtrSize())
	ptrs, err := t.read(ptr, int(n*ps))
	if err != nil && n > 0 {
		return nil, err
	}
	l := t.lay
	out := make([]*G, 0, n)
	addrs, idxs := make([]uint64, 0, n), make([]int, 0, n)
	for i := uint64(0); i < n; i++ {
		if addr := decodeUint(ptrs[i*ps : (i+1)*ps]); addr != 0 {
			addrs, idxs = append(addrs, addr), append(idxs, int(i))
		}
	}
	var slab []G // Gs are allocated a chunk at a time
	t.readEach(addrs, int(l.g.Size), func(k int, buf []byte) {
		addr := addrs[k]
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
		if g.Status == Gwaiting || g.Status == Gpreempted {
			g.WaitReason = t.waitReason(g.WaitCode)
		}
		out = append(out, g)
	})
	return out, nil
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
	if f, ok := t.locs[pc]; ok {
		return f, f.Func != ""
	}
	if t.locs == nil {
		t.locs = map[uint64]Frame{}
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
	t.locs[pc] = f
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
