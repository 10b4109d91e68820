package inspect

import "testing"

// A goroutine's signature names where it parks, what it waits on and what
// it holds since where, by kind and type, never by address or id.
func TestGoroutineSignature(t *testing.T) {
	t.Parallel()
	rs := map[string]*Resource{
		"mutex:0x1": {ID: "mutex:0x1", Kind: KindMutex, Type: "main.Store.mu",
			Holders: []Holder{{Goroutine: 7, Evidence: EvidenceDefer, Frame: &Frame{Func: "main.(*Store).Put", Line: 42}}}},
		"chan:0x2":  {ID: "chan:0x2", Kind: KindChan, Type: "chan int"},
		"mutex:0x3": {ID: "mutex:0x3", Kind: KindMutex, Type: "main.a"},
	}
	g := &Goroutine{
		ID: 7, Role: RoleNone, WaitReason: "chan receive", TopUser: 1,
		Frames: []Frame{{Func: "runtime.gopark", Line: 463}, {Func: "main.worker", Line: 17}},
		Waits:  []Wait{{Resource: "chan:0x2", Op: "recv"}, {Resource: "gone", Op: "send"}},
		Holds:  []string{"mutex:0x3", "mutex:0x1"},
	}
	want := "@main.worker:17 chan receive recv:chan:chan int holds mutex:main.Store.mu@main.(*Store).Put:42:defer,mutex:main.a"
	if got := goroutineSignature(g, rs); got != want {
		t.Errorf("signature\n got %q\nwant %q", got, want)
	}
	g.TopUser, g.Holds, g.Role = -1, nil, RoleFinalizer
	want = "finalizer@runtime.gopark:463 chan receive recv:chan:chan int holds "
	if got := goroutineSignature(g, rs); got != want {
		t.Errorf("signature\n got %q\nwant %q", got, want)
	}
}
