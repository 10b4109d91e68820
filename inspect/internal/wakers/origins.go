package wakers

import (
	"go/token"
	"go/types"

	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/types/typeutil"
)

// Value origins: which objects a channel, or a pointer to a sync object,
// may be. A flow-insensitive, field-based inclusion analysis (Andersen
// style) restricted to the values that matter here: channels, pointers
// to sync.Mutex/RWMutex/WaitGroup/Cond, and pointers to those (the cells
// holding them). Objects are allocation sites (make(chan), new/&T{} and
// escaping locals), package variables, struct fields (one object per
// field of a type, whatever the instance), and the elements of slices,
// arrays, maps and channels (one per element type).
//
// Values flow through assignments, phis, conversions, calls (arguments to
// parameters and results back, over the call graph), closures' captured
// variables, and loads and stores through pointers, fields and elements.
// Whatever comes from where the analysis does not follow — an interface
// (type assertions, a method called through an interface), unsafe
// conversions, a function without a body, a parameter the runtime fills
// (finalizers, cleanups, cgo exports) — is the object "unknown", which
// may be any object of its type. A store through an unknown pointer, or a
// reflective write into memory reflection can reach, makes every load of
// that type unknown too.

// objUnknown is the object every untracked origin stands for.
const objUnknown = 0

// objKey identifies an abstract object.
type objKey struct {
	kind  byte // 'c' make(chan), 'a' alloc, 'g' global, 'f' field, 'e' element, 'h' channel element
	instr ssa.Value
	typ   int // type id (fields, elements)
	field int
}

type origins struct {
	p      *Program
	objs   []objKey
	objIDs map[objKey]int
	types  typeutil.Map // types.Type → type id
	ntypes int

	// nodes: values and object contents.
	node     map[ssa.Value]int
	contents map[int]int // object → its contents node
	rets     map[*ssa.Function][]int
	pts      []map[int]bool
	succ     [][]int
	loads    [][]int // pointer node → destination nodes
	stores   [][]int // pointer node → source nodes
	// unknownLoads: type ids whose loads are unknown.
	unknownLoads map[int]bool
	// applied are the unknown load types already added to loadNodes.
	applied   map[int]bool
	loadNodes map[int][]int // taint key → nodes that read memory of that type
	ptrOf     map[int]int   // pointer node → taint key of what is stored through it
	work      []int
	done      []map[int]bool
}

// tracked: a value whose origins are computed: a channel, a pointer to a
// sync object, an interface a pointer to a sync object may be in
// (sync.Locker and the like: not any), or a pointer to one of those.
func tracked(t types.Type) bool {
	switch u := t.Underlying().(type) {
	case *types.Chan:
		return true
	case *types.Pointer:
		e := u.Elem()
		return syncType(e) != "" || tracked(e)
	case *types.Interface:
		return syncInterface(u)
	}
	return false
}

// syncMethods are the methods of the pointers to sync objects.
var syncMethods = map[string]bool{"Lock": true, "Unlock": true, "TryLock": true, "RLock": true, "RUnlock": true,
	"TryRLock": true, "RLocker": true, "Wait": true, "Signal": true, "Broadcast": true, "Add": true, "Done": true, "Go": true}

// syncInterface: a non-empty interface made only of sync objects' methods
// (sync.Locker): a value of it may be a pointer to one.
func syncInterface(it *types.Interface) bool {
	if it.NumMethods() == 0 {
		return false
	}
	for i := 0; i < it.NumMethods(); i++ {
		if !syncMethods[it.Method(i).Name()] {
			return false
		}
	}
	return true
}

// isIface: t is an interface type.
func isIface(t types.Type) bool { return types.IsInterface(t) }

// syncType is "Mutex", "RWMutex", "WaitGroup" or "Cond" for those types of
// package sync, "" otherwise.
func syncType(t types.Type) string {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil || n.Obj().Pkg().Path() != "sync" {
		return ""
	}
	switch n.Obj().Name() {
	case "Mutex", "RWMutex", "WaitGroup", "Cond":
		return n.Obj().Name()
	}
	return ""
}

