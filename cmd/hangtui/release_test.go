package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// releaseBuild reads the build settings (env, flags, ldflags) of the first
// build in .goreleaser.yaml, with {{ .Version }} filled in, so that the test
// builds hangtui exactly as a release does.
func releaseBuild(t *testing.T, version string) (env, args []string) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var key string
	var flags, ldflags []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if item, ok := strings.CutPrefix(line, "- "); ok {
			item = strings.ReplaceAll(item, "{{ .Version }}", version)
			switch key {
			case "env":
				env = append(env, item)
			case "flags":
				flags = append(flags, item)
			case "ldflags":
				ldflags = append(ldflags, item)
			}
			continue
		}
		key = strings.TrimSuffix(strings.Fields(line)[0], ":")
		if key == "archives" {
			break
		}
	}
	if len(env) == 0 || len(ldflags) == 0 {
		t.Fatalf(".goreleaser.yaml: no env or ldflags found (env %q, ldflags %q)", env, ldflags)
	}
	args = append(flags, "-ldflags="+strings.Join(ldflags, " "))
	return env, args
}

// TestReleaseBinaryDemo builds hangtui as .goreleaser.yaml does and runs
// `hangtui demo --report` with it: the demo re-executes the release binary
// itself as the hung target, so the release must keep its debug info.
func TestReleaseBinaryDemo(t *testing.T) {
	env, args := releaseBuild(t, "0.0.0-test")
	bin := filepath.Join(t.TempDir(), "hangtui")
	build := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), ".")...)
	build.Env = append(os.Environ(), env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("release build (%s %q): %v\n%s", env, args, err, out)
	}
	if out, err := exec.Command(bin, "--version").Output(); err != nil || !strings.Contains(string(out), "hangtui 0.0.0-test") {
		t.Errorf("--version: %v %q", err, out)
	}
	cmd := exec.Command(bin, "demo", "--report")
	cmd.Dir = t.TempDir() // no sources around, as for a user of the archive
	out, err := cmd.Output()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("demo --report with the release binary: exit %d (%v), want 3\n%s", code, err, out)
	}
	for _, want := range []string{"Deadlock: 2 goroutines wait for each other's locks", "deferred Unlock pending", "LEAKED"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo report lacks %q:\n%s", want, out)
		}
	}
}
