// Command hangtui attaches to a hung Go process and shows what every
// goroutine waits on and who holds it. This file only wires the command line
// to the inspect, report and ui packages.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/safety"
	"github.com/hangtui/hangtui/internal/watch"
)

const usage = `hangtui: see why a Go process hangs.

Usage:
  hangtui [flags] PID                         live view of a process
  hangtui [flags] --core CORE --exe EXE       ... of a core file
  hangtui                                     pick a Go process to inspect
  hangtui report [--json] PID                 print a report of a live process
      --format text|json|markdown|pprof|dot|mermaid
                                                the report; a Markdown summary (CI pages); a goroutine
                                                profile for go tool pprof; the wait-for graph
  hangtui report [--json] --core CORE --exe EXE   ... of a core file
  hangtui report [--json] --dump FILE|- [--src DIR]   ... of a text goroutine dump
  hangtui [flags] --connect HOST:PORT         ... through a Delve server (dlv --headless --accept-multiclient)
  hangtui report [--json] --connect HOST:PORT ... the same, as a report
  hangtui [flags] --dump FILE                 view a goroutine dump (SIGQUIT, go test -timeout, pprof debug=2)
  hangtui top [--duration 10s] [--interval 100ms] [--json | --format pprof] [-o FILE] [--no-stop] PID
                                              sample a running process's waits without stopping it:
                                              locks, channels, WaitGroups and Conds ranked by
                                              waiter-seconds, with waiting and holding code sites
  hangtui demo [--report | --json] [flags]    run the built-in hung demo and inspect it
  hangtui watch [--stall 10m] [--kill] [--out DIR] -- CMD ARGS...
                                              run CMD (e.g. go test ./...); when it prints nothing
                                              for --stall, report its hung Go processes to stderr
                                              and as hangtui-PID.json, .md and .pb.gz (the Markdown
                                              also to $GITHUB_STEP_SUMMARY); exit: CMD's own, 4 if killed
  hangtui --version                           print the version

Source analysis (a process or a core): hangtui loads the program's packages
to prove waits through package variables (which code could wake a goroutine,
and whether anything that can still run gets there), off the pause:
  --src DIR         the program's source (default: where the binary was built)
  --code-budget 30s past it, verdicts are what memory proves
  --no-code         skip it (or HANGTUI_NO_CODE=1)

Pause (a live process): a snapshot stops the process while it reads it.
  --max-pause 10s   past it, the leak proof's heap walk (the one part that
                    grows with the heap) stops and nothing is called leaked;
                    stacks, waits, holders and deadlocks are still reported
                    (0: no bound)

Flags of the live view:
  --interval 2s   time between refreshes      --no-color   no colours (or NO_COLOR=1)
  --no-mouse      leave the mouse to the terminal

Without a terminal, the live view prints the text report instead. It logs to
$XDG_STATE_HOME/hangtui/hangtui.log, or hangtui-UID.log in $TMPDIR.

Exit codes of report: 0 nothing stuck, 3 deadlock or leak found, 1 error, 2 bad usage.
`

func main() {
	defer safety.Recover()
	if path := os.Getenv("HANGTUI_CPUPROFILE"); path != "" {
		// For performance work: profile one run of hangtui.
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			code := run(os.Args[1:])
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		return runTUI(nil)
	}
	switch args[0] {
	case "report":
		return runReport(args[1:])
	case "top":
		return runTop(args[1:])
	case "demo":
		return runDemo(args[1:])
	case "watch":
		return runWatch(args[1:])
	case demoTargetCommand:
		return runDemoTarget(args[1:])
	case watch.SnapshotCommand:
		return watch.SnapshotMain(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	case "--version", "version":
		fmt.Println(versionString())
		return 0
	}
	return runTUI(args)
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "hangtui: %v\n", err)
	return report.ExitError
}

func usageError(format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "hangtui: "+format+"\n", a...)
	fmt.Fprint(os.Stderr, "run 'hangtui --help' for usage\n")
	return report.ExitUsage
}
