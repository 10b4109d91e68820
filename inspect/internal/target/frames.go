package target

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
)

// FrameIndex returns the index of the first frame of g running fn, or -1.
func (g *G) FrameIndex(fn string) int {
	for i, f := range g.Frames {
		if f.Func == fn {
			return i
		}
	}
	return -1
}

func (t *Target) scope(g *G, frame int) (*proc.EvalScope, error) {
	return t.evalScope(g, frame) // unwind.go
}

// PointerVar evaluates expr (a pointer-valued variable or expression such as
// "c" or "&m.sema") in the scope of frame and returns the address it holds.
// It fails when optimized code did not keep the value.
func (t *Target) PointerVar(g *G, frame int, expr string) (uint64, error) {
	key, cacheable := t.varKey(g, frame, expr)
	if cacheable {
		if err, ok := t.unwinder().varErrs[key]; ok {
			return 0, err
		}
		if off, ok := t.unwinder().varOffs[key]; ok {
			slot := uint64(int64(g.FrameCFA(frame)) + off)
			p, ok := t.snap.varVals[slot]
			var err error
			if !ok {
				p, err = t.readPtr(slot)
			}
			if err == nil && p == 0 {
				err = fmt.Errorf("%s is nil", expr)
			}
			return p, err
		}
	}
	addr, v, err := t.pointerVar(g, frame, expr)
	if err != nil && cacheable && locationError(err) {
		// The debug info has no location for the variable at this PC:
		// the same for every goroutine stopped here.
		t.unwinder().varErrs[key] = err
	}
	if err == nil && cacheable && v != nil && v.Flags&(proc.VariableFakeAddress|proc.VariableCPURegister) == 0 &&
		v.Addr >= g.regs.lo && v.Addr+8 <= g.regs.hi {
		// The variable lives in the frame: at this PC it is at the same
		// offset from the CFA in every goroutine (Go's DWARF locations
		// are frame-base relative). Check once, then read it directly.
		off := int64(v.Addr) - int64(g.FrameCFA(frame))
		if p, err := t.readPtr(v.Addr); err == nil && p == addr {
			t.unwinder().varOffs[key] = off
		}
	}
	return addr, err
}

// varKey identifies a variable of a frame for PointerVar's cache: the
// frame's PC, whether it is the innermost frame (its scope PC differs), the
// expression. Only plain names in frames the fast reader unwound.
func (t *Target) varKey(g *G, frame int, expr string) (varKey, bool) {
	return t.exprKey(g, frame, expr, false)
}

// exprKey is varKey that also takes selector expressions ("s.mu") when
// dots is set.
func (t *Target) exprKey(g *G, frame int, expr string, dots bool) (varKey, bool) {
	if g.stk == nil || frame < 0 || frame >= len(g.Frames) || g.FrameCFA(frame) == 0 {
		return varKey{}, false
	}
	for _, c := range expr {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || dots && c == '.') {
			return varKey{}, false
		}
	}
	return varKey{pc: g.Frames[frame].PC, top: frame <= g.stk.phys[0].index, inlined: g.Frames[frame].Inlined, fn: g.Frames[frame].Func, expr: expr}, true
}

// varKey is PointerVar's cache key.
type varKey struct {
	pc           uint64
	top, inlined bool
	fn, expr     string
}

func (t *Target) pointerVar(g *G, frame int, expr string) (uint64, *proc.Variable, error) {
	sc, err := t.scope(g, frame)
	if err != nil {
		return 0, nil, err
	}
	v, err := sc.EvalExpression(expr, proc.LoadConfig{})
	if err != nil {
		return 0, nil, err
	}
	if v.Unreadable != nil {
		return 0, nil, v.Unreadable
	}
	switch v.Kind {
	case reflect.Ptr, reflect.UnsafePointer:
		if len(v.Children) > 0 && v.Children[0].Addr != 0 {
			return v.Children[0].Addr, v, nil
		}
		if v.Base != 0 {
			return v.Base, v, nil
		}
	}
	return 0, nil, fmt.Errorf("%s is not a readable pointer (%s)", expr, v.Kind)
}

