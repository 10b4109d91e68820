package inspect

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrorKind classifies the errors a person can act on.
type ErrorKind string

const (
	// ErrNoProcess: no process has that PID.
	ErrNoProcess ErrorKind = "no-process"
	// ErrNotGo: the process or executable is not a Go program.
	ErrNotGo ErrorKind = "not-go"
	// ErrNoDebugInfo: a Go program built without DWARF (-ldflags=-s -w).
	ErrNoDebugInfo ErrorKind = "no-debug-info"
	// ErrPtraceDenied: the kernel refused to let hangtui trace the process.
	ErrPtraceDenied ErrorKind = "ptrace-denied"
	// ErrAlreadyTraced: another debugger is attached.
	ErrAlreadyTraced ErrorKind = "already-traced"
	// ErrProcessGone: the process exited while it was being read.
	ErrProcessGone ErrorKind = "process-gone"
	// ErrBadCore: the core file is unreadable or does not match the executable.
	ErrBadCore ErrorKind = "bad-core"
	// ErrUnsupported: the target's runtime could not be understood.
	ErrUnsupported ErrorKind = "unsupported"
)

// Error is an error with a one-line explanation and what to do about it.
type Error struct {
	Kind ErrorKind
	// Msg says what is wrong.
	Msg string
	// Hint says what to do.
	Hint string
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + "; " + e.Hint
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the ErrorKind of err, or "" when it is not an *Error.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// newestKnownGo is the newest Go release whose runtime hangtui was tested on.
const newestKnownGo = 27

type precheckResult struct {
	exe       string
	goVersion string
	newer     bool
}

// platformPrecheck replaces precheck's /proc-based checks where there is
// no /proc (macOS: precheck_darwin.go).
var platformPrecheck func(pid int) (*precheckResult, error)

// precheck runs every check that can be made without stopping the process.
func precheck(pid int) (*precheckResult, error) { return precheckTraced(pid, false) }

// precheckTraced is precheck that lets a process traced by another
// debugger pass when allowTraced is set (reading its memory needs no
// ptrace).
func precheckTraced(pid int, allowTraced bool) (*precheckResult, error) {
	if pid <= 0 {
		return nil, &Error{Kind: ErrNoProcess, Msg: fmt.Sprintf("%d is not a valid PID", pid)}
	}
	if platformPrecheck != nil {
		return platformPrecheck(pid)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil, &Error{Kind: ErrNoProcess, Msg: fmt.Sprintf("no process with PID %d (it may have exited)", pid),
			Hint: "run hangtui with no arguments to pick from the Go processes on this machine"}
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, ptraceDenied(pid, err)
		}
		return nil, &Error{Kind: ErrNoProcess, Msg: fmt.Sprintf("cannot read the executable of process %d: %v", pid, err),
			Hint: "the process may be a kernel thread or may have exited"}
	}
	exeFile := fmt.Sprintf("/proc/%d/exe", pid)
	res := &precheckResult{exe: strings.TrimSuffix(exe, " (deleted)")}
	name := filepath.Base(res.exe)
	bi, err := buildinfo.ReadFile(exeFile)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, ptraceDenied(pid, err)
		}
		return nil, &Error{Kind: ErrNotGo, Msg: fmt.Sprintf("process %d (%s) is not a Go program", pid, name),
			Hint: "hangtui inspects Go programs only", Err: err}
	}
	res.goVersion = bi.GoVersion
	res.newer = goMinor(bi.GoVersion) > newestKnownGo
	if err := checkDebugInfo(exeFile); err != nil {
		return nil, &Error{Kind: ErrNoDebugInfo, Msg: fmt.Sprintf("process %d (%s) was built without debug info (%v)", pid, name, err),
			Hint: "rebuild it without -ldflags='-s -w' (or -trimpath stripping) to inspect it; a goroutine dump (SIGQUIT) still works"}
	}
	if tracer := tracerPid(pid); tracer != 0 && !allowTraced {
		return nil, &Error{Kind: ErrAlreadyTraced, Msg: fmt.Sprintf("process %d is already traced by PID %d (%s)", pid, tracer, procName(tracer)),
			Hint: "detach that debugger first (only one tracer is allowed)"}
	}
	return res, nil
}

func precheckCore(corePath, exePath string) error {
	for _, p := range []string{corePath, exePath} {
		if _, err := os.Stat(p); err != nil {
			return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("cannot open %s: %v", p, err)}
		}
	}
	if err := checkCoreFiles(corePath, exePath); err != nil {
		return err
	}
	if _, err := buildinfo.ReadFile(exePath); err != nil {
		return &Error{Kind: ErrNotGo, Msg: fmt.Sprintf("%s is not a Go executable", exePath),
			Hint: "pass the executable that produced the core with --exe", Err: err}
	}
	if err := checkDebugInfo(exePath); err != nil {
		return &Error{Kind: ErrNoDebugInfo, Msg: fmt.Sprintf("%s has no debug info (%v)", exePath, err),
			Hint: "rebuild without -ldflags='-s -w'"}
	}
	return nil
}

