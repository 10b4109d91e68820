package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/hangtui/hangtui/internal/fixture"
	"github.com/hangtui/hangtui/internal/mdcheck"
)

// TestReportFormatsEverySource: `hangtui report --format markdown` and
// `--format pprof` of the AB-BA fixture read live, from a core (gcore),
// from its SIGQUIT dump and through a Delve server (--connect). Each is
// read back by its consumer: the Markdown by goldmark and Mermaid's parser
// (the deadlock drawn), the profile by go tool pprof -raw (the two
// deadlocked transfers labelled so). What a source cannot show is said to
// be unknown. In a GitHub Actions job the source lines link into the
// repository.
func TestReportFormatsEverySource(t *testing.T) {
	t.Parallel()
	gcore, err := exec.LookPath("gcore")
	if err != nil {
		t.Fatal("install gdb (apt-get install gdb): this test writes a core with gcore")
	}
	bin := binary(t)
	exe := fixture.Build(t, fixture.Default)
	dir := t.TempDir()
	fixtureDir := filepath.Join(fixture.SourceDir(), "..", "..", "testdata", "fixture")
	// A GitHub Actions job whose checkout holds the fixture's source.
	ghEnv := append(os.Environ(), "GITHUB_SERVER_URL=https://github.example", "GITHUB_REPOSITORY=acme/hung",
		"GITHUB_SHA=0123456789abcdef", "GITHUB_WORKSPACE="+filepath.Dir(fixtureDir))

	p := fixture.Start(t, exe, "abba")
	run := func(name string, args ...string) (md, pb string) {
		t.Helper()
		md = filepath.Join(dir, name+".md")
		pb = filepath.Join(dir, name+".pb.gz")
		for _, f := range []struct{ format, path string }{{"markdown", md}, {"pprof", pb}} {
			cmd := exec.Command(bin, append([]string{"report", "--format", f.format}, args...)...)
			cmd.Env = ghEnv
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
				t.Fatalf("%s --format %s: %v (want exit 3)\n%s", name, f.format, err, stderr.String())
			}
			if err := os.WriteFile(f.path, stdout.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return md, pb
	}
	type src struct {
		name    string
		md, pb  string
		unknown []string // what the Markdown must say is unknown
	}
	var srcs []src
	md, pb := run("live", strconv.Itoa(p.PID))
	srcs = append(srcs, src{"live", md, pb, nil})

	prefix := filepath.Join(dir, "core")
	if out, err := exec.Command(gcore, "-o", prefix, strconv.Itoa(p.PID)).CombinedOutput(); err != nil {
		t.Fatalf("gcore: %v\n%s", err, out)
	}
	md, pb = run("core", "--core", prefix+"."+strconv.Itoa(p.PID), "--exe", exe)
	srcs = append(srcs, src{"core", md, pb, nil})

	md, pb = run("dump", "--dump", abbaDump(t))
	srcs = append(srcs, src{"dump", md, pb, []string{"**PID unknown**", "Go version unknown", "Unknown from a goroutine dump: memory"}})

	// A process of its own behind the Delve server (the first one was
	// read by gdb), continued by the server before hangtui connects.
	p2 := fixture.Start(t, exe, "abba")
	addr, _ := fixture.StartDlv(t, p2.PID, true)
	fixture.WaitDlvRunning(t, addr)
	md, pb = run("connect", "--connect", addr)
	srcs = append(srcs, src{"connect", md, pb, []string{"through a Delve server", "memory (lock holders only from source lines"}})

	var mdFiles []string
	for _, s := range srcs {
		b, err := os.ReadFile(s.md)
		if err != nil {
			t.Fatal(err)
		}
		mdFiles = append(mdFiles, s.md)
		d := mdcheck.Parse(t, b)
		if len(d.Headings) == 0 || !strings.HasPrefix(d.Headings[0].Text, "🔴 hangtui: 2 goroutines deadlocked in 1 cycle") {
			t.Errorf("%s: headline %+v", s.name, d.Headings)
		}
		mm := d.Mermaid()
		if len(mm) != 1 || strings.Count(mm[0], " DEADLOCKED<br/>main.transfer<br/>") != 2 || !strings.Contains(mm[0], "linkStyle ") {
			t.Errorf("%s: the deadlock is not drawn:\n%s", s.name, mm)
		}
		if !strings.Contains(strings.Join(d.Links, " "), "https://github.example/acme/hung/blob/0123456789abcdef/fixture/mutex.go#L") {
			t.Errorf("%s: no link to the fixture's source: %q", s.name, d.Links)
		}
		for _, u := range s.unknown {
			if !strings.Contains(string(b), u) {
				t.Errorf("%s: Markdown lacks %q:\n%.1200s", s.name, u, b)
			}
		}

		f, err := os.Open(s.pb)
		if err != nil {
			t.Fatal(err)
		}
		prof, err := profile.Parse(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if len(prof.Sample) == 0 {
			t.Errorf("%s: empty profile", s.name)
		}
		raw := pprofRaw(t, s.pb)
		if strings.Count(raw, "verdict:[deadlocked]") != 2 || !strings.Contains(raw, "wait_reason:[sync.Mutex.Lock]") ||
			!strings.Contains(raw, "holder_of:[mutex:0x") || !strings.Contains(raw, "main.transfer ") {
			t.Errorf("%s: pprof -raw:\n%s", s.name, raw)
		}
	}
	mdcheck.Mermaid(t, mdFiles...)
}

// pprofRaw is `go tool pprof -raw FILE`.
func pprofRaw(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "pprof", "-raw", path).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -raw: %v\n%s", err, out)
	}
	return string(out)
}
