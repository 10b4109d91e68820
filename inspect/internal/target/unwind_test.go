package target

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/hangtui/hangtui/internal/fixture"
)

// attachTo attaches to a running fixture and detaches when the test ends,
// checking that the process was left running.
func attachTo(tb testing.TB, pid int) *Target {
	tb.Helper()
	tg, err := Attach(pid)
	if err != nil {
		tb.Fatalf("attach %d: %v", pid, err)
	}
	tb.Cleanup(func() {
		if err := tg.Detach(); err != nil {
			tb.Errorf("detach: %v", err)
		}
		fixture.AssertRunning(tb, pid)
	})
	return tg
}

// delveRef is one goroutine as the plain Delve path sees it: what
// Goroutines() returned before the fast reader.
type delveRef struct {
	frames    []proc.Stackframe
	Frames    []Frame
	truncated bool
	labels    map[string]string
	start     string
	onThread  bool
}

// delveGoroutines unwinds every goroutine with GoroutinesInfo and
// GoroutineStacktrace, like Goroutines() did before unwind.go.
func delveGoroutines(tg *Target) (map[int64]*delveRef, error) {
	dgs, _, err := proc.GoroutinesInfo(tg.t, 0, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*delveRef, len(dgs))
	for _, dg := range dgs {
		if dg.Unreadable != nil {
			continue
		}
		g := &G{}
		tg.delveStack(g, dg)
		r := &delveRef{frames: g.frames, Frames: g.Frames, truncated: g.Truncated, labels: dg.Labels(), onThread: dg.Thread != nil}
		if loc := dg.StartLoc(tg.t); loc.Fn != nil {
			r.start = loc.Fn.Name
		}
		out[dg.ID] = r
	}
	return out, nil
}

type compareStats struct {
	total, fast, onThread, fellBack, other int
}

// compareWithDelve checks the frames of every goroutine the fast reader
// unwound against Delve's, and every goroutine's metadata.
func compareWithDelve(t *testing.T, tg *Target) compareStats {
	t.Helper()
	return compareWith(t, tg, false)
}

// compareWithDelveAll also checks the goroutines Delve unwound.
func compareWithDelveAll(t *testing.T, tg *Target) compareStats {
	t.Helper()
	return compareWith(t, tg, true)
}

func compareWith(t *testing.T, tg *Target, all bool) compareStats {
	t.Helper()
	tg.ClearCaches()
	gs, warnings, err := tg.Goroutines()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Logf("warning: %s", w)
	}
	tg.ClearCaches()
	ref, err := delveGoroutines(tg)
	if err != nil {
		t.Fatal(err)
	}
	var st compareStats
	bad := 0
	for _, g := range gs {
		st.total++
		switch {
		case g.stk != nil:
			st.fast++
		case g.OnThread:
			st.onThread++
		case g.Status == Gwaiting || g.Status == Grunnable || g.Status == Gsyscall || g.Status == Gpreempted:
			st.fellBack++
			if all {
				break
			}
			t.Logf("goroutine %d (status %d, %s) fell back to Delve: top %v", g.ID, g.Status, g.WaitReason, firstFrame(g))
		default:
			// e.g. Go 1.26's _Gdeadextra, a dead g kept for cgo callbacks
			st.other++
		}
		r := ref[g.ID]
		if r == nil {
			t.Errorf("goroutine %d: not in Delve's list", g.ID)
			continue
		}
		if g.OnThread != r.onThread || g.StartFunc != r.start || fmt.Sprint(g.Labels) != fmt.Sprint(r.labels) || (g.Labels == nil) != (r.labels == nil) {
			t.Errorf("goroutine %d: on thread %v, start %q, labels %v; Delve %v, %q, %v", g.ID, g.OnThread, g.StartFunc, g.Labels, r.onThread, r.start, r.labels)
		}
		if g.stk == nil {
			if all {
				if msg := diffFrames(g.Frames, r.Frames); msg != "" {
					t.Errorf("goroutine %d (Delve path): %s", g.ID, msg)
				}
				if g.dg == nil || len(g.physicalFrames()) == 0 {
					t.Errorf("goroutine %d (Delve path): no Delve G or frames", g.ID)
				}
			}
			continue
		}
		if msg := diffFrames(g.Frames, r.Frames); msg != "" {
			bad++
			if bad <= 5 {
				t.Errorf("goroutine %d (%s): frames differ from Delve's: %s\nfast:\n%s\ndelve:\n%s", g.ID, g.WaitReason, msg, dumpFrames(g.Frames), dumpFrames(r.Frames))
			}
			continue
		}
		if g.Truncated != r.truncated {
			t.Errorf("goroutine %d: truncated %v, Delve %v", g.ID, g.Truncated, r.truncated)
		}
		// The CFA of every physical frame is Delve's, and so are the
		// frames defers.go reads.
		phys := g.physicalFrames()
		k := 0
		for i, f := range r.frames {
			if got := g.FrameCFA(i); got != uint64(f.Regs.CFA) {
				t.Errorf("goroutine %d frame %d (%s): CFA %#x, Delve %#x", g.ID, i, g.Frames[i].Func, got, f.Regs.CFA)
			}
			if f.Inlined {
				continue
			}
			if k >= len(phys) {
				t.Errorf("goroutine %d: %d physical frames, Delve has more", g.ID, len(phys))
				break
			}
			p := phys[k]
			k++
			if p.Index != i || f.Call.Fn == nil || p.Entry != f.Call.Fn.Entry || p.CFA != uint64(f.Regs.CFA) {
				t.Errorf("goroutine %d: physical frame %d = %+v, Delve index %d entry %#x CFA %#x", g.ID, k-1, p, i, entryOf(f), f.Regs.CFA)
			}
		}
		if k != len(phys) {
			t.Errorf("goroutine %d: %d physical frames, Delve %d", g.ID, len(phys), k)
		}
	}
	if bad > 5 {
		t.Errorf("... %d goroutines differ in all", bad)
	}
	t.Logf("%d goroutines: %d fast, %d on a thread, %d fell back to Delve, %d left to Delve by status", st.total, st.fast, st.onThread, st.fellBack, st.other)
	return st
}

