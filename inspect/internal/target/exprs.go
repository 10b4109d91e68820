package target

import (
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/proc"
)

// Lock receivers evaluated in many goroutines' frames.
//
// Source evidence asks, for every goroutine stopped at a line that holds
// `s.mu.Lock()`, which mutex `s.mu` is in that goroutine's frame. Asking
// Delve costs an evaluation (scope, DWARF location lists, type walk) per
// goroutine. But at one PC the expression is computed the same way in every
// goroutine: the root variable sits at a fixed offset from the frame's CFA
// (Go's DWARF locations are frame-base relative) or at a package variable's
// fixed address, and each selector adds a fixed field offset or loads a
// pointer. So Delve is asked once per (PC, expression) to learn that recipe,
// which is checked against Delve's own answer; every goroutine is then a
// few batched word reads.

// ExprReq names a lock receiver expression in a frame of a goroutine.
type ExprReq struct {
	G     *G
	Frame int
	Expr  string
}

// exprRecipe computes a lock receiver's address from a frame.
type exprRecipe struct {
	ok bool
	// The root variable is at CFA+slot (inFrame) or at addr.
	inFrame bool
	slot    int64
	addr    uint64
	// steps are applied in order: add off, then load a pointer if deref.
	steps []exprStep
}

type exprStep struct {
	off   uint64
	deref bool
}

// maxExprSteps bounds the loads of one recipe.
const maxExprSteps = 8

// LockAddrs returns, for each request, the address of the Mutex or RWMutex
// that Lock would be called on for Expr in that frame: the value of a
// pointer-typed expression, the address of a struct one (or of the sync
// type it embeds). 0 when it cannot be told.
func (t *Target) LockAddrs(reqs []ExprReq) []uint64 {
	out := make([]uint64, len(reqs))
	recipes := make([]*exprRecipe, len(reqs))
	u := t.unwinder()
	for i, r := range reqs {
		key, ok := t.exprKey(r.G, r.Frame, r.Expr, true)
		if !ok {
			out[i] = t.lockAddrDelve(r)
			continue
		}
		rc, seen := u.recipes[key]
		if !seen {
			rc = t.learnRecipe(r)
			u.recipes[key] = rc
			if rc.ok {
				// Checked against Delve on this goroutine; the
				// others follow the recipe.
				recipes[i] = rc
				continue
			}
		}
		if !rc.ok {
			out[i] = t.lockAddrDelve(r)
			continue
		}
		recipes[i] = rc
	}
	// Start addresses, then each step's loads, batched across requests.
	cur := make([]uint64, len(reqs))
	for i, rc := range recipes {
		if rc == nil {
			continue
		}
		if rc.inFrame {
			if cfa := reqs[i].G.FrameCFA(reqs[i].Frame); cfa != 0 {
				cur[i] = uint64(int64(cfa) + rc.slot)
			}
		} else {
			cur[i] = rc.addr
		}
		if cur[i] == 0 {
			recipes[i] = nil
		}
	}
	for step := 0; step < maxExprSteps; step++ {
		var idx []int
		var addrs []uint64
		for i, rc := range recipes {
			if rc == nil || step >= len(rc.steps) {
				continue
			}
			cur[i] += rc.steps[step].off
			if rc.steps[step].deref {
				idx, addrs = append(idx, i), append(addrs, cur[i])
			}
		}
		if len(addrs) == 0 {
			continue
		}
		mem := make([]byte, 8*len(addrs))
		bufs, ok := make([][]byte, len(addrs)), make([]bool, len(addrs))
		for k := range addrs {
			bufs[k] = mem[k*8 : k*8+8 : k*8+8]
		}
		t.readMany(addrs, bufs, ok)
		for k, i := range idx {
			if !ok[k] || decodeUint(bufs[k]) == 0 {
				recipes[i] = nil
				continue
			}
			cur[i] = decodeUint(bufs[k])
		}
	}
	for i, rc := range recipes {
		if rc != nil {
			out[i] = cur[i]
		}
	}
	return out
}

// lockAddrDelve asks Delve: the value of a pointer expression, else its
// address.
func (t *Target) lockAddrDelve(r ExprReq) uint64 {
	// PointerVar fails for a struct-valued expression: success means a
	// pointer, whose value Lock is called on.
	if p, err := t.PointerVar(r.G, r.Frame, r.Expr); err == nil && p != 0 {
		return p
	}
	if p, err := t.PointerVar(r.G, r.Frame, "&"+r.Expr); err == nil {
		return p
	}
	return 0
}

