//go:build linux

package target

import "golang.org/x/sys/unix"

// readvBatch reads many ranges of a live process's memory with few
// process_vm_readv calls (up to IOV_MAX ranges each). ok[i] is set for every
// range read in full; the caller reads the others another way.
func readvBatch(pid int, addrs []uint64, bufs [][]byte, ok []bool) {
	const iovMax = 1024
	local := make([]unix.Iovec, 0, iovMax)
	remote := make([]unix.RemoteIovec, 0, iovMax)
	idx := make([]int, 0, iovMax)
	for start := 0; start < len(addrs); {
		local, remote, idx = local[:0], remote[:0], idx[:0]
		end := start
		for ; end < len(addrs) && len(idx) < iovMax; end++ {
			if len(bufs[end]) == 0 {
				ok[end] = true
				continue
			}
			iov := unix.Iovec{Base: &bufs[end][0]}
			iov.SetLen(len(bufs[end]))
			local = append(local, iov)
			remote = append(remote, unix.RemoteIovec{Base: uintptr(addrs[end]), Len: len(bufs[end])})
			idx = append(idx, end)
		}
		if len(idx) == 0 {
			start = end
			continue
		}
		n, err := unix.ProcessVMReadv(pid, local, remote, 0)
		if err != nil {
			n = 0
		}
		// The kernel stops at the first range it cannot read in full.
		k := 0
		for ; k < len(idx) && n >= len(bufs[idx[k]]); k++ {
			ok[idx[k]] = true
			n -= len(bufs[idx[k]])
		}
		if k == len(idx) {
			start = end
		} else {
			start = idx[k] + 1
		}
	}
}