func entryOf(f proc.Stackframe) uint64 {
	if f.Call.Fn == nil {
		return 0
	}
	return f.Call.Fn.Entry
}

func firstFrame(g *G) string {
	if len(g.Frames) == 0 {
		return "no frames"
	}
	return g.Frames[0].Func
}

func diffFrames(got, want []Frame) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d frames, Delve %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("frame %d: %+v, Delve %+v", i, got[i], want[i])
		}
	}
	return ""
}

func dumpFrames(fs []Frame) string {
	var sb strings.Builder
	for _, f := range fs {
		inl := ""
		if f.Inlined {
			inl = " (inlined)"
		}
		fmt.Fprintf(&sb, "  %#x %s%s\n      %s:%d\n", f.PC, f.Func, inl, f.File, f.Line)
	}
	return sb.String()
}

func TestFastStacksMatchDelve(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range []struct {
		name string
		args []string
	}{
		{"many", []string{"-n", "2000"}},
		{"healthy-net", nil},
		{"select", nil},
		{"all", nil},
	} {
		t.Run(sc.name, func(t *testing.T) {
			p := fixture.Start(t, exe, sc.name, sc.args...)
			tg := attachTo(t, p.PID)
			st := compareWithDelve(t, tg)
			checkFastTables(t, tg)
			// Everything parked must take the fast path.
			if st.fellBack > 0 {
				t.Errorf("%d goroutines fell back to Delve", st.fellBack)
			}
		})
	}
}

// TestFastStacksGoVersions checks targets built by other Go releases (the
// runtime's tables and g layout differ between them).
func TestFastStacksGoVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fixture with several toolchains")
	}
	for _, v := range []string{"go1.22.12", "go1.23.12", "go1.24.13", "go1.25.14", "go1.27.1"} {
		t.Run(v, func(t *testing.T) {
			exe := fixture.Build(t, fixture.Variant{Name: v, Toolchain: v})
			p := fixture.Start(t, exe, "all")
			tg := attachTo(t, p.PID)
			st := compareWithDelve(t, tg)
			checkFastTables(t, tg)
			if st.fellBack > 0 {
				t.Errorf("%d goroutines fell back to Delve", st.fellBack)
			}
		})
	}
}

// TestFastStacksBuildModes checks the PIE and unoptimized builds.
func TestFastStacksBuildModes(t *testing.T) {
	for _, v := range []fixture.Variant{fixture.NoOpt, fixture.PIE} {
		exe := fixture.Build(t, v)
		t.Run(v.Name, func(t *testing.T) {
			p := fixture.Start(t, exe, "many", "-n", "300")
			tg := attachTo(t, p.PID)
			if st := compareWithDelve(t, tg); st.fellBack > 0 {
				t.Errorf("%d goroutines fell back to Delve", st.fellBack)
			}
			checkFastTables(t, tg) // PIE: symbol addresses moved by the load bias
		})
	}
}

