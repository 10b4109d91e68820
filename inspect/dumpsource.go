package inspect

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"strings"
)

// dumpFunc is the function (declaration or literal) enclosing a line, as
// far as a dump's holder evidence needs it.
type dumpFunc struct {
	// params are the receiver (first) and the parameters, one per printed
	// argument of the frame.
	params []dumpParam
	body   *ast.BlockStmt
	// defined are the names declared inside the function (params
	// included): such a name never refers to a package variable.
	defined map[string]bool
}

type dumpParam struct {
	name string
	typ  string // type expression as written, e.g. "*Account"
}

// dumpFuncAt returns the innermost function enclosing line in path (the
// same lookup as the lock analysis: lockFuncAt), nil when the file is not
// on disk or does not parse.
func (si *sourceIndex) dumpFuncAt(path string, line int) *dumpFunc {
	lf := si.lockFuncAt(path, line)
	if lf == nil {
		return nil
	}
	return lf.argInfo()
}

// argInfo is what lf's declaration tells a frame read without memory:
// its receiver and parameters (one per printed argument) and the names it
// defines. Computed once per function.
func (lf *lockFunc) argInfo() *dumpFunc {
	if lf.args == nil {
		fn := &dumpFunc{body: lf.body}
		fn.addFields(lf.recv)
		fn.addFields(lf.params)
		fn.collectDefined()
		lf.args = fn
	}
	return lf.args
}

func (fn *dumpFunc) addFields(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		typ := types.ExprString(f.Type)
		if len(f.Names) == 0 {
			fn.params = append(fn.params, dumpParam{name: "_", typ: typ})
		}
		for _, n := range f.Names {
			fn.params = append(fn.params, dumpParam{name: n.Name, typ: typ})
		}
	}
}

func (fn *dumpFunc) collectDefined() {
	fn.defined = map[string]bool{}
	for _, p := range fn.params {
		fn.defined[p.name] = true
	}
	ast.Inspect(fn.body, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE {
				for _, l := range x.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						fn.defined[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range x.Names {
				fn.defined[id.Name] = true
			}
		case *ast.RangeStmt:
			if x.Tok == token.DEFINE {
				for _, e := range []ast.Expr{x.Key, x.Value} {
					if id, ok := e.(*ast.Ident); ok {
						fn.defined[id.Name] = true
					}
				}
			}
		case *ast.FuncLit:
			fn.addDefinedFields(x.Type.Params)
		}
		return true
	})
}

func (fn *dumpFunc) addDefinedFields(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		for _, n := range f.Names {
			fn.defined[n.Name] = true
		}
	}
}

// param returns the index of the named parameter, or -1.
func (fn *dumpFunc) param(name string) int {
	for i, p := range fn.params {
		if p.name == name {
			return i
		}
	}
	return -1
}

// locksAt returns the receivers of the Lock/RLock calls on exactly line.
func (si *sourceIndex) locksAt(fn *dumpFunc, line int) []lockCall {
	var out []lockCall
	ast.Inspect(fn.body, func(n ast.Node) bool {
		if lit, ok := n.(*ast.FuncLit); ok && lit.Body != fn.body {
			return false
		}
		call, ok := n.(*ast.CallExpr)
		if !ok || si.fset.Position(call.Pos()).Line != line {
			return true
		}
		if recv, name := lockMethod(call); name == "Lock" || name == "RLock" {
			out = append(out, lockCall{recv: recv, line: line, read: name == "RLock"})
		}
		return true
	})
	return out
}

// packageVar reports whether name is a package-level variable of the
// package in dir (all its .go files are parsed once).
func (si *sourceIndex) packageVar(dir, name string) bool {
	vars, ok := si.vars[dir]
	if !ok {
		vars = map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, p := range files {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			f := si.file(p)
			if f == nil {
				continue
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, s := range gd.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						vars[id.Name] = true
					}
				}
			}
		}
		si.vars[dir] = vars
	}
	return vars[name]
}
