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
	// frameHeld memoises a live or core target's frames' locks by where
	// they sit in the code (frameHeldAt, pcFrame).
	frameHeld map[uint64]frameHeld
}

// pcFrame is where a frame sits in a target's code, as one map key: its PC,
// how deep in the PC's inlined calls (0: the innermost), and whether it is
// a stack's top frame (a return address is symbolised one byte back); ok
// false when they do not fit (a PC past 48 bits, 32,768 inlined calls).
func pcFrame(pc uint64, depth int, top bool) (key uint64, ok bool) {
	if pc >= 1<<48 || depth >= 1<<15 {
		return 0, false
	}
	key = pc<<16 | uint64(depth)<<1
	if top {
		key |= 1
	}
	return key, true
}

// frameHeld is what heldAt said for the frame at a pcFrame.
type frameHeld struct {
	fn, file string
	line     int
	calls    []lockCall
}

// stackHolds are the locks a frame of a stack holds by source.
type stackHolds struct {
	frame int
	// file is the frame's source file on this machine.
	file  string
	calls []lockCall
}

// frameHeldAt is heldAt for a frame of a live process or core, memoised by
// where the frame sits in the code: a snapshot of 10,000 goroutines with
// varied stacks has 400,000 distinct frames at a few thousand such places,
// and hashing each frame's file name cost more than the rest of the walk.
// The memo is checked against the frame (function, file and line), so a
// frame symbolised otherwise (by Delve) is never given another's answer.
func (si *sourceIndex) frameHeldAt(f *Frame, depth int, top bool) []lockCall {
	at, ok := pcFrame(f.PC, depth, top)
	if h, found := si.frameHeld[at]; ok && found && h.fn == f.Func && h.file == f.File && h.line == f.Line {
		return h.calls
	}
	var calls []lockCall
	if IsUserFunc(f.Func) && f.File != "" {
		calls = si.heldAt(f.File, f.Line, f.Func)
	}
	if ok {
		if si.frameHeld == nil {
			si.frameHeld = map[uint64]frameHeld{}
		}
		si.frameHeld[at] = frameHeld{fn: f.Func, file: f.File, line: f.Line, calls: calls}
	}
	return calls
}

// rotateHolds starts a snapshot: the stacks' holds found by the previous
// one are kept for stacks seen again (stacks are shared between
// snapshots).
func (si *sourceIndex) rotateHolds() {
	si.prevHolds, si.stackHolds = si.stackHolds, make(map[*Frame][]stackHolds, len(si.stackHolds))
}

// holdsOf is the one source-evidence walker, for every source: the frames
// of a stack whose function holds a lock on every path to the frame's line
// (lockflow.go), with those locks, once per distinct stack (goroutines
// with identical stacks share one Frames slice). A deferred Unlock has not
// run yet: such locks are held (memory may show the pending defer too;
// the first evidence is kept). local maps a recorded source path to the
// file on this machine (nil: the recorded path itself, a live target's).
// fromArgs is for sources without memory (a dump, a Delve server), where
// a receiver is resolved from the frame's printed argument words: an
// inlined frame has none and is skipped.
func (si *sourceIndex) holdsOf(frames []Frame, local func(string) string, fromArgs bool) []stackHolds {
	if len(frames) == 0 {
		return nil
	}
	k := &frames[0]
	if holds, ok := si.stackHolds[k]; ok {
		return holds
	}
	if si.stackHolds == nil {
		si.stackHolds = map[*Frame][]stackHolds{}
	}
	holds, ok := si.prevHolds[k]
	if !ok && local == nil && !fromArgs {
		depth := 0
		for i := range frames {
			f := &frames[i]
			if i > 0 && frames[i-1].PC == f.PC {
				depth++
			} else {
				depth = 0
			}
			if calls := si.frameHeldAt(f, depth, i == 0); len(calls) > 0 {
				holds = append(holds, stackHolds{frame: i, file: f.File, calls: calls})
			}
		}
	} else if !ok {
		for i, f := range frames {
			if !IsUserFunc(f.Func) || f.File == "" || (fromArgs && f.Inlined) {
				continue
			}
			file := f.File
			if local != nil {
				if file = local(file); file == "" {
					continue
				}
			}
			if calls := si.heldAt(file, f.Line, f.Func); len(calls) > 0 {
				holds = append(holds, stackHolds{frame: i, file: file, calls: calls})
			}
		}
	}
	si.stackHolds[k] = holds
	return holds
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
	for _, r := range b.list {
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
	si.rotateHolds()
	var reqs []target.ExprReq
	type pending struct {
		g     *Goroutine
		frame int
		call  lockCall
	}
	var todo []pending
	for i, rg := range b.gs {
		g := b.model(i)
		// Locks with a deferred Unlock are still held; the defer
		// evidence read from memory usually named their holder already
		// (addHolder keeps the first).
		holds := si.holdsOf(g.Frames, nil, false)
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