func newOrigins(p *Program, fns map[*ssa.Function]bool) *origins {
	o := &origins{p: p, objIDs: map[objKey]int{}, node: map[ssa.Value]int{}, contents: map[int]int{},
		rets: map[*ssa.Function][]int{}, unknownLoads: map[int]bool{}, ptrOf: map[int]int{},
		applied: map[int]bool{}, loadNodes: map[int][]int{}}
	o.objs = append(o.objs, objKey{kind: 'u'})
	boxed := map[int]bool{}
	reflectWrites := false
	for fn := range fns {
		n := p.cg.Nodes[fn]
		if !isReflectWrite(fn) || n == nil {
			continue
		}
		// The standard library's reflective writers (decoders,
		// scanners) store values they construct, never a channel or a
		// pointer to a sync object taken from elsewhere: only the
		// program's own reflective writes count.
		for _, e := range n.In {
			if !p.idx.funcs[p.idx.id[e.Caller.Func]].std {
				reflectWrites = true
			}
		}
	}
	for _, fi := range p.idx.funcs {
		if genericBody(fi.fn) {
			continue // only its instances run
		}
		o.function(fi.fn, boxed)
	}
	if reflectWrites {
		// Reflection can write any value it can reach into memory it can
		// reach: what is reachable from a value converted to an
		// interface. Loads of such types are unknown.
		for t := range o.exposed(boxed) {
			o.unknownLoads[t] = true
		}
	}
	for {
		o.solve()
		more := false
		for t := range o.unknownLoads {
			if o.applied[t] {
				continue
			}
			o.applied[t] = true
			more = true
			for _, n := range o.loadNodes[t] {
				o.addObj(n, objUnknown)
			}
		}
		if !more {
			return o
		}
	}
}

// taintKey identifies a type for "loads of it are unknown": a channel by
// its element type (any direction, any name), anything else by its
// underlying type.
func (o *origins) taintKey(t types.Type) int {
	if c, ok := t.Underlying().(*types.Chan); ok {
		return o.typeID(types.NewChan(types.SendRecv, c.Elem()))
	}
	return o.typeID(t.Underlying())
}

// readsMemory registers node n as a load of a value of type t.
func (o *origins) readsMemory(n int, t types.Type) {
	k := o.taintKey(t)
	o.loadNodes[k] = append(o.loadNodes[k], n)
}

// perCallSite are standard constructors whose result is a new object each
// call (what their body returns is an allocation of their own): each call
// site is an object of its own, so that two sync.NewCond are two Conds.
var perCallSite = map[string]bool{"sync.NewCond": true}

// generic: a generic function's body (not an instance).
func generic(fn *ssa.Function) bool {
	return fn.TypeParams().Len() > 0 && len(fn.TypeArgs()) == 0
}

// isReflectWrite: a reflect.Value method that stores into memory.
func isReflectWrite(fn *ssa.Function) bool {
	switch fn.String() {
	case "(reflect.Value).Set", "(reflect.Value).SetPointer", "(reflect.Value).SetMapIndex",
		"(reflect.Value).SetIterKey", "(reflect.Value).SetIterValue", "(reflect.Value).Send",
		"(reflect.Value).TrySend", "reflect.Copy", "(reflect.Value).Grow":
		return true
	}
	return false
}

func (o *origins) typeID(t types.Type) int {
	if v := o.types.At(t); v != nil {
		return v.(int)
	}
	o.ntypes++
	o.types.Set(t, o.ntypes)
	return o.ntypes
}

func (o *origins) obj(k objKey) int {
	if id, ok := o.objIDs[k]; ok {
		return id
	}
	id := len(o.objs)
	o.objs = append(o.objs, k)
	o.objIDs[k] = id
	return id
}

