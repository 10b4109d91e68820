package target

// File and line of a PC from the runtime's own tables (pcfile, pcln, cutab,
// filetab), as runtime.funcline does. Delve's DWARF line table answers the
// same question but runs a line-program state machine per lookup, which
// was a sixth of a first snapshot at 10,000 goroutines. The two name the
// same files (the linker writes both from the same positions); the fast
// stack tests compare every frame with Delve's.

// initLines takes the line table layout from the target's DWARF; when
// anything is missing the unwinder keeps asking Delve.
func (tab *pclntab) initLines(md, fn *structLayout, mdBuf []byte) {
	fields := []field{fn.Field("pcfile"), fn.Field("pcln"), fn.Field("cuOffset"),
		md.Field("cutab.array"), md.Field("filetab.array")}
	for _, f := range fields {
		if !f.OK {
			return
		}
	}
	tab.fPcfile, tab.fPcln, tab.fCuOff = fields[0].Off, fields[1].Off, fields[2].Off
	tab.cutab, tab.filetab = get(mdBuf, fields[3]), get(mdBuf, fields[4])
	for _, f := range fields[:3] {
		if f.Off+4 > tab.fPcdataBase {
			return // the fixed header funcMeta reads would not cover it
		}
	}
	tab.lines = tab.cutab != 0 && tab.filetab != 0
}

// fileLine is the file and line at pc in the function m, ok false when the
// tables do not say (the caller then asks Delve).
func (tab *pclntab) fileLine(t *Target, m *fnMeta, pc uint64) (string, int, bool) {
	if !tab.lines || m.pcfile == 0 || m.pcln == 0 {
		return "", 0, false
	}
	line := tab.pcvalue(t, m, m.pcln, pc)
	fileno := tab.pcvalue(t, m, m.pcfile, pc)
	if line < 0 || fileno < 0 {
		return "", 0, false
	}
	off, ok := tab.u32(t, tab.cutab+4*(uint64(m.cuOff)+uint64(fileno)))
	if !ok || off == ^uint32(0) {
		return "", 0, false
	}
	file, ok := tab.cString(t, tab.filetab+uint64(off))
	return file, int(line), ok
}
