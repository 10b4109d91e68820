package target

import (
	"strings"
	"testing"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestWrapperCalleeMatchesDelve checks the decoder that names the function
// a `go` statement's wrapper starts (directCallee) against Delve's
// disassembler, on every wrapper of a real binary.
func TestWrapperCalleeMatchesDelve(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "all")
	tg := attachTo(t, p.PID)
	pick := func(f *proc.Function) bool { return !privateRuntime(f.Name) }
	n := 0
	for i := range tg.bi.Functions {
		fn := &tg.bi.Functions[i]
		if !strings.Contains(fn.Name, "·dwrap·") && !fn.Trampoline {
			continue
		}
		got, ok := tg.directCallee(fn, pick)
		if !ok {
			continue // left to Delve
		}
		want := ""
		insts, err := proc.Disassemble(tg.mem, nil, tg.t.Breakpoints(), tg.bi, fn.Entry, fn.End)
		if err != nil {
			t.Fatalf("%s: Delve: %v", fn.Name, err)
		}
		for _, in := range insts {
			if in.Kind == proc.CallInstruction && in.DestLoc != nil && in.DestLoc.Fn != nil && pick(in.DestLoc.Fn) {
				want = in.DestLoc.Fn.Name
				break
			}
		}
		gotName := ""
		if got != nil {
			gotName = got.Name
		}
		if gotName != want {
			t.Errorf("%s: decoded %q, Delve %q", fn.Name, gotName, want)
		}
		n++
	}
	if n < 5 {
		t.Errorf("only %d wrappers compared", n)
	}
	t.Logf("%d wrappers compared", n)
}
