//go:build linux

package inspect_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestTopThroughput measures what watching costs the watched program
// (HANGTUI_BENCH_TOP=1; HANGTUI_BENCH_TOP_N=1000,10000,100000 by default):
// the throughput fixture's operations per second without hangtui, while
// hangtui top samples it every 100ms, and without again; the samples per
// second, the time the target was stopped per second of watching, and the
// drops. It logs numbers and asserts none (timing assertions are flaky on
// shared machines).
func TestTopThroughput(t *testing.T) {
	if os.Getenv("HANGTUI_BENCH_TOP") == "" {
		t.Skip("set HANGTUI_BENCH_TOP=1 to measure")
	}
	ns := []int{1000, 10000, 100000}
	if s := os.Getenv("HANGTUI_BENCH_TOP_N"); s != "" {
		ns = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			ns = append(ns, n)
		}
	}
	window, rounds := 3*time.Second, 3
	exe := fixture.Build(t, fixture.Default)
	for _, n := range ns {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			p := fixture.Start(t, exe, "throughput", "-n", strconv.Itoa(n), "-timeout", "120s")
			ops := p.Manifest.Addr(t, "ops")
			read := func() uint64 {
				buf := make([]byte, 8)
				local := []unix.Iovec{{Base: &buf[0], Len: 8}}
				remote := []unix.RemoteIovec{{Base: uintptr(ops), Len: 8}}
				if _, err := unix.ProcessVMReadv(p.PID, local, remote, 0); err != nil {
					t.Fatalf("reading the counter: %v", err)
				}
				return binary.LittleEndian.Uint64(buf)
			}
			rate := func(f func()) float64 {
				a, t0 := read(), time.Now()
				f()
				return float64(read()-a) / time.Since(t0).Seconds()
			}
			idle := func() { time.Sleep(window) }
			time.Sleep(time.Second) // warm up

			s, err := inspect.Attach(p.PID)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := s.Snapshot()
			if err != nil {
				s.Close()
				t.Fatal(err)
			}
			cs, err := s.NewSampler(snap, inspect.SamplerOptions{Interval: 100 * time.Millisecond})
			t0 := time.Now()
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			cs.Start(snap.Pause + time.Since(t0))
			// The first samples read every stack; what a long watch costs
			// is the steady state after them.
			for i := 0; i < 3; i++ {
				if err := cs.Sample(); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(500 * time.Millisecond)
			first := cs.Profile()
			var ru0, ru1 unix.Rusage
			var watched, base []float64
			var cpu time.Duration
			var wall time.Duration
			// Unwatched and watched windows alternate: the machine's load
			// changes from second to second.
			for round := 0; round < rounds; round++ {
				base = append(base, rate(idle))
				_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
				w0 := time.Now()
				watched = append(watched, rate(func() {
					tick := time.NewTicker(100 * time.Millisecond)
					defer tick.Stop()
					for end := time.Now().Add(window); time.Now().Before(end); <-tick.C {
						if err := cs.Sample(); err != nil {
							t.Fatal(err)
						}
					}
				}))
				wall += time.Since(w0)
				_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
				cpu += time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			}
			base = append(base, rate(idle))
			cs.Finish()
			prof := cs.Profile()
			samples := prof.Samples + prof.Dropped - first.Samples - first.Dropped
			sum := func(v []float64) (s float64) {
				for _, x := range v {
					s += x
				}
				return s
			}
			kept := sum(watched) / float64(len(watched)) / (sum(base) / float64(len(base)))
			cpuPer := float64(cpu) / float64(time.Millisecond) / float64(max(samples, 1))
			sampleMS := float64(prof.SampleTime-first.SampleTime) / float64(time.Millisecond) / float64(max(samples, 1))
			msg := fmt.Sprintf("n=%d goroutines=%d: %.1f samples/s (%d, %d dropped in all; %.1f ms wall and %.1f ms CPU each, holder passes included: %d, %.0f ms in all); "+
				"paused %.0f ms at the start (names), 0 ms/s while sampling; throughput %.0f ops/s watched vs %.0f unwatched (rounds %.0f / %.0f): %.1f%% kept",
				n, prof.Goroutines, float64(samples)/wall.Seconds(), prof.Samples, prof.Dropped, sampleMS, cpuPer, prof.HolderSamples,
				float64(prof.HolderTime)/float64(time.Millisecond), float64(prof.Paused)/float64(time.Millisecond),
				sum(watched)/float64(len(watched)), sum(base)/float64(len(base)), watched, base, 100*kept)
			t.Log(msg)
			fmt.Fprintln(os.Stderr, msg)
		})
	}
}

// BenchmarkSample measures one sample of the throughput fixture's
// goroutines (HANGTUI_BENCH_TOP_N, default 10000), holder passes off,
// with the CPU time per sample as a metric (wall time on a shared machine
// is mostly waiting for a core).
func BenchmarkSample(b *testing.B) {
	n := 10000
	if s := os.Getenv("HANGTUI_BENCH_TOP_N"); s != "" {
		n, _ = strconv.Atoi(strings.Split(s, ",")[0])
	}
	exe := fixture.Build(b, fixture.Default)
	p := fixture.Start(b, exe, "throughput", "-n", strconv.Itoa(n), "-timeout", "120s")
	cs, err := inspect.OpenSampler(p.PID, inspect.SamplerOptions{Interval: 100 * time.Millisecond, HolderDuty: -1})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_ = cs.Sample()
	}
	var ru0, ru1 unix.Rusage
	b.ResetTimer()
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	for i := 0; i < b.N; i++ {
		if err := cs.Sample(); err != nil {
			b.Fatal(err)
		}
	}
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/sample")
	if prof := cs.Profile(); prof.Dropped > 0 {
		b.Logf("%d of %d samples dropped", prof.Dropped, prof.Samples+prof.Dropped)
	}
}