func (o *origins) newNode() int {
	o.pts = append(o.pts, nil)
	o.succ = append(o.succ, nil)
	o.loads = append(o.loads, nil)
	o.stores = append(o.stores, nil)
	return len(o.pts) - 1
}

// valueNode is v's node (v tracked).
func (o *origins) valueNode(v ssa.Value) int {
	if n, ok := o.node[v]; ok {
		return n
	}
	n := o.newNode()
	o.node[v] = n
	if g, ok := v.(*ssa.Global); ok {
		o.addObj(n, o.obj(objKey{kind: 'g', instr: g}))
	}
	return n
}

// contentsOf is the node of what object obj holds.
func (o *origins) contentsOf(obj int) int {
	if n, ok := o.contents[obj]; ok {
		return n
	}
	n := o.newNode()
	o.contents[obj] = n
	return n
}

func (o *origins) addObj(n, obj int) {
	if o.pts[n] == nil {
		o.pts[n] = map[int]bool{}
	}
	if !o.pts[n][obj] {
		o.pts[n][obj] = true
		o.work = append(o.work, n)
	}
}

func (o *origins) edge(from, to int) {
	for _, s := range o.succ[from] {
		if s == to {
			return
		}
	}
	o.succ[from] = append(o.succ[from], to)
	if len(o.pts[from]) > 0 {
		o.work = append(o.work, from)
	}
}

// flow: v's origins include src's (src tracked, or unknown).
func (o *origins) flow(src ssa.Value, dst int) {
	if src == nil {
		o.addObj(dst, objUnknown)
		return
	}
	if k, ok := src.(*ssa.Const); ok && k.IsNil() {
		return
	}
	if !tracked(src.Type()) {
		o.addObj(dst, objUnknown)
		return
	}
	o.edge(o.valueNode(src), dst)
}

// elemNode is the contents of the element object of type t (slices,
// arrays, maps, channels).
func (o *origins) elemNode(kind byte, t types.Type) int {
	return o.contentsOf(o.obj(objKey{kind: kind, typ: o.typeID(t)}))
}

func (o *origins) load(ptr ssa.Value, dst int, t types.Type) {
	o.readsMemory(dst, t)
	if !tracked(ptr.Type()) {
		o.addObj(dst, objUnknown)
		return
	}
	pn := o.valueNode(ptr)
	o.loads[pn] = append(o.loads[pn], dst)
	o.work = append(o.work, pn)
}

func (o *origins) store(ptr ssa.Value, val ssa.Value) {
	if !tracked(val.Type()) {
		return
	}
	if k, ok := val.(*ssa.Const); ok && k.IsNil() {
		return
	}
	if !tracked(ptr.Type()) {
		o.unknownLoads[o.taintKey(val.Type())] = true
		return
	}
	pn := o.valueNode(ptr)
	o.ptrOf[pn] = o.taintKey(val.Type())
	o.stores[pn] = append(o.stores[pn], o.valueNode(val))
	o.work = append(o.work, pn)
}

// retNodes are the nodes of fn's results.
func (o *origins) retNodes(fn *ssa.Function) []int {
	if r, ok := o.rets[fn]; ok {
		return r
	}
	res := fn.Signature.Results()
	r := make([]int, res.Len())
	for i := range r {
		r[i] = o.newNode()
		if len(fn.Blocks) == 0 && tracked(res.At(i).Type()) {
			o.addObj(r[i], objUnknown) // no body: anything
		}
	}
	o.rets[fn] = r
	return r
}

