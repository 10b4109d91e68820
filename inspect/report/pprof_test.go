package report

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/hangtui/hangtui/inspect"
)

// pprofTool is the path of the toolchain's pprof (built on first use):
// run directly, so that killing it ends the web UI too.
var pprofTool = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "tool", "-n", "pprof").Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n pprof: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
})

func writeProfile(t *testing.T, s *inspect.Snapshot) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hang.pb.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePprof(f, s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func goPprof(t *testing.T, args ...string) string {
	t.Helper()
	tool, err := pprofTool()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pprof %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestPprofRoundTrip: the profile parses back (gzipped profile.proto),
// has the runtime's goroutine sample type, counts every goroutine once,
// and groups goroutines with the same stack and labels into one sample.
func TestPprofRoundTrip(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			s := fx.snap()
			var b bytes.Buffer
			if err := WritePprof(&b, s); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b.Bytes(), []byte{0x1f, 0x8b}) {
				t.Fatalf("not gzipped: % x", b.Bytes()[:4])
			}
			p, err := profile.Parse(&b)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.SampleType) != 1 || p.SampleType[0].Type != "goroutine" || p.SampleType[0].Unit != "count" {
				t.Errorf("sample types %v", p.SampleType)
			}
			total := int64(0)
			byVerdict := map[string]int64{}
			for _, smp := range p.Sample {
				total += smp.Value[0]
				if len(smp.Label[PprofVerdict]) != 1 {
					t.Errorf("sample without one verdict: %v", smp.Label)
				}
				byVerdict[smp.Label[PprofVerdict][0]] += smp.Value[0]
			}
			if total != int64(len(s.Goroutines)) {
				t.Errorf("samples count %d goroutines, want %d", total, len(s.Goroutines))
			}
			for v, n := range Summarize(s).ByVerdict {
				if byVerdict[v] != int64(n) {
					t.Errorf("verdict %s: %d in the profile, %d in the snapshot", v, byVerdict[v], n)
				}
			}
			if fx.name == "workers" {
				// 10,000 identical workers: one sample.
				var max int64
				for _, smp := range p.Sample {
					max = maxInt64(max, smp.Value[0])
				}
				if max != 10000 || len(p.Sample) > 20 {
					t.Errorf("%d samples, largest %d: identical goroutines not grouped", len(p.Sample), max)
				}
			}
		})
	}
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// TestPprofGoTool: `go tool pprof` reads the profile: -raw prints each
// sample with hangtui's labels and the goroutine's own, -top with
// -tagfocus=verdict=deadlocked keeps the deadlocked goroutines' functions
// only, and -comments shows what was inspected.
func TestPprofGoTool(t *testing.T) {
	t.Parallel()
	path := writeProfile(t, deadlockSnapshot())

	raw := goPprof(t, "-raw", path)
	for _, want := range []string{
		"PeriodType: goroutine count",
		"goroutine/count[dflt]",
		"verdict:[deadlocked]",
		"wait_reason:[sync.Mutex.Lock]",
		"resource:[mutex:0xc000012388]",
		"holder_of:[mutex:0xc000012340]",
		"op:[transfer]", // the goroutine's own pprof label
		"verdict:[leaked]",
		"resource:[chan:0xc000080060]",
		"main.(*Account).Transfer /home/dev/bank/account.go:31",
		"Comment: hangtui goroutine profile: 3 goroutines deadlocked in 1 cycle",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("pprof -raw lacks %q:\n%s", want, raw)
		}
	}
	// The inlined frames are lines of their caller's location, as in a
	// profile the runtime writes.
	if !strings.Contains(raw, "sync.(*Mutex).Lock /usr/local/go/src/sync/mutex.go:46:0 s=0\n") {
		t.Errorf("inlined frame not in its location:\n%s", raw)
	}

	top := goPprof(t, "-top", "-tagfocus=verdict=deadlocked", path)
	if !strings.Contains(top, "main.(*Account).Transfer") || !strings.Contains(top, "main.main") {
		t.Errorf("-tagfocus=verdict=deadlocked lost the deadlocked goroutines:\n%s", top)
	}
	if strings.Contains(top, "notify") || strings.Contains(top, "Exporter") {
		t.Errorf("-tagfocus=verdict=deadlocked kept other goroutines:\n%s", top)
	}
	if !strings.Contains(top, "Showing nodes accounting for 3, 20.00% of 15 total") {
		t.Errorf("-top counts:\n%s", top)
	}
	leaked := goPprof(t, "-top", "-tagfocus=verdict=leaked", path)
	if !strings.Contains(leaked, "main.(*Bank).notify") || strings.Contains(leaked, "Transfer") {
		t.Errorf("-tagfocus=verdict=leaked:\n%s", leaked)
	}
	tags := goPprof(t, "-tags", path)
	for _, want := range []string{"verdict:", "deadlocked", "wait_reason:", "holder_of:"} {
		if !strings.Contains(tags, want) {
			t.Errorf("pprof -tags lacks %q:\n%s", want, tags)
		}
	}
}

