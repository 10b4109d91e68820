package inspect_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/inspect/report"
)

// hostileDelve is a fake Delve server (JSON-RPC over TCP, the part of
// API v2 that --connect uses) whose answers a test or a fuzz input can make
// huge, malformed, inconsistent, slow or absent (#18). It plays a target
// that runs until halted and records the commands it gets, so that tests
// can check that a target hangtui halted is continued.
type hostileDelve struct {
	t testing.TB
	l net.Listener
	// answer, when set, may replace the answer to a call: it writes raw
	// bytes itself and returns true, or returns false for the normal one.
	answer func(c *hostileConn, method string, id uint64) bool
	// goroutines is how many the target has (the normal answers).
	goroutines int

	mu       sync.Mutex
	running  bool
	commands []string
	answers  int
	conns    []net.Conn
	closed   bool
}

type hostileConn struct {
	net.Conn
	s  *hostileDelve
	mu sync.Mutex
	w  *bufio.Writer
}

func startHostile(t testing.TB, goroutines int, answer func(c *hostileConn, method string, id uint64) bool) *hostileDelve {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &hostileDelve{t: t, l: l, answer: answer, goroutines: goroutines, running: true}
	go s.serve()
	return s
}

func (s *hostileDelve) addr() string { return s.l.Addr().String() }

func (s *hostileDelve) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.mu.Unlock()
	s.l.Close()
	for _, c := range conns {
		c.Close()
	}
}

func (s *hostileDelve) serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		go s.handle(&hostileConn{Conn: c, s: s, w: bufio.NewWriter(c)})
	}
}

type rpcRequest struct {
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	ID     uint64            `json:"id"`
}

func (s *hostileDelve) handle(c *hostileConn) {
	defer c.Close()
	dec := json.NewDecoder(c)
	for {
		var req rpcRequest
		if err := dec.Decode(&req); err != nil {
			return
		}
		method := strings.TrimPrefix(req.Method, "RPCServer.")
		var param json.RawMessage
		if len(req.Params) > 0 {
			param = req.Params[0]
		}
		if method == "Command" {
			var cmd api.DebuggerCommand
			_ = json.Unmarshal(param, &cmd)
			// The command takes effect whatever the answer will be.
			s.mu.Lock()
			s.commands = append(s.commands, cmd.Name)
			switch cmd.Name {
			case api.Halt:
				s.running = false
			case api.Continue:
				s.running = true
			}
			s.mu.Unlock()
			method = "Command(" + cmd.Name + ")"
		}
		// Answers are written from goroutines of their own: a continue is
		// answered only when the target stops, and a slow answer must
		// not hold up the next request.
		go func(method string, param json.RawMessage, id uint64) {
			if s.answer != nil && s.answer(c, method, id) {
				s.count()
				return
			}
			s.normal(c, method, param, id)
		}(method, param, req.ID)
	}
}

func (s *hostileDelve) count() {
	s.mu.Lock()
	s.answers++
	s.mu.Unlock()
}

// reply writes a well-formed answer.
func (c *hostileConn) reply(id uint64, result any) {
	b, err := json.Marshal(map[string]any{"id": id, "result": result, "error": nil})
	if err != nil {
		panic(err)
	}
	c.raw(append(b, '\n'))
}

// fail writes an error answer.
func (c *hostileConn) fail(id uint64, msg string) {
	b, _ := json.Marshal(map[string]any{"id": id, "result": nil, "error": msg})
	c.raw(append(b, '\n'))
}

// raw writes bytes as they are.
func (c *hostileConn) raw(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.w.Write(b)
	_ = c.w.Flush()
}