// TestFallback checks the Delve path: with the fast reader disabled every
// goroutine must still come out exactly as Delve has it, and a goroutine
// whose frame pointer chain does not check out is refused.
func TestFallback(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "many", "-n", "100")
	tg := attachTo(t, p.PID)

	gs, err := tg.readAllG()
	if err != nil {
		t.Fatal(err)
	}
	u := tg.unwinder()
	tried := 0
	var refused []int64
	for _, g := range gs {
		pc, sp, bp, ok := g.startRegs()
		if !ok || g.Status != Gwaiting {
			continue
		}
		tried++
		for _, c := range []struct {
			name       string
			pc, sp, bp uint64
		}{
			{"bp off by a word", pc, sp, bp + 8},
			{"bp below sp", pc, sp, sp - 16},
			{"pc not in a function", 1, sp, bp},
			{"pc at a function entry", u.symbolize(tg, pc, true).entry, sp, bp},
			{"sp off by a word", pc, sp + 8, bp},
		} {
			g2 := *g
			sr := stackReader{t: tg, base: min(c.sp, sp), hi: g.regs.hi}
			if tg.unwindFP(u, &g2, c.pc, c.sp, c.bp, &sr) {
				t.Errorf("goroutine %d: %s: unwound anyway: %v", g.ID, c.name, firstFrame(&g2))
			}
		}
		g2 := *g
		sr := stackReader{t: tg, base: sp, hi: g.regs.hi}
		if !tg.unwindFP(u, &g2, pc, sp, bp, &sr) {
			refused = append(refused, g.ID)
		}
	}
	if tried == 0 {
		t.Fatal("no parked goroutine")
	}
	// A goroutine caught while the runtime parks it (the fixture has just
	// run a GC) may have saved registers that do not check out yet: the
	// reader refuses it and Delve reads it, which is the point of the
	// check. Almost all must unwind fast, though.
	if len(refused) > max(2, tried/20) {
		t.Errorf("%d of %d parked goroutines not unwound from their own registers: %v", len(refused), tried, refused)
	} else if len(refused) > 0 {
		t.Logf("refused (read by Delve instead): %v of %d", refused, tried)
	}

	u.ok = false
	st := compareWithDelveAll(t, tg)
	if st.fast != 0 {
		t.Errorf("%d goroutines read by the disabled fast path", st.fast)
	}
}

// TestFastScopeMatchesDelve checks the EvalScope built for a fast-path
// frame against the one Delve's own stack gives: same registers, same PC,
// and the same arguments and locals read through it.
func TestFastScopeMatchesDelve(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	for _, sc := range []struct {
		name string
		args []string
	}{
		{"many", []string{"-n", "200"}},
		{"all", nil},
	} {
		t.Run(sc.name, func(t *testing.T) {
			p := fixture.Start(t, exe, sc.name, sc.args...)
			tg := attachTo(t, p.PID)
			gs, _, err := tg.Goroutines()
			if err != nil {
				t.Fatal(err)
			}
			cfg := proc.LoadConfig{MaxStringLen: 64, MaxArrayValues: 4, MaxStructFields: -1, MaxVariableRecurse: 1, FollowPointers: true}
			frames, vars := 0, 0
			for _, g := range gs {
				if g.stk == nil {
					continue
				}
				dg, err := tg.delveG(g)
				if err != nil {
					t.Fatal(err)
				}
				ref := &G{ID: g.ID}
				tg.delveStack(ref, dg)
				for _, ph := range g.physicalFrames() {
					i := ph.Index
					f, pc, ok := tg.fastFrame(g, i)
					if !ok {
						continue
					}
					frames++
					d := ref.frames[i]
					dsc := proc.FrameToScope(tg.t, tg.mem, dg, 0, ref.frames[i:]...)
					if f.Regs.SP() != d.Regs.SP() || f.Regs.BP() != d.Regs.BP() || f.Regs.PC() != d.Regs.PC() ||
						f.Regs.CFA != d.Regs.CFA || f.Regs.FrameBase != d.Regs.FrameBase || pc != dsc.PC ||
						f.Call.File != d.Call.File || f.Call.Line != d.Call.Line || f.Call.Fn != d.Call.Fn ||
						f.Current.File != d.Current.File || f.Current.Line != d.Current.Line {
						t.Errorf("goroutine %d frame %d (%s): fast sp %#x bp %#x pc %#x cfa %#x fb %#x scope pc %#x %s:%d; Delve %#x %#x %#x %#x %#x %#x %s:%d",
							g.ID, i, g.Frames[i].Func, f.Regs.SP(), f.Regs.BP(), f.Regs.PC(), f.Regs.CFA, f.Regs.FrameBase, pc, f.Call.File, f.Call.Line,
							d.Regs.SP(), d.Regs.BP(), d.Regs.PC(), d.Regs.CFA, d.Regs.FrameBase, dsc.PC, d.Call.File, d.Call.Line)
						continue
					}
					fsc, err := tg.evalScope(g, i)
					if err != nil {
						t.Fatal(err)
					}
					for _, get := range []func(*proc.EvalScope) ([]*proc.Variable, error){
						func(s *proc.EvalScope) ([]*proc.Variable, error) { return s.FunctionArguments(cfg) },
						func(s *proc.EvalScope) ([]*proc.Variable, error) { return s.LocalVariables(cfg) },
					} {
						fv, ferr := get(fsc)
						dv, derr := get(dsc)
						if fmt.Sprint(ferr) != fmt.Sprint(derr) || len(fv) != len(dv) {
							t.Errorf("goroutine %d frame %d (%s): %d vars %v, Delve %d %v", g.ID, i, g.Frames[i].Func, len(fv), ferr, len(dv), derr)
							continue
						}
						for j := range fv {
							vars++
							if a, b := describeVar(fv[j]), describeVar(dv[j]); a != b {
								t.Errorf("goroutine %d frame %d (%s): %s, Delve %s", g.ID, i, g.Frames[i].Func, a, b)
							}
						}
					}
				}
			}
			if frames == 0 || vars == 0 {
				t.Fatalf("compared %d frames, %d variables", frames, vars)
			}
			t.Logf("compared %d frames, %d variables", frames, vars)
		})
	}
}