// TestPprofWebUI: `go tool pprof -http` serves the profile: the top table,
// the flame graph and the source view show the deadlocked goroutines'
// functions, and the tag focus in the URL works. (The graph view needs
// Graphviz and is not asked for.)
func TestPprofWebUI(t *testing.T) {
	t.Parallel()
	path := writeProfile(t, deadlockSnapshot())
	tool, err := pprofTool()
	if err != nil {
		t.Fatal(err)
	}
	var base string
	for try := 0; base == "" && try < 5; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(tool, "-no_browser", "-http="+addr, path)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		// Wait for it to serve (or to exit: the port was taken meanwhile).
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			select {
			case <-exited:
				deadline = time.Time{}
				continue
			default:
			}
			if resp, err := http.Get("http://" + addr + "/ui/top"); err == nil {
				resp.Body.Close()
				base = "http://" + addr
				break
			}
		}
		if base == "" {
			t.Logf("pprof -http=%s: %s", addr, out.String())
		}
	}
	if base == "" {
		t.Fatal("pprof's web UI did not start")
	}
	get := func(p string) string {
		t.Helper()
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", p, resp.Status, b)
		}
		return string(b)
	}
	for _, p := range []string{"/ui/top", "/ui/flamegraph", "/ui/source", "/ui/peek"} {
		if body := get(p); !strings.Contains(body, "Transfer") {
			t.Errorf("%s does not show main.(*Account).Transfer", p)
		}
	}
	body := get("/ui/top?tf=verdict%3Dleaked")
	if !strings.Contains(body, "main.(*Bank).notify") || strings.Contains(body, "Transfer") {
		t.Errorf("/ui/top?tf=verdict=leaked does not keep the leaked goroutine only")
	}
}

// TestPprofLabelsUnknown: what a source does not record is "unknown", and a
// goroutine's own label named like one of hangtui's is kept beside it.
func TestPprofLabelsUnknown(t *testing.T) {
	t.Parallel()
	g := &inspect.Goroutine{ID: 7, State: inspect.StateWaiting, Labels: map[string]string{"verdict": "mine", "req": "42"},
		Waits: []inspect.Wait{{Resource: "chan:0x1", Op: inspect.OpRecv}, {Resource: "chan:0x2", Op: inspect.OpRecv}}}
	s := &inspect.Snapshot{Target: inspect.Target{Source: inspect.SourceDump}, Goroutines: []*inspect.Goroutine{g}}
	p, err := Pprof(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Sample) != 1 {
		t.Fatalf("%d samples", len(p.Sample))
	}
	l := p.Sample[0].Label
	want := map[string]string{"verdict": "unknown", "wait_reason": "unknown", "label.verdict": "mine", "req": "42",
		"resource": "chan:0x1,chan:0x2", "state": "waiting"}
	for k, v := range want {
		if len(l[k]) != 1 || l[k][0] != v {
			t.Errorf("label %s = %v, want %q", k, l[k], v)
		}
	}
	if len(p.Sample[0].Location) != 1 || p.Sample[0].Location[0].Line[0].Function.Name != "(no stack)" {
		t.Errorf("goroutine without a stack: %v", p.Sample[0].Location)
	}
	joined := strings.Join(p.Comments, "\n")
	for _, want := range []string{"PID unknown (unknown)", "go version: unknown", "taken at: unknown", "source: dump"} {
		if !strings.Contains(joined, want) {
			t.Errorf("comments lack %q:\n%s", want, joined)
		}
	}
}