// normal is what a real server with a target of s.goroutines parked
// goroutines answers.
func (s *hostileDelve) normal(c *hostileConn, method string, param json.RawMessage, id uint64) {
	switch method {
	case "SetApiVersion":
		c.reply(id, api.SetAPIVersionOut{})
	case "State":
		s.mu.Lock()
		st := &api.DebuggerState{Running: s.running, Pid: 4242}
		s.mu.Unlock()
		c.reply(id, rpc2.StateOut{State: st})
	case "Command(halt)":
		c.reply(id, rpc2.CommandOut{})
	case "Command(continue)":
		return // answered when the target stops: never
	case "ProcessPid":
		c.reply(id, rpc2.ProcessPidOut{Pid: 4242})
	case "Eval":
		v := &api.Variable{Name: "runtime.waitReasonStrings"}
		for _, r := range []string{"", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)", "dumping heap",
			"garbage collection", "garbage collection scan", "panicwait", "select", "select (no cases)", "GC assist wait",
			"GC sweep wait", "GC scavenge wait", "chan receive", "chan send", "finalizer wait", "force gc (idle)", "semacquire", "sleep",
			"sync.Cond.Wait", "sync.Mutex.Lock"} {
			v.Children = append(v.Children, api.Variable{Value: r})
		}
		c.reply(id, rpc2.EvalOut{Variable: v})
	case "ListGoroutines":
		var in rpc2.ListGoroutinesIn
		_ = json.Unmarshal(param, &in)
		var out rpc2.ListGoroutinesOut
		out.Nextg = -1
		for i := in.Start; i < s.goroutines; i++ {
			if in.Count > 0 && len(out.Goroutines) == in.Count {
				out.Nextg = i
				break
			}
			out.Goroutines = append(out.Goroutines, &api.Goroutine{ID: int64(i + 1), Status: 4, WaitReason: 21,
				GoStatementLoc: api.Location{File: "/src/app/main.go", Line: 20, Function: &api.Function{Name_: "main.main"}}})
		}
		c.reply(id, out)
	case "Stacktrace":
		var in rpc2.StacktraceIn
		_ = json.Unmarshal(param, &in)
		frames := []api.Stackframe{
			{Location: api.Location{PC: 0x401000, File: "/usr/local/go/src/runtime/proc.go", Line: 435, Function: &api.Function{Name_: "runtime.gopark"}}, FrameOffset: -8},
			{Location: api.Location{PC: 0x402000, File: "/usr/local/go/src/sync/mutex.go", Line: 46, Function: &api.Function{Name_: "sync.(*Mutex).Lock"}}, FrameOffset: -40},
			{Location: api.Location{PC: 0x403000, File: "/src/app/main.go", Line: 12, Function: &api.Function{Name_: "main.worker"}}, FrameOffset: -80},
		}
		c.reply(id, rpc2.StacktraceOut{Locations: frames[:min(len(frames), in.Depth+1)]})
	default:
		c.fail(id, "unknown method "+method)
	}
	s.count()
}

// commandsSeen are the commands the server got, in order.
func (s *hostileDelve) commandsSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *hostileDelve) answered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answers
}

// checkContinued: the target, which ran when hangtui came, runs again
// (a halt hangtui sent was followed by a continue).
func checkContinued(t testing.TB, s *hostileDelve) {
	t.Helper()
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running {
		t.Errorf("commands %q: the target was halted and not continued", s.commandsSeen())
	}
}

// hostileMode is a way for the server to misbehave, with what hangtui must
// say (nothing: the read succeeds).
type hostileMode struct {
	name       string
	goroutines int
	answer     func(c *hostileConn, method string, id uint64) bool
	want       string
	// slow modes take seconds (their deadlines, or a lot of data): not
	// with -short.
	slow bool
	// maxBytes and readTimeout are the read's budget and deadline when not
	// the test's.
	maxBytes    int64
	readTimeout time.Duration
	timeout     time.Duration
}

// garbage is a JSON string of n bytes.
func bigString(n int) string { return strings.Repeat("x", n) }

