package wakers

import (
	"go/ast"
	"go/token"
	"go/types"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/types/typeutil"
)

// opKind is an operation that can wake a parked goroutine.
type opKind uint8

const (
	opSend opKind = iota + 1
	opRecv
	opClose
	opUnlock
	opRUnlock
	opDone
	opAdd
	opSignal
	opBroadcast
)

func (k opKind) String() string {
	return [...]string{"", "send", "receive", "close", "Unlock", "RUnlock", "Done", "Add", "Signal", "Broadcast"}[k]
}

// op is one operation in the code that may wake a goroutine.
type op struct {
	kind opKind
	fn   int             // function id
	pos  token.Pos       // where
	val  ssa.Value       // the channel, or the sync object's pointer; nil: unknown (reflection, an interface)
	typ  types.Type      // the channel's type (chan ops)
	in   ssa.Instruction // nil for the reflect functions themselves
	// constAdd: an Add whose delta is a constant >= 0 (cannot wake Wait).
	constAdd bool
	// lock is the type of an Unlock's receiver: "Mutex" or "RWMutex".
	lock string
}

// callInfo is a call instruction (call, go, defer) and its callees.
type callInfo struct {
	instr   ssa.CallInstruction
	callees []int
	// finalizers are the functions a runtime.SetFinalizer call
	// registers (they run on the finalizer goroutine, not here).
	finalizers []int
}

// funcInfo is what the reachability needs of one function.
type funcInfo struct {
	fn      *ssa.Function
	std     bool
	runtime bool // the runtime's own packages
	calls   []callInfo
	ops     []*op
	blocker string // reachable: no proof (reflection, plugins, code without a Go body)
	// resetsTimers: (*time.Timer).Reset, which can start a stopped
	// AfterFunc timer again (its callback is not in memory's pending
	// timers).
	resetsTimers bool
	// file and lines of the function's syntax, for frames.
	file       string
	start, end int
}

// index is the program's functions, calls and waking operations.
type index struct {
	p     *Program
	funcs []*funcInfo
	id    map[*ssa.Function]int
	// spans: file → functions with syntax in it.
	spans map[string][]int
	// roots the runtime or foreign code runs by itself (always
	// reachable): cgo exports, go:linkname'd functions with a body, Go
	// functions assembly calls.
	roots []root
	// timers, cleanups and finalizer are every callback the program
	// hands to time.AfterFunc, runtime.AddCleanup and
	// runtime.SetFinalizer: what may be pending when memory does not say
	// (finalizers run only while the finalizer goroutine can run).
	timers, cleanups, finalizer []root
	// unresolved says what could not be resolved to functions: when
	// reachable (always, for cleanups and timers; with a live finalizer
	// goroutine, for finalizers) there is no proof.
	unresolvedFinalizer string
	unresolvedAlways    string
	// mainFn and inits are the program's entry points (runtime.main runs
	// them; its calls to them are not in the call graph).
	mainFn int
	inits  []int
	// asmOK are functions without a Go body implemented in assembly that
	// calls back into no Go code.
	asmOK map[int]bool

	atMu   sync.Mutex
	atMemo map[atKey][]int

	byMethod map[string][]int
	taken    map[int]bool
}

// root is a function the runtime may start by itself, and why.
type root struct {
	fn  int
	why string // "finalizer", "cleanup", "timer (time.AfterFunc)", "cgo export", ...
}

// callbackArg are functions that receive a function and arrange for the
// runtime to call it later (not through an edge of the call graph): the
// argument index and the kind of root it becomes.
var callbackArg = map[string]struct {
	arg  int
	kind string
}{
	"time.AfterFunc":       {1, "timer callback (time.AfterFunc)"},
	"runtime.SetFinalizer": {1, "finalizer"},
	"runtime.AddCleanup":   {1, "cleanup"},
}

// syncOps are the methods of package sync that can wake a waiter.
var syncOps = map[string]opKind{
	"(*sync.Mutex).Unlock":    opUnlock,
	"(*sync.RWMutex).Unlock":  opUnlock,
	"(*sync.RWMutex).RUnlock": opRUnlock,
	"(*sync.WaitGroup).Done":  opDone,
	"(*sync.WaitGroup).Add":   opAdd,
	"(*sync.Cond).Signal":     opSignal,
	"(*sync.Cond).Broadcast":  opBroadcast,
}

