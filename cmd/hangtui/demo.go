package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/hangtui/hangtui/internal/demo"
	"github.com/hangtui/hangtui/internal/safety"
	"github.com/hangtui/hangtui/ui"
)

// demoTargetCommand is the hidden subcommand that runs the hung demo program
// inside the hangtui binary itself.
const demoTargetCommand = "__demo-target"

func runDemoTarget([]string) int {
	demo.Run(os.Stdout)
	return 0
}

// startDemo re-executes this binary as the demo target and waits until it
// says it is ready. The returned stop function kills it; it is also
// registered with safety so the demo never outlives hangtui.
func startDemo() (pid int, stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(self, demoTargetCommand)
	cmd.Stderr = os.Stderr
	// If hangtui dies without running its closers, the kernel kills the demo.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	kill := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	unregister := safety.OnExit(kill)
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("demo target said %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case err = <-ready:
	case <-time.After(20 * time.Second):
		err = errors.New("demo target did not start in 20s")
	}
	if err != nil {
		kill()
		unregister()
		return 0, nil, err
	}
	return cmd.Process.Pid, func() { kill(); unregister() }, nil
}

func runDemo(args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the JSON report instead of opening the TUI")
	asText := fs.Bool("report", false, "print the text report instead of opening the TUI")
	var tf tuiFlags
	tf.register(fs)
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("demo takes no arguments")
	}
	pid, stop, err := startDemo()
	if err != nil {
		return fail(fmt.Errorf("starting the demo: %w", err))
	}
	defer stop()
	fmt.Fprintf(os.Stderr, "hangtui demo: started a hung demo service as PID %d\n", pid)
	src := source{pid: pid}
	if !*asJSON && !*asText && isTerminal(os.Stdout) {
		sess, closeFn, err := src.open()
		if err != nil {
			return fail(err)
		}
		defer closeFn()
		return runUI(ui.Options{Source: sess}, tf)
	}
	snap, err := src.snapshotOnce()
	if err != nil {
		return fail(err)
	}
	return printReport(os.Stdout, snap, *asJSON)
}
