package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/mdcheck"
)

// goldenLinks are the source links of the golden Markdown: the fixtures'
// program lives in /home/dev/bank.
var goldenLinks = &SourceLinks{Root: "/home/dev/bank", URL: "https://github.com/acme/bank/blob/0123456789abcdef0123456789abcdef01234567"}

// TestMarkdownGolden: the Markdown summary of the report fixtures against
// testdata/NAME.md (go test -update rewrites them).
func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := WriteMarkdownOptions(&b, fx.snap(), MarkdownOptions{Links: goldenLinks, Full: "hangtui-" + fx.name + ".json"}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", fx.name+".md")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("Markdown differs from %s (go test -update rewrites it):\n%s", path, b.String())
			}
		})
	}
}

// TestMarkdownConsumers: the summaries read as GitHub would render them
// (goldmark, GitHub Flavored Markdown): the headline is the first heading,
// the sections follow, the goroutines are inside a <details> whose
// Markdown is rendered (code blocks, not literal fences), source links
// point into the repository; and Mermaid's own parser accepts every
// diagram (tools/mdcheck, under Node.js).
func TestMarkdownConsumers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var files []string
	for _, fx := range fixtures {
		s, err := Markdown(fx.snap(), MarkdownOptions{Links: goldenLinks})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fx.name+".md")
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
		d := mdcheck.Parse(t, []byte(s))
		if len(d.Headings) == 0 || d.Headings[0].Level != 2 || !strings.Contains(d.Headings[0].Text, "hangtui: "+Headline(fx.snap())) {
			t.Errorf("%s: first heading %+v, want the headline", fx.name, d.Headings)
		}
		var sections []string
		for _, h := range d.Headings[1:] {
			sections = append(sections, h.Text)
		}
		want := map[string][]string{
			"deadlock": {"Findings", "Wait-for graph", "Goroutines", "Warnings"},
			"workers":  {"Wait-for graph", "Goroutines"},
			"healthy":  {"Wait-for graph", "Goroutines"},
			"leak":     {"Wait-for graph", "Goroutines"},
		}[fx.name]
		if strings.Join(sections, "|") != strings.Join(want, "|") {
			t.Errorf("%s: sections %q, want %q", fx.name, sections, want)
		}
		// The goroutines' Markdown inside <details> is rendered.
		i := strings.Index(d.HTML, "<details>")
		j := strings.Index(d.HTML, "</details>")
		if i < 0 || j < i || !strings.Contains(d.HTML[i:j], "<summary>") || !strings.Contains(d.HTML[i:j], `<pre><code class="language-text">`) ||
			strings.Contains(d.HTML[i:j], "```") {
			t.Errorf("%s: goroutines not rendered inside <details>:\n%s", fx.name, d.HTML)
		}
		for _, l := range d.Links {
			if !strings.HasPrefix(l, goldenLinks.URL+"/") || !strings.Contains(l, ".go#L") {
				t.Errorf("%s: link %q not into the repository", fx.name, l)
			}
		}
		if fx.name == "deadlock" {
			if !strings.Contains(strings.Join(d.Links, " "), goldenLinks.URL+"/account.go#L31") {
				t.Errorf("no link to the deadlocked line: %q", d.Links)
			}
			mm := d.Mermaid()
			if len(mm) != 1 {
				t.Fatalf("%d Mermaid blocks, want 1", len(mm))
			}
			for _, want := range []string{"flowchart LR", "g19 DEADLOCKED", "g20 DEADLOCKED", "linkStyle ", "-->|\"held by\"|"} {
				if !strings.Contains(mm[0], want) {
					t.Errorf("Mermaid block lacks %q:\n%s", want, mm[0])
				}
			}
		}
	}
	mdcheck.Mermaid(t, files...)
}

