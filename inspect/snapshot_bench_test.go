package inspect_test

import (
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/internal/target"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/fixture"
)

// Full snapshots of the fixture's "many" scenario (stacks 3..33 frames deep,
// blocked on mutexes, channels, selects, WaitGroups, Conds and sleeps)
// against Delve's plain path on the same process. bench/snapshot.sh gives
// the same comparison with peak memory and pause per path.
//
//	go test ./inspect -run '^$' -bench Snapshot10k -benchtime 5x
func BenchmarkSnapshot10k(b *testing.B)  { benchSnapshot(b, 10_000) }
func BenchmarkSnapshot100k(b *testing.B) { benchSnapshot(b, 100_000) }

// BenchmarkShapes does the same on every shape of testdata/benchgen, the
// generator of server-shaped hung processes (deep recursion, varied
// stacks, locks held deep in stacks, many resources, labels, finalizer
// queues, a big heap): HANGTUI_BENCH_N goroutines (default 10,000),
// HANGTUI_BENCH_SHAPES (default all but heap), HANGTUI_BENCH_SKIP_DELVE=1
// for hangtui alone. bench/shapes.sh gives the end-to-end numbers.
//
//	go test ./inspect -run '^$' -bench Shapes -benchtime 3x
func BenchmarkShapes(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("HANGTUI_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	shapes := strings.Fields(os.Getenv("HANGTUI_BENCH_SHAPES"))
	if len(shapes) == 0 {
		shapes = []string{"shards", "varied", "deep", "holders", "chans", "labels", "finq", "mixed"}
	}
	exe := fixture.BuildBenchgen(b)
	for _, shape := range shapes {
		b.Run(shape, func(b *testing.B) {
			p := fixture.Start(b, exe, "-shape", shape, "-n", strconv.Itoa(n))
			benchProcess(b, p, n)
		})
	}
}

func benchSnapshot(b *testing.B, n int) {
	exe := fixture.Build(b, fixture.Default)
	p := fixture.Start(b, exe, "many", "-n", strconv.Itoa(n), "-timeout", "10m")
	benchProcess(b, p, n)
}

func benchProcess(b *testing.B, p *fixture.Process, n int) {
	live := func(b *testing.B, keep any) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MB-live")
		runtime.KeepAlive(keep)
	}
	b.Run("hangtui", func(b *testing.B) {
		s, err := inspect.Attach(p.PID)
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				b.Error(err)
			}
			fixture.AssertRunning(b, p.PID)
		}()
		// The first snapshot fills the caches that only depend on the
		// binary (symbols, layouts): reported on its own.
		t0 := time.Now()
		if _, err := s.Snapshot(); err != nil {
			b.Fatal(err)
		}
		cold := time.Since(t0)
		b.ReportAllocs()
		b.ResetTimer()
		var snap *inspect.Snapshot
		var paused time.Duration
		for i := 0; i < b.N; i++ {
			// Like a live view: the target runs between snapshots, and
			// each one stops it again (that stop is in the time).
			b.StopTimer()
			if err := s.Resume(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			b.StartTimer()
			snap = nil
			if snap, err = s.Snapshot(); err != nil || len(snap.Goroutines) < n {
				b.Fatalf("snapshot: %v", err)
			}
			paused += snap.Pause
		}
		b.StopTimer()
		b.ReportMetric(float64(paused.Microseconds())/1000/float64(b.N), "pause-ms/op")
		b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms")
		live(b, snap)
	})
	b.Run("hangtui+json", func(b *testing.B) {
		s, err := inspect.Attach(p.PID)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		snap, err := s.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := report.WriteJSON(io.Discard, snap); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delve", func(b *testing.B) {
		if os.Getenv("HANGTUI_BENCH_SKIP_DELVE") != "" {
			b.Skip("HANGTUI_BENCH_SKIP_DELVE is set")
		}
		t, err := target.AttachDelve(p.PID)
		if err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := t.Detach(); err != nil {
				b.Error(err)
			}
			fixture.AssertRunning(b, p.PID)
		}()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if gs, _, err := t.PlainDelveStacks(); err != nil || gs < n {
				b.Fatalf("%d goroutines: %v", gs, err)
			}
		}
	})
}
