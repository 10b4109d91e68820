//go:build !linux

package target

// startPrewarm does nothing where process_vm_readv is not available.
func startPrewarm(pid int, syms func() *symtab) func() { return func() {} }