var hostileModes = []hostileMode{
	{name: "millions-of-goroutines", slow: true, goroutines: 5_000_000, want: "more than 32 MiB for one read", readTimeout: 5 * time.Minute},
	{name: "huge-answer", slow: true, goroutines: 3, want: "larger than 64 MiB", maxBytes: 256 << 20, readTimeout: 5 * time.Minute, timeout: 10 * time.Second, answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "ListGoroutines" {
			return false
		}
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"Goroutines":[{"id":1,"labels":{"k":"`, id)))
		chunk := []byte(bigString(1 << 20))
		for i := 0; i < 100; i++ {
			c.raw(chunk)
		}
		c.raw([]byte(`"}}],"Nextg":-1},"error":null}` + "\n"))
		return true
	}},
	{name: "deep-stacks-long-names", slow: true, goroutines: 20, readTimeout: 5 * time.Minute, answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "Stacktrace" {
			return false
		}
		// Far deeper than asked for, with names longer than kept.
		frames := make([]api.Stackframe, 5_000)
		name := bigString(64 << 10)
		for i := range frames {
			frames[i] = api.Stackframe{Location: api.Location{PC: uint64(i), File: "/src/x.go", Line: -i, Function: &api.Function{Name_: "main.f"}}}
		}
		frames[0].Function.Name_, frames[1].File = name, name
		c.reply(id, rpc2.StacktraceOut{Locations: frames})
		return true
	}},
	{name: "malformed-json", goroutines: 3, want: "not the JSON of Delve's API v2", answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "ListGoroutines" {
			return false
		}
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"Goroutines":[{"id":}}}}`+"\n", id)))
		return true
	}},
	{name: "wrong-types", goroutines: 3, want: "not the JSON of Delve's API v2", answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "ListGoroutines" {
			return false
		}
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"Goroutines":"all of them","Nextg":"no"},"error":null}`+"\n", id)))
		return true
	}},
	{name: "null-everything", goroutines: 3, want: "not a Delve API v2 server (the answer to SetApiVersion makes no sense", answer: func(c *hostileConn, method string, id uint64) bool {
		c.reply(id, nil)
		return true
	}},
	{name: "null-results-after-state", goroutines: 3, want: "the answer to Command(halt) makes no sense", answer: func(c *hostileConn, method string, id uint64) bool {
		if method == "State" || method == "SetApiVersion" || method == "Command(continue)" {
			return false
		}
		c.reply(id, nil)
		return true
	}},
	{name: "pages-that-go-back", goroutines: 3, want: "makes no sense", answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "ListGoroutines" {
			return false
		}
		c.reply(id, rpc2.ListGoroutinesOut{Goroutines: []*api.Goroutine{{ID: 1, Status: 4}}, Nextg: 0})
		return true
	}},
	{name: "repeated-ids-and-nonsense", goroutines: 3, answer: func(c *hostileConn, method string, id uint64) bool {
		switch method {
		case "ListGoroutines":
			var gs []*api.Goroutine
			for i := 0; i < 50; i++ {
				gs = append(gs, &api.Goroutine{ID: int64(i % 3), Status: uint64(i * 7919), WaitReason: int64(i*104729 - 20)}, nil)
			}
			c.reply(id, rpc2.ListGoroutinesOut{Goroutines: gs, Nextg: -1})
		case "Stacktrace":
			c.reply(id, rpc2.StacktraceOut{Locations: []api.Stackframe{
				{Location: api.Location{PC: 1<<64 - 1, Line: -5}, FrameOffset: 7},
				{Location: api.Location{File: "?", Line: 1 << 40, Function: &api.Function{}}, FrameOffset: 7},
				{Location: api.Location{Function: &api.Function{Name_: "sync.(*Mutex).Lock"}}, Arguments: []api.Variable{{Kind: 22, Value: "zzz"}, {Unreadable: "x"}}},
				{Location: api.Location{Function: &api.Function{Name_: "main.(*T).m"}, File: "/nonexistent/x.go", Line: 3}},
			}})
		case "Eval":
			c.reply(id, rpc2.EvalOut{Variable: &api.Variable{Children: make([]api.Variable, 10_000)}})
		default:
			return false
		}
		return true
	}},
	{name: "server-errors", goroutines: 3, answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "Stacktrace" && method != "Eval" {
			return false
		}
		c.fail(id, "could not find\nsomething "+bigString(1<<20))
		return true
	}},
	{name: "slow-answer", slow: true, goroutines: 3, want: "no answer to Stacktrace", answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "Stacktrace" {
			return false
		}
		time.Sleep(10 * time.Second) // after the call's deadline
		c.reply(id, rpc2.StacktraceOut{})
		return true
	}},
	{name: "never-answers", slow: true, goroutines: 3, want: "no answer to ListGoroutines", answer: func(c *hostileConn, method string, id uint64) bool {
		return method == "ListGoroutines" // and nothing is written
	}},
	{name: "closes-mid-answer", goroutines: 3, want: "closed the connection in the middle of the answer to ListGoroutines", answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "ListGoroutines" {
			return false
		}
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"Goroutines":[{"id":1,"sta`, id)))
		c.Close()
		return true
	}},
	{name: "slow-drip", slow: true, goroutines: 200, want: "did not end within", readTimeout: 6 * time.Second, answer: func(c *hostileConn, method string, id uint64) bool {
		if method != "Stacktrace" {
			return false
		}
		time.Sleep(time.Second) // each within its deadline, all together not
		return false
	}},
}