func describeVar(v *proc.Variable) string {
	var sb strings.Builder
	var walk func(v *proc.Variable, depth int)
	walk = func(v *proc.Variable, depth int) {
		fmt.Fprintf(&sb, "%s:%s@%#x=%v/%v/%d/%d[", v.Name, v.Kind, v.Addr, v.Value, v.Unreadable, v.Len, v.Base)
		if depth < 3 {
			for _, c := range v.Children {
				walk(&c, depth+1)
			}
		}
		sb.WriteString("]")
	}
	walk(v, 0)
	return sb.String()
}

// TestScopeOnFastGoroutine evaluates locals in frames of goroutines the
// fast reader unwound (Delve's G and frames are then made on demand) and
// checks that they agree with the same goroutines unwound by Delve.
func TestScopeOnFastGoroutine(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "many", "-n", "200")
	tg := attachTo(t, p.PID)
	gs, _, err := tg.Goroutines()
	if err != nil {
		t.Fatal(err)
	}
	want := p.Manifest.Addr(t, "cond")
	found := 0
	for _, g := range gs {
		if g.FrameIndex("sync.(*Cond).Wait") < 0 {
			continue
		}
		if g.stk == nil {
			t.Errorf("goroutine %d was not read by the fast path", g.ID)
			continue
		}
		// The same goroutine as the old path had it.
		dg, err := tg.delveG(g)
		if err != nil {
			t.Fatal(err)
		}
		old := &G{ID: g.ID}
		tg.delveStack(old, dg)
		for _, q := range []struct{ fn, expr string }{
			{"sync.(*Cond).Wait", "c"},
			{"sync.runtime_notifyListWait", "l"},
			{"runtime.notifyListWait", "l"},
			{"main.waitSignal", "manyCond"},
		} {
			i := g.FrameIndex(q.fn)
			if i < 0 {
				continue
			}
			addr, err := tg.PointerVar(g, i, q.expr)
			oaddr, oerr := tg.PointerVar(old, old.FrameIndex(q.fn), q.expr)
			if addr != oaddr || fmt.Sprint(err) != fmt.Sprint(oerr) {
				t.Errorf("goroutine %d %s %s: %#x %v; Delve path %#x %v", g.ID, q.fn, q.expr, addr, err, oaddr, oerr)
			}
			if err != nil {
				continue
			}
			if q.expr == "l" {
				addr -= uint64(tg.lay.condNotify.Off)
			}
			if addr != want {
				t.Errorf("goroutine %d: %s in %s gives cond %#x, want %#x", g.ID, q.expr, q.fn, addr, want)
			}
			found++
		}
	}
	if found == 0 {
		t.Fatal("no sync.Cond found through any frame")
	}
}

