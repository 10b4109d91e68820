package target

import "testing"

// ClearCaches drops everything that describes the stopped process and
// nothing that only depends on the binary; readSmall's chunk buffers are
// handed on.
func TestClearCaches(t *testing.T) {
	t.Parallel()
	buf := make([]byte, chunkSize)
	tg := &Target{
		bin: binaryCache{
			typeNames: map[uint64]string{1: "main.T"},
			varAddrs:  map[string]varAddrResult{"main.x": {addr: 0x1000}},
			locs:      map[uint64]Frame{2: {Func: "main.f"}},
			unw:       &unwinder{ok: true},
			pcln:      &pclntabResult{p: &pclntab{text: 0x400000}},
		},
		snap: snapshotCache{
			globalVals: map[uint64]string{3: "main.v"},
			heap:       &heapMeta{},
			chunks:     chunkCache{chunks: map[uint64][]byte{0: buf}},
			closures:   map[uint64]cachedClosure{4: {ok: true}},
			varVals:    map[uint64]uint64{5: 6},
		},
	}
	tg.snap.labelMaps.add([]uint64{7}, []map[string]string{{"k": "v"}})
	if len(tg.snap.labelMaps.ptrs) != 1 {
		t.Fatalf("label cache: %+v", tg.snap.labelMaps)
	}
	bin := tg.bin
	tg.ClearCaches()
	if tg.snap.globalVals != nil || tg.snap.heap != nil || tg.snap.closures != nil || tg.snap.varVals != nil ||
		tg.snap.chunks.chunks != nil || len(tg.snap.labelMaps.ptrs) != 0 {
		t.Errorf("per-snapshot state kept: %+v", tg.snap)
	}
	if len(tg.snap.chunks.pool) != 1 || &tg.snap.chunks.pool[0][0] != &buf[0] {
		t.Errorf("chunk buffer not handed on: %d in the pool", len(tg.snap.chunks.pool))
	}
	if tg.bin.unw != bin.unw || tg.bin.pcln != bin.pcln || len(tg.bin.typeNames) != 1 || len(tg.bin.varAddrs) != 1 || len(tg.bin.locs) != 1 {
		t.Errorf("binary caches dropped: %+v", tg.bin)
	}
}
