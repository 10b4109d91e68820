package target

import (
	"reflect"
	"sort"
	"strings"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/proc"
)

// ContainerOf looks at the arguments and locals of one frame of g for a
// variable that is, points to, or contains the object at addr, and names it
// by type and field: "main.Store.mu" for a *Store whose mu field is at addr,
// or "main.mu" style for a variable that is the object itself. It returns ""
// when no variable of that frame covers addr (or optimized code dropped
// them).
//
// Delve lists a frame's variables once per PC (frameVarsAt); each call then
// only reads the pointer variables' values from g's frame.
func (t *Target) ContainerOf(g *G, frame int, addr uint64) string {
	fv := t.frameVarsAt(g, frame)
	if fv == nil {
		return t.askDelve(g, frame, addr)
	}
	cfa := int64(g.FrameCFA(frame))
	for _, v := range fv.vars {
		loc := v.addr
		if v.inFrame {
			loc = uint64(cfa + v.slot)
		}
		if v.ptr != nil {
			base, err := t.varWord(loc)
			if err != nil || base == 0 {
				continue
			}
			if name, ok := fieldAt(v.ptr, base, addr); ok {
				return name
			}
			continue
		}
		if name, ok := fieldAt(v.typ, loc, addr); ok {
			return name
		}
	}
	if fv.partial {
		return t.askDelve(g, frame, addr)
	}
	return ""
}

// delveMissLimit is how many times Delve may fail to name an object from
// frames at one PC in a snapshot before it is no longer asked there: its
// scope evaluation costs hundreds of µs, the same variables are in scope at
// the same PC, and a mixed 10,000-goroutine process spent 28 ms of its
// pause asking again.
const delveMissLimit = 8

// askDelve is containerOfDelve, skipped at PCs where it keeps failing.
func (t *Target) askDelve(g *G, frame int, addr uint64) string {
	key, ok := t.exprKey(g, frame, "", false)
	if ok && t.snap.delveMisses[key] >= delveMissLimit {
		return ""
	}
	name := t.containerOfDelve(g, frame, addr)
	if name == "" && ok {
		if t.snap.delveMisses == nil {
			t.snap.delveMisses = map[varKey]int{}
		}
		t.snap.delveMisses[key]++
	}
	return name
}

// frameVars are a frame's variables at one PC, located for every goroutine.
type frameVars struct {
	vars []frameVar
	// partial: some variables could not be located that way (in
	// registers, escaped): Delve is asked when these ones do not match.
	partial bool
}

type frameVar struct {
	inFrame bool
	slot    int64  // from the CFA, when inFrame
	addr    uint64 // otherwise (a package variable)
	typ     godwarf.Type
	ptr     godwarf.Type // the pointed-to type of a pointer variable
}

// frameVarsAt lists the variables of g's frame with Delve once per PC; nil
// when the frame is not one the fast reader unwound.
func (t *Target) frameVarsAt(g *G, frame int) *frameVars {
	key, ok := t.exprKey(g, frame, "", false)
	if !ok {
		return nil
	}
	u := t.unwinder()
	if fv, ok := u.frameVars[key]; ok {
		return fv
	}
	fv := &frameVars{}
	u.frameVars[key] = fv
	sc, err := t.scope(g, frame)
	if err != nil {
		return fv
	}
	cfa := int64(g.FrameCFA(frame))
	for _, v := range t.scopeVars(sc) {
		if v == nil || v.Unreadable != nil || v.RealType == nil {
			continue
		}
		if v.Addr == 0 || v.Flags&(proc.VariableFakeAddress|proc.VariableCPURegister|proc.VariableEscaped) != 0 {
			fv.partial = true
			continue
		}
		var loc frameVar
		switch {
		case v.Addr >= g.regs.lo && v.Addr < g.regs.hi:
			loc.inFrame, loc.slot = true, int64(v.Addr)-cfa
		case t.isGlobalAddr(v.Addr):
			loc.addr = v.Addr
		default:
			fv.partial = true
			continue
		}
		loc.typ = v.RealType
		if v.Kind == reflect.Ptr {
			pt, ok := resolve(v.RealType).(*godwarf.PtrType)
			if !ok {
				continue
			}
			loc.ptr = pt.Type
		}
		fv.vars = append(fv.vars, loc)
	}
	return fv
}

// scopeVars are a scope's arguments then locals, values not loaded.
func (t *Target) scopeVars(sc *proc.EvalScope) []*proc.Variable {
	cfg := proc.LoadConfig{MaxStringLen: 0, MaxArrayValues: 0, MaxStructFields: -1, MaxVariableRecurse: 0}
	var vars []*proc.Variable
	if args, err := sc.FunctionArguments(cfg); err == nil {
		vars = append(vars, args...)
	}
	if locals, err := sc.LocalVariables(cfg); err == nil {
		vars = append(vars, locals...)
	}
	return vars
}

