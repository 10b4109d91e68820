package target

import (
	"go/constant"
	"strconv"
	"strings"

	"github.com/go-delve/delve/pkg/proc"
)

// releaseConstants are runtime constants of the Go releases hangtui knows,
// as their runtime/mheap.go has them. Delve finds a constant only after
// scanning every package variable and function of the binary (about 5 ms
// each, on the first snapshot); for these releases the table answers, and
// a test compares it with Delve's evaluation of the target's DWARF for every
// release in the matrix. Any other build (a newer release, a devel
// toolchain) asks Delve.
var releaseConstants = map[int]map[string]int64{
	22: {"runtime._KindSpecialFinalizer": 1},
	23: {"runtime._KindSpecialFinalizer": 1},
	24: {"runtime._KindSpecialFinalizer": 1, "runtime._KindSpecialCleanup": 6},
	25: {"runtime._KindSpecialFinalizer": 2, "runtime._KindSpecialCleanup": 7},
	26: {"runtime._KindSpecialFinalizer": 2, "runtime._KindSpecialCleanup": 7},
	27: {"runtime._KindSpecialFinalizer": 2, "runtime._KindSpecialCleanup": 7},
}

// releaseConstant looks name up in releaseConstants for the target's Go
// release. ok is false for releases not in the table; a name the table
// does not list for a known release does not exist there (missing true).
func (t *Target) releaseConstant(name string) (v int64, ok, missing bool) {
	minor, ok := releaseMinor(t.GoVersion())
	if !ok {
		return 0, false, false
	}
	consts, ok := releaseConstants[minor]
	if !ok {
		return 0, false, false
	}
	v, found := consts[name]
	return v, found, !found
}

// releaseMinor is X of a release version "go1.X.Y" (or "go1.X"); ok false
// for anything else (release candidates, devel builds, experiments).
func releaseMinor(v string) (int, bool) {
	rest, found := strings.CutPrefix(v, "go1.")
	if !found {
		return 0, false
	}
	minor, patch, _ := strings.Cut(rest, ".")
	m, err := strconv.Atoi(minor)
	if err != nil {
		return 0, false
	}
	if patch != "" {
		if _, err := strconv.Atoi(patch); err != nil {
			return 0, false
		}
	}
	return m, true
}

// constant evaluates an integer constant of the target's packages, e.g.
// "runtime._KindSpecialFinalizer" (they differ between Go releases).
func (t *Target) constant(name string, fallback int64) int64 {
	u := t.unwinder()
	key := "const " + name
	if v, ok := u.vars[key]; ok {
		return int64(v)
	}
	v, ok, missing := t.releaseConstant(name)
	switch {
	case missing:
		v = fallback
	case !ok:
		v = t.constant1(name, fallback)
	}
	u.vars[key] = uint64(v) // a property of the binary
	return v
}

func (t *Target) constant1(name string, fallback int64) int64 {
	if t.t == nil {
		return fallback
	}
	scope, err := t.globalScope()
	if err != nil {
		return fallback
	}
	v, err := scope.EvalExpression(name, proc.LoadConfig{})
	if err != nil || v.Value == nil || v.Value.Kind() != constant.Int {
		return fallback
	}
	n, ok := constant.Int64Val(v.Value)
	if !ok {
		return fallback
	}
	return n
}
