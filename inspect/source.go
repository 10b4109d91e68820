package inspect

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// lockCall is a Lock/RLock call found in source, still in force at a line.
type lockCall struct {
	recv string // receiver expression, e.g. "s.mu"
	line int
	read bool
}

// sourceIndex parses each source file once per snapshot.
type sourceIndex struct {
	fset  *token.FileSet
	files map[string]*ast.File
	held  map[string][]lockCall
}

func newSourceIndex() *sourceIndex {
	return &sourceIndex{fset: token.NewFileSet(), files: map[string]*ast.File{}, held: map[string][]lockCall{}}
}

func (si *sourceIndex) file(path string) *ast.File {
	if f, ok := si.files[path]; ok {
		return f
	}
	var f *ast.File
	if st, err := os.Stat(path); err == nil && st.Size() < 4<<20 {
		f, _ = parser.ParseFile(si.fset, path, nil, parser.SkipObjectResolution)
	}
	si.files[path] = f
	return f
}

// heldAt returns the Lock/RLock calls of the innermost function enclosing
// line that are not followed, before line, by an Unlock of the same receiver
// or a defer of one (deferred unlocks are found from the frame itself).
func (si *sourceIndex) heldAt(path string, line int) []lockCall {
	key := fmt.Sprintf("%s:%d", path, line)
	if c, ok := si.held[key]; ok {
		return c
	}
	c := si.computeHeldAt(path, line)
	si.held[key] = c
	return c
}

func (si *sourceIndex) computeHeldAt(path string, line int) []lockCall {
	f := si.file(path)
	if f == nil {
		return nil
	}
	var body *ast.BlockStmt
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			return false
		}
		start, end := si.fset.Position(n.Pos()).Line, si.fset.Position(n.End()).Line
		if line < start || line > end {
			return false
		}
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body = fn.Body
		case *ast.FuncLit:
			body = fn.Body
		}
		return true
	})
	if body == nil {
		return nil
	}
	held := map[string]lockCall{}
	deferred := map[string]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		if lit, ok := n.(*ast.FuncLit); ok && lit.Body != body {
			return false // a nested closure is another function
		}
		if d, ok := n.(*ast.DeferStmt); ok {
			if recv, name := lockMethod(d.Call); recv != "" && (name == "Unlock" || name == "RUnlock") {
				deferred[recv+name] = true
			}
			return false
		}
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		l := si.fset.Position(call.Pos()).Line
		if l >= line {
			return true
		}
		recv, name := lockMethod(call)
		switch name {
		case "Lock", "RLock":
			held[recv+name] = lockCall{recv: recv, line: l, read: name == "RLock"}
		case "Unlock":
			delete(held, recv+"Lock")
		case "RUnlock":
			delete(held, recv+"RLock")
		}
		return true
	})
	var out []lockCall
	for _, c := range held {
		unlock := "Unlock"
		if c.read {
			unlock = "RUnlock"
		}
		if !deferred[c.recv+unlock] {
			out = append(out, c)
		}
	}
	return out
}

// lockMethod splits "x.y.Lock()" into ("x.y", "Lock").
func lockMethod(call *ast.CallExpr) (recv, name string) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || len(call.Args) != 0 {
		return "", ""
	}
	switch sel.Sel.Name {
	case "Lock", "RLock", "Unlock", "RUnlock":
	default:
		return "", ""
	}
	var b strings.Builder
	if !exprString(&b, sel.X) {
		return "", ""
	}
	return b.String(), sel.Sel.Name
}

// exprString renders the simple receiver expressions Delve can evaluate:
// identifiers and field selections.
func exprString(b *strings.Builder, e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		b.WriteString(x.Name)
		return true
	case *ast.SelectorExpr:
		if !exprString(b, x.X) {
			return false
		}
		b.WriteString("." + x.Sel.Name)
		return true
	case *ast.ParenExpr:
		return exprString(b, x.X)
	case *ast.StarExpr:
		return exprString(b, x.X)
	}
	return false
}

// sourceHolders finds holders that locked without a deferred unlock: a
// frame whose function called X.Lock() before its current line with no
// X.Unlock() since, where X evaluated in that frame is the locked object.
// Only frames with their source file on disk are considered.
func (b *builder) sourceHolders(si *sourceIndex) {
	for _, r := range b.res {
		if (r.Kind != KindMutex && r.Kind != KindRWMutex) || len(r.Waiters) == 0 {
			continue
		}
		hasWriter := false
		for _, h := range r.Holders {
			hasWriter = hasWriter || !h.Read
		}
		if hasWriter {
			continue
		}
		b.findSourceHolders(si, r)
	}
}

func (b *builder) findSourceHolders(si *sourceIndex, r *Resource) {
	for _, rg := range b.gs {
		g := b.byAdr[rg.Addr]
		for i, f := range g.Frames {
			if !IsUserFunc(f.Func) {
				continue
			}
			for _, c := range si.heldAt(f.File, f.Line) {
				if !b.evaluatesTo(rg, i, c.recv, r.Addr) {
					continue
				}
				if !b.lockStateAgrees(r, c.read) {
					continue
				}
				b.addHolder(g, r, Holder{Goroutine: g.ID, Evidence: EvidenceSource, Read: c.read,
					Frame: &Frame{Func: f.Func, File: f.File, Line: c.line, PC: f.PC}})
			}
		}
	}
}

func (b *builder) evaluatesTo(rg *target.G, frame int, expr string, addr uint64) bool {
	if p, err := b.t.PointerVar(rg, frame, expr); err == nil && p == addr {
		return true
	}
	p, err := b.t.PointerVar(rg, frame, "&"+expr)
	return err == nil && p == addr
}

func (b *builder) lockStateAgrees(r *Resource, read bool) bool {
	switch r.Kind {
	case KindMutex:
		w, err := b.t.ReadMutex(r.Addr)
		return err == nil && w.Locked && !read
	case KindRWMutex:
		w, err := b.t.ReadRWMutex(r.Addr)
		if err != nil {
			return false
		}
		if read {
			return w.ReaderCount > 0 || w.ReaderWait > 0
		}
		return w.W.Locked
	}
	return false
}