func checkDebugInfo(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not an ELF file: %w", err)
	}
	defer f.Close()
	for _, name := range []string{".debug_info", ".zdebug_info"} {
		if s := f.Section(name); s != nil && s.Type != elf.SHT_NOBITS {
			return nil
		}
	}
	return errors.New("no .debug_info section")
}

func goMinor(v string) int {
	v = strings.TrimPrefix(v, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return n
}

// tracerPid is the process (not thread) tracing pid, 0 when none.
func tracerPid(pid int) int {
	tid, _ := strconv.Atoi(statusField(pid, "TracerPid"))
	if tid == 0 {
		return 0
	}
	// The kernel names the tracing thread; report its process.
	if tgid, err := strconv.Atoi(statusField(tid, "Tgid")); err == nil && tgid > 0 {
		return tgid
	}
	return tid
}

// processGone reports whether pid has exited (or is a zombie).
func processGone(pid int) bool {
	st := statusField(pid, "State")
	return st == "" || strings.HasPrefix(st, "Z") || strings.HasPrefix(st, "X")
}

func statusField(pid int, key string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// attachError explains why attaching failed.
func attachError(pid int, err error) error {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && errno == syscall.ESRCH:
		return &Error{Kind: ErrNoProcess, Msg: fmt.Sprintf("process %d exited before hangtui could attach", pid), Err: err}
	case errors.As(err, &errno) && errno == syscall.EPERM, strings.Contains(err.Error(), "operation not permitted"):
		if tracer := tracerPid(pid); tracer != 0 {
			return &Error{Kind: ErrAlreadyTraced, Msg: fmt.Sprintf("process %d is already traced by PID %d (%s)", pid, tracer, procName(tracer)),
				Hint: "detach that debugger first (only one tracer is allowed)", Err: err}
		}
		return ptraceDenied(pid, err)
	}
	if _, statErr := os.Stat(fmt.Sprintf("/proc/%d", pid)); statErr != nil {
		return &Error{Kind: ErrProcessGone, Msg: fmt.Sprintf("process %d exited while hangtui was attaching", pid), Err: err}
	}
	return &Error{Kind: ErrUnsupported, Msg: fmt.Sprintf("cannot read process %d: %v", pid, err),
		Hint: "please report this with the target's Go version", Err: err}
}

// ptraceDenied says which of the kernel's rules refused the attach.
func ptraceDenied(pid int, err error) error {
	e := &Error{Kind: ErrPtraceDenied, Err: err}
	myUID := os.Geteuid()
	owner := -1
	if fields := strings.Fields(statusField(pid, "Uid")); len(fields) > 1 {
		owner, _ = strconv.Atoi(fields[1])
	}
	scope := -1
	if b, rerr := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); rerr == nil {
		scope, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	switch {
	case owner >= 0 && owner != myUID && myUID != 0:
		e.Msg = fmt.Sprintf("ptrace not permitted: process %d belongs to uid %d and you are uid %d", pid, owner, myUID)
		e.Hint = "run hangtui as that user or as root (sudo)"
	case scope == 3:
		e.Msg = "ptrace not permitted: kernel.yama.ptrace_scope=3 disables ptrace for everyone"
		e.Hint = "it can only be lowered by rebooting; use a goroutine dump (kill -QUIT) instead"
	case scope == 2 && !hasCapSysPtrace():
		e.Msg = "ptrace not permitted: kernel.yama.ptrace_scope=2 allows only processes with CAP_SYS_PTRACE"
		e.Hint = "run hangtui as root (sudo)"
	case scope == 1 && !hasCapSysPtrace():
		e.Msg = "ptrace not permitted: kernel.yama.ptrace_scope=1 allows tracing only your own child processes"
		e.Hint = "run hangtui with sudo, or 'sudo sysctl kernel.yama.ptrace_scope=0'"
	case !hasCapSysPtrace() && inContainer():
		e.Msg = "ptrace not permitted: this container lacks CAP_SYS_PTRACE"
		e.Hint = "start it with 'docker run --cap-add SYS_PTRACE' or use 'kubectl debug --target' with a debugging profile"
	default:
		e.Msg = fmt.Sprintf("ptrace not permitted on process %d: %v", pid, err)
		e.Hint = "run hangtui as root or as the process's user; a seccomp or LSM policy may also forbid ptrace"
	}
	return e
}

// hasCapSysPtrace reads our effective capability set (bit 19).
func hasCapSysPtrace() bool {
	v, err := strconv.ParseUint(statusField(os.Getpid(), "CapEff"), 16, 64)
	return err == nil && v&(1<<19) != 0
}

func inContainer() bool {
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return true
	}
	b, _ := os.ReadFile("/proc/1/cgroup")
	s := string(b)
	return strings.Contains(s, "docker") || strings.Contains(s, "kubepods") || strings.Contains(s, "containerd")
}

// coreError explains why a core could not be opened.
func coreError(corePath, exePath string, err error) error {
	return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("cannot read core %s with executable %s: %v", corePath, exePath, err),
		Hint: "check that the core is complete and that --exe is the exact binary that produced it", Err: err}
}