// reflectChanOps are the reflection functions that operate on a channel
// they were handed as a reflect.Value (the channel cannot be followed).
var reflectChanOps = map[string][]opKind{
	"(reflect.Value).Send":    {opSend},
	"(reflect.Value).TrySend": {opSend},
	"(reflect.Value).Recv":    {opRecv},
	"(reflect.Value).TryRecv": {opRecv},
	"(reflect.Value).Close":   {opClose},
	"reflect.Select":          {opSend, opRecv},
}

// blockers are functions whose reachability leaves calls no call graph can
// bound.
var blockers = map[string]string{
	"(reflect.Value).Call":      "reflection (reflect.Value.Call)",
	"(reflect.Value).CallSlice": "reflection (reflect.Value.CallSlice)",
	"reflect.MakeFunc":          "reflection (reflect.MakeFunc)",
	"plugin.Open":               "a plugin (plugin.Open)",
	"(*plugin.Plugin).Lookup":   "a plugin (plugin.Lookup)",
}

// coroutines: std functions without a body that run their function
// argument (as a coroutine) when it is switched to.
var runsArg = map[string]int{"iter.newcoro": 0}

func newIndex(p *Program, fns map[*ssa.Function]bool, pkgs []*packages.Package) *index {
	x := &index{p: p, id: map[*ssa.Function]int{}, spans: map[string][]int{}, mainFn: -1}
	list := make([]*ssa.Function, 0, len(fns))
	for fn := range fns {
		list = append(list, fn)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Pos() != list[j].Pos() {
			return list[i].Pos() < list[j].Pos()
		}
		return list[i].String() < list[j].String()
	})
	for _, fn := range list {
		x.add(fn)
	}
	// Functions the call graph names that AllFunctions did not (none
	// expected, but the ids must cover every callee).
	for fn := range p.cg.Nodes {
		if fn != nil {
			x.add(fn)
		}
	}
	x.directives(pkgs)
	bySig := x.funcsBySig()
	for i := 0; i < len(x.funcs); i++ {
		x.scan(i, bySig)
	}
	x.patchGoFunc()
	if m := p.mainPkg.Func("main"); m != nil {
		x.mainFn = x.id[m]
	}
	for _, sp := range p.Prog.AllPackages() {
		if in := sp.Func("init"); in != nil {
			if id, ok := x.id[in]; ok {
				x.inits = append(x.inits, id)
			}
		}
	}
	return x
}

func (x *index) add(fn *ssa.Function) int {
	if id, ok := x.id[fn]; ok {
		return id
	}
	fi := &funcInfo{fn: fn, std: x.isStd(fn)}
	if fi.std {
		path := funcPackage(funcName(fn))
		if strings.HasPrefix(fn.String(), "(") {
			if o := fn.Object(); o != nil && o.Pkg() != nil {
				path = o.Pkg().Path()
			}
		}
		fi.runtime = path == "runtime" || strings.HasPrefix(path, "runtime/internal/") || strings.HasPrefix(path, "internal/runtime/")
	}
	id := len(x.funcs)
	x.funcs = append(x.funcs, fi)
	x.id[fn] = id
	if syn := fn.Syntax(); syn != nil && syn.Pos().IsValid() && !genericBody(fn) {
		// (A generic body never runs: its instances, which share its
		// syntax, do.)
		s, e := x.p.Fset.Position(syn.Pos()), x.p.Fset.Position(syn.End())
		fi.file, fi.start, fi.end = s.Filename, s.Line, e.Line
		x.spans[s.Filename] = append(x.spans[s.Filename], id)
	}
	return id
}

func (x *index) isStd(fn *ssa.Function) bool {
	pkg := fn.Pkg
	if pkg == nil && fn.Origin() != nil {
		pkg = fn.Origin().Pkg
	}
	if pkg == nil {
		// Synthetic wrappers: by the receiver's or the wrapped
		// function's package.
		if o := fn.Object(); o != nil && o.Pkg() != nil {
			return x.p.stdPath(o.Pkg().Path())
		}
		return false
	}
	return x.p.std[pkg]
}

