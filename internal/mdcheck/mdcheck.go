// Package mdcheck is a test helper: it reads hangtui's Markdown reports
// with real consumers. Parse reads a document with goldmark (CommonMark
// with GitHub's extensions) as GitHub would render it; Mermaid checks every
// ```mermaid block with Mermaid's own parser, run under Node.js from
// tools/mdcheck (installed by `npm ci` there; .ci/run does it).
//
// Without Node.js or without tools/mdcheck/node_modules the Mermaid check
// skips with a message saying what to install, unless HANGTUI_REQUIRE_NODE=1
// (CI sets it), which turns the skip into a failure.
package mdcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
)

// Fence is a fenced code block.
type Fence struct {
	Lang string
	Body string
}

// Doc is a Markdown document as goldmark reads it.
type Doc struct {
	// Headings are the headings' texts, with their level ("## Findings"
	// is {2, "Findings"}).
	Headings []Heading
	// Fences are the fenced code blocks, in order.
	Fences []Fence
	// Links are the link destinations.
	Links []string
	// HTML is the document rendered to HTML (raw HTML kept, as GitHub
	// keeps <details> and <summary>).
	HTML string
}

// Heading is one heading.
type Heading struct {
	Level int
	Text  string
}

// Mermaid returns the bodies of the ```mermaid blocks.
func (d *Doc) Mermaid() []string {
	var out []string
	for _, f := range d.Fences {
		if f.Lang == "mermaid" {
			out = append(out, f.Body)
		}
	}
	return out
}

// Parse reads src with goldmark and GitHub Flavored Markdown.
func Parse(t testing.TB, src []byte) *Doc {
	t.Helper()
	md := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
	root := md.Parser().Parse(text.NewReader(src))
	d := &Doc{}
	err := ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			d.Headings = append(d.Headings, Heading{Level: n.Level, Text: plain(n, src)})
		case *ast.FencedCodeBlock:
			var b strings.Builder
			lines := n.Lines()
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				b.Write(seg.Value(src))
			}
			d.Fences = append(d.Fences, Fence{Lang: string(n.Language(src)), Body: b.String()})
		case *ast.Link:
			d.Links = append(d.Links, string(n.Destination))
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var h bytes.Buffer
	if err := md.Renderer().Render(&h, src, root); err != nil {
		t.Fatal(err)
	}
	d.HTML = h.String()
	return d
}

// plain is the text of an inline tree: text, code spans and strings.
func plain(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			b.Write(c.Segment.Value(src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// Block is what Mermaid's parser said about one ```mermaid block.
type Block struct {
	Line  int    `json:"line"`
	Chars int    `json:"chars"`
	OK    bool   `json:"ok"`
	Type  string `json:"type"`
	Error string `json:"error"`
}

// File is the check of one file.
type File struct {
	File    string  `json:"file"`
	Fences  int     `json:"fences"`
	Mermaid []Block `json:"mermaid"`
}

// Dir is tools/mdcheck in this repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "tools", "mdcheck")
}

// required reports whether the Mermaid check must run (CI).
func required() bool { return os.Getenv("HANGTUI_REQUIRE_NODE") == "1" }

// Mermaid runs Mermaid's parser (tools/mdcheck/check.mjs under Node.js)
// on the Markdown files and fails the test for a block that does not parse.
// It skips when Node.js or the installed packages are missing, unless
// HANGTUI_REQUIRE_NODE=1.
func Mermaid(t testing.TB, files ...string) []File {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if required() {
			t.Fatal("HANGTUI_REQUIRE_NODE=1 but node is not on PATH: the Mermaid check needs Node.js 20 or newer")
		}
		t.Skip("node is not on PATH: install Node.js 20+ and run `npm ci` in tools/mdcheck to check the Mermaid diagrams")
	}
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mermaid", "package.json")); err != nil {
		if required() {
			t.Fatalf("HANGTUI_REQUIRE_NODE=1 but %s/node_modules is missing: run `npm ci` there", dir)
		}
		t.Skipf("Mermaid's parser is not installed: run `npm ci` in %s to check the Mermaid diagrams", dir)
	}
	abs := make([]string, len(files))
	for i, f := range files {
		if abs[i], err = filepath.Abs(f); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, append([]string{filepath.Join(dir, "check.mjs")}, abs...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out struct {
		Files []File `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("check.mjs: %v (%v)\nstdout: %s\nstderr: %s", err, runErr, stdout.String(), stderr.String())
	}
	for _, f := range out.Files {
		for _, b := range f.Mermaid {
			if !b.OK {
				t.Errorf("%s:%d: Mermaid does not parse the diagram: %s", f.File, b.Line, b.Error)
			}
		}
	}
	if runErr != nil && !t.Failed() {
		t.Fatalf("check.mjs: %v\n%s", runErr, stderr.String())
	}
	return out.Files
}
