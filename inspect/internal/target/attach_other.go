//go:build !darwin

package target

import (
	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/native"
)

// attachProcess attaches with Delve's native (ptrace) backend.
func attachProcess(pid int) (*proc.TargetGroup, error) {
	return native.Attach(pid, nil, nil)
}
