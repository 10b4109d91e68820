package wakers

import (
	"go/types"
	"os"
	"strings"
	"sync"

	"golang.org/x/tools/go/ssa"
)

// Frame is one stack frame as memory shows it.
type Frame struct {
	Func string
	File string
	Line int
}

// Reach is the code that can still run: from the frames of some
// goroutines (the rest of each function on the stack, from where it is
// stopped, and everything it may call) and from what the runtime runs by
// itself (cleanups, timer callbacks, cgo exports, and finalizers while the
// finalizer goroutine can run).
type Reach struct {
	p     *Program
	funcs []bool // whole functions reachable
	// partial are the instructions reachable in functions entered in the
	// middle (frames).
	partial map[ssa.Instruction]bool
	queue   []int
	// blocker is why nothing can be proven from this reach ("" when
	// something can), with where it was reached from.
	blocker string
	// from says, for each reached function, the root or frame it was
	// first reached from (for explanations).
	from []string
	// origin is the description of what is being added (a frame, a root).
	origin string
	// rootsAdded, mainAdded: done once.
	rootsAdded, mainAdded bool
	// finalizers can run (the finalizer goroutine can); finPool are the
	// finalizer functions that may be queued: registered on live
	// objects or queued (from memory, or every one in the program), and
	// those registered by reachable code.
	finalizers    bool
	finUnresolved string
	finPool       map[int]bool
	finAdded      map[int]bool
	// poolFromMemory: finPool was set from memory.
	poolFromMemory bool
	pendingFin     bool
	allTimers      bool
}

// NewReach starts an empty reach.
func (p *Program) NewReach() *Reach {
	return &Reach{p: p, funcs: make([]bool, len(p.idx.funcs)), from: make([]string, len(p.idx.funcs)), partial: map[ssa.Instruction]bool{},
		finPool: map[int]bool{}, finAdded: map[int]bool{}}
}

// Blocker is why this reach proves nothing ("" when it can): code no call
// graph bounds is reachable (reflection, a plugin, code without a Go
// body, an unresolved finalizer or callback, a frame not in the source).
func (r *Reach) Blocker() string { return r.blocker }

// Block turns the proof off: something this reach cannot bound can run.
func (r *Reach) Block(why string) { r.block(why) }

func (r *Reach) block(why string) {
	if r.blocker == "" {
		r.blocker = why
	}
}

// AddRoots adds what foreign code may call at any time: cgo
// exports, go:linkname'd functions with a body, Go functions called from assembly.
func (r *Reach) AddRoots() {
	if r.rootsAdded {
		return
	}
	r.rootsAdded = true
	for _, rt := range r.p.idx.roots {
		r.origin = rt.why
		r.addFunc(rt.fn)
	}
	r.drain()
}

// AddAllCallbacks adds every timer callback (time.AfterFunc) and cleanup
// of the program, and makes every finalizer of the program one that may be
// queued: what may be pending when memory does not say.
func (r *Reach) AddAllCallbacks() {
	x := r.p.idx
	if x.unresolvedAlways != "" {
		r.block(x.unresolvedAlways)
	}
	for _, l := range [][]root{x.timers, x.cleanups} {
		for _, rt := range l {
			r.origin = rt.why
			r.addFunc(rt.fn)
		}
	}
	if !r.poolFromMemory {
		for _, rt := range x.finalizer {
			r.finPool[rt.fn] = true
		}
		if x.unresolvedFinalizer != "" {
			r.finUnresolved = x.unresolvedFinalizer
		}
	}
	r.drain()
}

// AddCallbacks adds the functions memory shows pending: timer callbacks
// and cleanups (they run whatever the goroutines do). kind names them in
// explanations ("timer callback", "cleanup").
func (r *Reach) AddCallbacks(kind string, fns []Frame) {
	for _, f := range fns {
		ids := r.p.funcsOf(f)
		if len(ids) == 0 {
			if !r.p.stdFunc(f.Func) {
				r.block("the " + kind + " " + f.Func + " is not in the analysed source")
			}
			continue
		}
		r.origin = kind + " " + f.Func
		for _, id := range ids {
			r.addFunc(id)
		}
	}
	r.drain()
}

// SetFinalizerPool sets the finalizer functions memory shows registered on
// live objects or queued.
func (r *Reach) SetFinalizerPool(fns []Frame) {
	r.poolFromMemory = true
	for _, f := range fns {
		ids := r.p.funcsOf(f)
		if len(ids) == 0 && !r.p.stdFunc(f.Func) {
			r.finUnresolved = "the finalizer " + f.Func + " is not in the analysed source"
		}
		for _, id := range ids {
			r.finPool[id] = true
		}
	}
	r.addFinalizers()
}

