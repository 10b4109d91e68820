package inspect

import (
	"os"
	"path/filepath"
	"strings"
)

// Holders in a dump. A traceback prints no deferred calls and no memory,
// but it prints, for every frame that was not inlined, the argument words
// the runtime knows to be live. Together with the source on disk that is
// evidence of who holds a lock:
//
//  1. Learn where lock expressions point. A goroutine parked in Lock at
//     `to.mu.Lock()`, where `to` is a parameter printed as 0xc000010040,
//     waits on the mutex at 0xc000010050: so field path "mu" of type
//     "*Account" (in that package) sits at offset 0x10. A parked Lock on a
//     package variable gives that variable's address outright.
//  2. Claim holders. A frame whose function called `from.mu.Lock()` before
//     its current line, with no plain Unlock since (a deferred one runs
//     only when the function returns, and it has not), holds the lock at
//     `from` + offset("*Account", "mu") — evidence "source", with the
//     line of the Lock call.
//
// Only lock objects somebody waits on get holders, and only from argument
// words printed without "?". Nothing is guessed: where a step fails, the
// holder stays unknown.

type exprKey struct {
	dir, typ, path string
}

type dumpHolders struct {
	db   *dumpBuilder
	si   *sourceIndex
	offs map[exprKey]uint64
	bad  map[exprKey]bool
	// globals maps dir+"\x00"+expression of a package variable to its
	// address.
	globals map[string]uint64
	names   map[uint64]string
	// root and paths map recorded source paths to files on this machine.
	root     string
	onlyRoot bool
	paths    map[string]string
	// fns caches the source lookups per file:line (100,000 goroutines
	// share a few hundred distinct frames); sourceIndex caches the rest.
	fns map[fileLine]*dumpFunc
}

type fileLine struct {
	file string
	line int
}

func (h *dumpHolders) funcAt(file string, line int) *dumpFunc {
	k := fileLine{file, line}
	if fn, ok := h.fns[k]; ok {
		return fn
	}
	fn := h.si.dumpFuncAt(file, line)
	h.fns[k] = fn
	return fn
}

func (db *dumpBuilder) holders(si *sourceIndex, root string, onlyRoot bool) *dumpHolders {
	h := &dumpHolders{db: db, si: si, offs: map[exprKey]uint64{}, bad: map[exprKey]bool{},
		globals: map[string]uint64{}, names: map[uint64]string{}, root: root, onlyRoot: onlyRoot, paths: map[string]string{},
		fns: map[fileLine]*dumpFunc{}}
	db.noSource = map[string]bool{}
	if !db.anyLockWait() {
		return h
	}
	h.learn()
	h.claim()
	for _, r := range db.list {
		if n := h.names[r.Addr]; n != "" && (r.Kind == KindMutex || r.Kind == KindRWMutex) {
			r.Type = n // finish prefixes nothing: the kind is in the id
		}
	}
	return h
}

func (db *dumpBuilder) anyLockWait() bool {
	for _, r := range db.list {
		if r.Kind == KindMutex || r.Kind == KindRWMutex {
			return true
		}
	}
	return false
}

// userFrames yields the frames of g whose source can be evidence: user
// code, not inlined (an inlined frame has no printed arguments).
func userFrame(f Frame) bool { return IsUserFunc(f.Func) && !f.Inlined && f.File != "" }

// local returns where the recorded source file is on this machine, "" when
// it is nowhere: the recorded path, or the longest suffix of it found under
// the source root (a dump from another machine or checkout).
func (h *dumpHolders) local(file string) string {
	if p, ok := h.paths[file]; ok {
		return p
	}
	p := ""
	if _, err := os.Stat(file); err == nil && !h.onlyRoot {
		p = file
	} else {
		parts := strings.Split(filepath.ToSlash(file), "/")
		for i := 1; i < len(parts) && p == ""; i++ {
			cand := filepath.Join(append([]string{h.root}, parts[i:]...)...)
			if h.root == "" {
				cand = filepath.Join(parts[i:]...)
			}
			if st, err := os.Stat(cand); err == nil && !st.IsDir() && i < len(parts)-1 {
				p = cand
			}
		}
	}
	if p == "" {
		h.db.noSource[file] = true
	}
	h.paths[file] = p
	return p
}

