package inspect_test

import (
	"os"
	"sync"
	"testing"

	"github.com/hangtui/hangtui/inspect/internal/target"
	"github.com/hangtui/hangtui/internal/fixture"
)

// Cores of fixture scenarios, made once per test binary (a core takes a
// few seconds: start the fixture, crash it) and shared by the tests that
// only read them. They live in a directory removed when the binary ends
// (TestMain), never in the repository.
var (
	coreMu    sync.Mutex
	coreDir   string
	coreCache = map[string]string{}
)

// sharedCore returns a core of the default fixture in scenario, and the
// fixture's executable. Callers must not modify the core.
func sharedCore(t testing.TB, scenario string) (core, exe string) {
	t.Helper()
	exe = fixture.Build(t, fixture.Default)
	coreMu.Lock()
	defer coreMu.Unlock()
	if c, ok := coreCache[scenario]; ok {
		return c, exe
	}
	if coreDir == "" {
		d, err := os.MkdirTemp("", "hangtui-cores-")
		if err != nil {
			t.Fatal(err)
		}
		coreDir = d
	}
	c := makeCoreIn(t, exe, scenario, coreDir)
	coreCache[scenario] = c
	return c, exe
}

// cleanups run when the test binary ends.
var cleanups []func()

func TestMain(m *testing.M) {
	// Marking on several workers as soon as there are two objects to
	// scan: every reachability test here checks the parallel marking
	// (serial marking is what small heaps get otherwise; the target
	// package's tests and the command's end-to-end tests cover it).
	target.MarkInParallelFrom(0)
	code := fixture.Main(m)
	for _, f := range cleanups {
		f()
	}
	if coreDir != "" {
		os.RemoveAll(coreDir)
	}
	os.Exit(code)
}
