package inspect

import (
	"go/ast"
	"go/token"
	"sort"

	"golang.org/x/tools/go/cfg"
)

// Paths that leave a lock held. A lock that is locked, has waiters, and is
// held by no frame on any stack was locked by a function that has since
// returned (or panicked) without unlocking it. For every Lock call of a
// function this finds the paths to the function's exits (a return, the end
// of the body, a panic) on which no Unlock of the same receiver happens and
// no Unlock is deferred: "s.mu.Lock() at store.go:24 reaches the return at
// store.go:31 without Unlock, by the break at store.go:28". Which of them
// ran is not known from memory; each is a place where the missing Unlock
// can be.

// exitPath is one Lock call with a way out of its function still holding
// the lock.
type exitPath struct {
	recv     string
	read     bool
	lockLine int
	exitLine int
	exitKind string // "return", "end" (falls off the end), "panic"
	// via are the lines of the break, continue or goto statements on the
	// path, in order.
	via []int
}

// branchMarkerName is the function markBranches calls before each branch
// statement, so that the CFG (which has no nodes for break, continue and
// goto) records where paths take them.
const branchMarkerName = "\x00branch"

// markBranches puts a marker call before every break, continue and goto of
// body (not inside function literals), once.
func markBranches(body *ast.BlockStmt) {
	fix := func(list []ast.Stmt) {
		for i, st := range list {
			if br, ok := st.(*ast.BranchStmt); ok && br.Tok != token.FALLTHROUGH {
				mark := &ast.ExprStmt{X: &ast.CallExpr{Fun: &ast.Ident{Name: branchMarkerName, NamePos: br.Pos()}, Lparen: br.Pos(), Rparen: br.Pos()}}
				list[i] = &ast.BlockStmt{Lbrace: br.Pos(), List: []ast.Stmt{mark, br}, Rbrace: br.End()}
			}
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.BlockStmt:
			if len(x.List) == 2 {
				if es, ok := x.List[0].(*ast.ExprStmt); ok {
					if c, ok := es.X.(*ast.CallExpr); ok {
						if id, ok := c.Fun.(*ast.Ident); ok && id.Name == branchMarkerName {
							return false // already marked
						}
					}
				}
			}
			fix(x.List)
		case *ast.CaseClause:
			fix(x.Body)
		case *ast.CommClause:
			fix(x.Body)
		case *ast.LabeledStmt:
			if br, ok := x.Stmt.(*ast.BranchStmt); ok && br.Tok != token.FALLTHROUGH {
				l := []ast.Stmt{x.Stmt}
				fix(l)
				x.Stmt = l[0]
			}
		}
		return true
	})
}

// branchMarker reports whether call is a marker, and the branch's line.
func branchMarker(fset *token.FileSet, call *ast.CallExpr) (int, bool) {
	id, ok := call.Fun.(*ast.Ident)
	if !ok || id.Name != branchMarkerName {
		return 0, false
	}
	return fset.Position(id.NamePos).Line, true
}

// exitPaths lists, for every Lock call of the function, the first path
// found to each exit that leaves the lock held (at most maxExits per
// call). Locks with a deferred Unlock anywhere in the function are left
// out.
func (lf *lockFunc) exitPaths(fset *token.FileSet) []exitPath {
	if !lf.analysed || lf.cfg == nil || len(lf.facts) == 0 {
		return nil
	}
	const maxExits = 4
	var out []exitPath
	g := lf.cfg
	type pos struct {
		block int32
		node  int // next node to look at
	}
	for bi, b := range g.Blocks {
		if !b.Live {
			continue
		}
		for ni := range b.Nodes {
			for k, o := range lf.ops[bi][ni] {
				if !o.lock || o.fact < 0 {
					continue
				}
				f := lf.facts[o.fact]
				unlock := "Unlock"
				if f.read {
					unlock = "RUnlock"
				}
				if lf.deferred[f.recv+unlock] {
					continue
				}
				bit := uint64(1) << o.fact
				// Breadth-first over blocks from just after this Lock,
				// following only paths on which the lock stays held.
				type step struct {
					at   pos
					prev int // index in steps, -1 for the start
					via  int // branch line taken in this step, 0 for none
				}
				steps := []step{{at: pos{int32(bi), ni}, prev: -1}}
				seen := map[int32]bool{}
				exits := 0
				for qi := 0; qi < len(steps) && exits < maxExits && qi < 10_000; qi++ {
					st := steps[qi]
					blk := g.Blocks[st.at.block]
					held, exit, exitLine, via := true, "", 0, 0
					for n := st.at.node; n < len(blk.Nodes) && held && exit == ""; n++ {
						ops := lf.ops[st.at.block][n]
						from := 0
						if qi == 0 && n == ni {
							from = k + 1 // after the Lock itself
						}
						for _, o2 := range ops[from:] {
							if o2.branch {
								via = o2.line
							}
							if lf.apply(bit, o2)&bit == 0 {
								held = false
								break
							}
						}
						if !held {
							break
						}
						switch x := blk.Nodes[n].(type) {
						case *ast.ReturnStmt:
							exit, exitLine = "return", fset.Position(x.Pos()).Line
							if len(x.Results) == 0 && x.Return == lf.body.End()-1 {
								exit = "end"
							}
						case *ast.ExprStmt:
							if c, ok := x.X.(*ast.CallExpr); ok && !mayReturn(c) {
								exit, exitLine = "panic", fset.Position(x.Pos()).Line
							}
						}
					}
					if !held {
						continue
					}
					if exit != "" {
						p := exitPath{recv: f.recv, read: f.read, lockLine: o.line, exitLine: exitLine, exitKind: exit}
						if via != 0 {
							p.via = append(p.via, via)
						}
						for j := qi; j >= 0; j = steps[j].prev {
							if steps[j].via != 0 {
								p.via = append([]int{steps[j].via}, p.via...)
							}
						}
						out = append(out, p)
						exits++
						continue
					}
					for _, s := range blk.Succs {
						if seen[s.Index] || !s.Live {
							continue
						}
						seen[s.Index] = true
						if s.Kind == cfg.KindRangeBody && lf.rangeKill(s, bit)&bit == 0 {
							continue
						}
						steps = append(steps, step{at: pos{s.Index, 0}, prev: qi, via: via})
					}
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].lockLine != out[j].lockLine {
			return out[i].lockLine < out[j].lockLine
		}
		return out[i].exitLine < out[j].exitLine
	})
	return out
}
