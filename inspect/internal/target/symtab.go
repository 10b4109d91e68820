package target

import (
	"debug/elf"
	"sort"
	"strings"
)

// symtab is the executable's data symbols (ELF .symtab, STT_OBJECT): the
// address and size of every package variable by name. Looking a variable up
// through Delve (EvalExpression) scans every package variable, then every
// function and constant when the name is missing, per lookup: a few
// milliseconds each, which dominated the first snapshot of a small process.
// The linker's symbol for a Go package variable is the variable itself, so
// the two agree; names not in the table still go to Delve.
type symtab struct {
	byName map[string]elfSym
	// user are the non-runtime data symbols sorted by address
	// (GlobalContaining, GlobalHolding).
	user []elfSym
	// pie: the symbols' addresses are relative to the load address.
	pie bool
}

// elfSym is a data symbol as linked (before a PIE's load bias).
type elfSym struct {
	addr, size uint64
	name       string
}

// startSymtab reads path's symbol table in the background and returns a
// function that waits for it: it overlaps opening a core; for a live
// process the prewarm needs it before the attach (still before the target
// is stopped). A binary that is not ELF, or has no symbol table, gives an
// empty table.
func startSymtab(path string) func() *symtab {
	ch := make(chan *symtab, 1)
	go func() {
		defer func() {
			if recover() != nil { // debug/elf on a hostile file
				ch <- &symtab{}
			}
		}()
		ch <- loadSymtab(path)
	}()
	var st *symtab
	return func() *symtab {
		if st == nil {
			st = <-ch
		}
		return st
	}
}

func loadSymtab(path string) *symtab {
	st := &symtab{byName: map[string]elfSym{}}
	f, err := elf.Open(path)
	if err != nil {
		return st
	}
	defer f.Close()
	st.pie = f.Type == elf.ET_DYN
	syms, err := f.Symbols()
	if err != nil {
		return st
	}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_OBJECT || s.Size == 0 {
			continue
		}
		e := elfSym{addr: s.Value, size: s.Size, name: s.Name}
		if _, dup := st.byName[s.Name]; dup {
			// Two symbols of one name (static C symbols in a cgo binary):
			// ambiguous, leave it to Delve.
			st.byName[s.Name] = elfSym{}
		} else {
			st.byName[s.Name] = e
		}
		if strings.HasPrefix(s.Name, "runtime.") || strings.HasPrefix(s.Name, "go:") || strings.HasPrefix(s.Name, "type:") {
			continue
		}
		st.user = append(st.user, e)
	}
	sort.Slice(st.user, func(i, j int) bool { return st.user[i].addr < st.user[j].addr })
	return st
}

// lookupSym returns the loaded address and size of a package variable from
// the symbol table, ok false when the table does not know it (exactly).
func (t *Target) lookupSym(name string) (addr, size uint64, ok bool) {
	if t.syms == nil {
		return 0, 0, false
	}
	s, found := t.syms().byName[name]
	if !found || s.size == 0 {
		return 0, 0, false
	}
	return s.addr + t.staticBase(), s.size, true
}

// knownMissing: the symbol table was read and has no variable of this name
// (an optional runtime variable of another Go release). Delve would scan
// all its variables, functions and constants to say the same.
func (t *Target) knownMissing(name string) bool {
	if t.syms == nil {
		return false
	}
	st := t.syms()
	_, found := st.byName[name]
	return len(st.byName) > 0 && !found
}

// userGlobals are the non-runtime data symbols at their loaded addresses,
// sorted by address.
func (t *Target) userGlobals() []globalSym {
	if t.bin.globals != nil {
		return t.bin.globals
	}
	t.bin.globals = []globalSym{}
	if t.syms == nil {
		return t.bin.globals
	}
	base := t.staticBase()
	for _, s := range t.syms().user {
		t.bin.globals = append(t.bin.globals, globalSym{addr: s.addr + base, size: s.size, name: s.name})
	}
	return t.bin.globals
}

// staticBase is the load bias of the executable (non-zero for PIE).
func (t *Target) staticBase() uint64 {
	if len(t.bi.Images) == 0 {
		return 0
	}
	return t.bi.Images[0].StaticBase
}
