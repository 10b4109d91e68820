//go:build !linux

package watch

import "syscall"

// childAttr: only Linux has a parent-death signal; elsewhere a snapshot
// child outlives a killed hangtui until its own deadline.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