// containerOfDelve is ContainerOf through Delve's evaluation of the frame.
func (t *Target) containerOfDelve(g *G, frame int, addr uint64) string {
	sc, err := t.scope(g, frame)
	if err != nil {
		return ""
	}
	for _, v := range t.scopeVars(sc) {
		if v == nil || v.Unreadable != nil || v.RealType == nil {
			continue
		}
		if v.Kind == reflect.Ptr && len(v.Children) == 1 {
			pt, ok := resolve(v.RealType).(*godwarf.PtrType)
			if !ok {
				continue
			}
			base := v.Children[0].Addr
			if name, ok := fieldAt(pt.Type, base, addr); ok {
				return name
			}
			continue
		}
		if v.Addr != 0 {
			if name, ok := fieldAt(v.RealType, v.Addr, addr); ok {
				return name
			}
		}
	}
	return ""
}

// fieldAt names the field of an object of type typ at base that starts at
// addr, descending into nested structs: "main.Store.mu", "main.Pair.a.mu".
// A sync type at exactly base is named by the type itself.
func fieldAt(typ godwarf.Type, base, addr uint64) (string, bool) {
	if typ == nil || addr < base || addr >= base+uint64(max(typ.Size(), 1)) {
		return "", false
	}
	name := typ.String()
	path := ""
	for {
		st, ok := resolve(typ).(*godwarf.StructType)
		if !ok || strings.HasPrefix(st.StructName, "sync.") {
			break
		}
		var next *godwarf.StructField
		for _, f := range st.Field {
			start := base + uint64(f.ByteOffset)
			if addr >= start && addr < start+uint64(max(f.Type.Size(), 1)) {
				next = f
				break
			}
		}
		if next == nil {
			break
		}
		path += "." + next.Name
		base += uint64(next.ByteOffset)
		typ = next.Type
	}
	if base != addr {
		return "", false
	}
	if path == "" {
		return name, true
	}
	return name + path, true
}

// globalSym is a data or bss symbol of the executable.
type globalSym struct {
	addr, size uint64
	name       string
}

// GlobalContaining names the package variable that contains addr, with the
// field path inside it: "main.pool.mu", or "main.poolMu". "" when addr is
// not inside a Go global.
func (t *Target) GlobalContaining(addr uint64) string {
	syms := t.userGlobals()
	i := sort.Search(len(syms), func(i int) bool { return syms[i].addr > addr }) - 1
	if i < 0 || addr >= syms[i].addr+max(syms[i].size, 1) {
		return ""
	}
	s := syms[i]
	typ, base, ok := t.globalType(s.name)
	if !ok {
		return s.name
	}
	if name, ok := fieldAt(typ, base, addr); ok {
		// fieldAt names the type; name the variable instead.
		if _, path, found := strings.Cut(name, typ.String()); found {
			return s.name + path
		}
		return s.name
	}
	return ""
}

// globalType is a package variable's type and address, evaluated by Delve
// once per target (neither changes while the process lives).
func (t *Target) globalType(name string) (godwarf.Type, uint64, bool) {
	if gt, ok := t.bin.globalTypes[name]; ok {
		return gt.typ, gt.addr, gt.typ != nil
	}
	var gt globalTypeResult
	if t.t == nil {
		return nil, 0, false // not cached: asked again of the attached target's copy
	}
	if scope, err := t.globalScope(); err == nil {
		if v, err := scope.EvalExpression(name, proc.LoadConfig{}); err == nil && v.RealType != nil {
			gt = globalTypeResult{typ: v.RealType, addr: v.Addr}
		}
	}
	if t.bin.globalTypes == nil {
		t.bin.globalTypes = map[string]globalTypeResult{}
	}
	t.bin.globalTypes[name] = gt
	return gt.typ, gt.addr, gt.typ != nil
}

type globalTypeResult struct {
	typ  godwarf.Type
	addr uint64
}

// GlobalHolding names the pointer-sized global variable whose value is p
// (a channel held in a package variable): "main.events".
func (t *Target) GlobalHolding(p uint64) string {
	if t.snap.globalVals == nil {
		// Read every pointer-sized global once per snapshot.
		t.snap.globalVals = map[uint64]string{}
		for _, s := range t.userGlobals() {
			if s.size != 8 {
				continue
			}
			if v, err := t.readPtr(s.addr); err == nil && v != 0 {
				if _, dup := t.snap.globalVals[v]; !dup {
					t.snap.globalVals[v] = s.name
				}
			}
		}
	}
	return t.snap.globalVals[p]
}
