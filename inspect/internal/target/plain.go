package target

import "github.com/go-delve/delve/pkg/proc"

// PlainDelveStacks reads every goroutine the way a debugger front-end does
// with Delve's library: list them (GoroutinesInfo) and unwind each one
// (GoroutineStacktrace). It is the baseline the snapshot benchmarks compare
// with (bench/snapshot.sh); hangtui itself never does this. It returns the
// number of goroutines and of frames read.
func (t *Target) PlainDelveStacks() (goroutines, frames int, err error) {
	t.t.ClearCaches()
	gs, _, err := proc.GoroutinesInfo(t.t, 0, 0)
	if err != nil {
		return 0, 0, err
	}
	for _, g := range gs {
		if g.Unreadable != nil {
			continue
		}
		st, err := proc.GoroutineStacktrace(t.t, g, MaxFrames, 0)
		if err != nil {
			continue
		}
		goroutines++
		frames += len(st)
	}
	return goroutines, frames, nil
}
