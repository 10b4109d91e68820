//go:build !linux

package main

import "syscall"

// demoSysProcAttr: only Linux can kill the demo when hangtui dies; elsewhere
// the closers registered with safety stop it.
func demoSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