// function adds fn's constraints.
func (o *origins) function(fn *ssa.Function, boxed map[int]bool) {
	x := o.p.idx
	id := x.id[fn]
	fi := x.funcs[id]
	// Parameters filled by the runtime or C: unknown.
	if x.externallyCalled(fn) {
		for _, p := range fn.Params {
			if tracked(p.Type()) {
				o.addObj(o.valueNode(p), objUnknown)
			}
		}
	}
	for _, b := range fn.Blocks {
		for _, in := range b.Instrs {
			o.instr(fn, in, boxed)
		}
	}
	// Calls: arguments to parameters, results back.
	for _, c := range fi.calls {
		cc := c.instr.Common()
		for _, ce := range c.callees {
			callee := x.funcs[ce].fn
			params := callee.Params
			args := cc.Args
			if cc.IsInvoke() {
				// The receiver is the interface's dynamic value.
				if len(params) > 0 && tracked(params[0].Type()) {
					o.flow(cc.Value, o.valueNode(params[0]))
				}
				if len(params) > 0 {
					params = params[1:]
				}
			}
			for i, a := range args {
				if i < len(params) && tracked(params[i].Type()) {
					o.flow(a, o.valueNode(params[i]))
				}
			}
			if len(params) > len(args) {
				// A bound method's receiver, or a mismatch: unknown.
				for _, p := range params[len(args):] {
					if tracked(p.Type()) {
						o.addObj(o.valueNode(p), objUnknown)
					}
				}
			}
			if call, ok := c.instr.(*ssa.Call); ok && perCallSite[funcName(callee)] {
				// A constructor of the standard library: one object per
				// call site, not one for every call of it.
				o.addObj(o.valueNode(call), o.obj(objKey{kind: 'a', instr: call}))
				continue
			}
			if call, ok := c.instr.(*ssa.Call); ok {
				rets := o.retNodes(callee)
				switch {
				case len(rets) == 1 && tracked(call.Type()):
					o.edge(rets[0], o.valueNode(call))
				case len(rets) > 1:
					for _, r := range *call.Referrers() {
						if e, ok := r.(*ssa.Extract); ok && e.Index < len(rets) && tracked(e.Type()) {
							o.edge(rets[e.Index], o.valueNode(e))
						}
					}
				}
			}
		}
		if call, ok := c.instr.(*ssa.Call); ok && len(c.callees) == 0 {
			if _, builtin := cc.Value.(*ssa.Builtin); !builtin {
				o.unknownResults(call)
			}
		}
	}
}

// unknownResults: a call with no known callee yields unknown values.
func (o *origins) unknownResults(call *ssa.Call) {
	if tracked(call.Type()) {
		o.addObj(o.valueNode(call), objUnknown)
	}
	for _, r := range *call.Referrers() {
		if e, ok := r.(*ssa.Extract); ok && tracked(e.Type()) {
			o.addObj(o.valueNode(e), objUnknown)
		}
	}
}

