package main

import (
	"flag"
	"io"
	"os"
	"time"

	"github.com/hangtui/hangtui/internal/watch"
)

// runWatch is `hangtui watch [--stall 10m] [--kill] [--out DIR] -- CMD ARGS...`.
func runWatch(args []string) int {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stall := fs.Duration("stall", 10*time.Minute, "report when the command prints nothing for this long")
	kill := fs.Bool("kill", false, "after reporting, kill the command and its descendants (exit code 4)")
	out := fs.String("out", "", "directory for the reports hangtui-PID.json, .md and .pb.gz (default: the current directory)")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() == 0 {
		return usageError("watch needs a command: hangtui watch [--stall 10m] [--kill] -- go test ./...")
	}
	if *stall < 100*time.Millisecond {
		return usageError("--stall must be at least 100ms")
	}
	if *out != "" {
		if st, err := os.Stat(*out); err != nil || !st.IsDir() {
			return usageError("--out %s is not a directory", *out)
		}
	}
	// In GitHub Actions the Markdown summary also goes to the job's page.
	code, err := watch.Run(watch.Options{Command: fs.Args(), Stall: *stall, Kill: *kill, Out: *out,
		StepSummary: os.Getenv("GITHUB_STEP_SUMMARY"), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return fail(err)
	}
	return code
}
