package watch

import "syscall"

// childAttr makes the kernel kill a snapshot child with hangtui (SIGKILL
// on a dead tracer: the kernel detaches and the target runs).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
