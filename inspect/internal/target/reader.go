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
	chunks chunkCache
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
	return p.chunks.readSmall(addr, n, func(b []byte, c uint64) bool {
		done := []bool{false}
		readvBatch(p.pid, []uint64{c}, [][]byte{b}, done)
		return done[0]
	}, p.read)
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
	m.spanMarks = true // its one Heap's marks live on its spans
	return &Heap{t: t, m: m, r: m.r, Budget: 4 << 30, precise: preciseScanning()}, true, nil
}

// chunkSize is the unit of readSmall's cache.
const chunkSize = 8 << 10

// chunkCache holds target memory in aligned chunks for one snapshot; the
// buffers are kept for the next one.
type chunkCache struct {
	chunks map[uint64][]byte // nil: part of the chunk is not mapped
	pool   [][]byte
}

// readSmall returns n bytes at addr from the chunk that holds them, reading
// the chunk with readChunk first; objects that straddle chunks, or lie in a
// chunk that cannot be read whole, are read alone with read.
func (c *chunkCache) readSmall(addr uint64, n int, readChunk func(b []byte, at uint64) bool, read func(uint64, int) ([]byte, error)) ([]byte, error) {
	at := addr &^ (chunkSize - 1)
	if addr == 0 || addr+uint64(n) > at+chunkSize {
		return read(addr, n)
	}
	b, ok := c.chunks[at]
	if !ok {
		if c.chunks == nil {
			c.chunks = map[uint64][]byte{}
		}
		if k := len(c.pool); k > 0 {
			b, c.pool = c.pool[k-1], c.pool[:k-1]
		} else {
			b = make([]byte, chunkSize)
		}
		if !readChunk(b, at) {
			c.pool = append(c.pool, b)
			b = nil
		}
		c.chunks[at] = b
	}
	if b == nil {
		return read(addr, n)
	}
	off := addr - at
	return b[off : off+uint64(n) : off+uint64(n)], nil
}

// forget drops the chunk at (a chunk-aligned address) from the cache, to
// be read again.
func (c *chunkCache) forget(at uint64) {
	if b := c.chunks[at]; b != nil {
		c.pool = append(c.pool, b)
	}
	delete(c.chunks, at)
}

// reset forgets the chunks (the process ran), keeping their buffers.
func (c *chunkCache) reset() {
	for _, b := range c.chunks {
		if b != nil {
			c.pool = append(c.pool, b)
		}
	}
	c.chunks = nil
}
