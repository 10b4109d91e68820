package report

// Streaming JSON. A 100,000-goroutine report is hundreds of megabytes;
// building it as one Doc and encoding it with reflection cost seconds and
// gigabytes. WriteJSON instead encodes everything but the goroutines and
// the resources with encoding/json, and writes those two one by one with
// the hand-written encoders below (resource_json.go), straight from the
// model, into a buffered writer. (The resources were encoded with
// reflection until 10,000 channels took 110 ms of a 390 ms report: a map
// per resource state, built and then sorted by encoding/json.) The bytes
// are exactly those json.NewEncoder(w).Encode(ToDoc(s)) writes (tests
// compare them); stacks shared by many goroutines are encoded once.
//
// The fast encoders know the fields of Goroutine, Frame, Wait, Resource and
// Holder as of writing. If those structs gain a field they do not know
// (fastFields), every goroutine and resource is encoded with encoding/json
// instead: slower, never wrong.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect"
)

// fastFields are the JSON fields the fast encoder writes, per struct.
var fastFields = map[reflect.Type]string{
	reflect.TypeOf(Goroutine{}): "id state wait_reason wait_seconds frames frames_truncated top_user_frame created_by parent_id labels system role blocked_on waits holds verdict why",
	reflect.TypeOf(Frame{}):     "func file line inlined",
	reflect.TypeOf(Wait{}):      "resource op",
	reflect.TypeOf(Resource{}):  "id kind addr type state holders waiters wakers",
	reflect.TypeOf(Holder{}):    "goroutine evidence frame read",
}

// fastOK is whether the schema structs are what the fast encoder knows.
var fastOK = func() bool {
	for t, want := range fastFields {
		if jsonFieldNames(t) != want {
			return false
		}
	}
	return true
}()

// jsonFieldNames lists a struct's JSON field names in order.
func jsonFieldNames(t reflect.Type) string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = t.Field(i).Name
		}
		names = append(names, name)
	}
	return strings.Join(names, " ")
}

// goroutinesKey is where the (empty) goroutine and resource arrays sit in
// the encoded document. A string value cannot contain it: its quotes would
// be escaped.
var goroutinesKey = []byte(`,"goroutines":[],"resources":[]`)

