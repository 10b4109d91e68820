package report

import (
	"testing"

	"github.com/hangtui/hangtui/inspect"
)

// Goroutines share frame slices in the model, but equal stacks in distinct
// slices (or a shared slice with a different verdict) must group by content.
func TestGroupGoroutinesSharedStacks(t *testing.T) {
	t.Parallel()
	shared := mutexLockFrames()
	copyOf := append([]inspect.Frame(nil), shared...)
	g := func(id int64, frames []inspect.Frame, v inspect.Verdict) *inspect.Goroutine {
		return &inspect.Goroutine{ID: id, State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock", Frames: frames, Verdict: v}
	}
	groups := GroupGoroutines([]*inspect.Goroutine{
		g(1, shared, inspect.VerdictBlocked), g(2, copyOf, inspect.VerdictBlocked), g(3, shared, inspect.VerdictBlocked),
		g(4, shared, inspect.VerdictLeaked), g(5, shared[:3], inspect.VerdictBlocked), g(6, nil, inspect.VerdictBlocked),
	})
	var got [][]int64
	for _, grp := range groups {
		got = append(got, grp.IDs())
		if grp.Key != KeyOf(grp.Representative) {
			t.Errorf("group %v: key differs from KeyOf its representative", grp.IDs())
		}
	}
	want := [][]int64{{4}, {1, 2, 3}, {5}, {6}}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("groups %v, want %v", got, want)
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("groups %v, want %v", got, want)
			}
		}
	}
}

// BenchmarkGroupGoroutines100k groups 100,000 goroutines over 310 stack
// shapes 3..33 frames deep, as the TUI does after every refresh.
func BenchmarkGroupGoroutines100k(b *testing.B) {
	var shapes [][]inspect.Frame
	for depth := 3; depth <= 33; depth++ {
		for leaf := 0; leaf < 10; leaf++ {
			fs := mutexLockFrames()
			for d := 0; d < depth; d++ {
				fs = append(fs, app("main.descend", "main.go", 10+leaf*100+d%3))
			}
			shapes = append(shapes, fs)
		}
	}
	gs := make([]*inspect.Goroutine, 100_000)
	for i := range gs {
		gs[i] = &inspect.Goroutine{ID: int64(i + 1), State: inspect.StateWaiting, WaitReason: "sync.Mutex.Lock",
			Frames: shapes[i%len(shapes)], Verdict: inspect.VerdictBlocked}
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if n := len(GroupGoroutines(gs)); n != len(shapes) {
			b.Fatalf("%d groups", n)
		}
	}
}