// learnRecipe evaluates the root variable of r.Expr with Delve, walks the
// selectors over its DWARF type, and keeps the recipe if it gives what Delve
// gives for the whole expression in this frame.
func (t *Target) learnRecipe(r ExprReq) *exprRecipe {
	bad := &exprRecipe{}
	parts := strings.Split(r.Expr, ".")
	sc, err := t.scope(r.G, r.Frame)
	if err != nil {
		return bad
	}
	v, err := sc.EvalExpression(parts[0], proc.LoadConfig{})
	if err != nil || v == nil || v.Unreadable != nil || v.RealType == nil || v.Addr == 0 ||
		v.Flags&(proc.VariableFakeAddress|proc.VariableCPURegister|proc.VariableEscaped) != 0 {
		return bad
	}
	rc := &exprRecipe{}
	switch cfa := r.G.FrameCFA(r.Frame); {
	case cfa != 0 && v.Addr >= r.G.regs.lo && v.Addr+8 <= r.G.regs.hi:
		rc.inFrame, rc.slot = true, int64(v.Addr)-int64(cfa)
	case t.isGlobalAddr(v.Addr):
		rc.addr = v.Addr
	default:
		return bad
	}
	typ := v.RealType
	var off uint64
	for _, name := range parts[1:] {
		if pt, ok := resolve(typ).(*godwarf.PtrType); ok {
			rc.steps = append(rc.steps, exprStep{off: off, deref: true})
			off, typ = 0, pt.Type
		}
		st, ok := resolve(typ).(*godwarf.StructType)
		if !ok {
			return bad
		}
		foff, ftyp, ok := findField(st, name, 0)
		if !ok {
			return bad
		}
		off += foff
		typ = ftyp
	}
	// Lock's receiver: a pointer's value, or the sync type itself, or
	// the sync type a struct embeds (a promoted Lock method).
	if pt, ok := resolve(typ).(*godwarf.PtrType); ok {
		rc.steps = append(rc.steps, exprStep{off: off, deref: true})
		off, typ = 0, pt.Type
	}
	if st, ok := resolve(typ).(*godwarf.StructType); ok && !isSyncLock(st.StructName) {
		eoff, ok := embeddedLock(st, 0)
		if !ok {
			return bad
		}
		off += eoff
	}
	rc.steps = append(rc.steps, exprStep{off: off})
	if len(rc.steps) > maxExprSteps {
		return bad
	}
	rc.ok = true
	// Check it against Delve on this goroutine.
	want := t.lockAddrDelve(r)
	got := t.followRecipe(r, rc)
	if want == 0 || got != want {
		return bad
	}
	return rc
}

// followRecipe follows one recipe for one request, unbatched (learning).
func (t *Target) followRecipe(r ExprReq, rc *exprRecipe) uint64 {
	cur := rc.addr
	if rc.inFrame {
		cur = uint64(int64(r.G.FrameCFA(r.Frame)) + rc.slot)
	}
	for _, s := range rc.steps {
		cur += s.off
		if s.deref {
			p, err := t.readPtr(cur)
			if err != nil || p == 0 {
				return 0
			}
			cur = p
		}
	}
	return cur
}

func isSyncLock(name string) bool { return name == "sync.Mutex" || name == "sync.RWMutex" }

// findField finds a field by name in st, or in its embedded structs (a
// promoted field), returning its offset and type.
func findField(st *godwarf.StructType, name string, depth int) (uint64, godwarf.Type, bool) {
	for _, f := range st.Field {
		if f.Name == name {
			return uint64(f.ByteOffset), f.Type, true
		}
	}
	if depth >= 4 {
		return 0, nil, false
	}
	for _, f := range st.Field {
		if !f.Embedded {
			continue
		}
		if est, ok := resolve(f.Type).(*godwarf.StructType); ok {
			if off, typ, ok := findField(est, name, depth+1); ok {
				return uint64(f.ByteOffset) + off, typ, true
			}
		}
	}
	return 0, nil, false
}

// embeddedLock finds the sync.Mutex or RWMutex a struct embeds (by value).
func embeddedLock(st *godwarf.StructType, depth int) (uint64, bool) {
	for _, f := range st.Field {
		if !f.Embedded {
			continue
		}
		est, ok := resolve(f.Type).(*godwarf.StructType)
		if !ok {
			continue
		}
		if isSyncLock(est.StructName) {
			return uint64(f.ByteOffset), true
		}
		if depth < 4 {
			if off, ok := embeddedLock(est, depth+1); ok {
				return uint64(f.ByteOffset) + off, true
			}
		}
	}
	return 0, false
}

// isGlobalAddr reports whether addr is inside a package variable.
func (t *Target) isGlobalAddr(addr uint64) bool {
	syms := t.userGlobals()
	i := sort.Search(len(syms), func(i int) bool { return syms[i].addr > addr }) - 1
	return i >= 0 && addr < syms[i].addr+max(syms[i].size, 1)
}
