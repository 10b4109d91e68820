package watch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/internal/fixture"
)

type doc struct {
	Target struct {
		PID    int
		Source string
	}
	Cycles []struct {
		Kind       string
		Goroutines []int64
	}
}

func readDoc(t *testing.T, path string) doc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

// TestWatchGoTestKill: `hangtui watch --kill -- go test` on a test that
// deadlocks AB-BA. The test binary has no debug info (go test strips it),
// so its SIGQUIT dump is read: the report names the cycle, the JSON is
// written, the command is killed and the exit code is ExitKilled. The
// command's own output passes through unchanged.
func TestWatchGoTestKill(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd := []string{"go", "-C", fixture.DumpProgDir(), "test", "-count=1", "-run", "TestTransfers", "."}
	code, err := Run(Options{Command: cmd, Stall: 3 * time.Second, Kill: true, Out: out, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if code != ExitKilled {
		t.Errorf("exit code %d, want %d", code, ExitKilled)
	}
	if !strings.HasPrefix(stdout.String(), "transfers: starting\ntransfers: both parked\n") {
		t.Errorf("command output not passed through:\n%.300s", stdout.String())
	}
	for _, want := range []string{"skipped, the Go toolchain", "===== hangtui watch: report of PID", "Deadlock: 2 goroutines wait for each other's locks (lock-order)", "JSON report written to"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	files, _ := filepath.Glob(filepath.Join(out, "hangtui-*.json"))
	if len(files) != 1 {
		t.Fatalf("JSON reports %v, want 1", files)
	}
	d := readDoc(t, files[0])
	if d.Target.Source != "dump" || len(d.Cycles) != 1 || d.Cycles[0].Kind != "lock-order" {
		t.Errorf("JSON report %+v", d)
	}
}

// TestWatchLiveNoKill: without --kill, a hung Go process with debug info
// (the AB-BA fixture under a shell) is attached to, reported and left
// running; the exit code is the command's own.
func TestWatchLiveNoKill(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	// The command lives until the report is written (after the detach),
	// not for a fixed time: hangtui loads the binary before it stops the
	// target, which takes seconds on a loaded machine.
	script := fmt.Sprintf(`%s abba >/dev/null & p=$!; i=0; while [ $i -lt 1200 ] && ! ls %s/hangtui-*.json >/dev/null 2>&1; do sleep 0.1; i=$((i+1)); done; sleep 0.2; grep '^State' /proc/$p/status; grep '^TracerPid' /proc/$p/status; kill $p; exit 7`, exe, out)
	code, err := Run(Options{Command: []string{"sh", "-c", script}, Stall: 2 * time.Second, Out: out, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 {
		t.Errorf("exit code %d, want the command's 7\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "TracerPid:\t0") || strings.Contains(stdout.String(), "(stopped)") || strings.Contains(stdout.String(), "tracing stop") {
		t.Errorf("fixture not left running and untraced:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "lock-order") || !strings.Contains(stderr.String(), "skipped, not a Go program") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "hangtui-*.json"))
	if len(files) != 1 {
		t.Fatalf("JSON reports %v, want 1\n%s", files, stderr.String())
	}
	if d := readDoc(t, files[0]); d.Target.Source != "live" || len(d.Cycles) != 1 {
		t.Errorf("JSON report %+v", d)
	}
}

// TestWatchPassThrough: a command that ends on its own keeps its output and
// exit code, and nothing is reported.
func TestWatchPassThrough(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		script string
		code   int
		out    string
	}{
		{"printf 'a\\nb'; exit 3", 3, "a\nb"},
		{"echo ok", 0, "ok\n"},
		{"kill -TERM $$", 128 + 15, ""},
	} {
		var stdout, stderr bytes.Buffer
		code, err := Run(Options{Command: []string{"sh", "-c", tc.script}, Stall: time.Minute, Stdout: &stdout, Stderr: &stderr})
		if err != nil || code != tc.code || stdout.String() != tc.out || stderr.Len() != 0 {
			t.Errorf("%q: code %d err %v stdout %q stderr %q", tc.script, code, err, stdout.String(), stderr.String())
		}
	}
	if _, err := Run(Options{Command: []string{"/nonexistent/cmd"}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}); err == nil {
		t.Error("no error for a command that does not exist")
	}
}