// EnableFinalizers says the finalizer goroutine can run: every finalizer
// that may be queued can run.
func (r *Reach) EnableFinalizers() {
	r.finalizers = true
	r.addFinalizers()
}

func (r *Reach) addFinalizers() {
	if !r.finalizers {
		return
	}
	if r.finUnresolved != "" {
		r.block(r.finUnresolved)
	}
	for id := range r.finPool {
		if !r.finAdded[id] {
			r.finAdded[id] = true
			r.origin = "finalizer " + runtimeName(r.p.idx.funcs[id].fn, r.p)
			r.addFunc(id)
		}
	}
	r.drain()
}

// funcsOf maps a function memory names (a callback's entry) to the
// program's: by name, else by its file and line.
func (p *Program) funcsOf(f Frame) []int {
	p.namesOnce.Do(func() {
		p.byName = map[string][]int{}
		for id, fi := range p.idx.funcs {
			n := runtimeName(fi.fn, p)
			p.byName[n] = append(p.byName[n], id)
		}
	})
	if ids := p.byName[strings.TrimSuffix(f.Func, "-fm")+boundSuffix(f.Func)]; len(ids) > 0 {
		return ids
	}
	if f.File != "" && f.Line > 0 {
		return p.idx.at(p.localFile(f.File), f.Line)
	}
	return nil
}

// boundSuffix: a method value's wrapper is "-fm" to the runtime, "$bound"
// to SSA.
func boundSuffix(fn string) string {
	if strings.HasSuffix(fn, "-fm") {
		return "$bound"
	}
	return ""
}

// AddStack adds the code a goroutine stopped at frames (innermost first)
// may still run: in each frame's function, what follows the point where it
// is stopped (and its deferred calls), and everything those call. label
// names the goroutine in explanations.
func (r *Reach) AddStack(frames []Frame, label string) {
	x := r.p.idx
	if len(frames) == 0 {
		r.block("the stack of " + label + " could not be read")
		return
	}
	sawMain, sawRuntimeMain := false, false
	for _, f := range frames {
		switch f.Func {
		case "main.main":
			sawMain = true
		case "runtime.main":
			sawRuntimeMain = true
		}
		if f.File == "" || strings.HasPrefix(f.File, "<") || f.Line <= 0 {
			continue // compiler-generated wrappers
		}
		ids := x.at(r.p.localFile(f.File), f.Line)
		if len(ids) == 0 {
			if !r.p.stdFunc(f.Func) {
				r.block("frame " + f.Func + " at " + shortFile(f.File) + ":" + itoa(f.Line) + " (" + label + ") is not in the analysed source")
			}
			continue
		}
		r.origin = label
		for _, id := range ids {
			r.addFrom(id, f.Line)
		}
	}
	if sawRuntimeMain && !sawMain && !r.mainAdded {
		// Still initializing: main.main and the package initializers
		// will run (runtime.main calls them through the linker).
		r.mainAdded = true
		r.origin = label + " (runtime.main: main.main and package initializers still to run)"
		if x.mainFn >= 0 {
			r.addFunc(x.mainFn)
		}
		for _, id := range x.inits {
			r.addFunc(id)
		}
	}
	r.drain()
}

// stdFunc: a function of the standard library, by its runtime name: its
// package is one of the program's standard packages (a package the
// program does not have is not assumed standard).
func (p *Program) stdFunc(fn string) bool {
	if strings.HasPrefix(fn, "main.") {
		return false
	}
	pkg := funcPackage(fn)
	p.stdOnce.Do(func() {
		p.stdPaths = map[string]bool{}
		for sp := range p.std {
			p.stdPaths[sp.Pkg.Path()] = true
		}
	})
	return p.stdPaths[pkg]
}

