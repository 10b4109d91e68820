//go:build darwin

package target

import (
	"bytes"
	"fmt"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/gdbserial"
	"golang.org/x/sys/unix"
)

// attachProcess attaches through Delve's lldb backend: Delve starts Apple's
// debugserver (from the Xcode command line tools), which does the attach.
// Delve's native macOS backend needs cgo, and release binaries are built
// without it.
func attachProcess(pid int) (*proc.TargetGroup, error) {
	exe, err := ExecutablePath(pid)
	if err != nil {
		return nil, err
	}
	return gdbserial.LLDBAttach(pid, exe, nil, nil)
}

// ExecutablePath is the path of a process's executable, from the
// kern.procargs2 sysctl (argc, then the exec path).
func ExecutablePath(pid int) (string, error) {
	b, err := unix.SysctlRaw("kern.procargs2", pid)
	if err != nil {
		return "", fmt.Errorf("reading the executable of process %d: %w", pid, err)
	}
	if len(b) < 5 {
		return "", fmt.Errorf("reading the executable of process %d: short kern.procargs2", pid)
	}
	path, _, _ := bytes.Cut(b[4:], []byte{0}) // after argc (int32)
	return string(path), nil
}
