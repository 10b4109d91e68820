package target

import (
	"fmt"
	"runtime"
)

// reader is how heap code reads the target's memory: through the Target
// (the session goroutine's reads, Delve's memory for a core) or, for a heap
// marked beside other work, through a procReader of its own.
type reader interface {
	read(addr uint64, n int) ([]byte, error)
	readSmall(addr uint64, n int) ([]byte, error)
	readMany(addrs []uint64, bufs [][]byte, ok []bool)
}

// procReader reads a live process with process_vm_readv only: no Delve, no
// state shared with the Target, so it may run on another goroutine while
// the session goroutine reads through Delve. It keeps its own chunk cache.
type procReader struct {
	pid    int
	chunks map[uint64][]byte
}

func (p *procReader) read(addr uint64, n int) ([]byte, error) {
	if addr == 0 {
		return nil, fmt.Errorf("read of nil address")
	}
	buf := make([]byte, n)
	ok := []bool{false}
	readvBatch(p.pid, []uint64{addr}, [][]byte{buf}, ok)
	if !ok[0] {
		return nil, fmt.Errorf("could not read %d bytes at %#x", n, addr)
	}
	return buf, nil
}

func (p *procReader) readSmall(addr uint64, n int) ([]byte, error) {
	c := addr &^ (chunkSize - 1)
	if addr == 0 || addr+uint64(n) > c+chunkSize {
		return p.read(addr, n)
	}
	b, ok := p.chunks[c]
	if !ok {
		if p.chunks == nil {
			p.chunks = map[uint64][]byte{}
		}
		b = make([]byte, chunkSize)
		done := []bool{false}
		readvBatch(p.pid, []uint64{c}, [][]byte{b}, done)
		if !done[0] {
			b = nil // part of the chunk is not mapped: read objects alone
		}
		p.chunks[c] = b
	}
	if b == nil {
		return p.read(addr, n)
	}
	off := addr - c
	return b[off : off+uint64(n) : off+uint64(n)], nil
}

func (p *procReader) readMany(addrs []uint64, bufs [][]byte, ok []bool) {
	clear(ok)
	readvBatch(p.pid, addrs, bufs, ok)
}

// NewPrivateHeap is NewHeap for marking on another goroutine while the
// session goroutine goes on reading: span metadata and reads of its own,
// never through Delve. ok is false where that is not possible (a core
// file, or no process_vm_readv): use NewHeap on the session goroutine.
// Everything else about the Target must still be called from the session
// goroutine only.
func (t *Target) NewPrivateHeap() (h *Heap, ok bool, err error) {
	if !t.live || runtime.GOOS != "linux" {
		return nil, false, nil
	}
	m, err := t.newHeapMeta()
	if err != nil {
		return nil, false, err
	}
	m.r = &procReader{pid: t.pid}
	return &Heap{t: t, m: m, r: m.r, Budget: 4 << 30}, true, nil
}
