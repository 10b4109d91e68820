package target

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Page faults are a fifth of a first snapshot of a large process: the
// snapshot's data (about 2 KB per goroutine) lands on memory this process
// has never touched, and every fresh page costs a fault (several µs under a
// hypervisor). While Delve attaches — a quarter of a second of reading
// debug information on one core — prewarm touches that much heap on the
// other core and hands it back to the Go allocator, which reuses it for the
// snapshot. The size comes from the target's own runtime.allglen, read
// with process_vm_readv before the attach (a hint only: when it cannot be
// read nothing is done).

// prewarmPerG is a little less than the fresh memory a first snapshot
// touches per goroutine (measured: 44,000 page faults, 1.75 KB per
// goroutine, at 100,000 goroutines), so that prewarming does not raise the
// peak; prewarmMax the most that is touched.
const (
	prewarmPerG = 2048
	prewarmMin  = 1000 // goroutines
	// prewarmDelve is about what Delve's attach itself allocates after
	// the prewarm has been handed back (it takes from the same pages).
	prewarmDelve = 24 << 20
	prewarmMax   = 224 << 20
)

// startPrewarm starts warming the heap for a snapshot of pid; the returned
// function waits for it to finish (so that it does not compete with the
// snapshot for the CPU).
func startPrewarm(pid int, syms func() *symtab) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }() // a hint: never fail because of it
		start := time.Now()
		n := prewarmBytes(pid, syms())
		if os.Getenv("HANGTUI_TIMINGS") != "" {
			defer func() {
				fmt.Fprintf(os.Stderr, "hangtui: prewarm %d MB   %v\n", n>>20, time.Since(start).Round(time.Millisecond))
			}()
		}
		if n == 0 {
			return
		}
		b := make([]byte, n)
		// Transparent huge pages where the system allows them on request
		// (the usual "madvise" setting): a fault per 2 MB instead of per
		// 4 KB. Only this process's own heap is affected.
		_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
		for i := 0; i < len(b); i += os.Getpagesize() {
			b[i] = 1
		}
		runtime.KeepAlive(b)
		b = nil
		runtime.GC() // free it now, so that the snapshot reuses these pages
	}()
	return func() { <-done }
}

func prewarmBytes(pid int, st *symtab) int {
	if os.Getenv("HANGTUI_NO_PREWARM") != "" { // for benchmarks: the cost without it
		return 0
	}
	s, ok := st.byName["runtime.allglen"]
	if !ok || s.size != 8 {
		return 0
	}
	addr := s.addr
	if st.pie {
		base, ok := loadBase(pid)
		if !ok {
			return 0
		}
		addr += base
	}
	var buf [8]byte
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(8)
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: 8}}
	if n, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil || n != 8 {
		return 0
	}
	gs := binary.LittleEndian.Uint64(buf[:])
	if gs < prewarmMin || gs > 50_000_000 {
		return 0
	}
	return int(min(gs*prewarmPerG+prewarmDelve, prewarmMax))
}

// loadBase is where a PIE executable is mapped: the start of its first
// mapping (file offset 0) in /proc/PID/maps.
func loadBase(pid int) (uint64, bool) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, false
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[2] != "00000000" || strings.Join(fields[5:], " ") != exe {
			continue
		}
		start, _, _ := strings.Cut(fields[0], "-")
		v, err := strconv.ParseUint(start, 16, 64)
		return v, err == nil
	}
	return 0, false
}