// edgeProgram puts goroutines where the fast path must either be exact or
// step aside: pprof labels, a generic function, recursion deeper than
// MaxFrames, a goroutine spinning on a CPU, one in a blocking syscall, and
// a LockOSThread'ed one.
const edgeProgram = `package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"
)

var sink int

//go:noinline
func deep(n int, ch chan int) int {
	if n == 0 {
		return <-ch
	}
	return deep(n-1, ch) + 1
}

type number interface{ ~int | ~float64 }

//go:noinline
func gsum[T number](ch chan T, xs ...T) T {
	var s T
	for _, x := range xs {
		s += x
	}
	return s + <-ch
}

func spin() {
	for {
		sink++
	}
}

func main() {
	block := make(chan int)
	pprof.Do(context.Background(), pprof.Labels("role", "worker", "shard", "7"), func(context.Context) {
		go func() { <-block }()
	})
	go deep(400, block)
	go gsum(make(chan float64), 1.5, 2.5)
	go gsum(make(chan int), 1, 2)
	go spin()
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		panic(err)
	}
	go func() {
		var b [1]byte
		syscall.Read(fds[0], b[:]) // blocks in the kernel: Gsyscall
	}()
	go func() {
		runtime.LockOSThread()
		<-block
	}()
	time.Sleep(300 * time.Millisecond)
	fmt.Println("ready")
	os.Stdout.Sync()
	select {}
}
`

func TestFastStacksEdgeCases(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(edgeProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module edge\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "edge")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(exe)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("edge program: %q %v", buf, err)
	}
	tg := attachTo(t, cmd.Process.Pid)
	compareWithDelve(t, tg)

	tg.ClearCaches()
	gs, _, err := tg.Goroutines()
	if err != nil {
		t.Fatal(err)
	}
	tg.ClearCaches()
	dgs, _, err := proc.GoroutinesInfo(tg.t, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]*proc.G{}
	for _, dg := range dgs {
		byID[dg.ID] = dg
	}
	var sawLabels, sawDeep, sawSpin, sawSyscall, sawGeneric bool
	for _, g := range gs {
		dg := byID[g.ID]
		if dg == nil {
			continue
		}
		if fmt.Sprint(g.Labels) != fmt.Sprint(dg.Labels()) || (g.Labels == nil) != (dg.Labels() == nil) {
			t.Errorf("goroutine %d: labels %v, Delve %v", g.ID, g.Labels, dg.Labels())
		}
		if loc := dg.StartLoc(tg.t); loc.Fn != nil && loc.Fn.Name != g.StartFunc {
			t.Errorf("goroutine %d: start %q, Delve %q", g.ID, g.StartFunc, loc.Fn.Name)
		}
		if g.OnThread != (dg.Thread != nil) {
			t.Errorf("goroutine %d: on thread %v, Delve %v", g.ID, g.OnThread, dg.Thread != nil)
		}
		sawLabels = sawLabels || g.Labels["shard"] == "7"
		if g.FrameIndex("main.deep") >= 0 {
			sawDeep = true
			if !g.Truncated || len(g.Frames) != MaxFrames+1 || g.stk == nil {
				t.Errorf("deep goroutine: truncated %v, %d frames, fast %v", g.Truncated, len(g.Frames), g.stk != nil)
			}
		}
		if g.FrameIndex("main.spin") >= 0 {
			sawSpin = true
		}
		if g.Status == Gsyscall {
			sawSyscall = true
		}
		for _, f := range g.Frames {
			if strings.HasPrefix(f.Func, "main.gsum[") {
				sawGeneric = true
			}
		}
	}
	// A spinning goroutine may be caught anywhere (in the scheduler, in an
	// async preemption): seeing main.spin on its stack is not guaranteed
	// on a loaded machine, so it is only logged.
	if !sawSpin {
		t.Logf("the spin goroutine was caught outside main.spin")
	}
	for what, ok := range map[string]bool{"labels": sawLabels, "deep": sawDeep, "syscall": sawSyscall, "generic": sawGeneric} {
		if !ok {
			t.Errorf("did not see the %s goroutine", what)
		}
	}
}