// stdPath: the package with this path is part of the standard library.
func (p *Program) stdPath(path string) bool {
	for sp := range p.std {
		if sp.Pkg.Path() == path {
			return true
		}
	}
	return false
}

// funcsBySig: the functions (no receiver) by signature, the candidates of
// a call through a function value the call graph could not resolve.
func (x *index) funcsBySig() *typeutil.Map {
	var m typeutil.Map
	for _, fi := range x.funcs {
		fn := fi.fn
		if fn.Signature.Recv() != nil || (fn.Name() == "init" && fn.Synthetic == "package initializer") {
			continue
		}
		fs, _ := m.At(fn.Signature).([]int)
		m.Set(fn.Signature, append(fs, x.id[fn]))
	}
	return &m
}

// scan records function i's calls (with callees) and waking operations.
func (x *index) scan(i int, bySig *typeutil.Map) {
	fi := x.funcs[i]
	fn := fi.fn
	if genericBody(fn) {
		return // only its instances run
	}
	name := funcName(fn)
	if r, ok := blockers[name]; ok && r != "" {
		fi.blocker = r
	}
	fi.resetsTimers = name == "(*time.Timer).Reset"
	for _, k := range reflectChanOps[name] {
		fi.ops = append(fi.ops, &op{kind: k, fn: i, pos: fn.Pos()})
	}
	if len(fn.Blocks) == 0 {
		if !fi.std && fi.blocker == "" && fn.Synthetic == "" && !cgoStub(fn) && !x.asmOK[i] {
			fi.blocker = "code without a Go body: " + fn.String() + " (go:linkname or assembly)"
		}
		return
	}
	edges := map[ssa.CallInstruction][]int{}
	if n := x.p.cg.Nodes[fn]; n != nil {
		for _, e := range n.Out {
			edges[e.Site] = append(edges[e.Site], x.add(e.Callee.Func))
		}
	}
	for _, b := range fn.Blocks {
		for _, in := range b.Instrs {
			switch in := in.(type) {
			case *ssa.Send:
				fi.ops = append(fi.ops, &op{kind: opSend, fn: i, pos: in.Pos(), val: in.Chan, typ: in.Chan.Type(), in: in})
			case *ssa.UnOp:
				if in.Op == token.ARROW {
					fi.ops = append(fi.ops, &op{kind: opRecv, fn: i, pos: in.Pos(), val: in.X, typ: in.X.Type(), in: in})
				}
			case *ssa.Select:
				for _, st := range in.States {
					k := opRecv
					if st.Dir == types.SendOnly {
						k = opSend
					}
					fi.ops = append(fi.ops, &op{kind: k, fn: i, pos: st.Pos, val: st.Chan, typ: st.Chan.Type(), in: in})
				}
			}
			call, ok := in.(ssa.CallInstruction)
			if !ok {
				continue
			}
			c := call.Common()
			if b, ok := c.Value.(*ssa.Builtin); ok {
				if b.Name() == "close" && len(c.Args) == 1 {
					fi.ops = append(fi.ops, &op{kind: opClose, fn: i, pos: c.Pos(), val: c.Args[0], typ: c.Args[0].Type(), in: in})
				}
				continue
			}
			callees := edges[call]
			var extra, fins []int
			if len(callees) == 0 && c.StaticCallee() != nil {
				callees = []int{x.add(c.StaticCallee())}
			}
			if len(callees) == 0 && !fi.runtime {
				callees = x.unresolved(fi, c, bySig)
			}
			for _, ce := range callees {
				cf := x.funcs[ce].fn
				cname := funcName(cf)
				if _, inOp := syncOps[name]; inOp {
					// Inside Done (its Add(-1)), RWMutex.Unlock (its
					// w.Unlock): every call of the outer method is an
					// operation itself.
				} else if k, ok := syncOps[cname]; ok {
					o := &op{kind: k, fn: i, pos: c.Pos(), in: in}
					if strings.HasPrefix(cname, "(*sync.RWMutex)") {
						o.lock = "RWMutex"
					} else if strings.HasPrefix(cname, "(*sync.Mutex)") {
						o.lock = "Mutex"
					}
					switch {
					case c.IsInvoke():
						o.val = c.Value // the interface (sync.Locker): its origins
					case c.StaticCallee() == cf && len(c.Args) > 0:
						o.val = c.Args[0]
					}
					if k == opAdd && len(c.Args) == 2 {
						if k, ok := c.Args[1].(*ssa.Const); ok && k.Value != nil && k.Int64() >= 0 {
							o.constAdd = true
						}
					}
					fi.ops = append(fi.ops, o)
				}
				var cb []int
				if a, ok := callbackArg[cname]; ok && a.arg < len(c.Args) && !c.IsInvoke() {
					cb = x.callback(c, c.Args[a.arg], a.kind, bySig)
					if a.kind == "finalizer" {
						fins = append(fins, cb...)
						cb = nil
					}
				}
				if strings.HasPrefix(cname, "runtime.AddCleanup[") && len(c.Args) > 1 {
					cb = x.callback(c, c.Args[1], callbackArg["runtime.AddCleanup"].kind, bySig)
				}
				// The callback runs later, as if called from here.
				extra = append(extra, cb...)
				if a, ok := runsArg[cname]; ok && a < len(c.Args) {
					fs, _ := x.funcValues(c.Args[a], bySig)
					callees = append(callees, fs...)
				}
			}
			if len(extra) > 0 {
				callees = append(append([]int{}, callees...), extra...)
			}
			fi.calls = append(fi.calls, callInfo{instr: call, callees: callees, finalizers: fins})
		}
	}
}

