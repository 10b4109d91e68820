package target

// The Delve fallback: Delve's view of a goroutine and its frames, for the
// goroutines the fast unwinder leaves to Delve and for EvalScopes.

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/op"
	"github.com/go-delve/delve/pkg/proc"
)

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
