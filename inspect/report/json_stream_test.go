package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
)

// reference is what WriteJSON must write: encoding/json over the Doc.
func reference(t *testing.T, s *inspect.Snapshot) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(ToDoc(s)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// oddSnapshot has every optional field set and strings and numbers that
// need escaping or special formatting.
func oddSnapshot() *inspect.Snapshot {
	shared := []inspect.Frame{gopark, inl(app("main.<lambda>&\"x\"", "a\\b.go", 7)), app("main.héllo\u2028", "m.go", 1)}
	s := &inspect.Snapshot{
		Target:   inspect.Target{PID: 7, Exe: "/bin/<exe>", GoVersion: "go1.26.8", Source: inspect.SourceLive},
		TakenAt:  takenAt,
		Pause:    1234567 * time.Nanosecond,
		Warnings: []string{"w\x01", "<b>"},
	}
	for i, w := range []time.Duration{0, 1, 999, time.Second, 1500 * time.Millisecond, 1e17, 3 * time.Hour} {
		g := &inspect.Goroutine{ID: int64(100 + i), State: inspect.StateWaiting, WaitReason: "chan receive", Waiting: w,
			Frames: shared, TopUser: 1, System: i%2 == 0, Verdict: inspect.VerdictBlocked}
		switch i {
		case 1:
			g.Frames = nil
			g.TopUser = -1
			g.Role = inspect.RoleFinalizer
			g.Labels = map[string]string{"z": "1", "a": "<2>", "m\n": ""}
		case 2:
			g.StackTruncated = true
			g.ParentID = 1
			g.CreatedBy = ptr(app("main.start", "m.go", 3))
			g.Why = "nothing & nobody"
		case 3:
			g.Waits = []inspect.Wait{{Resource: "chan:0x1", Op: inspect.OpRecv}, {Resource: "mutex:0x2", Op: inspect.OpLock}}
			g.Holds = []string{"mutex:0xb", "mutex:0xa"}
			g.CreatedBy = &inspect.Frame{Func: "main.start", File: "m.go", Line: 3, PC: 0x1234}
		case 4:
			g.CreatedBy = &inspect.Frame{Func: "main.start", File: "m.go", Line: 3, PC: 0x1234}
			g.Frames = shared[:2] // same first element, shorter stack
		}
		s.Goroutines = append(s.Goroutines, g)
	}
	return s
}

func TestJSONStreamMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := map[string]func() *inspect.Snapshot{"odd": oddSnapshot, "empty": func() *inspect.Snapshot { return &inspect.Snapshot{} }}
	for _, fx := range fixtures {
		cases[fx.name] = fx.snap
	}
	for name, snap := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := snap()
			var got bytes.Buffer
			if err := WriteJSON(&got, s); err != nil {
				t.Fatal(err)
			}
			if want := reference(t, s); !bytes.Equal(got.Bytes(), want) {
				t.Errorf("streamed JSON differs from encoding/json:\n got %s\nwant %s", got.Bytes(), want)
			}
		})
	}
}

// The fast encoder must know every field of the schema structs; when one is
// added, teach it the field (fastFields and goroutineEncoder), or WriteJSON
// quietly falls back to the slow path.
func TestJSONStreamKnowsSchema(t *testing.T) {
	t.Parallel()
	for typ, want := range fastFields {
		if got := jsonFieldNames(typ); got != want {
			t.Errorf("%s has JSON fields\n  %s\nthe fast encoder knows\n  %s", typ, got, want)
		}
	}
	if !fastOK {
		t.Error("fast goroutine encoder disabled")
	}
}

// Every kind of resource state, holders with and without frames, escaped
// strings, nil and empty id lists: the hand-written resource encoder writes
// what encoding/json writes for resourceDoc.
func TestResourceJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	fr := app("main.(*T).<run>&", "a\\b.go", 9)
	rs := []*inspect.Resource{
		{ID: "mutex:0x1", Kind: inspect.KindMutex, Addr: 0x1, Type: "main.T.mu<x>",
			Mutex:   &inspect.MutexState{Locked: true, Woken: true, Starving: true, Waiters: 3},
			Holders: []inspect.Holder{{Goroutine: 4, Evidence: inspect.EvidenceDefer, Frame: &fr}, {Goroutine: 5, Evidence: inspect.EvidenceSource, Read: true}},
			Waiters: []int64{7, 8}},
		{ID: "rwmutex:0xff", Kind: inspect.KindRWMutex, Addr: 0xff,
			RWMutex: &inspect.RWMutexState{WriterHeld: true, WriterPending: true, Readers: -1, ReadersWaiting: 2, WritersWaiting: 1},
			Waiters: []int64{}},
		{ID: "waitgroup:0x2", Kind: inspect.KindWaitGroup, WaitGroup: &inspect.WaitGroupState{Counter: -2, Waiters: 1}, Wakers: []int64{9}},
		{ID: "cond:0x3", Kind: inspect.KindCond, Cond: &inspect.CondState{Waiters: 2}, Wakers: []int64{}},
		{ID: "chan:0x4", Kind: inspect.KindChan, Addr: 1<<64 - 1, Type: "chan struct{}",
			Chan: &inspect.ChanState{ElemType: "struct{}", Len: 1, Cap: 2, Closed: true, Senders: []int64{1, 2}}},
		{ID: "chan:0x5", Kind: inspect.KindChan, Chan: &inspect.ChanState{ElemType: "map[string]\"x\"", Receivers: []int64{3}, Nil: true}},
		{ID: "sema:0x6", Kind: inspect.KindSema, Sema: &inspect.SemaState{Value: 1<<32 - 1}},
		{ID: "unknown:0x7", Kind: "other\u2028"},
	}
	for _, r := range rs {
		want, err := json.Marshal(resourceDoc(r))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendResource(nil, r); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", r.ID, got, want)
		}
	}
	// And inside a whole document.
	s := oddSnapshot()
	s.Resources = rs
	var got bytes.Buffer
	if err := WriteJSON(&got, s); err != nil {
		t.Fatal(err)
	}
	if want := reference(t, s); !bytes.Equal(got.Bytes(), want) {
		t.Errorf("streamed JSON differs from encoding/json:\n got %s\nwant %s", got.Bytes(), want)
	}
}