// writeJSONStream writes the compact document followed by a newline.
func writeJSONStream(w io.Writer, s *inspect.Snapshot) error {
	d := toDoc(s, false)
	rest, err := json.Marshal(d)
	if err != nil {
		return err
	}
	i := bytes.Index(rest, goroutinesKey)
	if i < 0 {
		return json.NewEncoder(w).Encode(ToDoc(s))
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.Write(rest[:i])
	bw.WriteString(`,"goroutines":[`)
	e := &goroutineEncoder{frames: map[*inspect.Frame][]byte{}, created: map[uint64][]byte{}}
	for k, g := range s.Goroutines {
		e.buf = e.buf[:0]
		if k > 0 {
			e.buf = append(e.buf, ',')
		}
		if fastOK {
			e.goroutine(g)
		} else {
			b, err := json.Marshal(goroutineDoc(g))
			if err != nil {
				return err
			}
			e.buf = append(e.buf, b...)
		}
		if _, err := bw.Write(e.buf); err != nil {
			return err
		}
	}
	bw.WriteString(`],"resources":[`)
	for k, r := range s.Resources {
		e.buf = e.buf[:0]
		if k > 0 {
			e.buf = append(e.buf, ',')
		}
		if fastOK {
			e.buf = appendResource(e.buf, r)
		} else {
			b, err := json.Marshal(resourceDoc(r))
			if err != nil {
				return err
			}
			e.buf = append(e.buf, b...)
		}
		if _, err := bw.Write(e.buf); err != nil {
			return err
		}
	}
	bw.Write(rest[i+len(goroutinesKey)-1:])
	bw.WriteByte('\n')
	return bw.Flush()
}

// goroutineEncoder writes goroutines as goroutineDoc + encoding/json would.
type goroutineEncoder struct {
	buf []byte
	// frames caches the encoded frame array of each shared stack (the
	// model shares one []Frame between goroutines with identical stacks),
	// by its first element; the slice length is checked on use.
	frames  map[*inspect.Frame][]byte
	flens   map[*inspect.Frame]int
	created map[uint64][]byte // encoded created_by frame, by PC
}

func (e *goroutineEncoder) goroutine(g *inspect.Goroutine) {
	b := e.buf
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, g.ID, 10)
	b = append(b, `,"state":`...)
	b = appendString(b, string(g.State))
	b = append(b, `,"wait_reason":`...)
	b = appendString(b, g.WaitReason)
	b = append(b, `,"wait_seconds":`...)
	if g.Waiting > 0 {
		b = appendFloat(b, g.Waiting.Seconds())
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"frames":`...)
	b = e.appendFrames(b, g.Frames)
	if g.StackTruncated {
		b = append(b, `,"frames_truncated":true`...)
	}
	b = append(b, `,"top_user_frame":`...)
	if g.TopUser >= 0 {
		b = strconv.AppendInt(b, int64(g.TopUser), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"created_by":`...)
	if g.CreatedBy == nil {
		b = append(b, "null"...)
	} else {
		b = e.appendCreatedBy(b, g.CreatedBy)
	}
	if g.ParentID != 0 {
		b = append(b, `,"parent_id":`...)
		b = strconv.AppendInt(b, g.ParentID, 10)
	}
	if len(g.Labels) > 0 {
		b = append(b, `,"labels":`...)
		lb, _ := json.Marshal(g.Labels) // sorted keys, as for the Doc
		b = append(b, lb...)
	}
	b = append(b, `,"system":`...)
	b = strconv.AppendBool(b, g.System)
	if g.Role != "" {
		b = append(b, `,"role":`...)
		b = appendString(b, string(g.Role))
	}
	b = append(b, `,"blocked_on":`...)
	if id := g.BlockedOn(); id != "" {
		b = appendString(b, id)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"waits":[`...)
	for i, w := range g.Waits {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"resource":`...)
		b = appendString(b, w.Resource)
		b = append(b, `,"op":`...)
		b = appendString(b, string(w.Op))
		b = append(b, '}')
	}
	b = append(b, `],"holds":[`...)
	holds := g.Holds
	if !sort.StringsAreSorted(holds) {
		holds = append([]string(nil), holds...)
		sort.Strings(holds)
	}
	for i, h := range holds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, h)
	}
	b = append(b, `],"verdict":`...)
	b = appendString(b, string(g.Verdict))
	if g.Why != "" {
		b = append(b, `,"why":`...)
		b = appendString(b, g.Why)
	}
	b = append(b, '}')
	e.buf = b
}

func (e *goroutineEncoder) appendFrames(b []byte, fs []inspect.Frame) []byte {
	if len(fs) == 0 {
		return append(b, "[]"...)
	}
	key := &fs[0]
	if enc, ok := e.frames[key]; ok && e.flens[key] == len(fs) {
		return append(b, enc...)
	}
	start := len(b)
	b = append(b, '[')
	for i := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFrame(b, &fs[i])
	}
	b = append(b, ']')
	if e.flens == nil {
		e.flens = map[*inspect.Frame]int{}
	}
	e.frames[key] = append([]byte(nil), b[start:]...)
	e.flens[key] = len(fs)
	return b
}

func (e *goroutineEncoder) appendCreatedBy(b []byte, f *inspect.Frame) []byte {
	if f.PC == 0 {
		return appendFrame(b, f)
	}
	if enc, ok := e.created[f.PC]; ok {
		return append(b, enc...)
	}
	start := len(b)
	b = appendFrame(b, f)
	e.created[f.PC] = append([]byte(nil), b[start:]...)
	return b
}

func appendFrame(b []byte, f *inspect.Frame) []byte {
	b = append(b, `{"func":`...)
	b = appendString(b, f.Func)
	b = append(b, `,"file":`...)
	b = appendString(b, f.File)
	b = append(b, `,"line":`...)
	b = strconv.AppendInt(b, int64(f.Line), 10)
	if f.Inlined {
		b = append(b, `,"inlined":true`...)
	}
	return append(b, '}')
}

// appendString writes s as encoding/json does (HTML-safe escaping):
// directly when it has nothing to escape, through encoding/json otherwise.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat formats a float64 exactly as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		enc, _ := json.Marshal(f) // an error, as in encoding/json
		return append(b, enc...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