// funcPackage is the package path of a runtime function name:
// "net/http.(*Server).Serve" → "net/http".
func funcPackage(fn string) string {
	slash := strings.LastIndex(fn, "/")
	rest := fn[slash+1:]
	if dot := strings.Index(rest, "."); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

// addFrom adds function id entered in the middle, stopped at line.
func (r *Reach) addFrom(id, line int) {
	fi := r.p.idx.funcs[id]
	fn := fi.fn
	if r.funcs[id] {
		return
	}
	if fi.blocker != "" {
		r.block(fi.blocker + ", reached from " + r.origin)
	}
	if fi.resetsTimers {
		r.addFunc(id) // (all of it: simpler, and it is tiny)
		return
	}
	var starts []ssa.Instruction
	for _, b := range fn.Blocks {
		for _, in := range b.Instrs {
			if p := in.Pos(); p.IsValid() && r.p.Fset.Position(p).Line == line {
				starts = append(starts, in)
			}
		}
	}
	if len(starts) == 0 {
		r.addFunc(id) // nothing known at that line: all of it
		return
	}
	seenBlock := map[*ssa.BasicBlock]bool{}
	var visit func(b *ssa.BasicBlock)
	visit = func(b *ssa.BasicBlock) {
		if seenBlock[b] {
			return
		}
		seenBlock[b] = true
		for _, in := range b.Instrs {
			r.partial[in] = true
		}
		for _, s := range b.Succs {
			visit(s)
		}
	}
	for _, in := range starts {
		b := in.Block()
		on := false
		for _, bi := range b.Instrs {
			if bi == in {
				on = true
			}
			if on {
				r.partial[bi] = true
			}
		}
		for _, s := range b.Succs {
			visit(s)
		}
	}
	if fn.Recover != nil {
		visit(fn.Recover) // after a recovered panic
	}
	for _, b := range fn.Blocks {
		for _, in := range b.Instrs {
			if _, ok := in.(*ssa.Defer); ok {
				r.partial[in] = true // a deferred call may be pending
			}
		}
	}
	for _, c := range fi.calls {
		if r.partial[c.instr] {
			for _, ce := range c.callees {
				r.addFunc(ce)
			}
			r.registers(c.finalizers)
		}
	}
}

// registers: reachable code registers these finalizers.
func (r *Reach) registers(fins []int) {
	for _, id := range fins {
		r.finPool[id] = true
	}
	if len(fins) > 0 && r.finalizers {
		r.pendingFin = true
	}
}

// addFunc marks a whole function reachable.
func (r *Reach) addFunc(id int) {
	if r.funcs[id] {
		return
	}
	r.funcs[id] = true
	r.from[id] = r.origin
	r.queue = append(r.queue, id)
}

func (r *Reach) drain() {
	x := r.p.idx
	for len(r.queue) > 0 {
		id := r.queue[len(r.queue)-1]
		r.queue = r.queue[:len(r.queue)-1]
		fi := x.funcs[id]
		if fi.blocker != "" {
			r.block(fi.blocker + ", reachable from " + r.from[id])
		}
		if fi.resetsTimers && !r.allTimers {
			// A stopped AfterFunc timer may be started again: any
			// callback of the program may run.
			r.allTimers = true
			for _, rt := range x.timers {
				if !r.funcs[rt.fn] {
					r.funcs[rt.fn] = true
					r.from[rt.fn] = "timer callback (a timer reset from " + r.from[id] + ")"
					r.queue = append(r.queue, rt.fn)
				}
			}
		}
		for _, c := range fi.calls {
			for _, ce := range c.callees {
				if !r.funcs[ce] {
					r.funcs[ce] = true
					r.from[ce] = r.from[id]
					r.queue = append(r.queue, ce)
				}
			}
			r.registers(c.finalizers)
		}
		if len(r.queue) == 0 && r.pendingFin {
			r.pendingFin = false
			for fid := range r.finPool {
				if !r.finAdded[fid] {
					r.finAdded[fid] = true
					r.origin = "finalizer " + runtimeName(x.funcs[fid].fn, r.p)
					r.addFunc(fid)
				}
			}
		}
	}
}

// reached: the operation can be executed by the code of this reach.
func (r *Reach) reached(o *op) bool {
	if r.funcs[o.fn] {
		return true
	}
	return o.in != nil && r.partial[o.in]
}

// Reached says whether the code of this reach can get to the site, and
// from where.
func (r *Reach) Reached(s *Site) (bool, string) {
	if !r.reached(s.op) {
		return false, ""
	}
	return true, r.from[s.op.fn]
}

var localFiles sync.Map

// localFile maps a file recorded in the binary to the file loaded: the
// same path, or for -trimpath builds the loaded file with that path as a
// suffix.
func (p *Program) localFile(f string) string {
	if _, ok := p.idx.spans[f]; ok {
		return f
	}
	key := p.Dir + "\x00" + f
	if v, ok := localFiles.Load(key); ok {
		return v.(string)
	}
	out := f
	for path := range p.idx.spans {
		if strings.HasSuffix(path, "/"+f) {
			out = path
			break
		}
	}
	localFiles.Store(key, out)
	return out
}

// Site is an operation in the code that may wake a waiter.
type Site struct {
	// Op is "send", "receive", "close", "Unlock", "RUnlock", "Done",
	// "Add", "Signal" or "Broadcast".
	Op string
	// Func is the function containing it (runtime spelling:
	// "main.(*cursor).release"), File and Line where it is.
	Func string
	File string
	Line int
	// Code is the source line, trimmed.
	Code string
	// Finalizer: the function is a finalizer (run by the finalizer
	// goroutine).
	Finalizer bool
	// Unknown: the operand is not followed (an interface, reflection,
	// unsafe): it may be any object of its type.
	Unknown bool
	// Reflection: a reflect function that operates on a channel it is
	// handed (reflect.Value.Send, reflect.Select, ...).
	Reflection bool
	op         *op
}

func (p *Program) site(o *op) *Site {
	fi := p.idx.funcs[o.fn]
	pos := p.Fset.Position(o.pos)
	s := &Site{Op: o.kind.String(), Func: runtimeName(fi.fn, p), File: pos.Filename, Line: pos.Line, op: o}
	s.Finalizer = p.finalizerFn(o.fn)
	s.Code = sourceLine(pos.Filename, pos.Line)
	if o.in == nil {
		s.Reflection = true
	}
	if o.val == nil {
		s.Unknown = true
	} else if org := p.orig.of(o.val); org[objUnknown] {
		s.Unknown = true
	}
	return s
}

var lineCache sync.Map // file → []string

func sourceLine(file string, line int) string {
	v, ok := lineCache.Load(file)
	if !ok {
		data, err := os.ReadFile(file)
		if err != nil {
			return ""
		}
		v, _ = lineCache.LoadOrStore(file, strings.Split(string(data), "\n"))
	}
	lines := v.([]string)
	if line <= 0 || line > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[line-1])
}