func (o *origins) instr(fn *ssa.Function, in ssa.Instruction, boxed map[int]bool) {
	switch in := in.(type) {
	case *ssa.Store:
		o.store(in.Addr, in.Val)
	case *ssa.MapUpdate:
		mt, ok := in.Map.Type().Underlying().(*types.Map)
		if !ok {
			break
		}
		if tracked(mt.Key()) {
			o.flow(in.Key, o.elemNode('e', mt.Key()))
		}
		if tracked(mt.Elem()) {
			o.flow(in.Value, o.elemNode('e', mt.Elem()))
		}
	case *ssa.Send:
		if tracked(in.X.Type()) {
			o.flow(in.X, o.elemNode('h', in.X.Type()))
		}
	case *ssa.Select:
		for _, st := range in.States {
			if st.Dir == types.SendOnly && st.Send != nil && tracked(st.Send.Type()) {
				o.flow(st.Send, o.elemNode('h', st.Send.Type()))
			}
		}
	case *ssa.Return:
		rets := o.retNodes(fn)
		for i, r := range in.Results {
			if i < len(rets) && tracked(r.Type()) {
				o.flow(r, rets[i])
			}
		}
	case *ssa.MakeClosure:
		cl := in.Fn.(*ssa.Function)
		for i, b := range in.Bindings {
			if i < len(cl.FreeVars) && tracked(cl.FreeVars[i].Type()) {
				o.flow(b, o.valueNode(cl.FreeVars[i]))
			}
		}
	case *ssa.MakeInterface:
		boxed[o.typeID(in.X.Type())] = true
	}
	v, ok := in.(ssa.Value)
	if !ok {
		return
	}
	if t, ok := v.Type().(*types.Tuple); ok {
		o.tuple(v, t)
		return
	}
	if !tracked(v.Type()) {
		return
	}
	n := o.valueNode(v)
	switch v := v.(type) {
	case *ssa.MakeChan:
		o.addObj(n, o.obj(objKey{kind: 'c', instr: v}))
	case *ssa.Alloc:
		o.addObj(n, o.obj(objKey{kind: 'a', instr: v}))
	case *ssa.FieldAddr:
		pt, ok := v.X.Type().Underlying().(*types.Pointer)
		if !ok {
			o.addObj(n, objUnknown)
			break
		}
		o.addObj(n, o.obj(objKey{kind: 'f', typ: o.typeID(types.Unalias(pt.Elem())), field: v.Field}))
	case *ssa.IndexAddr:
		pt, ok := v.Type().Underlying().(*types.Pointer)
		if !ok {
			o.addObj(n, objUnknown)
			break
		}
		o.addObj(n, o.obj(objKey{kind: 'e', typ: o.typeID(pt.Elem())}))
	case *ssa.Field:
		st := types.Unalias(v.X.Type())
		o.edge(o.contentsOf(o.obj(objKey{kind: 'f', typ: o.typeID(st), field: v.Field})), n)
		o.readsMemory(n, v.Type())
	case *ssa.Index:
		o.edge(o.elemNode('e', v.Type()), n)
		o.readsMemory(n, v.Type())
	case *ssa.Lookup:
		if _, isMap := v.X.Type().Underlying().(*types.Map); isMap {
			o.edge(o.elemNode('e', v.Type()), n)
			o.readsMemory(n, v.Type())
		} else {
			o.addObj(n, objUnknown)
		}
	case *ssa.UnOp:
		switch v.Op {
		case token.MUL:
			o.load(v.X, n, v.Type())
		case token.ARROW:
			o.edge(o.elemNode('h', v.Type()), n)
			o.readsMemory(n, v.Type())
		default:
			o.addObj(n, objUnknown)
		}
	case *ssa.Phi:
		for _, e := range v.Edges {
			o.flow(e, n)
		}
	case *ssa.ChangeType:
		o.flow(v.X, n)
	case *ssa.MakeInterface:
		// A sync.Locker made from a pointer to a mutex: that pointer's
		// origins; from anything else (a type of the program's own):
		// no sync object.
		if tracked(v.X.Type()) {
			o.flow(v.X, n)
		}
	case *ssa.ChangeInterface:
		o.flow(v.X, n)
	case *ssa.TypeAssert:
		if isIface(v.X.Type()) && tracked(v.X.Type()) {
			o.flow(v.X, n)
		} else {
			o.addObj(n, objUnknown)
		}
	case *ssa.Convert:
		o.flow(v.X, n) // from unsafe.Pointer (untracked): unknown
	case *ssa.Parameter, *ssa.FreeVar, *ssa.Call, *ssa.Extract:
		// From calls and closures (function, tuple).
	default:
		// TypeAssert, MultiConvert, SliceToArrayPointer and anything
		// else: not followed.
		o.addObj(n, objUnknown)
	}
}

