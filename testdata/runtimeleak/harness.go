// Command runtimeleak runs the Go toolchain's own goroutine leak test
// programs ($GOROOT/src/runtime/testdata/testgoroutineleakprofile: simple.go,
// commonpatterns.go, stresstests.go) for hangtui's conformance tests. Those
// files are copied beside this one at test time (they are not kept in this
// repository); this file replaces the runtime's main.go, which runs one test
// function and exits. Here the process stays alive once the test function
// has returned and its goroutines have settled, so that hangtui can attach.
//
// Usage:
//
//	runtimeleak TEST
//
// It runs TEST (registered by the copied files), waits until the other
// goroutines have stopped changing, and prints on stdout, after whatever the
// test wrote there (the runtime's goroutineleak profile at the moment the
// test chose), one line:
//
//	HANGTUI-RUNTIMELEAK {"test":...,"pid":...,"go":...,"settled":true,"leakprofile":true}
//
// Then it reads commands on stdin, one per line:
//
//	leakprofile PATH   write the goroutineleak profile (debug=2) to PATH; answers "ok" or "error: ..."
//
// and otherwise sleeps (a sleeping main goroutine is never a leak candidate).
// leakprofile is false when the toolchain has no goroutineleak profile (Go
// 1.26 without GOEXPERIMENT=goroutineleakprofile, older releases): the test
// functions then write an empty profile of the same name.
//lint:file-ignore U1000 register, registerInit and yieldCount are used by the runtime's test programs, copied beside this file at test time.

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

// yieldCount is the number of times the test functions yield to let the
// leaking goroutines get stuck (as in the runtime's main.go).
const yieldCount = 10

var cmds = map[string]func(){}

func register(name string, f func()) {
	if cmds[name] != nil {
		panic("duplicate registration: " + name)
	}
	cmds[name] = f
}

func registerInit(name string, f func()) {
	if len(os.Args) >= 2 && os.Args[1] == name {
		f()
	}
}

// Marker starts the line that says the test has settled.
const Marker = "HANGTUI-RUNTIMELEAK "

type ready struct {
	Test        string `json:"test"`
	PID         int    `json:"pid"`
	Go          string `json:"go"`
	Settled     bool   `json:"settled"`
	LeakProfile bool   `json:"leakprofile"`
	Goroutines  int    `json:"goroutines"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: runtimeleak TEST | runtimeleak -list")
		os.Exit(2)
	}
	if os.Args[1] == "-list" {
		var names []string
		for name := range cmds {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Println(name)
		}
		return
	}
	f := cmds[os.Args[1]]
	if f == nil {
		fmt.Fprintln(os.Stderr, "unknown test:", os.Args[1])
		os.Exit(2)
	}
	real := pprof.Lookup("goroutineleak") != nil
	if !real {
		// The test functions call WriteTo on it: give them an empty one.
		pprof.NewProfile("goroutineleak")
	}
	f()
	settled := settle(20 * time.Second)
	line, _ := json.Marshal(ready{Test: os.Args[1], PID: os.Getpid(), Go: runtime.Version(),
		Settled: settled, LeakProfile: real, Goroutines: runtime.NumGoroutine()})
	fmt.Printf("\n%s%s\n", Marker, line)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "leakprofile":
			if err := writeLeakProfile(arg); err != nil {
				fmt.Println("error:", err)
			} else {
				fmt.Println("ok")
			}
		default:
			fmt.Println("error: unknown command", cmd)
		}
	}
	// Stdin closed: keep the process alive until killed.
	for {
		time.Sleep(time.Hour)
	}
}

func writeLeakProfile(path string) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := pprof.Lookup("goroutineleak").WriteTo(f, 2); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// settle waits until every other goroutine is parked and the set of
// goroutines with their states has stayed the same for a while.
func settle(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	buf := make([]byte, 1<<20)
	last, same := "", 0
	for time.Now().Before(deadline) {
		n := runtime.Stack(buf, true)
		if n == len(buf) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		states, busy := headers(string(buf[:n]))
		if !busy && states == last {
			same++
			if same >= 20 {
				return true
			}
		} else {
			same = 0
		}
		last = states
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// headers returns the "goroutine N [state]" lines of a dump other than the
// caller's own (the first), and whether any of them is running or runnable.
func headers(dump string) (string, bool) {
	var b strings.Builder
	busy := false
	for i, rec := range strings.Split(dump, "\n\n") {
		header, _, _ := strings.Cut(rec, "\n")
		if i == 0 || !strings.HasPrefix(header, "goroutine ") {
			continue
		}
		// Drop durations (", 2 minutes") that change while parked.
		state := header
		if j := strings.Index(state, ", "); j >= 0 {
			if k := strings.Index(state, "]:"); k > j {
				state = state[:j] + state[k:]
			}
		}
		if strings.Contains(state, "[running") || strings.Contains(state, "[runnable") {
			busy = true
		}
		b.WriteString(state)
		b.WriteByte('\n')
	}
	return b.String(), busy
}
