package wakers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The program these tests analyse: channels and locks in package
// variables and struct fields, reached directly, through parameters and
// through a struct pointer; a reflective call; code before and after the
// point main is stopped at.
const testProgram = `package main

import (
	"reflect"
	"sync"
	"time"
)

var (
	a     = make(chan int)
	b     = make(chan int)
	mu    sync.Mutex
	other sync.Mutex
	wg    sync.WaitGroup
	cond  = sync.NewCond(&mu)
)

type box struct {
	mu sync.Mutex
	ch chan string
}

var bx = &box{ch: make(chan string)}

func sendA()                { a <- 1 }
func sendB()                { b <- 1 }
func viaParam(c chan int)   { c <- 2 }
func unlockMu()             { mu.Unlock() }
func unlockOther()          { other.Unlock() }
func boxSend(x *box)        { x.ch <- "x" }
func boxUnlock(x *box)      { x.mu.Unlock() }
func done()                 { wg.Done() }
func grow()                 { wg.Add(1) }
func signal()               { cond.Signal() }
func callsReflect(f func()) { reflect.ValueOf(f).Call(nil) }

func main() {
	go viaParam(b)
	go boxSend(bx)
	go boxUnlock(bx)
	go unlockOther()
	go done()
	go grow()
	go signal()
	go callsReflect(sendB)
	before()
	time.Sleep(time.Hour) // MAIN STOPS HERE
	after()
}

func before() { sendA() }
func after()  { unlockMu() }
`

var (
	testOnce sync.Once
	testProg *Program
	testDir  string
	testErr  error
)

// loadTest builds testProgram in a module of its own and loads it.
func loadTest(t *testing.T) (*Program, string) {
	t.Helper()
	testOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wakers-test")
		if err != nil {
			testErr = err
			return
		}
		testDir = dir
		write := func(name, s string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
				testErr = err
			}
		}
		write("go.mod", "module wtest\n\ngo 1.22\n")
		write("main.go", testProgram)
		cmd := exec.Command("go", "build", "-o", "prog", ".")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			testErr = err
			t.Logf("%s", out)
			return
		}
		testProg, testErr = Load(context.Background(), Config{Exe: filepath.Join(dir, "prog")})
	})
	if testErr != nil {
		t.Fatal(testErr)
	}
	return testProg, testDir
}

// sitesIn names the functions (short) of the non-reflection wakers.
func sitesIn(ws []*Site) []string {
	var out []string
	for _, s := range ws {
		if !s.Reflection {
			out = append(out, strings.TrimPrefix(s.Func, "main."))
		}
	}
	return out
}

func TestWakersByIdentity(t *testing.T) {
	p, _ := loadTest(t)
	cases := []struct {
		kind, name, op string
		want           []string
	}{
		{"chan", "main.a", "recv", []string{"sendA"}},
		{"chan", "main.b", "recv", []string{"sendB", "viaParam"}}, // viaParam: b passed as c
		{"chan", "main.box.ch", "recv", []string{"boxSend"}},
		{"mutex", "main.mu", "lock", []string{"unlockMu"}}, // not other; Cond.Wait's c.L.Unlock only if reached (not here)
		{"mutex", "main.other", "lock", []string{"unlockOther"}},
		{"mutex", "main.box.mu", "lock", []string{"boxUnlock"}},
		{"waitgroup", "main.wg", "wait", []string{"done"}}, // Add(1) cannot wake Wait
		{"cond", "main.cond", "wait", []string{"signal"}},
	}
	for _, c := range cases {
		r, why := p.Resource(c.kind, c.name, "")
		if r == nil {
			t.Errorf("%s %s: not identified: %s", c.kind, c.name, why)
			continue
		}
		got := sitesIn(r.Wakers(c.op))
		// sync.Cond.Wait unlocks c.L: a waker of every mutex a Cond
		// may hold (here mu, through NewCond).
		if c.name == "main.mu" {
			var keep []string
			for _, g := range got {
				if g != "sync.(*Cond).Wait" {
					keep = append(keep, g)
				}
			}
			got = keep
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s %s (%s): wakers %v, want %v", c.kind, c.name, c.op, got, c.want)
		}
	}
	// Known only by its element type: every channel of it.
	r, why := p.Resource("chan", "", "int")
	if r == nil {
		t.Fatalf("chan int: %s", why)
	}
	var mine []string
	for _, f := range sitesIn(r.Wakers("recv")) {
		if !strings.Contains(f, ".") { // the runtime has chan int sends too
			mine = append(mine, f)
		}
	}
	if strings.Join(mine, " ") != "sendA sendB viaParam" {
		t.Errorf("chan int by type: %v", mine)
	}
	if r, _ := p.Resource("mutex", "", ""); r != nil {
		t.Errorf("an unnamed mutex was identified")
	}
}

func TestReachFromFrames(t *testing.T) {
	p, dir := loadTest(t)
	file := filepath.Join(dir, "main.go")
	line := 0
	for i, l := range strings.Split(testProgram, "\n") {
		if strings.Contains(l, "MAIN STOPS HERE") {
			line = i + 1
		}
	}
	r := p.NewReach()
	r.AddStack([]Frame{{Func: "time.Sleep", File: "/x/runtime/time.go", Line: 1}, {Func: "main.main", File: file, Line: line}}, "main")
	if b := r.Blocker(); b != "" {
		t.Fatalf("blocker: %s", b)
	}
	reached := func(kind, name, op string) []string {
		res, _ := p.Resource(kind, name, "")
		var out []string
		for _, s := range res.Wakers(op) {
			if ok, _ := r.Reached(s); ok && !s.Reflection {
				out = append(out, strings.TrimPrefix(s.Func, "main."))
			}
		}
		return out
	}
	// main is past before() (sendA) and the go statements: only after()
	// (unlockMu) is ahead of it.
	if got := reached("chan", "main.a", "recv"); len(got) != 0 {
		t.Errorf("main.a: reached %v, want nothing (sendA was called before the stop)", got)
	}
	if got := reached("mutex", "main.mu", "lock"); strings.Join(got, " ") != "unlockMu" {
		t.Errorf("main.mu: reached %v, want unlockMu", got)
	}
	// A goroutine in callsReflect: reflection, no proof.
	r2 := p.NewReach()
	r2.AddStack([]Frame{{Func: "main.callsReflect", File: file, Line: lineOf("func callsReflect")}}, "g")
	if b := r2.Blocker(); !strings.Contains(b, "reflect") {
		t.Errorf("blocker %q, want reflection", b)
	}
	// A frame not in the source: no proof.
	r3 := p.NewReach()
	r3.AddStack([]Frame{{Func: "wtest/other.f", File: "/nowhere/f.go", Line: 3}}, "g")
	if b := r3.Blocker(); !strings.Contains(b, "not in the analysed source") {
		t.Errorf("blocker %q, want a frame not in the source", b)
	}
}

func lineOf(s string) int {
	for i, l := range strings.Split(testProgram, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

// TestSourceMismatch: source edited after the build is refused.
func TestSourceMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and loads a program")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module wtest\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(testProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "prog", ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	edited := strings.Replace(testProgram, "func sendA()                { a <- 1 }", "func sendA()                { a <- 2 }", 1)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), Config{Exe: filepath.Join(dir, "prog")})
	if err == nil || !strings.Contains(err.Error(), "does not match the binary") {
		t.Errorf("edited source: %v, want a build ID mismatch", err)
	}
}
