//go:build darwin

package inspect

import (
	"debug/buildinfo"
	"debug/macho"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// On macOS there is no /proc: the process is looked up with kill(pid, 0)
// and the kern.procargs2 sysctl, and the executable is Mach-O. Attaching
// goes through Delve's lldb backend (Apple's debugserver).
func init() { platformPrecheck = precheckDarwin }

func precheckDarwin(pid int) (*precheckResult, error) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return nil, &Error{Kind: ErrNoProcess, Msg: fmt.Sprintf("no process with PID %d (it may have exited)", pid),
			Hint: "check the PID with 'ps' or 'pgrep'"}
	} else if errors.Is(err, syscall.EPERM) {
		return nil, &Error{Kind: ErrPtraceDenied, Msg: fmt.Sprintf("process %d belongs to another user", pid),
			Hint: "run hangtui as that user or with sudo", Err: err}
	}
	exe, err := target.ExecutablePath(pid)
	if err != nil {
		return nil, &Error{Kind: ErrNoProcess, Msg: fmt.Sprintf("cannot read the executable of process %d: %v", pid, err),
			Hint: "run hangtui as the process's user or with sudo", Err: err}
	}
	name := filepath.Base(exe)
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		return nil, &Error{Kind: ErrNotGo, Msg: fmt.Sprintf("process %d (%s) is not a Go program", pid, name),
			Hint: "hangtui inspects Go programs only", Err: err}
	}
	if err := checkMachODebugInfo(exe); err != nil {
		return nil, &Error{Kind: ErrNoDebugInfo, Msg: fmt.Sprintf("process %d (%s) was built without debug info (%v)", pid, name, err),
			Hint: "rebuild it without -ldflags='-s -w' to inspect it; a goroutine dump (SIGQUIT) still works"}
	}
	return &precheckResult{exe: exe, goVersion: bi.GoVersion, newer: goMinor(bi.GoVersion) > newestKnownGo}, nil
}

func checkMachODebugInfo(path string) error {
	f, err := macho.Open(path)
	if err != nil {
		return fmt.Errorf("not a Mach-O file: %w", err)
	}
	defer f.Close()
	for _, name := range []string{"__debug_info", "__zdebug_info"} {
		if f.Section(name) != nil {
			return nil
		}
	}
	return errors.New("no __debug_info section")
}