// learn records where lock expressions point, from goroutines parked in
// Lock/RLock calls.
func (h *dumpHolders) learn() {
	for _, g := range h.db.s.Goroutines {
		if len(g.Waits) != 1 {
			continue
		}
		r := h.db.resByID(g.Waits[0].Resource)
		if r == nil || (r.Kind != KindMutex && r.Kind != KindRWMutex) {
			continue
		}
		// The frame that called Lock: the first user frame. If it was
		// inlined, its arguments were not printed.
		fi := g.TopUser
		if fi < 0 || !userFrame(g.Frames[fi]) {
			continue
		}
		f := g.Frames[fi]
		file := h.local(f.File)
		if file == "" {
			continue
		}
		fn := h.funcAt(file, f.Line)
		if fn == nil {
			continue
		}
		calls := h.si.locksAt(fn, f.Line)
		if len(calls) != 1 {
			continue // none, or ambiguous
		}
		expr := calls[0].recv
		base, path, _ := strings.Cut(expr, ".")
		dir := filepath.Dir(file)
		pkg := FuncPackage(f.Func)
		if k := fn.param(base); k >= 0 {
			v, ok := h.argWord(g, fi, k)
			if !ok || r.Addr < v || r.Addr-v > 1<<20 {
				continue
			}
			key := exprKey{dir, fn.params[k].typ, path}
			if old, seen := h.offs[key]; seen && old != r.Addr-v {
				h.bad[key] = true
			}
			h.offs[key] = r.Addr - v
			if path != "" {
				h.names[r.Addr] = pkgBase(pkg) + "." + strings.TrimLeft(fn.params[k].typ, "*") + "." + path
			}
			continue
		}
		if !fn.defined[base] && h.si.packageVar(dir, base) {
			h.globals[dir+"\x00"+expr] = r.Addr
			h.names[r.Addr] = pkgBase(pkg) + "." + expr
		}
	}
}

// pkgBase is the last element of a package path: "example.com/x/store" →
// "store".
func pkgBase(pkg string) string {
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		return pkg[i+1:]
	}
	return pkg
}

func (h *dumpHolders) argWord(g *Goroutine, fi, k int) (uint64, bool) {
	return certainWord(h.db.raw[g.ID].ArgValues(fi), k)
}

// resolve turns a lock expression in frame fi of g into an address.
func (h *dumpHolders) resolve(g *Goroutine, fi int, fn *dumpFunc, file, expr string) (uint64, bool) {
	dir := filepath.Dir(file)
	base, path, _ := strings.Cut(expr, ".")
	if k := fn.param(base); k >= 0 {
		typ := fn.params[k].typ
		off, ok := h.offs[exprKey{dir, typ, path}]
		if !ok && path == "" && (typ == "*sync.Mutex" || typ == "*sync.RWMutex") {
			off, ok = 0, true
		}
		if !ok || h.bad[exprKey{dir, typ, path}] {
			return 0, false
		}
		v, ok := h.argWord(g, fi, k)
		return v + off, ok
	}
	if fn.defined[base] {
		return 0, false
	}
	a, ok := h.globals[dir+"\x00"+expr]
	return a, ok
}

// claim names the holders: frames that locked an object somebody waits on
// and have not unlocked it.
func (h *dumpHolders) claim() {
	byAddr := map[uint64]*Resource{}
	for _, r := range h.db.list {
		if (r.Kind == KindMutex || r.Kind == KindRWMutex) && len(r.Waiters) > 0 {
			byAddr[r.Addr] = r
		}
	}
	for _, g := range h.db.s.Goroutines {
		for _, sh := range h.si.holdsOf(g.Frames, h.local, true) {
			f := g.Frames[sh.frame]
			fn := h.funcAt(sh.file, f.Line)
			if fn == nil {
				continue
			}
			for _, c := range sh.calls {
				addr, ok := h.resolve(g, sh.frame, fn, sh.file, c.recv)
				if !ok {
					continue
				}
				r := byAddr[addr]
				if r == nil || (r.Kind == KindMutex && c.read) {
					continue
				}
				h.db.addHolder(g, r, Holder{Goroutine: g.ID, Evidence: EvidenceSource, Read: c.read,
					Frame: &Frame{Func: f.Func, File: f.File, Line: c.line}})
			}
		}
	}
}
