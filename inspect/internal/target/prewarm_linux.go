package target

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Page faults are half of a first snapshot of a large process on a
// hypervisor: the snapshot's data (about 1.75 KB per goroutine) and Delve's
// debug information land on memory this process has never touched, and
// every fresh page costs a fault of 10-25 µs. Before stopping the target,
// prewarm touches about that much heap — with transparent huge pages
// requested, so a fault per 2 MB — and hands it back to the Go allocator.
// The runtime's scavenger returns most of it to the kernel before the
// snapshot (its goal follows the small heap left after the warm-up: 273 of
// 276 MB at 100,000 goroutines), but the guest has touched those pages now,
// and faulting them in again costs a fraction of a fresh page: the warm-up
// took the pause of 100,000 channels from 1.75 to 0.7 s. (memhold.go keeps
// the first snapshot within what was warmed.) Done before the attach, it
// costs the target nothing and does not add to the peak: the memory is
// free again before Delve and the snapshot need it. The size comes from the
// target's own runtime.allglen, read with process_vm_readv (a hint only:
// when it cannot be read nothing is done).

// prewarmPerG is the fresh memory a first snapshot touches per goroutine
// (measured: 44,000 page faults at 100,000 goroutines of one shape; with
// many distinct resources, 2.5 KB took 150-250 ms off the pause of 1,792
// bytes for the same peak memory, 3.5 KB nothing more), prewarmDelve about
// what Delve's attach allocates, prewarmMax the most that is touched (and
// never more than a quarter of the memory available). At 1,000,000
// goroutines the snapshot's 1.8 GB of fresh pages had cost seconds of the
// pause when the warm-up stopped at 256 MB.
const (
	prewarmPerG = 2560
	// The first 10,000 goroutines get more: a snapshot's fixed costs
	// (the stack shapes of distinct stacks, the model's tables) weigh
	// most in a small one. 10k varied, 404,000 distinct frames: a cold
	// snapshot of 196-227 ms and 6,500 faults at 2,560 bytes, 103-118 ms
	// and 300 faults at 8 KB, which is about 26 MB more than it needed.
	// Warming costs its time before the stop (11-150 ms for 110 MB, by
	// how much of it the hypervisor backs already), on every shape: 6 KB
	// covers what varied needs. The total at 100,000 is unchanged
	// (256 MB), what 300 MB of peak memory leaves.
	prewarmPerGFew = 6 << 10
	prewarmFew     = 10_000
	// Past the first 100,000 goroutines a snapshot grows by less per
	// goroutine (1M shards: 1.8 GB in all); warming more than it uses
	// only delays the stop.
	prewarmPerGMany = 1792
	prewarmMin      = 1000 // goroutines
	prewarmDelve    = 32 << 20
	prewarmMax      = 2 << 30
)

// prewarm warms the heap for attaching to pid and taking a snapshot, and
// says how much memory the process holds once warmed (0 when it did
// nothing).
func prewarm(pid int, st *symtab) (held int64) {
	defer func() { _ = recover() }() // a hint: never fail because of it
	start := time.Now()
	n := prewarmBytes(pid, st)
	if os.Getenv("HANGTUI_TIMINGS") != "" {
		defer func() {
			fmt.Fprintf(os.Stderr, "hangtui: prewarm %d MB   %v\n", n>>20, time.Since(start).Round(time.Millisecond))
		}()
	}
	if n == 0 {
		return 0
	}
	// Without this the allocation starts a GC cycle whose mark phase
	// spins a worker on the other core for as long as the pages take to
	// fault in (100 ms of CPU at 10,000 goroutines), while Delve loads.
	old := debug.SetGCPercent(-1)
	b := make([]byte, n)
	// Transparent huge pages where the system allows them on request (the
	// usual "madvise" setting). Only this process's own heap is affected.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	// One system call faults it all in (Linux 5.14+); touching a byte per
	// page is the fallback.
	populate(b)
	runtime.KeepAlive(b)
	b = nil
	debug.SetGCPercent(old)
	runtime.GC() // free it now, so that what comes next reuses these pages
	return heldMemory()
}

// populate faults b in, in parallel on each CPU: on a hypervisor a fresh
// page's cost is mostly the host's, and the host serves faults of different
// CPUs at once. One system call per part faults it in (Linux 5.14+);
// touching a byte per page is the fallback.
func populate(b []byte) {
	const huge = 2 << 20
	parts := min(runtime.GOMAXPROCS(0), max(1, len(b)/(16<<20)))
	size := (len(b)/parts + huge - 1) &^ (huge - 1)
	var wg sync.WaitGroup
	for off := 0; off < len(b); off += size {
		part := b[off:min(off+size, len(b))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if unix.Madvise(part, unix.MADV_POPULATE_WRITE) != nil {
				for i := 0; i < len(part); i += os.Getpagesize() {
					part[i] = 1
				}
			}
		}()
	}
	wg.Wait()
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
	n := prewarmSize(gs)
	return int(min(n+prewarmDelve, prewarmMax, memAvailable()/4))
}

// prewarmSize is what a first snapshot of gs goroutines touches (without
// Delve's share): prewarmPerGFew bytes a goroutine up to prewarmFew, then
// up to 100,000 what keeps the total at 100,000 to prewarmPerG each, then
// prewarmPerGMany.
func prewarmSize(gs uint64) uint64 {
	const rest = 100_000*prewarmPerG - prewarmFew*prewarmPerGFew // for goroutines 10,001 to 100,000
	few := min(gs, prewarmFew)
	some := min(gs, 100_000) - few
	return few*prewarmPerGFew + some*rest/(100_000-prewarmFew) + (gs-min(gs, 100_000))*prewarmPerGMany
}

// memAvailable is MemAvailable of /proc/meminfo in bytes, 0 when unknown.
func memAvailable() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
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