// BenchmarkGoroutines reads all goroutines of "many -n N" (N from
// HANGTUI_BENCH_N, default 10000) with the fast reader and with Delve's plain
// path, attached once. "fast" keeps the symbol cache between iterations (as
// a second snapshot of the same process would); "fast-cold" starts from
// nothing each time.
func BenchmarkGoroutines(b *testing.B) {
	n := 10000
	if s := os.Getenv("HANGTUI_BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	exe := fixture.Build(b, fixture.Default)
	p := fixture.Start(b, exe, "many", "-n", strconv.Itoa(n), "-timeout", "5m")
	tg := attachTo(b, p.PID)
	retained := func(b *testing.B, keep any) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MB-live")
		runtime.KeepAlive(keep)
	}
	run := func(name string, f func() any) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var keep any
			for i := 0; i < b.N; i++ {
				keep = nil
				tg.ClearCaches()
				keep = f()
			}
			b.StopTimer()
			retained(b, keep)
		})
	}
	run("fast", func() any {
		gs, _, err := tg.Goroutines()
		if err != nil || len(gs) < n {
			b.Fatalf("%d goroutines, %v", len(gs), err)
		}
		return gs
	})
	run("fast-cold", func() any {
		tg.bin.unw, tg.bin.pcln, tg.bin.defers = nil, nil, nil
		gs, _, err := tg.Goroutines()
		if err != nil || len(gs) < n {
			b.Fatalf("%d goroutines, %v", len(gs), err)
		}
		return gs
	})
	if os.Getenv("HANGTUI_BENCH_SKIP_DELVE") == "" {
		run("delve", func() any {
			ref, err := delveGoroutines(tg)
			if err != nil || len(ref) < n {
				b.Fatalf("%d goroutines, %v", len(ref), err)
			}
			return ref
		})
	}
}

// checkFastTables fails unless the fast paths that replace Delve lookups
// are in use: the unwinder, the runtime's line tables (lines.go; frames are
// compared with Delve's by compareWithDelve) and the ELF symbol table
// (symtab.go; the addresses are compared with Delve's evaluation here).
func checkFastTables(t *testing.T, tg *Target) {
	t.Helper()
	u := tg.unwinder()
	if !u.ok {
		t.Fatalf("fast path disabled: %s", u.reason)
	}
	if !u.lines {
		t.Errorf("line tables not understood: file:line comes from Delve's DWARF line program")
	}
	for _, name := range []string{"runtime.allgs", "runtime.mheap_", "runtime.allfin", "runtime.semtable", "runtime.firstmoduledata", "main.registry"} {
		addr, size, ok := tg.lookupSym(name)
		if !ok {
			if name == "main.registry" {
				continue // not every fixture build keeps it
			}
			t.Errorf("%s: not in the symbol table", name)
			continue
		}
		scope, err := proc.ThreadScope(tg.t, tg.t.CurrentThread())
		if err != nil {
			t.Fatal(err)
		}
		v, err := scope.EvalExpression(name, proc.LoadConfig{})
		if err != nil || v.RealType == nil {
			t.Errorf("%s: Delve: %v", name, err)
			continue
		}
		if v.Addr != addr || uint64(v.RealType.Size()) != size {
			t.Errorf("%s: symbol table %#x+%d, Delve %#x+%d", name, addr, size, v.Addr, v.RealType.Size())
		}
	}
	// Location (go statements) from the line tables, as Delve has it.
	gs, err := tg.readAllG()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.GoPC == 0 {
			continue
		}
		got, _ := tg.Location(g.GoPC)
		file, line, fn := tg.bi.PCToLine(g.GoPC)
		if fn == nil || got.File != file || got.Line != line || got.Func != fn.Name {
			t.Errorf("goroutine %d created at %#x: %s %s:%d, Delve %v %s:%d", g.ID, g.GoPC, got.Func, got.File, got.Line, fn != nil, file, line)
			break
		}
	}
	// The release table of runtime constants agrees with the DWARF.
	if _, ok, _ := tg.releaseConstant("runtime._KindSpecialFinalizer"); !ok {
		t.Errorf("Go release %q not in the constants table", tg.GoVersion())
	}
	for _, name := range []string{"runtime._KindSpecialFinalizer", "runtime._KindSpecialCleanup"} {
		want := tg.constant1(name, -1)
		got, ok, missing := tg.releaseConstant(name)
		if (missing && want != -1) || (ok && got != want) {
			t.Errorf("%s: table %d (missing %v), DWARF %d", name, got, missing, want)
		}
	}
	if !tg.knownMissing("runtime.noSuchVariable") {
		t.Errorf("a missing variable is not known to be missing")
	}
}
