package report

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect"
)

// GroupKey identifies the goroutines that are reported as one entry: the
// same stack (the same sequence of function, file and line), the same
// scheduler state, wait reason and verdict. It is comparable, so the TUI can
// use it as a map key, for example to keep a selection across snapshots.
type GroupKey struct {
	// Verdict shared by the group's goroutines.
	Verdict inspect.Verdict
	// State shared by the group's goroutines.
	State inspect.State
	// WaitReason shared by the group's goroutines ("" when not waiting).
	WaitReason string
	// Stack is the full stack, innermost frame first, one "func file:line"
	// per line.
	Stack string
}

// Group is a set of goroutines that share a GroupKey.
type Group struct {
	// Key is what the group's goroutines have in common.
	Key GroupKey
	// Goroutines are the members, sorted by ID; never empty.
	Goroutines []*inspect.Goroutine
	// Representative is the member with the smallest ID. Its stack is the
	// group's stack; print it once for the whole group.
	Representative *inspect.Goroutine
}

// KeyOf returns the key under which GroupGoroutines files g.
func KeyOf(g *inspect.Goroutine) GroupKey {
	return GroupKey{Verdict: g.Verdict, State: g.State, WaitReason: g.WaitReason, Stack: stackKey(g.Frames)}
}

func stackKey(frames []inspect.Frame) string {
	var b strings.Builder
	for i, f := range frames {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(f.Func)
		b.WriteByte(' ')
		b.WriteString(f.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Line))
	}
	return b.String()
}

// sharedKey identifies a goroutine's group cheaply: the model shares one
// frame slice between goroutines with identical stacks, so at 100,000
// goroutines most keys are found without building the stack text.
type sharedKey struct {
	first      *inspect.Frame
	n          int
	verdict    inspect.Verdict
	state      inspect.State
	waitReason string
}

// Stuck reports whether the group's goroutines can provably never run again.
func (g Group) Stuck() bool { return g.Key.Verdict.Stuck() }

// IDs returns the ids of the group's goroutines, sorted.
func (g Group) IDs() []int64 {
	ids := make([]int64, len(g.Goroutines))
	for i, m := range g.Goroutines {
		ids[i] = m.ID
	}
	return ids
}

// GroupGoroutines groups goroutines with identical stacks, state, wait reason
// and verdict. Groups come in report order: stuck (deadlocked or leaked)
// groups first, then larger groups before smaller ones, then by smallest
// goroutine id. Nil entries are ignored; the input is not modified.
func GroupGoroutines(gs []*inspect.Goroutine) []Group {
	sorted := make([]*inspect.Goroutine, 0, len(gs))
	for _, g := range gs {
		if g != nil {
			sorted = append(sorted, g)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })

	index := map[GroupKey]int{}
	shared := map[sharedKey]int{}
	var groups []Group
	for _, g := range sorted {
		var sk sharedKey
		if len(g.Frames) > 0 {
			sk = sharedKey{&g.Frames[0], len(g.Frames), g.Verdict, g.State, g.WaitReason}
			if i, ok := shared[sk]; ok {
				groups[i].Goroutines = append(groups[i].Goroutines, g)
				continue
			}
		}
		k := KeyOf(g)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, Group{Key: k, Representative: g})
		}
		if sk.first != nil {
			shared[sk] = i
		}
		groups[i].Goroutines = append(groups[i].Goroutines, g)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := groups[i], groups[j]
		if a.Stuck() != b.Stuck() {
			return a.Stuck()
		}
		if len(a.Goroutines) != len(b.Goroutines) {
			return len(a.Goroutines) > len(b.Goroutines)
		}
		return a.Representative.ID < b.Representative.ID
	})
	return groups
}

// verdictCount is how many goroutines have one verdict.
type verdictCount struct {
	Verdict inspect.Verdict
	N       int
}

// countVerdicts returns the non-zero verdict counts, most severe first
// (Verdict.Rank); verdicts this package does not know come last, by name.
func countVerdicts(gs []*inspect.Goroutine) []verdictCount {
	n := map[inspect.Verdict]int{}
	for _, g := range gs {
		if g != nil {
			n[g.Verdict]++
		}
	}
	out := make([]verdictCount, 0, len(n))
	for v, c := range n {
		out = append(out, verdictCount{v, c})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Verdict, out[j].Verdict
		if a.Rank() != b.Rank() {
			return a.Rank() < b.Rank()
		}
		return a < b
	})
	return out
}

// tallyVerdicts is countVerdicts, and how many goroutines are stuck
// (Verdict.Stuck) and how many blocked.
func tallyVerdicts(gs []*inspect.Goroutine) (counts []verdictCount, stuck, blocked int) {
	counts = countVerdicts(gs)
	for _, c := range counts {
		if c.Verdict.Stuck() {
			stuck += c.N
		}
		if c.Verdict == inspect.VerdictBlocked {
			blocked = c.N
		}
	}
	return counts, stuck, blocked
}

// neverRunAgain is "2 goroutines can never run again".
func neverRunAgain(stuck int) string {
	return inspect.Plural(stuck, "goroutine") + " can never run again"
}

// notStuck is the sentence for a snapshot with nothing stuck: "Nothing is
// provably stuck (3 goroutines blocked may still wake)."
func notStuck(blocked int) string {
	if blocked > 0 {
		return "Nothing is provably stuck (" + inspect.Plural(blocked, "goroutine") + " blocked may still wake)."
	}
	return "Nothing is provably stuck."
}
