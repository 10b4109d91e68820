package main

import (
	"io"
	"os"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
)

// formats of `hangtui report --format`, besides text and json.
var formats = map[string]func(io.Writer, *inspect.Snapshot) error{
	"dot":      report.WriteDOT,
	"mermaid":  report.WriteMermaid,
	"markdown": writeMarkdown,
	"pprof":    report.WritePprof,
}

// formatNames is the list usage messages give.
const formatNames = "text, json, markdown, pprof, dot or mermaid"

// writeMarkdown writes the Markdown summary, its source lines linked into
// the repository when run in a CI job that says which (GitHub Actions,
// GitLab CI).
func writeMarkdown(w io.Writer, snap *inspect.Snapshot) error {
	return report.WriteMarkdownOptions(w, snap, report.MarkdownOptions{Links: report.LinksFromEnv(os.Getenv)})
}

// binaryFormat reports whether a format is not text (it is not written to
// a terminal).
func binaryFormat(f string) bool { return f == "pprof" }

func validFormat(f string) bool {
	_, ok := formats[f]
	return ok || f == "text" || f == "json"
}

// printFormat prints the report in a format and returns the exit code.
func printFormat(w io.Writer, snap *inspect.Snapshot, format string) int {
	write, ok := formats[format]
	if !ok {
		return printReport(w, snap, format == "json")
	}
	if err := write(w, snap); err != nil {
		return fail(err)
	}
	return report.ExitCode(snap)
}
