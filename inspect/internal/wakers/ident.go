package wakers

import (
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/ssa"
)

// Resource is an object goroutines wait on, as the code knows it: the
// objects of the value-origin analysis it may be.
type Resource struct {
	p    *Program
	kind string // "chan", "mutex", "rwmutex", "waitgroup", "cond"
	// Name is how it was identified ("main.pool.mu", "main.Store.mu",
	// "main.events", or "chan main.Event" for a channel known only by its
	// type).
	Name string
	objs map[int]bool
	// elems are the channel's possible element types (chans).
	elems []types.Type
	// typeOnly: only the type is known (any channel of this element type).
	typeOnly bool
	// wakers, by the waiter's operation.
	wakers map[string][]*Site
}

// Resource finds the object a goroutine waits on from what memory named it.
// kind is "chan", "mutex", "rwmutex", "waitgroup" or "cond"; name the
// package variable (with a field path) or the type and field that contains
// it, or for a channel or a pointer held in a package variable that
// variable ("" when memory could not name it); elem a channel's element
// type as the binary spells it. It returns nil and the reason when the
// code cannot identify the object.
func (p *Program) Resource(kind, name, elem string) (*Resource, string) {
	r := &Resource{p: p, kind: kind, Name: name, wakers: map[string][]*Site{}}
	if name == "" {
		if kind != "chan" {
			return nil, "memory did not name the " + kind + " (no variable or field contains it)"
		}
		r.elems = p.chanElems(elem)
		if len(r.elems) == 0 {
			return nil, "no channel operation in the code has element type " + elem
		}
		r.typeOnly = true
		r.Name = "chan " + elem
		return r, ""
	}
	pkgPath, rest := splitName(name)
	pkg := p.pkgByPath(pkgPath)
	if pkg == nil {
		return nil, "package " + pkgPath + " is not in the analysed program"
	}
	if strings.ContainsAny(rest, "[]") {
		return nil, "generic type " + rest + ": not identified"
	}
	path := strings.Split(rest, ".")
	switch m := pkg.Members[path[0]].(type) {
	case *ssa.Global:
		return r.fromGlobal(m, path[1:])
	case *ssa.Type:
		if len(path) < 2 {
			return nil, name + " is a type, not a field"
		}
		return r.fromFields(m.Type(), path[1:])
	}
	return nil, name + " is not a package variable or a type of the analysed program"
}

// splitName splits "github.com/x/y.pool.mu" into the package path and
// "pool.mu".
func splitName(name string) (string, string) {
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return name, ""
	}
	return name[:slash+1+dot], name[slash+2+dot:]
}

func (p *Program) pkgByPath(path string) *ssa.Package {
	if path == "main" {
		return p.mainPkg
	}
	for _, sp := range p.Prog.AllPackages() {
		if sp.Pkg.Path() == path {
			return sp
		}
	}
	return nil
}

func (r *Resource) fromGlobal(g *ssa.Global, fields []string) (*Resource, string) {
	o := r.p.orig
	gobj := o.obj(objKey{kind: 'g', instr: g})
	t := g.Type().(*types.Pointer).Elem() // the variable's type
	if len(fields) > 0 {
		return r.fromFields(t, fields)
	}
	switch {
	case r.kind == "chan":
		c, ok := t.Underlying().(*types.Chan)
		if !ok {
			return nil, g.Name() + " is not a channel variable"
		}
		r.elems = []types.Type{c.Elem()}
		r.objs = o.pts[o.contentsOf(gobj)]
	case syncType(t) != "":
		// The variable is the sync object itself.
		if !kindMatches(r.kind, syncType(t)) {
			return nil, g.Name() + " is a sync." + syncType(t) + ", not a " + r.kind
		}
		r.objs = map[int]bool{gobj: true}
	default:
		pt, ok := t.Underlying().(*types.Pointer)
		if !ok || syncType(pt.Elem()) == "" || !kindMatches(r.kind, syncType(pt.Elem())) {
			return nil, g.Name() + " holds no " + r.kind
		}
		// A pointer to the sync object, held in the variable.
		r.objs = o.pts[o.contentsOf(gobj)]
	}
	if len(r.objs) == 0 {
		return nil, "nothing in the code stores into " + g.Name()
	}
	return r, ""
}

