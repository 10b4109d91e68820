// Package wakers answers, from a program's source, which operations could
// wake a goroutine parked on a channel, a lock, a WaitGroup or a Cond, and
// whether code that can still run reaches any of them.
//
// It speaks only go/packages, go/ssa and its own small types: the caller
// (inspect) describes what memory showed — the frames of the goroutines,
// the names of the objects they wait on — and gets back waking sites and a
// reachability answer, or the reason it cannot give one.
//
// Soundness: every approximation here errs towards "a waker is reachable".
// The call graph is VTA over the whole program (std included, from
// source), values whose origin is not followed (interfaces, unsafe,
// reflection, code without a body) may alias anything of their type, and
// the things no call graph bounds (reflect.Value.Call,
// plugins, go:linkname'd or assembly code calling back into Go) turn the proof off
// with their reason.
package wakers

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

// Config says what to analyse.
type Config struct {
	// Exe is the executable of the target (its build settings, build ID
	// and the file of main.main are read from it).
	Exe string
	// Dir is where the source is: the main package's directory or the
	// module's root. "" means: the directory of main.main's recorded file.
	Dir string
	// Progress, when set, is told each phase as it starts.
	Progress func(phase string)
	// Env is added to the go command's environment (tests).
	Env []string
}

// Timing is how long one phase took.
type Timing struct {
	Phase string
	Took  time.Duration
}

// Program is a target's code, loaded, built as SSA, with its call graph
// and the operations that can wake a parked goroutine.
type Program struct {
	Fset *token.FileSet
	Prog *ssa.Program
	// Dir is the directory the packages were loaded from, Pattern the
	// main package's import path.
	Dir, Pattern string
	// Packages and Functions count what was analysed.
	Packages, Functions int
	// Timings are the phases' wall times, in order.
	Timings []Timing

	cg      *callgraph.Graph
	mainPkg *ssa.Package
	std     map[*ssa.Package]bool

	idx *index
	// origins is the value-origin analysis (origins.go).
	orig *origins

	namesOnce sync.Once
	byName    map[string][]int
	stdOnce   sync.Once
	stdPaths  map[string]bool
}

// Took is the total time the analysis took.
func (p *Program) Took() time.Duration {
	var d time.Duration
	for _, t := range p.Timings {
		d += t.Took
	}
	return d
}

