package inspect_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// makeCore crashes a fixture scenario with GOTRACEBACK=crash and returns
// the core it wrote.
func makeCore(t *testing.T, exe, scenario string) string {
	t.Helper()
	return makeCoreIn(t, exe, scenario, t.TempDir())
}

// makeCoreIn is makeCore writing the core into a directory of dir.
func makeCoreIn(t testing.TB, exe, scenario, dir string) string {
	t.Helper()
	defer allowCores(t)()
	pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	dir, err := os.MkdirTemp(dir, scenario+"-")
	if err != nil {
		t.Fatal(err)
	}
	p := fixture.StartIn(t, exe, dir, []string{"GOTRACEBACK=crash"}, scenario)
	p.Crash(t)
	cores, _ := filepath.Glob(filepath.Join(dir, "core*"))
	if len(cores) == 0 {
		t.Fatalf("no core written in %s (core_pattern %q)", dir, strings.TrimSpace(string(pattern)))
	}
	return cores[0]
}

// allowCores raises RLIMIT_CORE to its maximum and checks that the kernel
// writes cores as files; the returned function restores the limit.
func allowCores(t testing.TB) (restore func()) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
		t.Fatal(err)
	}
	saved := lim
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &lim); err != nil || lim.Cur == 0 {
		t.Fatalf("cannot allow core dumps (RLIMIT_CORE max %d): %v", lim.Max, err)
	}
	if pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); strings.HasPrefix(string(pattern), "|") {
		t.Fatalf("core_pattern pipes cores to %q; set it to 'core' to run this test", strings.TrimSpace(string(pattern)))
	}
	return func() { _ = syscall.Setrlimit(syscall.RLIMIT_CORE, &saved) }
}

// TestCoreBadInput: a truncated core, a core opened with the wrong
// executable and a core given as the executable each fail with one line
// that says what to do, and never with a wrong report.
func TestCoreBadInput(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	core := makeCore(t, exe, "abba")
	st, err := os.Stat(core)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("truncated", func(t *testing.T) {
		for _, frac := range []int64{2, 10} {
			short := filepath.Join(t.TempDir(), "core")
			copyPrefix(t, core, short, st.Size()/frac)
			_, err := openAndSnapshot(short, exe)
			wantKind(t, err, inspect.ErrBadCore, "truncated", "core")
			t.Log(err)
		}
	})
	t.Run("headers-only", func(t *testing.T) {
		short := filepath.Join(t.TempDir(), "core")
		copyPrefix(t, core, short, 100)
		_, err := openAndSnapshot(short, exe)
		wantKind(t, err, inspect.ErrBadCore, "core")
		t.Log(err)
	})
	t.Run("other-executable", func(t *testing.T) {
		other := fixture.Build(t, fixture.NoOpt)
		_, err := openAndSnapshot(core, other)
		wantKind(t, err, inspect.ErrBadCore, "does not match", "--exe")
		t.Log(err)
	})
	t.Run("core-as-exe", func(t *testing.T) {
		_, err := openAndSnapshot(exe, core)
		wantKind(t, err, inspect.ErrBadCore, "--core", "--exe")
		t.Log(err)
	})
}

// openAndSnapshot opens a core and reads it, as `hangtui report --core` does.
func openAndSnapshot(core, exe string) (*inspect.Snapshot, error) {
	s, err := inspect.OpenCore(core, exe)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Snapshot()
}

func copyPrefix(t *testing.T, from, to string, n int64) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b[:n], 0o600); err != nil {
		t.Fatal(err)
	}
}
