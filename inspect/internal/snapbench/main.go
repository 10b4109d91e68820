// Command snapbench times one way of reading a hung process, for
// bench/snapshot.sh: hangtui's full snapshot, or the plain Delve path
// (list the goroutines, unwind each stack) that a debugger front-end takes.
// It prints one JSON line; run it once per mode against the same process.
//
//	snapbench -mode hangtui -pid PID [-snapshots 3] [-json FILE]
//	snapbench -mode delve -pid PID
//	snapbench -table HANGTUI.json DELVE.json   # the comparison, for people
//
// Wall times exclude attaching (reported as attach_ms); peak_rss_mb is the
// process's maximum resident set, attach included.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/internal/target"
	"github.com/hangtui/hangtui/inspect/report"
	"github.com/hangtui/hangtui/internal/duty"
)

type result struct {
	Mode       string  `json:"mode"`
	Goroutines int     `json:"goroutines"`
	AttachMS   float64 `json:"attach_ms"`
	// SnapshotMS is the first snapshot (cold caches), WarmMS the fastest
	// of the following ones (the live view's refresh, the target resumed
	// in between).
	SnapshotMS float64 `json:"snapshot_ms"`
	WarmMS     float64 `json:"warm_ms,omitempty"`
	// PauseMS is how long the target was stopped for the first snapshot
	// (hangtui) or for the whole read (Delve); WarmPauseMS for a refresh.
	PauseMS     float64 `json:"pause_ms"`
	WarmPauseMS float64 `json:"warm_pause_ms,omitempty"`
	// CPUMS and WarmCPUMS are the CPU time (user+system, all threads)
	// hangtui used for the snapshot: on a busy machine, wall time also
	// counts waiting for a core.
	CPUMS     float64 `json:"cpu_ms"`
	WarmCPUMS float64 `json:"warm_cpu_ms,omitempty"`
	// Faults and WarmFaults are the page faults this process took during
	// the first snapshot and the fastest refresh: each costs several µs
	// under a hypervisor.
	Faults       int64 `json:"faults"`
	WarmFaults   int64 `json:"warm_faults,omitempty"`
	AttachFaults int64 `json:"attach_faults"`
	// WarmAllocMB is what the fastest refresh allocated.
	WarmAllocMB float64 `json:"warm_alloc_mb,omitempty"`
	// LivePausedPct is the share of wall time the target was stopped while
	// refreshed every -interval for -live (what the live view does).
	LivePausedPct float64 `json:"live_paused_pct,omitempty"`
	JSONMS        float64 `json:"json_ms,omitempty"`
	JSONMB        float64 `json:"json_mb,omitempty"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func main() {
	pid := flag.Int("pid", 0, "process to read")
	mode := flag.String("mode", "hangtui", "hangtui or delve")
	n := flag.Int("snapshots", 3, "snapshots to take (hangtui): the first is cold")
	jsonOut := flag.String("json", "", "write the first snapshot's JSON report here (default: discard)")
	table := flag.Bool("table", false, "print the comparison of two result files")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the warm snapshots here")
	coldProf := flag.String("coldprofile", "", "write a CPU profile of the first (cold) snapshot here")
	memProf := flag.String("memprofile", "", "write an allocation profile here at the end")
	live := flag.Duration("live", 0, "then refresh every -interval for this long and report the paused share")
	interval := flag.Duration("interval", time.Second, "refresh interval for -live")
	flag.Parse()
	if *table {
		if err := printTable(flag.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "snapbench:", err)
			os.Exit(1)
		}
		return
	}
	if *pid <= 0 {
		fmt.Fprintln(os.Stderr, "snapbench: -pid is required")
		os.Exit(2)
	}
	var r result
	var err error
	switch *mode {
	case "hangtui":
		r, err = runHangtui(*pid, *n, *jsonOut, *prof, *coldProf, *live, *interval)
	case "delve":
		r, err = runDelve(*pid)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapbench:", err)
		os.Exit(1)
	}
	if *memProf != "" {
		if f, err := os.Create(*memProf); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.PeakRSSMB = float64(ru.Maxrss) / 1024
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

func runHangtui(pid, n int, jsonOut, prof, coldProf string, live, interval time.Duration) (result, error) {
	r := result{Mode: "hangtui"}
	start, f0 := time.Now(), minorFaults()
	s, err := inspect.Attach(pid)
	if err != nil {
		return r, err
	}
	defer s.Close()
	r.AttachMS = ms(time.Since(start))
	r.AttachFaults = minorFaults() - f0
	var coldStop func()
	for i := 0; i < n; i++ {
		if i > 0 {
			// A live view lets the target run between refreshes.
			if err := s.Resume(); err != nil {
				return r, err
			}
			time.Sleep(200 * time.Millisecond)
		}
		if i == 1 && prof != "" {
			stop, err := startProfile(prof)
			if err != nil {
				return r, err
			}
			defer stop()
		}
		if i == 0 && coldProf != "" {
			stop, err := startProfile(coldProf)
			if err != nil {
				return r, err
			}
			defer stop() // stopped after the cold snapshot, below
			coldStop = stop
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t0, c0, f0 := time.Now(), cpuTime(), minorFaults()
		snap, err := s.Snapshot()
		if err != nil {
			return r, err
		}
		if coldStop != nil {
			coldStop()
			coldStop = nil
		}
		d, c, faults := time.Since(t0), ms(cpuTime()-c0), minorFaults()-f0
		runtime.ReadMemStats(&m1)
		if i == 0 {
			r.SnapshotMS, r.PauseMS, r.CPUMS, r.Faults = ms(d), ms(snap.Pause), c, faults
			r.Goroutines = len(snap.Goroutines)
			var w io.Writer = io.Discard
			if jsonOut != "" {
				f, err := os.Create(jsonOut)
				if err != nil {
					return r, err
				}
				defer f.Close()
				w = f
			}
			cw := &countWriter{w: w}
			t1 := time.Now()
			if err := report.WriteJSON(cw, snap); err != nil {
				return r, err
			}
			r.JSONMS, r.JSONMB = ms(time.Since(t1)), float64(cw.n)/(1<<20)
		} else if r.WarmMS == 0 || ms(d) < r.WarmMS {
			r.WarmMS, r.WarmPauseMS, r.WarmCPUMS, r.WarmFaults = ms(d), ms(snap.Pause), c, faults
			r.WarmAllocMB = float64(m1.TotalAlloc-m0.TotalAlloc) / (1 << 20)
		}
	}
	if live > 0 {
		// Like the live view (ui/engine.go): the target runs, is stopped
		// for a snapshot every interval — or longer, as internal/duty
		// says, so that it is paused at most a tenth of the time — and
		// runs again.
		var paused time.Duration
		// The last pause before: what the live view would wait on.
		last := time.Duration(r.WarmPauseMS * float64(time.Millisecond))
		if r.WarmPauseMS == 0 {
			last = time.Duration(r.PauseMS * float64(time.Millisecond))
		}
		var cycle duty.Cycle
		wait := cycle.Next(0, last, interval)
		start := time.Now()
		for time.Since(start) < live {
			if err := s.Resume(); err != nil {
				return r, err
			}
			ranFrom := time.Now()
			time.Sleep(wait)
			ran := time.Since(ranFrom)
			snap, err := s.Snapshot()
			if err != nil {
				return r, err
			}
			paused += snap.Pause
			wait = cycle.Next(ran, snap.Pause, interval)
		}
		r.LivePausedPct = 100 * paused.Seconds() / time.Since(start).Seconds()
	}
	return r, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

func runDelve(pid int) (result, error) {
	r := result{Mode: "delve"}
	start := time.Now()
	t, err := target.AttachDelve(pid)
	if err != nil {
		return r, err
	}
	defer t.Detach()
	r.AttachMS = ms(time.Since(start))
	t0, c0 := time.Now(), cpuTime()
	gs, _, err := t.PlainDelveStacks()
	if err != nil {
		return r, err
	}
	r.SnapshotMS, r.CPUMS = ms(time.Since(t0)), ms(cpuTime()-c0)
	r.PauseMS = ms(time.Since(start)) // stopped from attach to detach
	r.Goroutines = gs
	return r, nil
}

func printTable(files []string) error {
	if len(files) != 2 {
		return fmt.Errorf("-table needs the hangtui and the delve result files")
	}
	var rs [2]result
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &rs[i]); err != nil {
			return fmt.Errorf("%s: %v", f, err)
		}
	}
	h, d := rs[0], rs[1]
	fmt.Printf("%-8s %10s %10s %10s %10s %10s %10s %10s %10s %10s\n", "", "goroutines", "attach ms", "read ms", "cpu ms", "warm ms", "warm cpu", "pause ms", "warm pause", "peak MB")
	fmt.Printf("%-8s %10d %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f %10.0f\n", "hangtui", h.Goroutines, h.AttachMS, h.SnapshotMS, h.CPUMS, h.WarmMS, h.WarmCPUMS, h.PauseMS, h.WarmPauseMS, h.PeakRSSMB)
	fmt.Printf("%-8s %10d %10.0f %10.0f %10.0f %10s %10s %10.0f %10s %10.0f\n", "delve", d.Goroutines, d.AttachMS, d.SnapshotMS, d.CPUMS, "-", "-", d.PauseMS, "-", d.PeakRSSMB)
	fmt.Printf("hangtui's full snapshot (stacks, waits, holders, graph, verdicts) vs Delve's stacks alone:\n")
	fmt.Printf("  %.1fx faster (cold), %.1fx (warm), %.1fx less memory, target paused %.1fx less\n",
		d.SnapshotMS/h.SnapshotMS, d.SnapshotMS/max(h.WarmMS, 0.001), d.PeakRSSMB/h.PeakRSSMB, d.PauseMS/h.PauseMS)
	fmt.Printf("  JSON report (not in the times above): %.0f ms, %.1f MB\n", h.JSONMS, h.JSONMB)
	fmt.Printf("  hangtui's page faults: attach %d, first snapshot %d, refresh %d (HANGTUI_NO_PREWARM=1 to compare)\n", h.AttachFaults, h.Faults, h.WarmFaults)
	if h.LivePausedPct > 0 {
		fmt.Printf("  live view (refresh every -interval, or longer as internal/duty says): target paused %.1f%% of the time\n", h.LivePausedPct)
	}
	return nil
}

// cpuTime is the CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startProfile starts a CPU profile into path; the returned func stops it
// (calling it again does nothing).
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	done := false
	return func() {
		if !done {
			done = true
			pprof.StopCPUProfile()
			f.Close()
		}
	}, nil
}

// minorFaults is the page faults this process has taken so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Minflt
}