// TestConnectHostile: against a server that misbehaves in each of
// hostileModes, a --connect read ends in one line (or succeeds) within
// its deadlines (plus a margin: this guards against hangs, it measures
// nothing), allocates within a bound, and a target it halted is continued
// (#18). Not parallel: it measures the allocations of the whole process.
func TestConnectHostile(t *testing.T) {
	const (
		timeout     = time.Second // each call: 1 s, reads 6 s
		readTimeout = 30 * time.Second
		maxBytes    = 32 << 20
		allocBudget = 512 << 20 // a 64 MiB answer in the JSON decoder, decoded, plus margin
	)
	total := 0
	for _, m := range hostileModes {
		t.Run(m.name, func(t *testing.T) {
			if m.slow && testing.Short() {
				t.Skip("slow; not with -short")
			}
			s := startHostile(t, m.goroutines, m.answer)
			defer s.close()
			budget := int64(maxBytes)
			if m.maxBytes > 0 {
				budget = m.maxBytes
			}
			rt := readTimeout
			if m.readTimeout > 0 {
				rt = m.readTimeout
			}
			to := timeout
			if m.timeout > 0 {
				to = m.timeout
			}
			r, err := inspect.Connect(s.addr(), inspect.RemoteOptions{Timeout: to, ReadTimeout: rt, MaxBytes: budget, MaxDepth: 64})
			if err != nil {
				t.Fatal(err)
			}
			alloc0, _ := memNow()
			start := time.Now()
			snap, err := r.Snapshot()
			took := time.Since(start)
			alloc1, _ := memNow()
			t.Logf("%v, %d MiB allocated, %d answers: %v", took.Round(time.Millisecond), (alloc1-alloc0)>>20, s.answered(), err)
			total += s.answered()
			if took > rt+6*to+time.Minute {
				t.Errorf("took %v (read timeout %v)", took, rt)
			}
			if alloc1-alloc0 > allocBudget {
				t.Errorf("%d MiB allocated", (alloc1-alloc0)>>20)
			}
			switch {
			case m.want == "" && err != nil:
				t.Errorf("error %v, want a snapshot", err)
			case m.want != "" && err == nil:
				t.Errorf("no error, want %q", m.want)
			case err != nil:
				checkRemoteError(t, err)
				if !strings.Contains(err.Error(), m.want) {
					t.Errorf("error %q, want %q in it", err, m.want)
				}
			default:
				for _, g := range snap.Goroutines {
					if len(g.Frames) > 64+1 {
						t.Errorf("goroutine %d has %d frames, more than asked for", g.ID, len(g.Frames))
						break
					}
				}
				for _, w := range snap.Warnings {
					if bad := badMessage(w); bad != "" {
						t.Errorf("warning %q: %s", w, bad)
					}
				}
			}
			checkContinued(t, s)
			r.Close()
		})
	}
	t.Logf("%d server answers in all", total)
}

// checkRemoteError: one line, a --connect error, nothing of Go's or
// Delve's internals.
func checkRemoteError(t testing.TB, err error) {
	t.Helper()
	msg := err.Error()
	if inspect.KindOf(err) != inspect.ErrRemote {
		t.Errorf("error %q is not an ErrRemote", msg)
	}
	if bad := badMessage(msg); bad != "" {
		t.Errorf("error %q: %s", msg, bad)
	}
	for _, p := range []string{"invalid character", "cannot unmarshal", "unexpected EOF", "connection reset", "broken pipe", "use of closed"} {
		if strings.Contains(msg, p) {
			t.Errorf("error %q has Go's %q", msg, p)
		}
	}
}

