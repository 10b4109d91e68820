package target

import (
	"fmt"
	"reflect"

	"github.com/go-delve/delve/pkg/proc"
)

// FrameIndex returns the index of the first frame of g running fn, or -1.
func (g *G) FrameIndex(fn string) int {
	for i, f := range g.Frames {
		if f.Func == fn {
			return i
		}
	}
	return -1
}

func (t *Target) scope(g *G, frame int) (*proc.EvalScope, error) {
	return t.evalScope(g, frame) // unwind.go
}

// PointerVar evaluates expr (a pointer-valued variable or expression such as
// "c" or "&m.sema") in the scope of frame and returns the address it holds.
// It fails when optimized code did not keep the value.
func (t *Target) PointerVar(g *G, frame int, expr string) (uint64, error) {
	sc, err := t.scope(g, frame)
	if err != nil {
		return 0, err
	}
	v, err := sc.EvalExpression(expr, proc.LoadConfig{})
	if err != nil {
		return 0, err
	}
	if v.Unreadable != nil {
		return 0, v.Unreadable
	}
	switch v.Kind {
	case reflect.Ptr, reflect.UnsafePointer:
		if len(v.Children) > 0 && v.Children[0].Addr != 0 {
			return v.Children[0].Addr, nil
		}
		if v.Base != 0 {
			return v.Base, nil
		}
	}
	return 0, fmt.Errorf("%s is not a readable pointer (%s)", expr, v.Kind)
}