// unresolved: the callees of a call through a function value or an
// interface that the call graph could not resolve (the value came from
// where it does not look: unsafe, an atomic.Value, reflection). In the
// program's own code: every function of the signature (every method of
// the name whose receiver implements the interface). In the standard
// library (not the runtime, trusted to call back only as modelled):
// only the program's own such functions that are used as values, the only
// ones the standard library can have been handed.
func (x *index) unresolved(fi *funcInfo, c *ssa.CallCommon, bySig *typeutil.Map) []int {
	var cands []int
	if c.IsInvoke() {
		iface, _ := c.Value.Type().Underlying().(*types.Interface)
		if iface == nil {
			return nil
		}
		for _, id := range x.methodsNamed(c.Method.Name()) {
			recv := x.funcs[id].fn.Signature.Recv()
			if recv != nil && types.Implements(recv.Type(), iface) {
				cands = append(cands, id)
			}
		}
	} else {
		cands, _ = bySig.At(c.Signature()).([]int)
	}
	if !fi.std {
		return cands
	}
	var out []int
	for _, id := range cands {
		if !x.funcs[id].std && x.addrTaken(id) {
			out = append(out, id)
		}
	}
	return out
}

// methodsNamed are the concrete methods with that name.
func (x *index) methodsNamed(name string) []int {
	if x.byMethod == nil {
		x.byMethod = map[string][]int{}
		for id, fi := range x.funcs {
			if r := fi.fn.Signature.Recv(); r != nil && !types.IsInterface(r.Type()) && fi.fn.Synthetic == "" {
				x.byMethod[fi.fn.Name()] = append(x.byMethod[fi.fn.Name()], id)
			}
		}
	}
	return x.byMethod[name]
}

// addrTaken: the function is used as a value somewhere (not only called),
// or is a method (a method value, or through an interface).
func (x *index) addrTaken(id int) bool {
	if x.taken == nil {
		x.taken = map[int]bool{}
		var buf [16]*ssa.Value
		for _, fi := range x.funcs {
			for _, b := range fi.fn.Blocks {
				for _, in := range b.Instrs {
					var callee ssa.Value
					if call, ok := in.(ssa.CallInstruction); ok && !call.Common().IsInvoke() {
						callee = call.Common().Value
					}
					for _, op := range in.Operands(buf[:0]) {
						if *op == nil || *op == callee {
							continue
						}
						switch v := (*op).(type) {
						case *ssa.Function:
							x.taken[x.add(v)] = true
						}
					}
					if mc, ok := in.(*ssa.MakeClosure); ok {
						// A closure called right where it is made is
						// not handed anywhere.
						refs := mc.Referrers()
						only := refs != nil && len(*refs) > 0
						if refs != nil {
							for _, r := range *refs {
								call, ok := r.(ssa.CallInstruction)
								if !ok || call.Common().Value != mc {
									only = false
								}
							}
						}
						if !only {
							x.taken[x.add(mc.Fn.(*ssa.Function))] = true
						}
					}
				}
			}
		}
	}
	return x.taken[id] || x.funcs[id].fn.Signature.Recv() != nil
}

