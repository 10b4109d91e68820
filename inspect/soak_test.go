package inspect_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// Soak test bounds: loopback only, bounded in count and in time.
const (
	soakCycles      = 200                  // attach, snapshot, detach
	soakClients     = 4                    // concurrent HTTP clients
	soakMaxRequests = 100_000              // per client
	soakTimeLimit   = 8 * time.Minute      // stop attaching after this long (a loaded machine)
	soakPace        = 2 * time.Millisecond // between a client's requests
)

// loadStats is what one load client saw.
type loadStats struct {
	requests, failures int
	worst              time.Duration
	firstErr           string
}

// loadClient sends GETs to the fixture's server until stop is closed,
// checking every answer. Half the clients reuse connections, half open one
// per request, so both reads and accepts get interrupted by the attaches.
func loadClient(addr string, n int, stop <-chan struct{}, st *loadStats) {
	c := &http.Client{
		Timeout:   time.Minute, // far above any pause: a timeout is a failure
		Transport: &http.Transport{DisableKeepAlives: n%2 == 1, MaxIdleConnsPerHost: 1},
	}
	defer c.CloseIdleConnections()
	path := fmt.Sprintf("/client%d", n)
	for st.requests < soakMaxRequests {
		select {
		case <-stop:
			return
		default:
		}
		start := time.Now()
		err := get(c, "http://"+addr+path, "ok "+path+" ")
		if d := time.Since(start); d > st.worst {
			st.worst = d
		}
		st.requests++
		if err != nil {
			st.failures++
			if st.firstErr == "" {
				st.firstErr = err.Error()
			}
		}
		time.Sleep(soakPace)
	}
}

func get(c *http.Client, url, wantPrefix string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), wantPrefix) {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return nil
}

// TestSoakHTTPServer is the proof that hangtui never harms its target: a
// real net/http server answers a steady client load while hangtui
// attaches, takes a full snapshot and detaches 200 times. No request may
// fail, the server must be running and untraced after every detach, and
// no snapshot of this healthy server may claim a deadlock or a leak.
func TestSoakHTTPServer(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "http-server")
	if p.Manifest.Listen == "" {
		t.Fatal("http-server manifest has no addr")
	}

	want := soakCycles
	if testing.Short() {
		want = 5 // -short (the -race run in CI, where Delve is ~8x slower): the full soak runs in the plain run
	}
	stop := make(chan struct{})
	stats := make([]loadStats, soakClients)
	var wg sync.WaitGroup
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadClient(p.Manifest.Listen, i, stop, &stats[i])
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	var (
		cycles     int
		worstPause time.Duration
		worstCycle time.Duration
		goroutines int
	)
	deadline := time.Now().Add(soakTimeLimit)
	for cycles < want && time.Now().Before(deadline) {
		start := time.Now()
		s, err := inspect.Attach(p.PID)
		if err != nil {
			t.Fatalf("cycle %d: attach: %v", cycles, err)
		}
		snap, err := s.Snapshot()
		if cerr := s.Close(); cerr != nil {
			t.Fatalf("cycle %d: detach: %v", cycles, cerr)
		}
		if d := time.Since(start); d > worstCycle {
			worstCycle = d
		}
		if err != nil {
			t.Fatalf("cycle %d: snapshot: %v", cycles, err)
		}
		fixture.AssertRunning(t, p.PID)
		cycles++
		worstPause = max(worstPause, snap.Pause)
		goroutines = max(goroutines, len(snap.Goroutines))
		for _, g := range snap.Goroutines {
			if g.Verdict == inspect.VerdictDeadlocked || g.Verdict == inspect.VerdictLeaked {
				t.Errorf("cycle %d: goroutine %d of a healthy server is %s: %s", cycles, g.ID, g.Verdict, g.Why)
			}
		}
	}
	stopLoad()

	var total loadStats
	for _, st := range stats {
		total.requests += st.requests
		total.failures += st.failures
		total.worst = max(total.worst, st.worst)
		if total.firstErr == "" {
			total.firstErr = st.firstErr
		}
	}
	summary := fmt.Sprintf("soak: %d attach/snapshot/detach cycles, %d requests from %d clients, %d failed; worst pause %d ms, worst cycle %d ms, worst request latency %d ms, up to %d goroutines",
		cycles, total.requests, soakClients, total.failures, worstPause.Milliseconds(), worstCycle.Milliseconds(), total.worst.Milliseconds(), goroutines)
	t.Log(summary)
	if path := os.Getenv("HANGTUI_SOAK_REPORT"); path != "" {
		// CI prints this file: go test hides the logs of passing tests.
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s (%s)\n", summary, map[bool]string{true: "-short", false: "full"}[testing.Short()])
			f.Close()
		}
	}
	if cycles < want {
		t.Errorf("only %d of %d cycles within %v", cycles, want, soakTimeLimit)
	}
	if total.failures != 0 {
		t.Errorf("%d of %d requests failed; first: %s", total.failures, total.requests, total.firstErr)
	}
	if total.requests < want {
		t.Errorf("only %d requests: the load did not run alongside the attaches", total.requests)
	}
	fixture.AssertRunning(t, p.PID)
	assertTextUnchanged(t, p.PID, exe)
	// The server still answers after the last detach.
	if err := get(&http.Client{Timeout: 10 * time.Second}, "http://"+p.Manifest.Listen+"/after", "ok /after "); err != nil {
		t.Errorf("server after the soak: %v", err)
	}
}

// assertTextUnchanged compares the target's code in memory with the
// executable's .text: no breakpoint (or anything else) was left behind.
func assertTextUnchanged(t *testing.T, pid int, exe string) {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	if text == nil || f.Type != elf.ET_EXEC {
		t.Fatalf("%s: want a non-PIE executable with .text", exe)
	}
	want, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	got := make([]byte, len(want))
	if _, err := mem.ReadAt(got, int64(text.Addr)); err != nil {
		t.Fatalf("reading the target's text: %v", err)
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("target's text differs from %s at %#x: %#x, want %#x", exe, text.Addr+uint64(i), got[i], want[i])
			}
		}
	}
}

// TestTextUntouched: after attaches, snapshots and detaches the target's
// code is byte for byte the executable's (Delve's own breakpoints are
// removed at once; hangtui sets none).
func TestTextUntouched(t *testing.T) {
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "abba")
	for range 3 {
		snapshotOf(t, p)
	}
	assertTextUnchanged(t, p.PID, exe)
}