// fromFields walks the field path from type t: the object is the last
// field of the last struct (one object per field of a type).
func (r *Resource) fromFields(t types.Type, fields []string) (*Resource, string) {
	o := r.p.orig
	for i, f := range fields {
		st, ok := t.Underlying().(*types.Struct)
		if !ok {
			return nil, types.TypeString(t, nil) + " is not a struct"
		}
		idx := -1
		for j := 0; j < st.NumFields(); j++ {
			if st.Field(j).Name() == f {
				idx = j
				break
			}
		}
		if idx < 0 {
			return nil, types.TypeString(t, nil) + " has no field " + f
		}
		ft := st.Field(idx).Type()
		if i < len(fields)-1 {
			t = ft
			continue
		}
		fobj := o.obj(objKey{kind: 'f', typ: o.typeID(types.Unalias(t)), field: idx})
		switch {
		case r.kind == "chan":
			c, ok := ft.Underlying().(*types.Chan)
			if !ok {
				return nil, f + " is not a channel field"
			}
			r.elems = []types.Type{c.Elem()}
			r.objs = o.pts[o.contentsOf(fobj)]
		case syncType(ft) != "":
			if !kindMatches(r.kind, syncType(ft)) {
				return nil, f + " is a sync." + syncType(ft) + ", not a " + r.kind
			}
			r.objs = map[int]bool{fobj: true}
		default:
			return nil, f + " is not a " + r.kind
		}
	}
	if len(r.objs) == 0 {
		return nil, "nothing in the code stores into " + r.Name
	}
	return r, ""
}

func kindMatches(kind, sync string) bool {
	switch kind {
	case "mutex":
		return sync == "Mutex"
	case "rwmutex":
		return sync == "RWMutex"
	case "waitgroup":
		return sync == "WaitGroup"
	case "cond":
		return sync == "Cond"
	}
	return false
}

// wakeKinds are the operations that can wake a waiter of kind doing op.
func wakeKinds(kind, waitOp string) []opKind {
	switch kind {
	case "chan":
		if waitOp == "send" {
			return []opKind{opRecv, opClose}
		}
		return []opKind{opSend, opClose}
	case "mutex":
		return []opKind{opUnlock}
	case "rwmutex":
		return []opKind{opUnlock, opRUnlock}
	case "waitgroup":
		return []opKind{opDone, opAdd}
	case "cond":
		return []opKind{opSignal, opBroadcast}
	}
	return nil
}

// Wakers are every operation in the program that may wake a goroutine
// doing waitOp ("send", "recv", "lock", "rlock", "wait") on r.
func (r *Resource) Wakers(waitOp string) []*Site {
	if w, ok := r.wakers[waitOp]; ok {
		return w
	}
	kinds := wakeKinds(r.kind, waitOp)
	var out []*Site
	for _, fi := range r.p.idx.funcs {
		for _, o := range fi.ops {
			if !hasKind(kinds, o.kind) || o.constAdd || !r.mayBe(o) {
				continue
			}
			out = append(out, r.p.site(o))
		}
	}
	// The program's own code first, then the standard library, then
	// reflection; by place within each.
	rank := func(s *Site) int {
		switch {
		case s.Reflection:
			return 2
		case r.p.idx.funcs[s.op.fn].std:
			return 1
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := rank(out[i]), rank(out[j]); a != b {
			return a < b
		}
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	r.wakers[waitOp] = out
	return out
}

func hasKind(ks []opKind, k opKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// mayBe: operation o may operate on r.
func (r *Resource) mayBe(o *op) bool {
	if r.kind == "chan" {
		if o.kind != opSend && o.kind != opRecv && o.kind != opClose {
			return false
		}
		if o.typ == nil {
			return true // reflection on some channel
		}
		c, ok := o.typ.Underlying().(*types.Chan)
		if !ok {
			return false
		}
		typeOK := false
		for _, e := range r.elems {
			if types.Identical(e, c.Elem()) {
				typeOK = true
			}
		}
		if r.typeOnly {
			return typeOK
		}
		org := r.p.orig.of(o.val)
		if org[objUnknown] || r.objs[objUnknown] {
			return typeOK
		}
		return intersects(org, r.objs)
	}
	if o.typ != nil || !kindMatches(r.kind, o.syncType()) {
		return false
	}
	if o.val == nil {
		return true // called through an interface: any object
	}
	org := r.p.orig.of(o.val)
	if org[objUnknown] || r.objs[objUnknown] {
		return true
	}
	return intersects(org, r.objs)
}

func intersects(a, b map[int]bool) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for k := range a {
		if b[k] {
			return true
		}
	}
	return false
}

// syncType is the sync type whose method the operation calls.
func (o *op) syncType() string {
	switch o.kind {
	case opDone, opAdd:
		return "WaitGroup"
	case opSignal, opBroadcast:
		return "Cond"
	case opRUnlock:
		return "RWMutex"
	case opUnlock:
		return o.lock
	}
	return ""
}