// genericBody: a generic function's body or a closure in one (not an
// instance).
func genericBody(fn *ssa.Function) bool {
	for f := fn; f != nil; f = f.Parent() {
		if generic(f) {
			return true
		}
	}
	return false
}

// callback records the function passed to a function that has the runtime
// call it later (finalizers, cleanups, timer callbacks), and returns it.
func (x *index) callback(c *ssa.CallCommon, v ssa.Value, kind string, bySig *typeutil.Map) []int {
	if k, ok := v.(*ssa.Const); ok && k.IsNil() {
		return nil // SetFinalizer(x, nil) removes one
	}
	fs, ok := x.funcValues(v, bySig)
	where := x.p.Fset.Position(c.Pos())
	list := &x.timers
	switch kind {
	case "finalizer":
		list = &x.finalizer
		if !ok && x.unresolvedFinalizer == "" {
			x.unresolvedFinalizer = "the finalizer set at " + shortPos(where) + " could not be resolved to functions"
		}
	case "cleanup":
		list = &x.cleanups
	}
	for _, f := range fs {
		*list = append(*list, root{fn: f, why: kind})
	}
	if !ok && kind != "finalizer" && x.unresolvedAlways == "" {
		x.unresolvedAlways = "the " + kind + " at " + shortPos(where) + " could not be resolved to functions"
	}
	return fs
}

// patchGoFunc: time.goFunc, which the runtime calls when an AfterFunc
// timer fires, starts the callback through an interface the call graph
// cannot follow: its callees are every AfterFunc callback.
func (x *index) patchGoFunc() {
	for _, fi := range x.funcs {
		if funcName(fi.fn) != "time.goFunc" {
			continue
		}
		for i := range fi.calls {
			if fi.calls[i].instr.Common().StaticCallee() == nil {
				for _, r := range x.timers {
					fi.calls[i].callees = append(fi.calls[i].callees, r.fn)
				}
			}
		}
	}
}

// funcValues are the functions a function value may be: exact for
// function literals, declared functions and method values; through
// interface conversions, phis and parameters (all callers); otherwise
// every function of its signature, and ok false when not even that is
// known (an interface of no function type).
func (x *index) funcValues(v ssa.Value, bySig *typeutil.Map) ([]int, bool) {
	seen := map[ssa.Value]bool{}
	var out []int
	ok := true
	var walk func(v ssa.Value, depth int)
	walk = func(v ssa.Value, depth int) {
		if seen[v] || !ok {
			return
		}
		seen[v] = true
		switch v := v.(type) {
		case *ssa.Function:
			out = append(out, x.add(v))
			return
		case *ssa.MakeClosure:
			out = append(out, x.add(v.Fn.(*ssa.Function)))
			return
		case *ssa.MakeInterface:
			walk(v.X, depth)
			return
		case *ssa.ChangeType:
			walk(v.X, depth)
			return
		case *ssa.Const:
			if v.IsNil() {
				return
			}
		case *ssa.Phi:
			for _, e := range v.Edges {
				walk(e, depth)
			}
			return
		case *ssa.Parameter:
			if depth < 8 {
				if n := x.p.cg.Nodes[v.Parent()]; n != nil && !x.externallyCalled(v.Parent()) {
					idx := paramIndex(v)
					for _, e := range n.In {
						args := e.Site.Common().Args
						if e.Site.Common().IsInvoke() {
							idx2 := idx - 1
							if idx2 < 0 || idx2 >= len(args) {
								ok = false
								return
							}
							walk(args[idx2], depth+1)
							continue
						}
						if idx < len(args) {
							walk(args[idx], depth+1)
						} else {
							ok = false
						}
					}
					return
				}
			}
		}
		// Unknown: every function of the value's signature.
		if sig, isSig := v.Type().Underlying().(*types.Signature); isSig {
			fs, _ := bySig.At(sig).([]int)
			out = append(out, fs...)
			return
		}
		ok = false
	}
	walk(v, 0)
	return out, ok
}