// Load loads, type-checks and builds the target's packages and their call
// graph. It fails, with a one-line reason, when the source cannot be found
// or loaded, or does not match the binary (build IDs differ).
func Load(ctx context.Context, cfg Config) (*Program, error) {
	start := time.Now()
	progress := func(string) {}
	if cfg.Progress != nil {
		progress = cfg.Progress
	}
	p := &Program{}
	last := time.Now()
	phase := func(name string) {
		now := time.Now()
		p.Timings = append(p.Timings, Timing{Phase: name, Took: now.Sub(last)})
		last = now
	}

	bi, err := buildinfo.ReadFile(cfg.Exe)
	if err != nil {
		return nil, fmt.Errorf("no build information in %s: %v", cfg.Exe, err)
	}
	if strings.HasSuffix(bi.Path, ".test") {
		return nil, fmt.Errorf("%s is a test binary: not supported", filepath.Base(cfg.Exe))
	}
	dir := cfg.Dir
	if dir == "" {
		file, err := mainFile(cfg.Exe)
		if err != nil {
			return nil, err
		}
		if !filepath.IsAbs(file) {
			return nil, fmt.Errorf("main.main's source path %q is not absolute (built with -trimpath?): give the source directory with --src", file)
		}
		dir = filepath.Dir(file)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("source directory %s not found (give it with --src)", dir)
	}
	pattern := bi.Path
	if pattern == "" || pattern == "command-line-arguments" {
		pattern = "."
	}
	p.Dir, p.Pattern = dir, pattern
	flags, env := buildSettings(bi)
	env = append(append(os.Environ(), env...), cfg.Env...)

	// The build ID check runs beside the load (both run the go command).
	idc := make(chan error, 1)
	go func() { idc <- checkBuildID(ctx, cfg.Exe, dir, pattern, flags, env) }()

	progress("loading packages")
	p.Fset = token.NewFileSet()
	lcfg := &packages.Config{
		Context:    ctx,
		Mode:       packages.LoadAllSyntax,
		Dir:        dir,
		Env:        env,
		BuildFlags: flags,
		Fset:       p.Fset,
	}
	pkgs, err := packages.Load(lcfg, pattern)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %v", pattern, err)
	}
	var loadErrs []string
	n := 0
	packages.Visit(pkgs, nil, func(pk *packages.Package) {
		n++
		for _, e := range pk.Errors {
			loadErrs = append(loadErrs, e.Error())
		}
	})
	if len(loadErrs) > 0 {
		sort.Strings(loadErrs)
		return nil, fmt.Errorf("loading %s: %s", pattern, loadErrs[0])
	}
	if len(pkgs) != 1 || pkgs[0].Name != "main" {
		return nil, fmt.Errorf("%s in %s is not a main package", pattern, dir)
	}
	p.Packages = n
	phase("load")
	if err := <-idc; err != nil {
		return nil, err
	}
	phase("build ID")
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	progress("building SSA")
	prog, ssaPkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	p.Prog = prog
	p.mainPkg = ssaPkgs[0]
	p.std = map[*ssa.Package]bool{}
	packages.Visit(pkgs, nil, func(pk *packages.Package) {
		if isStd(pk) {
			if sp := prog.Package(pk.Types); sp != nil {
				p.std[sp] = true
			}
		}
	})
	phase("ssa")
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	progress("call graph")
	fns := ssautil.AllFunctions(prog)
	p.Functions = len(fns)
	p.cg = vta.CallGraph(fns, nil)
	phase("call graph")
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	progress("indexing")
	p.idx = newIndex(p, fns, pkgs)
	p.orig = newOrigins(p, fns)
	phase("index")
	_ = start
	return p, nil
}

// isStd: a package of the standard library (in module mode, the only
// packages without a module).
func isStd(pk *packages.Package) bool { return pk.Module == nil }

// mainFile is the source file of main.main, from the executable's line
// table (no debugger involved).
func mainFile(exe string) (string, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return "", fmt.Errorf("reading %s: %v", exe, err)
	}
	defer f.Close()
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if pcln == nil || text == nil {
		return "", fmt.Errorf("%s has no Go line table", exe)
	}
	data, err := pcln.Data()
	if err != nil {
		return "", err
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return "", fmt.Errorf("line table of %s: %v", exe, err)
	}
	fn := tab.LookupFunc("main.main")
	if fn == nil {
		return "", fmt.Errorf("%s has no main.main", exe)
	}
	file, _, _ := tab.PCToLine(fn.Entry)
	if file == "" {
		return "", fmt.Errorf("no source file recorded for main.main in %s", exe)
	}
	return file, nil
}

// buildSettings are the go command flags and environment the binary was
// built with, from its build information: the packages must be loaded
// (build tags, cgo) and the build ID recomputed with the same ones.
func buildSettings(bi *buildinfo.BuildInfo) (flags, env []string) {
	for _, s := range bi.Settings {
		switch {
		case s.Key == "-compiler", s.Key == "-ldflags":
			// -ldflags only affects the link, not the packages.
		case strings.HasPrefix(s.Key, "-"):
			if s.Value == "true" && (s.Key == "-trimpath" || s.Key == "-race" || s.Key == "-msan" || s.Key == "-asan") {
				flags = append(flags, s.Key)
			} else {
				flags = append(flags, s.Key+"="+s.Value)
			}
		case strings.HasPrefix(s.Key, "CGO_"), s.Key == "GOOS", s.Key == "GOARCH", s.Key == "GOEXPERIMENT",
			strings.HasPrefix(s.Key, "GO386"), strings.HasPrefix(s.Key, "GOAMD64"), strings.HasPrefix(s.Key, "GOARM"),
			strings.HasPrefix(s.Key, "GOMIPS"), strings.HasPrefix(s.Key, "GOPPC64"), strings.HasPrefix(s.Key, "GORISCV64"),
			strings.HasPrefix(s.Key, "GOWASM"), strings.HasPrefix(s.Key, "GOARM64"):
			env = append(env, s.Key+"="+s.Value)
		}
	}
	if bi.GoVersion != "" && strings.HasPrefix(bi.GoVersion, "go1.") && !strings.Contains(bi.GoVersion, " ") {
		// The standard library's source must be the target's release.
		env = append(env, "GOTOOLCHAIN="+bi.GoVersion)
	}
	return flags, env
}

