package report

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect"
)

// paths shortens the absolute source paths recorded in the binary:
// GOROOT files become "sync/mutex.go", module cache files
// "github.com/x/y@v1.2.3/z.go", and the program's own files are made relative
// to the directory they all share.
type paths struct {
	goroot string // ".../go/src/", or ""
	prefix string // common directory of the program's files, with "/", or ""
}

const modCache = "/pkg/mod/"

func newPaths(s *inspect.Snapshot) *paths {
	// Only the distinct function and file pairs matter. Goroutines with
	// identical stacks share one Frames slice: look at each distinct stack
	// once (100,000 goroutines have a few hundred), and at each pair once.
	var frames []inspect.Frame
	type funcFile struct{ fn, file string }
	pairs := map[funcFile]bool{}
	add := func(f inspect.Frame) {
		k := funcFile{f.Func, f.File}
		if !pairs[k] {
			pairs[k] = true
			frames = append(frames, inspect.Frame{Func: f.Func, File: f.File})
		}
	}
	seen := map[*inspect.Frame]bool{}
	for _, g := range s.Goroutines {
		if g == nil {
			continue
		}
		if len(g.Frames) > 0 && !seen[&g.Frames[0]] {
			seen[&g.Frames[0]] = true
			for _, f := range g.Frames {
				add(f)
			}
		}
		if g.CreatedBy != nil {
			add(*g.CreatedBy)
		}
	}
	for _, r := range s.Resources {
		if r == nil {
			continue
		}
		for _, h := range r.Holders {
			if h.Frame != nil {
				add(*h.Frame)
			}
		}
	}

	p := &paths{}
	// GOROOT: where a standard library function's file is ".../src/<pkg>/".
	roots := map[string]int{}
	for _, f := range frames {
		if !isAbs(f.File) || inspect.IsUserFunc(f.Func) {
			continue
		}
		pkg := inspect.FuncPackage(inspect.StripTypeArgs(f.Func, ""))
		if pkg == "" {
			continue
		}
		if i := strings.LastIndex(f.File, "/src/"+pkg+"/"); i >= 0 {
			roots[f.File[:i+len("/src/")]]++
		}
	}
	best := 0
	for r, n := range roots {
		if n > best || n == best && r < p.goroot {
			p.goroot, best = r, n
		}
	}

	// The program's files: everything else that is absolute.
	var dirs []string
	for _, f := range frames {
		if !isAbs(f.File) || p.goroot != "" && strings.HasPrefix(f.File, p.goroot) ||
			strings.Contains(f.File, modCache) {
			continue
		}
		if i := strings.LastIndex(f.File, "/"); i >= 0 {
			dirs = append(dirs, f.File[:i+1])
		}
	}
	if len(dirs) > 0 {
		sort.Strings(dirs)
		// The common prefix of a sorted list is that of its ends.
		a, b := dirs[0], dirs[len(dirs)-1]
		n := 0
		for n < len(a) && n < len(b) && a[n] == b[n] {
			n++
		}
		pre := a[:n]
		pre = pre[:strings.LastIndex(pre, "/")+1]
		if len(strings.Trim(pre, "/")) > 2 { // not just "/" or "C:/"
			p.prefix = pre
		}
	}
	return p
}

func isAbs(file string) bool {
	return strings.HasPrefix(file, "/") || len(file) > 2 && file[1] == ':' && (file[2] == '/' || file[2] == '\\')
}

// short returns the path to print for file.
func (p *paths) short(file string) string {
	switch {
	case file == "":
		return "?"
	case p.goroot != "" && strings.HasPrefix(file, p.goroot):
		return file[len(p.goroot):]
	case strings.Contains(file, modCache):
		return file[strings.LastIndex(file, modCache)+len(modCache):]
	case p.prefix != "" && strings.HasPrefix(file, p.prefix):
		return file[len(p.prefix):]
	}
	return file
}

// loc is "file:line" with the file shortened.
func (p *paths) loc(f inspect.Frame) string {
	s := p.short(f.File)
	if f.Line > 0 {
		s += ":" + strconv.Itoa(f.Line)
	}
	return s
}

// funcName is how a frame's function is printed.
func funcName(f inspect.Frame) string {
	name := inspect.StripTypeArgs(f.Func, inspect.TypeArgsElided)
	if name == "" {
		name = "?"
	}
	if f.Inlined {
		name += " (inlined)"
	}
	return name
}

// isRuntime reports whether fn is in package runtime.
func isRuntime(fn string) bool {
	return inspect.FuncPackage(inspect.StripTypeArgs(fn, "")) == "runtime"
}

// topUser is g.TopUser, checked: a zero TopUser on a runtime frame (a
// hand-built or partly filled Goroutine) is recomputed.
func topUser(g *inspect.Goroutine) int {
	t := g.TopUser
	if t >= 0 && t < len(g.Frames) && (t > 0 || inspect.IsUserFunc(g.Frames[0].Func)) {
		return t
	}
	for i, f := range g.Frames {
		if inspect.IsUserFunc(f.Func) {
			return i
		}
	}
	return -1
}

// shownFrames returns the indices of the frames worth printing: the
// program's frames, with the standard library or runtime function the
// innermost of them called on top, and without runtime frames below them
// (runtime.main, runtime.goexit). A goroutine with no frames of the program
// shows its stack from the first frame outside the runtime (or, for runtime
// goroutines, from the first frame after the parking functions).
func shownFrames(g *inspect.Goroutine) []int {
	n := len(g.Frames)
	if n == 0 {
		return nil
	}
	top := topUser(g)
	start := -1
	switch {
	case top > 0:
		start = top - 1
	case top == 0:
		start = 0
	default:
		for i, f := range g.Frames {
			if !isRuntime(f.Func) {
				start = i
				break
			}
		}
		if start < 0 {
			start = 0
			for start < n-1 && inspect.IsParkFunc(g.Frames[start].Func) {
				start++
			}
		}
	}
	var out []int
	for i := start; i < n; i++ {
		f := g.Frames[i]
		if i > start && (f.Func == "runtime.goexit" || top >= 0 && i > top && isRuntime(f.Func)) {
			continue
		}
		out = append(out, i)
	}
	return out
}