// TestMarkdownUnknown: what the source does not record is said to be
// unknown, not left out.
func TestMarkdownUnknown(t *testing.T) {
	t.Parallel()
	s := deadlockSnapshot()
	s.Target = inspect.Target{Source: inspect.SourceDump}
	s.TakenAt = time.Time{}
	s.Pause = 0
	out, err := Markdown(s, MarkdownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**PID unknown**", "executable unknown", "Go version unknown", "goroutine dump", "taken unknown",
		"Unknown from a goroutine dump: memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q:\n%.1500s", want, out)
		}
	}
	s.Target.Source = inspect.SourceRemote
	if out, _ = Markdown(s, MarkdownOptions{}); !strings.Contains(out, "pause unknown") || !strings.Contains(out, "Unknown from a through") && !strings.Contains(out, "Delve server") {
		t.Errorf("remote: %.800s", out)
	}
}

// bigSnapshot is a synthetic snapshot of n goroutines in about n/20
// distinct deep stacks with long names, a two-goroutine lock cycle per
// 1,000 goroutines, chains, many findings and warnings: the worst case for
// the summary's size.
func bigSnapshot(n int) *inspect.Snapshot {
	s := &inspect.Snapshot{Target: inspect.Target{PID: 99, Exe: "/srv/big", GoVersion: "go1.26.8", Source: inspect.SourceLive}, TakenAt: takenAt}
	stacks := make([][]inspect.Frame, max(n/20, 1))
	for i := range stacks {
		fs := mutexLockFrames()
		for d := 0; d < 40; d++ {
			fs = append(fs, app(fmt.Sprintf("github.com/acme/a-rather-long-module-name/internal/service/layer%d.(*Handler%d).ServeSomethingWithALongName", d, i),
				fmt.Sprintf("internal/service/layer%d/handler_%d.go", d, i), 100+d))
		}
		stacks[i] = append(fs, goexit)
	}
	for i := 0; i < n; i++ {
		id := int64(i + 1)
		res := inspect.ResourceID(inspect.KindMutex, 0xc000000000+uint64(i/10)*8)
		g := withTop(&inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Verdict: inspect.VerdictBlocked,
			Waits: []inspect.Wait{{Resource: res, Op: inspect.OpLock}}}, stacks[i%len(stacks)]...)
		g.Frames = stacks[i%len(stacks)]
		s.Goroutines = append(s.Goroutines, g)
	}
	// Resources held by the next group's first goroutine: chains.
	for i := 0; i < n/10; i++ {
		r := &inspect.Resource{ID: inspect.ResourceID(inspect.KindMutex, 0xc000000000+uint64(i)*8), Kind: inspect.KindMutex,
			Addr: 0xc000000000 + uint64(i)*8, Type: "main.T.mu", Mutex: &inspect.MutexState{Locked: true}}
		for j := 0; j < 10 && i*10+j < n; j++ {
			r.Waiters = append(r.Waiters, int64(i*10+j+1))
		}
		if h := int64((i+1)*10 + 1); h <= int64(n) && i%50 != 49 {
			r.Holders = []inspect.Holder{{Goroutine: h, Evidence: inspect.EvidenceSource, Frame: ptr(app("main.hold", "hold.go", 10))}}
			s.Goroutines[h-1].Holds = append(s.Goroutines[h-1].Holds, r.ID)
		}
		s.Resources = append(s.Resources, r)
	}
	for c := 0; c+1 < n; c += 1000 {
		a, b := s.Goroutines[c], s.Goroutines[c+1]
		a.Verdict, b.Verdict = inspect.VerdictDeadlocked, inspect.VerdictDeadlocked
		s.Cycles = append(s.Cycles, inspect.Cycle{Goroutines: []int64{a.ID, b.ID}, Resources: []string{a.Waits[0].Resource, b.Waits[0].Resource}, Kind: inspect.CycleLockOrder})
		s.Findings = append(s.Findings, inspect.Finding{Severity: inspect.SeverityError, Kind: inspect.FindingDeadlock,
			Title:      fmt.Sprintf("Lock-order deadlock between goroutines %d and %d", a.ID, b.ID),
			Details:    []string{strings.Repeat("a long line of evidence ", 40), "another", "and another"},
			Goroutines: []int64{a.ID, b.ID}, Resources: []string{a.Waits[0].Resource}})
	}
	for i := 0; i < 200; i++ {
		s.Warnings = append(s.Warnings, fmt.Sprintf("warning %d: %s", i, strings.Repeat("x", 300)))
	}
	return s
}

