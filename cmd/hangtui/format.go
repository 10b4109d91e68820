package main

import (
	"io"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
)

// formats of `hangtui report --format`.
var formats = map[string]func(io.Writer, *inspect.Snapshot) error{
	"dot":     report.WriteDOT,
	"mermaid": report.WriteMermaid,
}

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
