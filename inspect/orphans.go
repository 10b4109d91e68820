package inspect

import (
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Explaining orphaned locks: a lock that is locked, has waiters, and is held
// by no frame on any stack was left locked by code that has returned. The
// source of the packages on the stacks is searched for the Lock calls of
// that variable or field with a path out of their function that does not
// unlock (unlockpaths.go); each is named, with the path, on the finding.
// Nothing is invented: without the lock's name, or without source, the
// finding says why it cannot name the line.

// maxOrphanDirs and maxOrphanFiles bound the source searched.
const (
	maxOrphanDirs  = 64
	maxOrphanFiles = 4000
)

// SourceSite is a place in the source an explanation points at.
type SourceSite struct {
	// Func is the function, File and Line the Lock call in it.
	Func string
	File string
	Line int
	// Exit is how the function is left with the lock held: "return",
	// "end" (it falls off the end of its body) or "panic"; ExitLine is
	// where.
	Exit     string
	ExitLine int
	// Via are the lines of the break, continue and goto statements the
	// path takes, in order.
	Via []int
}

// describe is "gossip.(*gossip).bootstrap at gossip.go:24: g.mu.Lock()
// reaches ...".
func (s SourceSite) describe(recv string) string {
	out := fmt.Sprintf("%s at %s:%d: %s.Lock() reaches ", ShortFunc(s.Func), ShortFile(s.File), s.Line, recv)
	switch s.Exit {
	case "end":
		out += fmt.Sprintf("the end of the function (line %d)", s.ExitLine)
	case "panic":
		out += fmt.Sprintf("the panic at line %d", s.ExitLine)
	default:
		out += fmt.Sprintf("the return at line %d", s.ExitLine)
	}
	out += " without Unlock"
	if len(s.Via) > 0 {
		var vs []string
		for _, v := range s.Via {
			vs = append(vs, fmt.Sprintf("line %d", v))
		}
		out += ", by the break/continue/goto at " + strings.Join(vs, ", ")
	}
	return out
}

// explainOrphans adds the candidate sites to every orphaned-lock finding
// and to leak findings on locks nobody holds. local maps a recorded source
// path to a file on this machine ("" when there is none).
func explainOrphans(s *Snapshot, si *sourceIndex, local func(string) string) {
	rs := map[string]*Resource{}
	for _, r := range s.Resources {
		rs[r.ID] = r
	}
	var dirs []string
	for i := range s.Findings {
		f := &s.Findings[i]
		r := orphanOf(f, rs)
		if r == nil {
			continue
		}
		if dirs == nil {
			dirs = sourceDirs(s, si, local)
		}
		sites, recv, why := orphanSites(si, r, dirs)
		if len(sites) == 0 {
			f.Details = append(f.Details, "an Unlock is missing on some path; source not analysable ("+why+")")
			continue
		}
		f.Sites = sites
		// The sites replace the general remark.
		out := f.Details[:0]
		for _, d := range f.Details {
			if !strings.HasPrefix(d, "usually an Unlock is missing") {
				out = append(out, d)
			}
		}
		f.Details = out
		for _, st := range sites {
			f.Details = append(f.Details, "an Unlock may be missing here: "+st.describe(recv[st.Func+":"+fmt.Sprint(st.Line)]))
		}
	}
}

// orphanOf is the lock an orphaned-lock finding, or a leak finding on a
// lock without holders, is about; nil for other findings.
func orphanOf(f *Finding, rs map[string]*Resource) *Resource {
	if f.Kind != FindingOrphanedLock && f.Kind != FindingLeak {
		return nil
	}
	for _, id := range f.Resources {
		r := rs[id]
		if r != nil && (r.Kind == KindMutex || r.Kind == KindRWMutex) && len(r.Holders) == 0 {
			return r
		}
	}
	return nil
}

// sourceDirs are the directories, on this machine, of the user code on the
// goroutines' stacks: the packages whose code can have taken the lock.
func sourceDirs(s *Snapshot, si *sourceIndex, local func(string) string) []string {
	seenStack := map[*Frame]bool{}
	seen := map[string]bool{}
	var dirs []string
	for _, g := range s.Goroutines {
		if len(g.Frames) == 0 || seenStack[&g.Frames[0]] {
			continue
		}
		seenStack[&g.Frames[0]] = true
		for _, f := range g.Frames {
			if !IsUserFunc(f.Func) || f.File == "" {
				continue
			}
			d, ok := si.dirs[f.File]
			if !ok {
				if p := local(f.File); p != "" {
					d = filepath.Dir(p)
				}
				si.dirs[f.File] = d
			}
			if d != "" && !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	if len(dirs) > maxOrphanDirs {
		dirs = dirs[:maxOrphanDirs]
	}
	return dirs
}

// lockName is what is known of a lock's variable: a package variable
// (pkg, var, field path) or a struct field (pkg, type, field path).
type lockName struct {
	pkg, name string
	path      []string
	global    bool
}

// parseLockName reads a Resource.Type such as "main.Store.mu" or
// "github.com/x/y.pool.mu"; ok false for a bare "sync.Mutex".
func parseLockName(r *Resource, dirs []string, si *sourceIndex) (lockName, bool) {
	t := r.Type
	if t == "" || t == "sync.Mutex" || t == "sync.RWMutex" || strings.ContainsAny(t, " ([") {
		return lockName{}, false
	}
	slash := strings.LastIndex(t, "/")
	dot := strings.Index(t[slash+1:], ".")
	if dot < 0 {
		return lockName{}, false
	}
	pkg := t[:slash+1+dot]
	rest := strings.Split(t[slash+1+dot+1:], ".")
	if len(rest) == 0 || rest[0] == "" {
		return lockName{}, false
	}
	n := lockName{pkg: pkg, name: rest[0], path: rest[1:]}
	pkgName := pkg[strings.LastIndex(pkg, "/")+1:]
	for _, d := range dirs {
		if si.dirPackage(d) == pkgName && si.packageVar(d, n.name) {
			n.global = true
			break
		}
	}
	if !n.global && len(n.path) == 0 {
		return lockName{}, false // a type with no field: not a name
	}
	return n, true
}

// orphanSites searches dirs for Lock calls on r's variable or field with a
// path out of their function that keeps it locked. recv maps "func:line" to
// the receiver expression, for the description; why says why nothing was
// found.
func orphanSites(si *sourceIndex, r *Resource, dirs []string) (sites []SourceSite, recv map[string]string, why string) {
	name, ok := parseLockName(r, dirs, si)
	if !ok {
		return nil, nil, "the lock's variable or field is not known"
	}
	pkgName := name.pkg[strings.LastIndex(name.pkg, "/")+1:]
	recv = map[string]string{}
	files, searched := 0, 0
	for _, d := range dirs {
		if si.dirPackage(d) != pkgName {
			continue
		}
		paths, _ := filepath.Glob(filepath.Join(d, "*.go"))
		for _, p := range paths {
			if strings.HasSuffix(p, "_test.go") || files >= maxOrphanFiles {
				continue
			}
			files++
			sf := si.source(p)
			if sf == nil {
				continue
			}
			searched++
			for _, lf := range sf.funcs {
				if !lf.analysed {
					lf.analyse(si.fset)
				}
				for _, ep := range lf.exitPaths(si.fset) {
					if (ep.read && r.Kind == KindMutex) || !exprNames(lf, ep.recv, name) {
						continue
					}
					st := SourceSite{Func: funcLabel(name.pkg, sf, lf), File: p, Line: ep.lockLine, Exit: ep.exitKind, ExitLine: ep.exitLine, Via: ep.via}
					sites = append(sites, st)
					recv[st.Func+":"+fmt.Sprint(st.Line)] = ep.recv
				}
			}
		}
	}
	switch {
	case len(sites) > 0:
		return sites, recv, ""
	case searched == 0:
		return nil, nil, "no source of package " + name.pkg + " on disk"
	}
	return nil, nil, fmt.Sprintf("no Lock of %s in the %d file(s) of %s leaves it locked on a way out", r.Type, searched, name.pkg)
}

// exprNames reports whether the receiver expression recv, in function lf
// of file path, denotes the lock named n: the package variable itself, or
// field path of a variable declared (receiver, parameter, var) with n's
// type.
func exprNames(lf *lockFunc, recv string, n lockName) bool {
	parts := strings.Split(recv, ".")
	if n.global {
		want := append([]string{n.name}, n.path...)
		if strings.Join(parts, ".") != strings.Join(want, ".") {
			return false
		}
		// Not shadowed by a parameter or local of the same name.
		return !lf.argInfo().defined[parts[0]]
	}
	if len(parts) != 1+len(n.path) || strings.Join(parts[1:], ".") != strings.Join(n.path, ".") {
		return false
	}
	typ := declaredType(lf, parts[0])
	typ = strings.TrimPrefix(typ, "*")
	if i := strings.Index(typ, "["); i >= 0 {
		typ = typ[:i]
	}
	return typ == n.name
}

// declaredType is the type written for a receiver, parameter or var
// declaration named id in lf ("" when it has none that is visible there).
func declaredType(lf *lockFunc, id string) string {
	for _, p := range lf.argInfo().params {
		if p.name == id {
			return p.typ
		}
	}
	var typ string
	ast.Inspect(lf.body, func(nd ast.Node) bool {
		if vs, ok := nd.(*ast.ValueSpec); ok && vs.Type != nil {
			for _, n := range vs.Names {
				if n.Name == id {
					typ = exprText(vs.Type)
				}
			}
		}
		return typ == ""
	})
	return typ
}

func exprText(e ast.Expr) string {
	var b strings.Builder
	switch x := e.(type) {
	case *ast.StarExpr:
		return "*" + exprText(x.X)
	case *ast.Ident:
		return x.Name
	case *ast.IndexExpr:
		return exprText(x.X)
	case *ast.SelectorExpr:
		if exprString(&b, x) {
			return b.String()
		}
	}
	return ""
}

// funcLabel names lf as the runtime would: "main.(*gossip).bootstrap",
// "main.helper", "main.run.func1" for a literal (numbered by the runtime; a
// literal is named after its enclosing function here).
func funcLabel(pkg string, sf *srcFile, lf *lockFunc) string {
	switch {
	case lf.name == "":
		return pkg + "." + lf.enclosing + ".func"
	case lf.recvType != "" && lf.recvPtr:
		return pkg + ".(*" + lf.recvType + ")." + lf.name
	case lf.recvType != "":
		return pkg + "." + lf.recvType + "." + lf.name
	}
	return pkg + "." + lf.name
}

// dirPackage is the package name of the Go files in dir ("" if none).
func (si *sourceIndex) dirPackage(dir string) string {
	if p, ok := si.pkgNames[dir]; ok {
		return p
	}
	name := ""
	paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		if st, err := os.Stat(p); err != nil || st.Size() >= maxSourceFile {
			continue
		}
		if f := si.file(p); f != nil {
			name = f.Name.Name
			break
		}
	}
	si.pkgNames[dir] = name
	return name
}

// dropCoveredOrphans removes the orphaned-lock warning of a lock whose
// waiters are all proven stuck: the error findings about them say more.
func dropCoveredOrphans(s *Snapshot) {
	stuck := map[int64]bool{}
	for _, g := range s.Goroutines {
		if g.Verdict.Stuck() {
			stuck[g.ID] = true
		}
	}
	out := s.Findings[:0]
	for _, f := range s.Findings {
		if f.Kind == FindingOrphanedLock && len(f.Goroutines) > 0 {
			all := true
			for _, id := range f.Goroutines {
				all = all && stuck[id]
			}
			if all {
				continue
			}
		}
		out = append(out, f)
	}
	s.Findings = out
}