// runtimeName spells a function as the runtime does: the main package is
// "main", closures are ".funcN".
func runtimeName(fn *ssa.Function, p *Program) string {
	s := fn.String()
	if fn.Parent() != nil {
		// f$1$2 → f.func1.2
		top := fn
		for top.Parent() != nil {
			top = top.Parent()
		}
		rest := strings.TrimPrefix(fn.Name(), top.Name())
		parts := strings.Split(strings.TrimPrefix(rest, "$"), "$")
		s = runtimeName(top, p)
		for i, n := range parts {
			if i == 0 {
				s += ".func" + n
			} else {
				s += "." + n
			}
		}
		return s
	}
	if p.mainPkg != nil {
		mp := p.mainPkg.Pkg.Path()
		s = strings.ReplaceAll(s, "("+mp+".", "(main.")
		s = strings.ReplaceAll(s, "(*"+mp+".", "(*main.")
		if strings.HasPrefix(s, mp+".") {
			s = "main." + strings.TrimPrefix(s, mp+".")
		}
	}
	// "(*pkg.T).m" → "pkg.(*T).m"
	if strings.HasPrefix(s, "(") {
		end := strings.Index(s, ")")
		if end > 0 {
			recv := s[1:end]
			star := strings.HasPrefix(recv, "*")
			recv = strings.TrimPrefix(recv, "*")
			if dot := strings.LastIndex(recv, "."); dot > 0 {
				pkg, typ := recv[:dot], recv[dot+1:]
				if star {
					typ = "(*" + typ + ")"
				}
				s = pkg + "." + typ + s[end+1:]
			}
		}
	}
	return s
}

// typesOfChan are the element types of the channels the program's
// operations use, by the runtime's spelling of their names.
func (p *Program) chanElems(name string) []types.Type {
	var out []types.Type
	seen := map[string]bool{}
	for _, fi := range p.idx.funcs {
		for _, o := range fi.ops {
			if o.typ == nil {
				continue
			}
			c, ok := o.typ.Underlying().(*types.Chan)
			if !ok {
				continue
			}
			tn := dwarfName(c.Elem(), p)
			if tn == name && !seen[types.TypeString(c.Elem(), nil)] {
				seen[types.TypeString(c.Elem(), nil)] = true
				out = append(out, c.Elem())
			}
		}
	}
	return out
}

// dwarfName spells a type as the binary's debug information does:
// package paths in full, the main package as "main".
func dwarfName(t types.Type, p *Program) string {
	mp := ""
	if p.mainPkg != nil {
		mp = p.mainPkg.Pkg.Path()
	}
	return types.TypeString(t, func(pk *types.Package) string {
		if pk.Path() == mp {
			return "main"
		}
		return pk.Path()
	})
}

// finalizerFn: function id is one of the program's finalizers.
func (p *Program) finalizerFn(id int) bool {
	for _, rt := range p.idx.finalizer {
		if rt.fn == id {
			return true
		}
	}
	return false
}
