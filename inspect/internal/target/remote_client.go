package target

import (
	"errors"
	"fmt"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"sync"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
)

// A Delve server's answers are untrusted input as much as target memory
// is (#18): hangtui talks to it with a client of its own, the part of
// service/rpc2's API it needs on net/rpc's JSON codec. Delve's own client
// (rpc2.RPCClient) trusts the server: a null answer to a continue crashes
// the goroutine it runs the continue on, and so hangtui. Here every answer
// is bounded in size (limitConn) and checked before it is used.

// maxAnswer is the most bytes one answer of the server may have: the JSON
// decoder holds a whole answer in memory. Goroutines are listed in pages
// (remotePage) to stay far below it.
const maxAnswer = 64 << 20

// remotePage is how many goroutines one ListGoroutines call asks for.
const remotePage = 1000

// errTooLarge: an answer was larger than maxAnswer, or the answers of one
// read larger than its budget.
var errTooLarge = errors.New("answer too large")

// limitConn is a connection whose answers are bounded: at most maxAnswer
// bytes may be read after each request written, and at most budget bytes
// in all (shared by the connections of one read).
type limitConn struct {
	net.Conn
	mu     sync.Mutex
	answer int64
	budget *remoteBudget
}

// remoteBudget is how many bytes the server may still send for one read.
type remoteBudget struct {
	mu   sync.Mutex
	left int64
	over bool
}

func (b *remoteBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.left {
		b.over = true
		return false
	}
	b.left -= n
	return true
}

func (b *remoteBudget) exceeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

func (c *limitConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.answer = maxAnswer
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *limitConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	left := c.answer
	c.mu.Unlock()
	if left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.answer -= int64(n)
	c.mu.Unlock()
	if c.budget != nil && !c.budget.take(int64(n)) {
		return 0, errTooLarge
	}
	return n, err
}

// dlvClient is one connection to a Delve server (API v2).
type dlvClient struct {
	c *rpc.Client
}

func (c *dlvClient) call(method string, args, reply any) error {
	return c.c.Call("RPCServer."+method, args, reply)
}

// dialDelve connects and sets the API version (within timeout). An
// answer that cannot be read is errHandshake; no answer in time shows in
// the first call after it.
func dialDelve(addr string, timeout time.Duration, budget *remoteBudget) (net.Conn, *dlvClient, error) {
	raw, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, nil, err
	}
	conn := &limitConn{Conn: raw, answer: maxAnswer, budget: budget}
	c := &dlvClient{c: jsonrpc.NewClient(conn)}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var out api.SetAPIVersionOut
	err = c.call("SetApiVersion", api.SetAPIVersionIn{APIVersion: 2}, &out)
	_ = conn.SetDeadline(time.Time{})
	var se rpc.ServerError
	if err != nil && !errors.As(err, &se) && !errors.Is(err, os.ErrDeadlineExceeded) {
		raw.Close()
		return nil, nil, &errHandshake{err}
	}
	return conn, c, nil
}

// errHandshake: the answer to the API version handshake could not be read.
type errHandshake struct{ err error }

func (e *errHandshake) Error() string { return "handshake: " + e.err.Error() }
func (e *errHandshake) Unwrap() error { return e.err }

// errMalformed: the server's answer does not hold together.
type errMalformed struct{ what, why string }

func (e *errMalformed) Error() string {
	return fmt.Sprintf("the answer to %s makes no sense (%s)", e.what, e.why)
}

// state is the debugger's state, without waiting for a running target.
func (c *dlvClient) state() (*api.DebuggerState, error) {
	var out rpc2.StateOut
	if err := c.call("State", rpc2.StateIn{NonBlocking: true}, &out); err != nil {
		return nil, err
	}
	if out.State == nil {
		return nil, &errMalformed{"State", "no state"}
	}
	return out.State, nil
}

// halt stops the target; answered once it has stopped.
func (c *dlvClient) halt() error {
	var out rpc2.CommandOut
	return c.call("Command", api.DebuggerCommand{Name: api.Halt}, &out)
}

// continueAsync continues the target. Delve answers only when the target
// stops again: the answer (or the error when the connection closes) is
// waited for on a goroutine of its own and dropped.
func (c *dlvClient) continueAsync() {
	go func() {
		var out rpc2.CommandOut
		_ = c.call("Command", api.DebuggerCommand{Name: api.Continue}, &out)
	}()
}

// processPid is the target's PID.
func (c *dlvClient) processPid() (int, error) {
	var out rpc2.ProcessPidOut
	err := c.call("ProcessPid", rpc2.ProcessPidIn{}, &out)
	return out.Pid, err
}

// eval evaluates an expression in the current goroutine's scope.
func (c *dlvClient) eval(expr string, cfg api.LoadConfig) (*api.Variable, error) {
	var out rpc2.EvalOut
	err := c.call("Eval", rpc2.EvalIn{Scope: api.EvalScope{GoroutineID: -1}, Expr: expr, Cfg: &cfg}, &out)
	return out.Variable, err
}

// listGoroutines lists count goroutines from start; next is where the
// next page starts, negative at the end.
func (c *dlvClient) listGoroutines(start, count int) (gs []*api.Goroutine, next int, err error) {
	var out rpc2.ListGoroutinesOut
	err = c.call("ListGoroutines", rpc2.ListGoroutinesIn{Start: start, Count: count}, &out)
	return out.Goroutines, out.Nextg, err
}

// stacktrace is goroutine id's stack, depth frames after the first, with
// arguments when cfg is set.
func (c *dlvClient) stacktrace(id int64, depth int, cfg *api.LoadConfig) ([]api.Stackframe, error) {
	var out rpc2.StacktraceOut
	err := c.call("Stacktrace", rpc2.StacktraceIn{Id: id, Depth: depth, Cfg: cfg}, &out)
	return out.Locations, err
}