// TestMarkdownBounded: at 100,000 goroutines in thousands of distinct
// stacks the summary stays under DefaultMarkdownMax (and GitHub's 1 MiB)
// and is still well-formed Markdown with a Mermaid graph that parses; a
// small budget keeps the headline and says what was cut.
func TestMarkdownBounded(t *testing.T) {
	t.Parallel()
	n := 100000
	if testing.Short() {
		n = 20000 // the -race run
	}
	s := bigSnapshot(n)
	out, err := Markdown(s, MarkdownOptions{Full: "hangtui-99.json"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d goroutines: %d bytes of Markdown", n, len(out))
	if len(out) > DefaultMarkdownMax || len(out) > MarkdownLimit {
		t.Errorf("%d bytes, over %d", len(out), DefaultMarkdownMax)
	}
	d := mdcheck.Parse(t, []byte(out))
	if mm := d.Mermaid(); len(mm) != 1 || strings.Count(mm[0], "\n  n") > mdMaxGraphNodes+600 {
		t.Errorf("Mermaid blocks: %d", len(mm))
	}
	if strings.Count(d.HTML, "<details>") != 1 || strings.Count(d.HTML, "</details>") != 1 {
		t.Errorf("unbalanced <details>")
	}
	wants := []string{"not listed"}
	if n/1000 > mdMaxFindings {
		wants = append(wants, fmt.Sprintf("%d more findings are in the full report", n/1000-mdMaxFindings))
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "big.md")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, max := range []int{200 << 10, 16 << 10, 4 << 10} {
		small, err := Markdown(s, MarkdownOptions{MaxBytes: max, Full: "hangtui-99.json"})
		if err != nil {
			t.Fatal(err)
		}
		if len(small) > max {
			t.Errorf("MaxBytes %d: %d bytes", max, len(small))
		}
		if !strings.HasPrefix(small, "## 🔴 hangtui: ") || !strings.Contains(small, "This summary was cut") || !strings.Contains(small, "hangtui-99.json") {
			t.Errorf("MaxBytes %d: no headline or no note:\n%.2000s", max, small)
		}
		d := mdcheck.Parse(t, []byte(small))
		if strings.Count(d.HTML, "<details>") != strings.Count(d.HTML, "</details>") {
			t.Errorf("MaxBytes %d: unbalanced <details>", max)
		}
	}
	if tiny, _ := Markdown(s, MarkdownOptions{MaxBytes: 100}); len(tiny) > 100 || (tiny != "" && !strings.HasPrefix(tiny, "## ")) {
		t.Errorf("MaxBytes 100: %q", tiny)
	}
	mdcheck.Mermaid(t, path)
}

func BenchmarkMarkdown100k(b *testing.B) {
	s := bigSnapshot(100000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Markdown(s, MarkdownOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPprof100k(b *testing.B) {
	s := bigSnapshot(100000)
	b.ResetTimer()
	for b.Loop() {
		if err := WritePprof(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadmeMarkdownExample: the README's rendered example graph is the
// deadlock golden's, and Mermaid's parser accepts every diagram in the
// README.
func TestReadmeMarkdownExample(t *testing.T) {
	t.Parallel()
	readme := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "deadlock.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := mdcheck.Parse(t, golden).Mermaid()
	var found bool
	for _, m := range mdcheck.Parse(t, b).Mermaid() {
		found = found || len(want) == 1 && m == want[0]
	}
	if !found {
		t.Errorf("README.md does not show the wait-for graph of testdata/deadlock.md; paste it from there:\n%s", want)
	}
	mdcheck.Mermaid(t, readme)
}
