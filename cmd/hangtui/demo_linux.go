package main

import "syscall"

// demoSysProcAttr makes the kernel kill the demo if hangtui dies without
// running its closers.
func demoSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
