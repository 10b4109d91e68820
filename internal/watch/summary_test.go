package watch

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/fixture"
	"github.com/hangtui/hangtui/internal/mdcheck"
)

// TestWatchStepSummary: with a step summary file (GitHub's
// $GITHUB_STEP_SUMMARY), watch on the AB-BA fixture appends the Markdown
// summary after what the job had written, with the deadlock drawn: a
// Mermaid graph whose two goroutines are deadlocked and whose cycle edges
// are marked, which Mermaid's parser accepts. hangtui-PID.md and
// hangtui-PID.pb.gz are written next to the JSON report (the profile has
// the two deadlocked goroutines), and one line says where they are.
func TestWatchStepSummary(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	summary := filepath.Join(t.TempDir(), "step_summary.md")
	const before = "## Tests\n\nsome output of an earlier step\n"
	if err := os.WriteFile(summary, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runWatchOnce(t, exe, false, true, func(o *Options) { o.StepSummary = summary })
	if r.snapErr != nil {
		t.Fatalf("snapshot: %v\n%s", r.snapErr, r.stderr)
	}
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, before+"\n## 🔴 hangtui: 2 goroutines deadlocked in 1 cycle") {
		t.Fatalf("summary not appended after the job's own text:\n%.600s", text)
	}
	d := mdcheck.Parse(t, b)
	mm := d.Mermaid()
	if len(mm) != 1 {
		t.Fatalf("%d Mermaid blocks in the summary, want 1:\n%s", len(mm), text)
	}
	g := mm[0]
	dead := regexp.MustCompile(`(?m)^  (n\d+)\["g\d+ DEADLOCKED<br/>main\.transfer<br/>fixture/mutex\.go:\d+"\]$`).FindAllStringSubmatch(g, -1)
	if len(dead) != 2 {
		t.Errorf("want the two deadlocked transfers drawn, graph:\n%s", g)
	}
	for _, want := range []string{"-->|\"lock\"|", "-->|\"held by\"|", "class ", "linkStyle 0,1,2,3 stroke:#d00", "main.Account.mu"} {
		if !strings.Contains(g, want) {
			t.Errorf("graph lacks %q:\n%s", want, g)
		}
	}
	mdcheck.Mermaid(t, summary)

	files := filesFor(filepath.Join(r.out, "hangtui-"+itoa(r.target)+".json"))
	md, err := os.ReadFile(files.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, strings.TrimSpace(string(md))) {
		t.Errorf("the summary is not the Markdown file's text")
	}
	f, err := os.Open(files.Pprof)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var deadlocked int64
	for _, s := range p.Sample {
		if l := s.Label[report.PprofVerdict]; len(l) == 1 && l[0] == "deadlocked" {
			deadlocked += s.Value[0]
		}
	}
	if deadlocked != 2 {
		t.Errorf("%d deadlocked goroutines in the profile, want 2", deadlocked)
	}
	line := "hangtui watch: JSON report written to " + files.JSON + ", Markdown " + files.Markdown + ", pprof " + files.Pprof +
		"; the Markdown is in the step summary\n"
	if strings.Count(r.stderr, line) != 1 {
		t.Errorf("stderr lacks the line %q:\n%s", line, r.stderr)
	}
}

// TestStepSummaryFull: a step summary that is nearly full gets a summary
// made for the room left, never past GitHub's limit.
func TestStepSummaryFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	snap := abbaSnapshot(t)
	for _, used := range []int{0, report.MarkdownLimit - 40<<10, report.MarkdownLimit - 6<<10, report.MarkdownLimit} {
		summary := filepath.Join(dir, "summary-"+itoa(used))
		if err := os.WriteFile(summary, []byte(strings.Repeat("x", used)), 0o644); err != nil {
			t.Fatal(err)
		}
		res := render(filepath.Join(dir, "hangtui-1.json"), summary, snap)
		if res.summaryErr != nil || res.mdErr != nil || res.jsonErr != nil || res.pprofErr != nil {
			t.Fatalf("%+v", res)
		}
		st, _ := os.Stat(summary)
		added := int(st.Size()) - used
		switch {
		case used < report.MarkdownLimit-summaryMargin && int(st.Size()) > report.MarkdownLimit-summaryMargin:
			t.Errorf("used %d: summary grew to %d, over the limit", used, st.Size())
		case used == 0 && added < 1000:
			t.Errorf("empty summary: only %d bytes added", added)
		case used >= report.MarkdownLimit-summaryMargin && added != 0:
			t.Errorf("full summary: %d bytes added", added)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// abbaSnapshot reads the AB-BA fixture's goroutine dump (no attach).
func abbaSnapshot(t *testing.T) *inspect.Snapshot {
	t.Helper()
	_, text := fixture.QuitDump(t, fixture.Build(t, fixture.Default), "abba")
	snap, err := inspect.ReadDump(bytes.NewReader(text), inspect.DumpOptions{Name: "abba.txt"})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}