// externallyCalled: a function the runtime (or C) may call without an edge
// in the call graph. Filled by directives and callbacks; conservative
// callers treat such parameters as unknown.
func (x *index) externallyCalled(fn *ssa.Function) bool {
	id, ok := x.id[fn]
	if !ok {
		return true
	}
	for _, r := range x.roots {
		if r.fn == id {
			return true
		}
	}
	for _, l := range [][]root{x.finalizer, x.cleanups, x.timers} {
		for _, r := range l {
			if r.fn == id {
				return true
			}
		}
	}
	return false
}

func paramIndex(p *ssa.Parameter) int {
	for i, q := range p.Parent().Params {
		if q == p {
			return i
		}
	}
	return -1
}

// cgoStub: the Go side of a cgo call (its body is C).
func cgoStub(fn *ssa.Function) bool {
	n := fn.Name()
	return strings.HasPrefix(n, "_Cfunc_") || strings.HasPrefix(n, "_cgo_") || strings.HasPrefix(n, "_Cgo_") || strings.HasPrefix(n, "_C2func_")
}

// funcName is the function's name as in the sync/reflect tables:
// "(*sync.Mutex).Unlock", "reflect.Select", "runtime.AddCleanup[...]".
func funcName(fn *ssa.Function) string {
	if fn.Signature.Recv() != nil {
		return fn.String()
	}
	if fn.Pkg != nil {
		return fn.Pkg.Pkg.Path() + "." + fn.Name()
	}
	if o := fn.Origin(); o != nil && o.Pkg != nil {
		return o.Pkg.Pkg.Path() + "." + fn.Name()
	}
	return fn.String()
}

var (
	exportRe   = regexp.MustCompile(`^//export\s+(\S+)`)
	linknameRe = regexp.MustCompile(`^//go:linkname\s+(\S+)(\s+\S+)?`)
	asmCallRe  = regexp.MustCompile(`(?m)^\s*(?:[A-Za-z_]\w*:\s*)?(CALL|JMP|BL|B|BR|JAL|JALR)\s+([^\s;/]+)`)
	asmRegRe   = regexp.MustCompile(`^(\(.*\)|[A-Z]{1,3}[0-9]*|R[0-9]+|LR|CTR)$`)
)

// directives finds, in the program's own (non-standard) packages, the
// functions something outside Go calls: cgo exports (C calls
// them), go:linkname'd functions with a body (called by that name from another
// package) and Go functions called from assembly. Each is a root. It also
// decides which functions without a Go body may be relied on: assembly
// that calls only the runtime, syscall or other assembly (asmOK);
// a go:linkname'd declaration without a body, or assembly calling Go code
// through a register, is a blocker (scan).
func (x *index) directives(pkgs []*packages.Package) {
	x.asmOK = map[int]bool{}
	byName := map[string]int{}
	for id, fi := range x.funcs {
		fn := fi.fn
		if fi.std || fn.Pkg == nil || fn.Signature.Recv() != nil || fn.Parent() != nil {
			continue
		}
		byName[fn.Pkg.Pkg.Path()+"."+fn.Name()] = id
	}
	packages.Visit(pkgs, nil, func(pk *packages.Package) {
		if isStd(pk) {
			return
		}
		linknamed := map[string]bool{}
		for _, f := range pk.Syntax {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv != nil || fd.Doc == nil {
					continue
				}
				id, ok := byName[pk.PkgPath+"."+fd.Name.Name]
				if !ok {
					continue
				}
				for _, c := range fd.Doc.List {
					if m := exportRe.FindStringSubmatch(c.Text); m != nil {
						x.roots = append(x.roots, root{fn: id, why: "cgo export " + m[1] + " (C may call it)"})
					}
				}
			}
			for _, cg := range f.Comments {
				for _, c := range cg.List {
					m := linknameRe.FindStringSubmatch(c.Text)
					if m == nil {
						continue
					}
					linknamed[m[1]] = true
					if id, ok := byName[pk.PkgPath+"."+m[1]]; ok && len(x.funcs[id].fn.Blocks) > 0 {
						x.roots = append(x.roots, root{fn: id, why: "go:linkname'd " + m[1] + " (callable by another name)"})
					}
				}
			}
		}
		if bad, ok := x.assembly(pk, byName); ok {
			for name, id := range byName {
				fn := x.funcs[id].fn
				if fn.Pkg.Pkg.Path() == pk.PkgPath && len(fn.Blocks) == 0 && bad == "" && !linknamed[strings.TrimPrefix(name, pk.PkgPath+".")] {
					x.asmOK[id] = true
				}
			}
		}
	})
}

