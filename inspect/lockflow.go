package inspect

import (
	"go/ast"
	"go/token"
	"sort"
	"strings"

	"golang.org/x/tools/go/cfg"
)

// Source evidence of who holds a lock: which Lock/RLock calls of a function
// are held, on every path, when the function is stopped at a line.
//
// The analysis is a must-hold dataflow over the function's control-flow
// graph (golang.org/x/tools/go/cfg): a Lock adds its receiver, an Unlock of
// the same receiver removes it, an assignment to the receiver's root
// variable removes it (the name no longer denotes the locked object), and
// where paths join only what every path holds survives. A lock taken in one
// branch of an if, or in a loop that may run zero times, is therefore not
// claimed; that is what makes the evidence safe to build deadlock proofs on.
// A deferred Unlock does not release the lock before the function returns:
// such calls are returned with deferred set, for the caller to decide
// (a live frame's pending defers are read from memory instead; a dump has
// no such memory and counts them as held).
//
// Each function is analysed once and each (function, line) answered once,
// per session: the cost grows with distinct code locations, not with the
// goroutines parked at them.

// lockCall is a Lock/RLock call found in source, still in force at a line
// (or, from locksAt, made on it).
type lockCall struct {
	recv string // receiver expression, e.g. "s.mu"
	line int
	read bool
	// deferred: the function defers the matching Unlock somewhere (not
	// necessarily on this path): the lock stays held until it returns.
	deferred bool
}

// lockFunc is one analysed function (declaration or literal).
type lockFunc struct {
	// name is the declared name ("" for a literal), recvType the
	// receiver's type name for a method (recvPtr: a pointer receiver),
	// used to check that the source matches the frame's function.
	name, recvType string
	recvPtr        bool
	// enclosing is the name of the FuncDecl a literal is in.
	enclosing  string
	start, end int // lines
	body       *ast.BlockStmt
	// recv and params are the declaration's receiver and parameters;
	// args is what they tell a frame without memory (argInfo).
	recv, params *ast.FieldList
	args         *dumpFunc
	// facts are the distinct lock receivers of the function, by index.
	facts []lockFact
	// at maps a line to the facts held on every path there (bit i:
	// facts[i]); lines the function does not stop at are absent.
	at       map[int]uint64
	deferred map[string]bool // recv+"Unlock"/"RUnlock" deferred somewhere
	analysed bool
	// The graph and each node's lock operations, kept for exitPaths.
	cfg     *cfg.CFG
	ops     [][][]op
	rootsOf map[string]uint64 // root variable → facts rooted at it
}

// op is one lock operation of a CFG node, in source order.
type op struct {
	line   int
	fact   int  // index in facts, -1 for none
	lock   bool // Lock (else Unlock)
	kill   string
	branch bool // a break, continue or goto (markBranches)
}

// apply is op o's effect on the set of held facts.
func (lf *lockFunc) apply(set uint64, o op) uint64 {
	switch {
	case o.fact >= 0 && o.lock:
		return set | 1<<o.fact
	case o.fact >= 0:
		return set &^ (1 << o.fact)
	case o.kill != "":
		return set &^ lf.rootsOf[o.kill]
	}
	return set
}

// rangeKill: range loops assign their key and value at the top of each
// iteration.
func (lf *lockFunc) rangeKill(b *cfg.Block, set uint64) uint64 {
	if b.Kind != cfg.KindRangeBody {
		return set
	}
	if rs, ok := b.Stmt.(*ast.RangeStmt); ok {
		for _, e := range []ast.Expr{rs.Key, rs.Value} {
			if id, ok := e.(*ast.Ident); ok {
				set &^= lf.rootsOf[id.Name]
			}
		}
	}
	return set
}

type lockFact struct {
	recv string
	read bool
	line int // the Lock call (the last one seen for this receiver)
}

// maxFacts bounds the distinct lock receivers tracked in one function (a
// bit set word); functions with more are not analysed (no claims).
const maxFacts = 64

