package main

import (
	"bufio"
	"debug/elf"
	"debug/macho"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
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
	if !hasDebugInfo(self) {
		// `go run` builds without debug info, so this binary cannot be
		// inspected: build the demo target with `go build` instead.
		built, err := buildDemoTarget()
		if err != nil {
			return 0, nil, fmt.Errorf("this hangtui has no debug info (go run leaves it out) and building one failed: %w; use go build ./cmd/hangtui && ./hangtui demo", err)
		}
		defer os.RemoveAll(filepath.Dir(built)) // the running demo keeps its inode
		self = built
	}
	cmd := exec.Command(self, demoTargetCommand)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = demoSysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	// Pdeathsig fires when the thread that started the demo exits, and
	// Delve lets its ptrace thread exit when a session ends: start the demo
	// from a thread of its own that lives as long as the demo.
	started, threadDone := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		started <- cmd.Start()
		<-threadDone
	}()
	if err := <-started; err != nil {
		close(threadDone)
		return 0, nil, err
	}
	kill := sync.OnceFunc(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); close(threadDone) })
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

// hasDebugInfo reports whether an executable has the DWARF and symbols
// that inspecting it needs (ELF on Linux, Mach-O on macOS).
func hasDebugInfo(path string) bool {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		return f.Section(".debug_info") != nil && f.Section(".symtab") != nil
	}
	f, err := macho.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return (f.Section("__debug_info") != nil || f.Section("__zdebug_info") != nil) && f.Symtab != nil
}

// buildDemoTarget builds this command with go build into a temporary
// directory, for `go run ./cmd/hangtui demo`.
func buildDemoTarget() (string, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Path == "" {
		return "", errors.New("no build info")
	}
	dir, err := os.MkdirTemp("", "hangtui-demo-")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "hangtui")
	fmt.Fprintf(os.Stderr, "hangtui demo: go run builds without debug info; building the demo target with go build…\n")
	cmd := exec.Command("go", "build", "-o", exe, bi.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return exe, nil
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
	// The demo's hangs are proven from memory; its target is hangtui
	// itself, a large module whose source analysis would only add a wait.
	src := source{pid: pid, noCode: true}
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