// FuzzRemote: each of the fake server's answers is picked by the fuzz
// input, in turn: the right one, a null, malformed or mistyped one, one
// cut off by a closed connection, huge strings, nonsense goroutines and
// frames, a server error, a late one or none (#18). The read must end in
// one line (or a snapshot that renders) within its deadlines and a memory
// budget, and a target it halted must run again, unless the error says it
// may be left stopped.
//
// Run it: go test -run='^$' -fuzz=FuzzRemote -fuzztime=1m ./inspect
func FuzzRemote(f *testing.F) {
	f.Add([]byte{3})
	f.Add([]byte{5, 0, 0, 0, 0, 8})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 9})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 12, 13, 12})
	f.Add([]byte{4, 1, 2, 3, 11})
	f.Add([]byte{7, 0, 0, 17, 17, 17, 17, 14, 16, 16})
	f.Add([]byte{1, 0, 0, 0, 15})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		const (
			timeout     = 300 * time.Millisecond
			readTimeout = 5 * time.Second
			maxBytes    = 8 << 20
			allocBudget = 256 << 20
		)
		var mu sync.Mutex
		k := 0
		answer := func(c *hostileConn, method string, id uint64) bool {
			mu.Lock()
			b := byte(0) // the right answer
			if len(in) > 1 {
				b = in[1+k%(len(in)-1)]
			}
			k++
			mu.Unlock()
			return perturb(c, method, id, b, in)
		}
		s := startHostile(t, 1+int(in[0])%40, answer)
		defer s.close()
		r, err := inspect.Connect(s.addr(), inspect.RemoteOptions{Timeout: timeout, ReadTimeout: readTimeout, MaxBytes: maxBytes, MaxDepth: 16})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		alloc0, _ := memNow()
		start := time.Now()
		snap, err := r.Snapshot()
		took := time.Since(start)
		alloc1, _ := memNow()
		remoteAnswers.Add(int64(s.answered()))
		writeFuzzStats(map[string]any{"kind": "remote", "ms": took.Milliseconds(), "alloc_mib": (alloc1 - alloc0) >> 20,
			"answers": s.answered(), "err": errString(err)})
		if took > readTimeout+6*timeout+30*time.Second {
			t.Errorf("took %v (read timeout %v)", took, readTimeout)
		}
		if alloc1-alloc0 > allocBudget {
			t.Errorf("%d MiB allocated", (alloc1-alloc0)>>20)
		}
		if err != nil {
			checkRemoteError(t, err)
		} else {
			for _, w := range snap.Warnings {
				if bad := badMessage(w); bad != "" {
					t.Errorf("warning %q: %s", w, bad)
				}
			}
			for _, write := range []func(io.Writer, *inspect.Snapshot) error{report.WriteJSON, report.WriteText, report.WriteDOT} {
				if err := write(io.Discard, snap); err != nil {
					t.Errorf("rendering: %v", err)
				}
			}
		}
		s.mu.Lock()
		running := s.running
		s.mu.Unlock()
		if !running && (err == nil || !strings.Contains(err.Error(), "may be left stopped")) {
			t.Errorf("commands %q: the target was left halted, and the error (%v) does not say so", s.commandsSeen(), err)
		}
	})
}

// remoteAnswers counts the fake servers' answers in this process.
var remoteAnswers atomic.Int64

// perturb writes answer b%20 to a call (false: the right answer).
func perturb(c *hostileConn, method string, id uint64, b byte, in []byte) bool {
	switch b % 20 {
	case 8:
		c.reply(id, nil)
	case 9:
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"Goroutines":[{"id":}}`+"\n", id)))
	case 10:
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"State":7,"Goroutines":"no","Locations":{},"Variable":[],"Pid":"x","Nextg":"y"},"error":null}`+"\n", id)))
	case 11:
		c.raw([]byte(fmt.Sprintf(`{"id":%d,"result":{"Go`, id)))
		c.Close()
	case 12:
		name := bigString(1 << 20)
		switch method {
		case "ListGoroutines":
			c.reply(id, rpc2.ListGoroutinesOut{Goroutines: []*api.Goroutine{{ID: 1, Status: 4, Labels: map[string]string{name: name},
				GoStatementLoc: api.Location{File: name, Function: &api.Function{Name_: name}}}}, Nextg: -1})
		case "Stacktrace":
			c.reply(id, rpc2.StacktraceOut{Locations: []api.Stackframe{{Location: api.Location{File: name, Function: &api.Function{Name_: name}}}}})
		default:
			return false
		}
	case 13:
		switch method {
		case "ListGoroutines":
			var gs []*api.Goroutine
			for i, x := range in {
				gs = append(gs, &api.Goroutine{ID: int64(x % 4), Status: uint64(x), WaitReason: int64(i) - 3}, nil)
			}
			c.reply(id, rpc2.ListGoroutinesOut{Goroutines: gs, Nextg: -1})
		case "Stacktrace":
			var fs []api.Stackframe
			for i, x := range in {
				fs = append(fs, api.Stackframe{Location: api.Location{PC: uint64(x) << 56, Line: int(x) - 128, File: string(in[:i]),
					Function: &api.Function{Name_: []string{"", "sync.(*Mutex).Lock", "main.f", "runtime.gopark", "?"}[int(x)%5]}},
					FrameOffset: int64(x % 2), Arguments: []api.Variable{{Kind: reflectKind(x), Value: string(in), Children: make([]api.Variable, x%3)}}})
			}
			c.reply(id, rpc2.StacktraceOut{Locations: fs})
		case "State":
			c.reply(id, rpc2.StateOut{State: &api.DebuggerState{Running: in[0]%2 == 0, Exited: in[0]%7 == 0, Pid: -1}})
		default:
			return false
		}
	case 14:
		c.fail(id, "the server failed\n"+string(in))
	case 15:
		// no answer
	case 16:
		time.Sleep(50 * time.Millisecond)
		return false
	case 17:
		c.raw(append(in, '\n'))
	default:
		return false
	}
	return true
}

func reflectKind(x byte) reflect.Kind { return reflect.Kind(x % 27) }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