// tuple handles the components of a multi-value instruction (Extract).
func (o *origins) tuple(v ssa.Value, t *types.Tuple) {
	refs := v.Referrers()
	if refs == nil {
		return
	}
	for _, r := range *refs {
		e, ok := r.(*ssa.Extract)
		if !ok || !tracked(e.Type()) {
			continue
		}
		n := o.valueNode(e)
		switch v := v.(type) {
		case *ssa.Call:
			continue // results: in function (calls)
		case *ssa.UnOp: // v, ok := <-ch
			if e.Index == 0 {
				o.edge(o.elemNode('h', e.Type()), n)
			}
		case *ssa.Lookup: // v, ok := m[k]
			if e.Index == 0 {
				o.edge(o.elemNode('e', e.Type()), n)
			}
		case *ssa.Next: // k, v of a map range
			if e.Index > 0 {
				o.edge(o.elemNode('e', e.Type()), n)
			}
		case *ssa.Select:
			if e.Index >= 2 {
				o.edge(o.elemNode('h', e.Type()), n)
			}
		case *ssa.TypeAssert: // x, ok := y.(T)
			if e.Index == 0 && tracked(v.X.Type()) {
				o.flow(v.X, n)
			} else {
				o.addObj(n, objUnknown)
			}
			continue
		default:
			o.addObj(n, objUnknown)
		}
		o.readsMemory(n, e.Type())
	}
}

// solve propagates origins to a fixpoint.
func (o *origins) solve() {
	// A global object's contents, and fields', are read by loads of the
	// pointer; loads and stores are resolved as pointers learn objects.
	for len(o.work) > 0 {
		n := o.work[len(o.work)-1]
		o.work = o.work[:len(o.work)-1]
		for len(o.done) < len(o.pts) {
			o.done = append(o.done, nil)
		}
		done := o.done
		// Complex constraints: for each object the pointer may be.
		for obj := range o.pts[n] {
			if done[n] != nil && done[n][obj] {
				continue
			}
			if len(o.loads[n]) == 0 && len(o.stores[n]) == 0 {
				continue
			}
			if done[n] == nil {
				done[n] = map[int]bool{}
			}
			done[n][obj] = true
			if obj == objUnknown {
				for _, d := range o.loads[n] {
					o.addObj(d, objUnknown)
				}
				if len(o.stores[n]) > 0 {
					// Stores through an unknown pointer: their
					// type's loads are unknown (applied by the
					// next round of newOrigins).
					o.unknownLoads[o.ptrOf[n]] = true
				}
				continue
			}
			c := o.contentsOf(obj)
			for _, d := range o.loads[n] {
				o.edge(c, d)
			}
			for _, s := range o.stores[n] {
				o.edge(s, c)
			}
		}
		// New loads/stores added after objects were known are handled
		// because load/store push the pointer node on the worklist.
		for _, s := range o.succ[n] {
			for obj := range o.pts[n] {
				o.addObj(s, obj)
			}
		}
	}
}

// of returns v's origins (object ids); unknown (a set with objUnknown) for
// an untracked value.
func (o *origins) of(v ssa.Value) map[int]bool {
	if v == nil || !tracked(v.Type()) {
		return map[int]bool{objUnknown: true}
	}
	n, ok := o.node[v]
	if !ok {
		if k, isConst := v.(*ssa.Const); isConst && k.IsNil() {
			return nil
		}
		return map[int]bool{objUnknown: true}
	}
	return o.pts[n]
}

// exposed are the type ids reachable, through pointers, fields and
// elements (not interfaces), from the boxed types.
func (o *origins) exposed(boxed map[int]bool) map[int]bool {
	out := map[int]bool{}
	var visit func(t types.Type)
	seen := map[types.Type]bool{}
	visit = func(t types.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		if tracked(t) {
			out[o.taintKey(t)] = true
		}
		switch u := t.Underlying().(type) {
		case *types.Pointer:
			visit(u.Elem())
		case *types.Struct:
			for i := 0; i < u.NumFields(); i++ {
				visit(u.Field(i).Type())
			}
		case *types.Array:
			visit(u.Elem())
		case *types.Slice:
			visit(u.Elem())
		case *types.Map:
			visit(u.Key())
			visit(u.Elem())
		case *types.Chan:
			visit(u.Elem())
		}
	}
	var roots []types.Type
	o.types.Iterate(func(t types.Type, v any) {
		if boxed[v.(int)] {
			roots = append(roots, t)
		}
	})
	for _, t := range roots {
		visit(t)
	}
	return out
}
