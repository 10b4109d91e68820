package inspect

import (
	"sync"

	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// sourceIndex parses each source file once per session and memoises what
// the holder evidence asks of it per (file, line): a session's snapshots
// stop at the same few hundred code locations again and again.
type sourceIndex struct {
	// mu is held by whoever uses the index: the snapshot's source
	// holders (session goroutine) or Session.Explain (after the target
	// runs again, from the caller's goroutine).
	mu    sync.Mutex
	fset  *token.FileSet
	files map[string]*srcFile
	held  map[fileLine][]lockCall
	// vars lists the package-level variable names of a directory's
	// package (dump evidence: is this name a package variable?).
	vars map[string]map[string]bool
	// pkgNames caches the package name of a directory's files.
	pkgNames map[string]string
	// dirs caches the directory on this machine of a recorded source
	// path ("" when it is not here).
	dirs map[string]string
	// stackHolds are, per distinct stack (its first frame), the frames
	// holding locks by source: this snapshot's and the previous one's.
	stackHolds, prevHolds map[*Frame][]stackHolds
}

// stackHolds are the locks a frame of a stack holds by source.
type stackHolds struct {
	frame int
	calls []lockCall
}

// srcFile is a parsed file (nil ast when it is not on disk or does not
// parse) and its functions, sorted by first line.
type srcFile struct {
	ast   *ast.File
	funcs []*lockFunc
}

// maxSourceFile bounds the files parsed (generated code can be huge).
const maxSourceFile = 4 << 20

func newSourceIndex() *sourceIndex {
	return &sourceIndex{fset: token.NewFileSet(), files: map[string]*srcFile{}, held: map[fileLine][]lockCall{},
		vars: map[string]map[string]bool{}, pkgNames: map[string]string{}, dirs: map[string]string{}}
}

// source returns the parsed file at path, nil when it cannot be read.
func (si *sourceIndex) source(path string) *srcFile {
	if sf, ok := si.files[path]; ok {
		return sf
	}
	var sf *srcFile
	if st, err := os.Stat(path); err == nil && st.Size() < maxSourceFile {
		if f, err := parser.ParseFile(si.fset, path, nil, parser.SkipObjectResolution); err == nil && f != nil {
			sf = &srcFile{ast: f, funcs: indexFuncs(si.fset, f)}
		}
	}
	si.files[path] = sf
	return sf
}

func (si *sourceIndex) file(path string) *ast.File {
	if sf := si.source(path); sf != nil {
		return sf.ast
	}
	return nil
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
// frame whose function holds X.Lock() on every path to its current line
// (lockflow.go), where X evaluated in that frame is a locked lock somebody
// waits for. Only frames with their source file on disk are considered.
//
// The work is keyed by what is distinct: the lock candidates (only locked
// mutexes with waiters and no holder yet; with none, nothing is done), the
// stacks (each distinct stack is looked up in the source once), the code
// locations (each file:line analysed once per session), and the receiver
// expressions (evaluated by Delve once per PC, then read directly from
// each goroutine's frame, in one batch).
func (b *builder) sourceHolders(si *sourceIndex) {
	cands := map[uint64]*Resource{}
	for _, r := range b.res {
		if (r.Kind != KindMutex && r.Kind != KindRWMutex) || len(r.Waiters) == 0 {
			continue
		}
		hasWriter := false
		for _, h := range r.Holders {
			hasWriter = hasWriter || !h.Read
		}
		if !hasWriter {
			cands[r.Addr] = r
		}
	}
	if len(cands) == 0 {
		return
	}
	// The frames of each distinct stack that hold a lock by source, kept
	// for the next snapshot too (stacks are shared between snapshots).
	si.prevHolds, si.stackHolds = si.stackHolds, make(map[*Frame][]stackHolds, len(si.stackHolds))
	perStack := si.stackHolds
	var reqs []target.ExprReq
	type pending struct {
		g     *Goroutine
		frame int
		call  lockCall
	}
	var todo []pending
	for i, rg := range b.gs {
		g := b.model(i)
		if len(g.Frames) == 0 {
			continue
		}
		holds, ok := perStack[&g.Frames[0]]
		if !ok {
			holds, ok = si.prevHolds[&g.Frames[0]]
			if ok {
				perStack[&g.Frames[0]] = holds
			}
		}
		if !ok {
			for i, f := range g.Frames {
				if !IsUserFunc(f.Func) || f.File == "" {
					continue
				}
				// Locks with a deferred Unlock are still held; the
				// defer evidence read from memory usually named
				// their holder already (addHolder keeps the first).
				if calls := si.heldAt(f.File, f.Line, f.Func); len(calls) > 0 {
					holds = append(holds, stackHolds{frame: i, calls: calls})
				}
			}
			perStack[&g.Frames[0]] = holds
		}
		for _, h := range holds {
			for _, c := range h.calls {
				reqs = append(reqs, target.ExprReq{G: rg, Frame: h.frame, Expr: c.recv})
				todo = append(todo, pending{g, h.frame, c})
			}
		}
	}
	if len(todo) == 0 {
		return
	}
	addrs := b.t.LockAddrs(reqs)
	for i, p := range todo {
		r := cands[addrs[i]]
		if r == nil || !b.lockStateAgrees(r, p.call.read) {
			continue
		}
		f := p.g.Frames[p.frame]
		b.addHolder(p.g, r, Holder{Goroutine: p.g.ID, Evidence: EvidenceSource, Read: p.call.read,
			Frame: &Frame{Func: f.Func, File: f.File, Line: p.call.line, PC: f.PC}})
	}
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