// heldAt returns the locks held on every path at line by the innermost
// function enclosing it in path, nil when the source is not on disk, does
// not parse, or does not look like the function fn (fn "" skips the check).
func (si *sourceIndex) heldAt(path string, line int, fn string) []lockCall {
	key := fileLine{path, line}
	if c, ok := si.held[key]; ok {
		return c
	}
	var out []lockCall
	if lf := si.lockFuncAt(path, line); lf != nil && lf.matches(fn) {
		out = lf.heldAt(line)
	}
	si.held[key] = out
	return out
}

// funcAt returns the innermost function of path enclosing line.
func (si *sourceIndex) lockFuncAt(path string, line int) *lockFunc {
	sf := si.source(path)
	if sf == nil {
		return nil
	}
	// funcs is sorted by start line; the innermost enclosing function
	// is the last one starting at or before line that also ends after.
	var best *lockFunc
	for _, lf := range sf.funcs {
		if lf.start > line {
			break
		}
		if line <= lf.end && (best == nil || lf.start >= best.start) {
			best = lf
		}
	}
	if best != nil && !best.analysed {
		best.analyse(si.fset)
	}
	return best
}

func indexFuncs(fset *token.FileSet, f *ast.File) []*lockFunc {
	var out []*lockFunc
	var outer string
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncDecl:
			if x.Body == nil {
				return false
			}
			lf := &lockFunc{name: x.Name.Name, body: x.Body, recv: x.Recv, params: x.Type.Params}
			if x.Recv != nil && len(x.Recv.List) == 1 {
				lf.recvType = recvTypeName(x.Recv.List[0].Type)
				_, lf.recvPtr = x.Recv.List[0].Type.(*ast.StarExpr)
			}
			lf.start, lf.end = fset.Position(x.Pos()).Line, fset.Position(x.End()).Line
			outer = x.Name.Name
			out = append(out, lf)
		case *ast.FuncLit:
			lf := &lockFunc{enclosing: outer, body: x.Body, params: x.Type.Params}
			lf.start, lf.end = fset.Position(x.Pos()).Line, fset.Position(x.End()).Line
			out = append(out, lf)
		}
		return true
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].start < out[j].start })
	return out
}

func recvTypeName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr: // generic receiver T[P]
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// matches reports whether the function the runtime names fn
// ("pkg.(*T).M", "pkg.F", "pkg.F.func1", "pkg.F[...]") can be this source
// function: a cheap guard against source that does not match the binary.
func (lf *lockFunc) matches(fn string) bool {
	if fn == "" {
		return true
	}
	// Drop the package path and type arguments.
	if i := strings.LastIndex(fn, "/"); i >= 0 {
		fn = fn[i+1:]
	}
	fn = StripTypeArgs(fn, "")
	if lf.name == "" { // a literal: "pkg.Outer.func1" or "pkg.(*T).M.func2.1"
		return lf.enclosing != "" && strings.Contains(fn, "."+lf.enclosing+".func") || strings.Contains(fn, ".func")
	}
	if lf.recvType != "" {
		return strings.HasSuffix(fn, "(*"+lf.recvType+")."+lf.name) || strings.HasSuffix(fn, "."+lf.recvType+"."+lf.name)
	}
	return strings.HasSuffix(fn, "."+lf.name)
}

