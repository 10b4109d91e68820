package inspect_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// Ways a target may have been built besides the default. Whether the
// default build links runtime/cgo depends on the machine (the go command
// enables cgo when it finds a C compiler, and net then uses it), so both
// are built explicitly here.
var (
	// cgoBuild links runtime/cgo and adds the cgo-call scenario.
	cgoBuild = fixture.Variant{Name: "cgo", Flags: []string{"-tags=fxcgo"}, Env: []string{"CGO_ENABLED=1"}}
	// raceBuild is a -race target: the race runtime (C code, needs cgo)
	// wraps every function and sync operation.
	raceBuild = fixture.Variant{Name: "race", Flags: []string{"-race"}, Env: []string{"CGO_ENABLED=1"}}
	// noCgoBuild is a fully static target.
	noCgoBuild = fixture.Variant{Name: "nocgo", Env: []string{"CGO_ENABLED=0"}}
)

// deadlockScenarios are the fixtures whose verdicts must be explained in
// every build of the target: lock-order, re-entry, WaitGroup and Cond
// cycles, source-line holder evidence, a finalizer behind a lock, a leak.
var deadlockScenarios = []string{"abba", "double-lock", "rwmutex", "waitgroup", "cond-cycle", "source-lock", "finalizer-lock", "chan-leak", "select"}

// TestBuildVariants reads the deadlock fixtures from unoptimized (-N -l),
// PIE, cgo, -race and static builds of the target: the same waiters,
// holders, cycles and verdicts as from the default build.
func TestBuildVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fixture five more times")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("cgo and -race targets need a C compiler: apt-get install gcc")
	}
	for _, v := range []fixture.Variant{fixture.NoOpt, fixture.PIE, cgoBuild, raceBuild, noCgoBuild} {
		t.Run(v.Name, func(t *testing.T) {
			exe := fixture.Build(t, v)
			for _, sc := range deadlockScenarios {
				t.Run(sc, func(t *testing.T) {
					p := fixture.Start(t, exe, sc)
					snap := settledSnapshot(t, p)
					checkWaits(t, snap, p.Manifest)
					checkHolders(t, snap, p.Manifest)
					checkVerdicts(t, snap, p.Manifest)
					checkCycleKind(t, snap, p.Manifest)
					checkPossible(t, snap, p.Manifest)
				})
			}
		})
	}
}

// TestCgoCall: a goroutine that is inside a C function is in a syscall,
// with the cgo call on its stack, and is never called stuck.
func TestCgoCall(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("the cgo target needs a C compiler: apt-get install gcc")
	}
	p := fixture.Start(t, fixture.Build(t, cgoBuild), "cgo-call")
	snap := snapshotOf(t, p)
	gs, _ := index(snap)
	id := p.Manifest.Groups["in-c"][0]
	g := gs[id]
	if g == nil {
		t.Fatalf("goroutine %d not found", id)
	}
	if g.State != inspect.StateSyscall || g.Verdict != inspect.VerdictSyscall {
		t.Errorf("goroutine in C: state %s verdict %s, want syscall", g.State, g.Verdict)
	}
	var funcs []string
	for _, f := range g.Frames {
		funcs = append(funcs, f.Func)
	}
	stack := strings.Join(funcs, " ")
	if !strings.Contains(stack, "runtime.cgocall") || !strings.Contains(stack, "main.setupCgoCall") {
		t.Errorf("stack of the goroutine in C lacks the cgo call: %s", stack)
	}
	checkVerdicts(t, snap, p.Manifest)
}
