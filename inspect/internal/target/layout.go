package target

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/godwarf"
	"github.com/go-delve/delve/pkg/proc"
)

// field is the position of a (possibly nested) struct field, resolved once
// from the target's DWARF so that runtime structures can be decoded from raw
// bytes without building a Delve variable per object.
type field struct {
	Off  int64
	Size int64
	// Kind tells how to decode: a pointer, an integer, or a
	// maybeTraceablePtr-style struct whose address lives at Off.
	Name string
	OK   bool
}

// structLayout is a runtime struct's size and the fields hangtui reads.
type structLayout struct {
	Name   string
	Size   int64
	typ    *godwarf.StructType
	mu     sync.Mutex
	fields map[string]field
}

// layoutCache keeps each struct layout once per loaded binary: decoding
// DWARF types is far slower than the memory reads that use them.
var layoutCache = struct {
	sync.Mutex
	m map[layoutKey]*structLayout
}{m: map[layoutKey]*structLayout{}}

type layoutKey struct {
	bi   *proc.BinaryInfo
	name string
}

// resolve strips typedefs and presents slices and strings as the structs
// they are in memory.
func resolve(t godwarf.Type) godwarf.Type {
	for {
		switch tt := t.(type) {
		case *godwarf.TypedefType:
			t = tt.Type
		case *godwarf.SliceType:
			return &tt.StructType
		case *godwarf.StringType:
			return &tt.StructType
		default:
			return t
		}
	}
}

func loadStruct(bi *proc.BinaryInfo, name string) (*structLayout, error) {
	layoutCache.Lock()
	defer layoutCache.Unlock()
	key := layoutKey{bi, name}
	if s, ok := layoutCache.m[key]; ok {
		if s == nil {
			return nil, fmt.Errorf("type %s not in the target's debug info", name)
		}
		return s, nil
	}
	s, err := readStruct(bi, name)
	layoutCache.m[key] = s
	return s, err
}

func readStruct(bi *proc.BinaryInfo, name string) (*structLayout, error) {
	t, err := bi.FindType(name)
	if err != nil {
		return nil, fmt.Errorf("type %s not in the target's debug info: %w", name, err)
	}
	st, ok := resolve(t).(*godwarf.StructType)
	if !ok {
		return nil, fmt.Errorf("type %s is not a struct", name)
	}
	return &structLayout{Name: name, Size: st.Size(), typ: st}, nil
}

// Field resolves a dotted path such as "sched.pc" or "atomicstatus". A
// struct that wraps a single value (atomic.Uint32{value}, maybeTraceablePtr{vp,
// vu}) is looked through: the returned field is the value inside.
func (s *structLayout) Field(path string) field {
	if s == nil {
		return field{Name: path}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fields[path]; ok {
		return f
	}
	f := s.field(path)
	if s.fields == nil {
		s.fields = map[string]field{}
	}
	s.fields[path] = f
	return f
}

func (s *structLayout) field(path string) field {
	off, t, ok := s.walk(path)
	if !ok {
		return field{Name: path}
	}
	// Look through wrappers down to a scalar.
	for {
		st, ok := resolve(t).(*godwarf.StructType)
		if !ok || len(st.Field) == 0 {
			break
		}
		inner := wrappedValue(st)
		if inner == nil {
			break
		}
		off += inner.ByteOffset
		t = inner.Type
	}
	return field{Off: off, Size: resolve(t).Size(), Name: path, OK: true}
}

// walk finds the offset and DWARF type of a dotted field path.
func (s *structLayout) walk(path string) (int64, godwarf.Type, bool) {
	var off int64
	var t godwarf.Type = s.typ
	for _, part := range strings.Split(path, ".") {
		st, ok := resolve(t).(*godwarf.StructType)
		if !ok {
			return 0, nil, false
		}
		var found *godwarf.StructField
		for _, f := range st.Field {
			if f.Name == part {
				found = f
				break
			}
		}
		if found == nil {
			return 0, nil, false
		}
		off += found.ByteOffset
		t = found.Type
	}
	return off, t, true
}

// FieldType is the DWARF type of a dotted field path (typedefs kept), nil
// when there is no such field.
func (s *structLayout) FieldType(path string) godwarf.Type {
	if s == nil {
		return nil
	}
	_, t, ok := s.walk(path)
	if !ok {
		return nil
	}
	return t
}

// layoutOf is the layout of a struct type found inside another type (a
// slice's element, a map's buckets), not cached: nil if t is not a struct.
func layoutOf(t godwarf.Type) *structLayout {
	if t == nil {
		return nil
	}
	st, ok := resolve(t).(*godwarf.StructType)
	if !ok {
		return nil
	}
	return &structLayout{Name: st.StructName, Size: st.Size(), typ: st}
}

// wrappedValue picks the field that carries the value of a wrapper struct:
// atomic types keep it in "value" (after zero-size noCopy/align fields), and
// maybeTraceablePtr keeps the source of truth in "vu".
func wrappedValue(st *godwarf.StructType) *godwarf.StructField {
	var nonzero []*godwarf.StructField
	for _, f := range st.Field {
		switch f.Name {
		case "vu", "value", "v":
			return f
		}
		if resolve(f.Type).Size() > 0 {
			nonzero = append(nonzero, f)
		}
	}
	if len(nonzero) == 1 && (nonzero[0].Embedded || strings.HasPrefix(st.StructName, "runtime.maybeTraceable")) {
		return nonzero[0]
	}
	return nil
}