// locationError reports whether err says the debug info does not locate a
// variable at a PC (rather than, say, that memory could not be read).
func locationError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "could not find loclist entry") || strings.Contains(msg, "optimized out")
}

// VarReq names a pointer variable of a goroutine's frame, for PrefetchVars.
type VarReq struct {
	G     *G
	Frame int
	Expr  string
}

// PrefetchVars reads the variables PointerVar is about to be asked for in
// one batch of reads (rather than a system call each): those at a known
// offset from their frame's CFA, after one Delve evaluation per PC.
func (t *Target) PrefetchVars(reqs []VarReq) {
	u := t.unwinder()
	var slots []uint64
	for _, r := range reqs {
		key, ok := t.varKey(r.G, r.Frame, r.Expr)
		if !ok {
			continue
		}
		if _, bad := u.varErrs[key]; bad {
			continue
		}
		off, ok := u.varOffs[key]
		if !ok {
			_, _ = t.PointerVar(r.G, r.Frame, r.Expr) // learns the offset
			if off, ok = u.varOffs[key]; !ok {
				continue
			}
		}
		slots = append(slots, uint64(int64(r.G.FrameCFA(r.Frame))+off))
	}
	t.prefetchWords(slots)
}

// FrameReq names a frame of a goroutine, for PrefetchFrameVars.
type FrameReq struct {
	G     *G
	Frame int
}

// PrefetchFrameVars reads, in one batch, the pointer variables kept in the
// frames ContainerOf and FieldHolding are about to look at (a system call
// each otherwise: naming 50,000 resources took 100 ms of them). The
// frames' variables are listed once per PC (frameVarsAt).
func (t *Target) PrefetchFrameVars(reqs []FrameReq) {
	var slots []uint64
	for _, r := range reqs {
		fv := t.frameVarsAt(r.G, r.Frame)
		if fv == nil {
			continue
		}
		cfa := int64(r.G.FrameCFA(r.Frame))
		for _, v := range fv.vars {
			if v.inFrame && v.ptr != nil {
				slots = append(slots, uint64(cfa+v.slot))
			}
		}
	}
	t.prefetchWords(slots)
}

// prefetchWords reads the words at slots into varVals, in one batch.
func (t *Target) prefetchWords(slots []uint64) {
	if len(slots) == 0 {
		return
	}
	mem := make([]byte, 8*len(slots))
	bufs, ok := make([][]byte, len(slots)), make([]bool, len(slots))
	for i := range slots {
		bufs[i] = mem[i*8 : i*8+8 : i*8+8]
	}
	t.readMany(slots, bufs, ok)
	if t.snap.varVals == nil {
		t.snap.varVals = map[uint64]uint64{}
	}
	for i, slot := range slots {
		if ok[i] {
			t.snap.varVals[slot] = decodeUint(bufs[i])
		}
	}
}

// varWord is the pointer word at slot of a stack: as prefetched, or read.
func (t *Target) varWord(slot uint64) (uint64, error) {
	if p, ok := t.snap.varVals[slot]; ok {
		return p, nil
	}
	return t.readPtr(slot)
}

// FrameWords reads the words of frame i's part of g's stack — from the
// inner frame's CFA (the goroutine's SP for the innermost) up to the
// frame's own CFA plus extra bytes (its register arguments' spill slots
// are above it, in the caller's frame) — at most 4 KiB.
func (t *Target) FrameWords(g *G, frame int, extra uint64) ([]uint64, error) {
	phys := g.physicalFrames()
	lo, hi := uint64(0), uint64(0)
	for k, p := range phys {
		if p.Index < frame {
			continue
		}
		hi = p.CFA + extra
		if k > 0 {
			lo = phys[k-1].CFA
		} else {
			_, lo, _, _ = g.startRegs()
		}
		break
	}
	hi = min(hi, g.regs.hi)
	if lo == 0 || hi <= lo || hi-lo > 4096 {
		return nil, fmt.Errorf("frame %d of goroutine %d is not on a stack read", frame, g.ID)
	}
	lo &^= 7
	b, err := t.read(lo, int(hi-lo))
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(b)/8)
	for i := range out {
		out[i] = decodeUint(b[8*i : 8*i+8])
	}
	return out, nil
}
