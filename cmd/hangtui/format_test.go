package main

import (
	"bytes"
	"io"
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

// TestWatchGitHubStepSummary: `hangtui watch` in a GitHub Actions job
// (GITHUB_STEP_SUMMARY set) on the hung AB-BA fixture: the job's summary
// file gets the report with the deadlock drawn (a Mermaid graph of the
// two deadlocked transfers and their cycle, accepted by Mermaid's parser,
// source lines linked into the repository), hangtui-PID.md and .pb.gz are
// next to the JSON, and one line says where they are.
func TestWatchGitHubStepSummary(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	exe := fixture.Build(t, fixture.Default)
	out := t.TempDir()
	summary := filepath.Join(t.TempDir(), "step_summary.md")
	fixtureDir := filepath.Join(fixture.SourceDir(), "..", "..", "testdata", "fixture")
	cmd := exec.Command(bin, "watch", "--stall", "2s", "--kill", "--out", out, "--", exe, "abba", "-timeout", "1h")
	cmd.Env = append(withoutStepSummary(os.Environ()), "GITHUB_STEP_SUMMARY="+summary,
		"GITHUB_SERVER_URL=https://github.example", "GITHUB_REPOSITORY=acme/hung", "GITHUB_SHA=0123456789abcdef",
		"GITHUB_WORKSPACE="+filepath.Dir(fixtureDir))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 4 {
		t.Fatalf("hangtui watch --kill: %v (want exit 4)\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatalf("no step summary: %v\n%s", err, stderr.String())
	}
	d := mdcheck.Parse(t, b)
	if len(d.Headings) == 0 || !strings.HasPrefix(d.Headings[0].Text, "🔴 hangtui: 2 goroutines deadlocked in 1 cycle") {
		t.Errorf("headline %+v", d.Headings)
	}
	mm := d.Mermaid()
	if len(mm) != 1 || strings.Count(mm[0], " DEADLOCKED<br/>main.transfer<br/>") != 2 || !strings.Contains(mm[0], "linkStyle 0,1,2,3 stroke:#d00") {
		t.Errorf("the deadlock is not drawn in the summary:\n%s", b)
	}
	if !strings.Contains(strings.Join(d.Links, " "), "https://github.example/acme/hung/blob/0123456789abcdef/fixture/mutex.go#L") {
		t.Errorf("no link to the fixture's source: %q", d.Links)
	}
	mdcheck.Mermaid(t, summary)

	jsons, _ := filepath.Glob(filepath.Join(out, "hangtui-*.json"))
	if len(jsons) != 1 {
		t.Fatalf("JSON reports %v\n%s", jsons, stderr.String())
	}
	base := strings.TrimSuffix(jsons[0], ".json")
	for _, f := range []string{base + ".md", base + ".pb.gz"} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if raw := pprofRaw(t, base+".pb.gz"); strings.Count(raw, "verdict:[deadlocked]") != 2 {
		t.Errorf("pprof -raw:\n%s", raw)
	}
	line := "hangtui watch: JSON report written to " + jsons[0] + ", Markdown " + base + ".md, pprof " + base + ".pb.gz; the Markdown is in the step summary\n"
	if strings.Count(stderr.String(), line) != 1 {
		t.Errorf("stderr lacks %q:\n%s", line, stderr.String())
	}
}