// heldAt answers for one line of an analysed function.
func (lf *lockFunc) heldAt(line int) []lockCall {
	set, ok := lf.at[line]
	if !ok || set == 0 {
		return nil
	}
	var out []lockCall
	for i, f := range lf.facts {
		if set&(1<<i) == 0 {
			continue
		}
		unlock := "Unlock"
		if f.read {
			unlock = "RUnlock"
		}
		out = append(out, lockCall{recv: f.recv, line: f.line, read: f.read, deferred: lf.deferred[f.recv+unlock]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// analyse runs the must-hold dataflow and records, for every line a node
// of the function starts or spans, what is held there on every path.
func (lf *lockFunc) analyse(fset *token.FileSet) {
	lf.analysed = true
	lf.deferred = map[string]bool{}
	markBranches(lf.body)
	g := cfg.New(lf.body, mayReturn)
	lf.cfg = g
	factIndex := map[string]int{}
	fact := func(recv string, read bool, line int) int {
		k := recv
		if read {
			k += "\x00r"
		}
		if i, ok := factIndex[k]; ok {
			lf.facts[i].line = line
			return i
		}
		if len(lf.facts) == maxFacts {
			return -1
		}
		lf.facts = append(lf.facts, lockFact{recv: recv, read: read, line: line})
		factIndex[k] = len(lf.facts) - 1
		return len(lf.facts) - 1
	}
	nodeOps := make([][][]op, len(g.Blocks))
	rootsOf := map[string]uint64{} // root variable → facts rooted at it
	for bi, b := range g.Blocks {
		nodeOps[bi] = make([][]op, len(b.Nodes))
		for ni, n := range b.Nodes {
			var ops []op
			visitCalls(n, func(call *ast.CallExpr, deferred bool) {
				if line, ok := branchMarker(fset, call); ok {
					ops = append(ops, op{line: line, fact: -1, branch: true})
					return
				}
				recv, name := lockMethod(call)
				if recv == "" {
					return
				}
				if deferred {
					if name == "Unlock" || name == "RUnlock" {
						lf.deferred[recv+name] = true
					}
					return
				}
				line := fset.Position(call.Pos()).Line
				switch name {
				case "Lock", "RLock":
					if i := fact(recv, name == "RLock", line); i >= 0 {
						ops = append(ops, op{line: line, fact: i, lock: true})
						rootsOf[rootIdent(recv)] |= 1 << i
					}
				case "Unlock", "RUnlock":
					// Resolved to a fact below, once every Lock is known.
					ops = append(ops, op{line: line, fact: -1, kill: recv + "\x00" + name})
				}
			}, func(id string, pos token.Pos) {
				ops = append(ops, op{line: fset.Position(pos).Line, fact: -1, kill: id})
			})
			nodeOps[bi][ni] = ops
		}
	}
	if len(lf.facts) == 0 {
		return
	}
	// Unlocks name their fact now that every Lock is known (an Unlock
	// may come first in source order, in a loop).
	for bi := range nodeOps {
		for ni := range nodeOps[bi] {
			for k, o := range nodeOps[bi][ni] {
				if o.fact < 0 && strings.Contains(o.kill, "\x00") {
					recv, name, _ := strings.Cut(o.kill, "\x00")
					key := recv
					if name == "RUnlock" {
						key += "\x00r"
					}
					if i, ok := factIndex[key]; ok {
						nodeOps[bi][ni][k] = op{line: o.line, fact: i}
					} else {
						nodeOps[bi][ni][k].kill = ""
					}
				}
			}
		}
	}
	lf.ops, lf.rootsOf = nodeOps, rootsOf
	apply := lf.apply
	rangeKill := lf.rangeKill
	// Iterate to the fixpoint: in-states start at "everything" (the
	// identity of intersection) except the entry.
	const all = ^uint64(0)
	in := make([]uint64, len(g.Blocks))
	reached := make([]bool, len(g.Blocks))
	for i := range in {
		in[i] = all
	}
	in[0], reached[0] = 0, true
	work := []int32{0}
	queued := make([]bool, len(g.Blocks))
	queued[0] = true
	for steps := 0; len(work) > 0 && steps < 100*len(g.Blocks)+1000; steps++ {
		bi := work[len(work)-1]
		work = work[:len(work)-1]
		queued[bi] = false
		b := g.Blocks[bi]
		set := rangeKill(b, in[bi])
		for _, ops := range nodeOps[bi] {
			for _, o := range ops {
				set = apply(set, o)
			}
		}
		for _, s := range b.Succs {
			nw := in[s.Index] & set
			if !reached[s.Index] || nw != in[s.Index] {
				reached[s.Index] = true
				in[s.Index] = nw
				if !queued[s.Index] {
					queued[s.Index] = true
					work = append(work, s.Index)
				}
			}
		}
	}
	// Record the state at each line: before the node's own operations on
	// later lines, after those on earlier lines. Lines where several nodes
	// are (a for clause, a loop head) keep what all of them hold.
	lf.at = map[int]uint64{}
	record := func(line int, st uint64) {
		if prev, ok := lf.at[line]; ok {
			st &= prev
		}
		lf.at[line] = st
	}
	before := map[ast.Node]uint64{}
	for bi, b := range g.Blocks {
		if !b.Live || !reached[bi] {
			continue
		}
		set := rangeKill(b, in[bi])
		if b.Kind == cfg.KindRangeLoop && b.Stmt != nil {
			// A range over a channel parks on the range line, at the
			// loop head (its X/Key/Value nodes ran once, before it).
			record(fset.Position(b.Stmt.Pos()).Line, set)
		}
		for ni, n := range b.Nodes {
			before[n] = set
			first, last := fset.Position(n.Pos()).Line, fset.Position(n.End()).Line
			ops := nodeOps[bi][ni]
			for line := first; line <= last && line-first < 200; line++ {
				st := set
				for _, o := range ops {
					if o.line < line {
						st = apply(st, o)
					}
				}
				record(line, st)
			}
			for _, o := range ops {
				set = apply(set, o)
			}
		}
	}
	// A select parks on its own line, where the CFG has no node: the
	// state there is the state before its first communication clause.
	ast.Inspect(lf.body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.SelectStmt:
			for _, c := range x.Body.List {
				if comm := c.(*ast.CommClause).Comm; comm != nil {
					if st, ok := before[comm]; ok {
						record(fset.Position(x.Pos()).Line, st)
					}
					break
				}
			}
		}
		return true
	})
}

// mayReturn tells the CFG builder which calls never return: panic, and
// the process-ending calls of os, log and testing.
func mayReturn(call *ast.CallExpr) bool {
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		return fn.Name != "panic"
	case *ast.SelectorExpr:
		if x, ok := fn.X.(*ast.Ident); ok {
			switch x.Name + "." + fn.Sel.Name {
			case "os.Exit", "log.Fatal", "log.Fatalf", "log.Fatalln", "log.Panic", "log.Panicf", "log.Panicln":
				return false
			}
		}
	}
	return true
}

// visitCalls calls call for each call expression of node n in source order
// (deferred: it is the call of a defer statement, or inside a deferred
// closure), and assign for each plain variable n assigns. It does not look
// into function literals other than deferred ones, nor into go statements:
// they run elsewhere.
func visitCalls(n ast.Node, call func(c *ast.CallExpr, deferred bool), assign func(id string, pos token.Pos)) {
	var visit func(n ast.Node, deferred bool)
	visit = func(n ast.Node, deferred bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.GoStmt:
				return false
			case *ast.DeferStmt:
				call(x.Call, true)
				if lit, ok := x.Call.Fun.(*ast.FuncLit); ok {
					visit(lit.Body, true)
				}
				return false
			case *ast.CallExpr:
				call(x, deferred)
			case *ast.AssignStmt:
				if !deferred {
					for _, l := range x.Lhs {
						if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
							assign(id.Name, x.Pos())
						}
					}
				}
			case *ast.IncDecStmt:
				if id, ok := x.X.(*ast.Ident); ok && !deferred {
					assign(id.Name, x.Pos())
				}
			}
			return true
		})
	}
	visit(n, false)
}

// rootIdent is the variable an expression starts from: "s" of "s.a.mu".
func rootIdent(recv string) string {
	root, _, _ := strings.Cut(recv, ".")
	return root
}