// checkBuildID compares the main package's build ID in the executable
// with the one the go command computes for the source on disk with the
// same settings. An executable's build ID is
// linkAction/mainAction/mainContent/linkContent, and the main package's
// action ID hashes its source files, its dependencies' build IDs, the
// toolchain and the flags: equal, the source is what was built.
func checkBuildID(ctx context.Context, exe, dir, pattern string, flags, env []string) error {
	have, err := exeBuildID(exe)
	if err != nil {
		return err
	}
	parts := strings.Split(have, "/")
	if len(parts) != 4 {
		return fmt.Errorf("build ID %q of %s has an unexpected shape: cannot check that the source matches", have, exe)
	}
	args := append([]string{"list", "-export", "-f", "{{.BuildID}}"}, flags...)
	args = append(args, "--", pattern)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("cannot compute the source's build ID: %s", msg)
	}
	got := strings.TrimSpace(string(out))
	want := parts[1] + "/" + parts[2]
	if got != want {
		return fmt.Errorf("source in %s does not match the binary (main package build ID %s, the source gives %s)", dir, want, got)
	}
	return nil
}

// exeBuildID reads the Go build ID note of an ELF executable.
func exeBuildID(exe string) (string, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Name != ".note.go.buildid" {
			continue
		}
		data, err := s.Data()
		if err != nil || len(data) < 16 {
			break
		}
		bo := f.ByteOrder
		nameSz, descSz := bo.Uint32(data[0:4]), bo.Uint32(data[4:8])
		off := 12 + int((nameSz+3)&^3)
		if off+int(descSz) > len(data) || !bytes.HasPrefix(data[12:], []byte("Go\x00")) {
			break
		}
		return string(data[off : off+int(descSz)]), nil
	}
	return "", errors.New("the executable has no Go build ID: cannot check that the source matches")
}

// cache keeps loaded programs for the life of the process: attaching to
// the same binary again (the picker, tests) does not load it twice.
var cache struct {
	sync.Mutex
	m map[string]*cacheEntry
}

type cacheEntry struct {
	done chan struct{}
	p    *Program
	err  error
}

// LoadCached is Load, once per (executable build ID, directory) for the
// life of the process; concurrent callers share one load. A load that
// failed because ctx ended is not kept.
func LoadCached(ctx context.Context, cfg Config) (*Program, error) {
	id, err := exeBuildID(cfg.Exe)
	if err != nil {
		id = cfg.Exe
	}
	key := id + "\x00" + cfg.Dir
	cache.Lock()
	if cache.m == nil {
		cache.m = map[string]*cacheEntry{}
	}
	e := cache.m[key]
	owner := e == nil
	if owner {
		e = &cacheEntry{done: make(chan struct{})}
		cache.m[key] = e
	}
	cache.Unlock()
	if owner {
		e.p, e.err = Load(ctx, cfg)
		if e.err != nil && ctx.Err() != nil {
			cache.Lock()
			delete(cache.m, key)
			cache.Unlock()
		}
		close(e.done)
		return e.p, e.err
	}
	select {
	case <-e.done:
		return e.p, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