// assembly reads a package's assembly files: the Go functions they call
// become roots. bad says why its functions without a Go body cannot be
// relied on ("" when they call only the runtime, syscall, internal
// packages or other assembly); ok is false when it has no assembly.
func (x *index) assembly(pk *packages.Package, byName map[string]int) (bad string, ok bool) {
	var sfiles []string
	for _, f := range pk.OtherFiles {
		if strings.HasSuffix(f, ".s") {
			sfiles = append(sfiles, f)
		}
	}
	if len(sfiles) == 0 {
		return "", false
	}
	for _, path := range sfiles {
		data, err := os.ReadFile(path)
		if err != nil {
			bad = "assembly " + path + " could not be read"
			continue
		}
		for _, m := range asmCallRe.FindAllStringSubmatch(string(data), -1) {
			target := m[2]
			if !strings.Contains(target, "(SB)") {
				if strings.HasSuffix(target, "(PC)") || !asmRegRe.MatchString(target) {
					continue // a relative jump or a label
				}
				bad = "assembly in " + pk.PkgPath + " calls through " + target
				continue
			}
			sym := strings.TrimPrefix(strings.TrimSuffix(strings.SplitN(target, "(SB)", 2)[0], "<>"), "$")
			pkgPart, name, found := strings.Cut(sym, "·")
			if !found {
				bad = "assembly in " + pk.PkgPath + " calls " + sym
				continue
			}
			pkgPath := strings.ReplaceAll(pkgPart, "∕", "/")
			if pkgPath == "" {
				pkgPath = pk.PkgPath
			}
			if pkgPath == "runtime" || pkgPath == "syscall" || strings.HasPrefix(pkgPath, "internal/") {
				continue
			}
			if id, ok := byName[pkgPath+"."+name]; ok {
				if len(x.funcs[id].fn.Blocks) > 0 {
					x.roots = append(x.roots, root{fn: id, why: "called from assembly"})
				}
				continue
			}
			if pkgPath == pk.PkgPath {
				continue // another assembly function
			}
			bad = "assembly in " + pk.PkgPath + " calls " + sym
		}
	}
	return bad, true
}

// at returns the innermost functions whose syntax contains file:line
// (several for the instances of a generic function).
func (x *index) at(file string, line int) []int {
	key := atKey{file, line}
	x.atMu.Lock()
	defer x.atMu.Unlock()
	if ids, ok := x.atMemo[key]; ok {
		return ids
	}
	ids := x.at1(file, line)
	if x.atMemo == nil {
		x.atMemo = map[atKey][]int{}
	}
	x.atMemo[key] = ids
	return ids
}

type atKey struct {
	file string
	line int
}

func (x *index) at1(file string, line int) []int {
	var best []int
	bestLen := -1
	for _, id := range x.spans[file] {
		fi := x.funcs[id]
		if line < fi.start || line > fi.end {
			continue
		}
		n := fi.end - fi.start
		switch {
		case bestLen < 0 || n < bestLen:
			best, bestLen = []int{id}, n
		case n == bestLen:
			best = append(best, id)
		}
	}
	return best
}

func shortPos(p token.Position) string {
	return shortFile(p.Filename) + ":" + itoa(p.Line)
}

// shortFile keeps the last two path elements.
func shortFile(p string) string {
	n := 0
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			n++
			if n == 2 {
				return p[i+1:]
			}
		}
	}
	return p
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
