package inspect

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// checkCoreFiles catches the core/executable mistakes Delve would not
// notice: it opens a truncated core or a core with another build's
// executable without complaint and then reads garbage, which would make a
// wrong report. It checks only what the ELF headers say, before Delve.
func checkCoreFiles(corePath, exePath string) error {
	exe, err := elf.Open(exePath)
	if err != nil {
		return &Error{Kind: ErrNotGo, Msg: fmt.Sprintf("%s is not an executable (%v)", exePath, err),
			Hint: "pass the program that crashed with --exe", Err: err}
	}
	defer exe.Close()
	if exe.Type == elf.ET_CORE {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("%s is a core file, not the executable", exePath),
			Hint: "pass the core with --core and the program that produced it with --exe"}
	}
	f, err := os.Open(corePath)
	if err != nil {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("cannot open %s: %v", corePath, err), Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("cannot open %s: %v", corePath, err), Err: err}
	}
	core, err := elf.NewFile(f)
	if err != nil {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("%s is not a core file, or is truncated (%v)", corePath, err),
			Hint: "pass an ELF core dump with --core and its executable with --exe", Err: err}
	}
	if core.Type != elf.ET_CORE {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("%s is not a core file but an ELF %s", corePath, core.Type),
			Hint: "pass the core dump with --core and the executable with --exe"}
	}
	// Every segment's bytes must be in the file: a dump cut short (full
	// disk, ulimit -c, systemd-coredump's size limits) loses the end.
	var want uint64
	for _, p := range core.Progs {
		want = max(want, p.Off+p.Filesz)
	}
	if size := uint64(st.Size()); size < want {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("core %s is truncated: %d of %d bytes present", corePath, size, want),
			Hint: "the dump was cut short (disk space, ulimit -c or systemd-coredump limits); take a complete core"}
	}
	if core.Class != elf.ELFCLASS64 {
		return nil // the mapping notes below are parsed for 64-bit cores only
	}
	if crashed, ok := coreExeMismatch(core, exe); ok {
		return &Error{Kind: ErrBadCore, Msg: fmt.Sprintf("core %s does not match executable %s (the core was produced by %s)", corePath, exePath, crashed),
			Hint: "pass the exact binary that crashed with --exe (the same build)"}
	}
	return nil
}

// coreExeMismatch compares the executable's first page (ELF header,
// program headers, Go build ID note) with what the core holds at the load
// address of the crashed program, found from the auxiliary vector's entry
// point and the core's file mappings. It reports a mismatch only when that
// page is in the core and differs, or, when it is not, when the entry
// points differ; without the notes it says nothing.
func coreExeMismatch(core, exe *elf.File) (crashed string, mismatch bool) {
	entry, maps, ok := coreNotes(core)
	if !ok || entry == 0 {
		return "", false
	}
	var m *fileMapping
	for i := range maps {
		if maps[i].start <= entry && entry < maps[i].end {
			m = &maps[i]
		}
	}
	if m == nil {
		return "", false
	}
	// Where file offset 0 of the crashed program is in memory.
	base := m.start - m.off
	crashed = m.name
	var wantEntry uint64
	if exe.Type == elf.ET_DYN {
		wantEntry = entry - base
	} else {
		wantEntry = entry
	}
	page := make([]byte, 4096)
	n, _ := io.ReadFull(exeReader(exe), page)
	page = page[:n]
	if got, ok := readCoreMem(core, base, len(page)); ok {
		return crashed, !bytes.Equal(got, page)
	}
	return crashed, exe.Entry != wantEntry
}

// exeReader reads the executable from its start, as far as the segment
// that maps it.
func exeReader(exe *elf.File) io.Reader {
	for _, p := range exe.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			return p.Open()
		}
	}
	return bytes.NewReader(nil)
}

// readCoreMem returns n bytes of the crashed process's memory at addr when
// the core holds them.
func readCoreMem(core *elf.File, addr uint64, n int) ([]byte, bool) {
	for _, p := range core.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr+uint64(n) > p.Vaddr+p.Filesz {
			continue
		}
		b := make([]byte, n)
		if _, err := p.ReadAt(b, int64(addr-p.Vaddr)); err != nil {
			return nil, false
		}
		return b, true
	}
	return nil, false
}

// fileMapping is one NT_FILE entry: a file mapped at [start, end) from
// byte offset off.
type fileMapping struct {
	start, end, off uint64
	name            string
}

// ELF core note types (linux/elf.h).
const (
	ntAuxv  = 6
	ntFile  = 0x46494c45
	atEntry = 9
)

// coreNotes reads the entry point (AT_ENTRY) and the file mappings from a
// 64-bit core's notes.
func coreNotes(core *elf.File) (entry uint64, maps []fileMapping, ok bool) {
	bo := core.ByteOrder
	for _, p := range core.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 64<<20 {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return 0, nil, false
		}
		for len(data) >= 12 {
			namesz, descsz, typ := bo.Uint32(data), bo.Uint32(data[4:]), bo.Uint32(data[8:])
			off := 12 + align4(uint64(namesz))
			end := off + align4(uint64(descsz))
			if end > uint64(len(data)) || off+uint64(descsz) > uint64(len(data)) {
				break
			}
			desc := data[off : off+uint64(descsz)]
			switch typ {
			case ntAuxv:
				for i := 0; i+16 <= len(desc); i += 16 {
					if bo.Uint64(desc[i:]) == atEntry {
						entry = bo.Uint64(desc[i+8:])
					}
				}
			case ntFile:
				maps = parseNTFile(bo, desc)
			}
			data = data[end:]
		}
	}
	return entry, maps, entry != 0 && len(maps) > 0
}

func parseNTFile(bo binary.ByteOrder, desc []byte) []fileMapping {
	if len(desc) < 16 {
		return nil
	}
	count, pageSize := bo.Uint64(desc), bo.Uint64(desc[8:])
	if count > uint64(len(desc))/24 {
		return nil
	}
	names := desc[16+24*count:]
	maps := make([]fileMapping, 0, count)
	for i := uint64(0); i < count; i++ {
		e := desc[16+24*i:]
		m := fileMapping{start: bo.Uint64(e), end: bo.Uint64(e[8:]), off: bo.Uint64(e[16:]) * pageSize}
		name, rest, _ := bytes.Cut(names, []byte{0})
		m.name, names = filepath.Clean(string(name)), rest
		maps = append(maps, m)
	}
	return maps
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }
