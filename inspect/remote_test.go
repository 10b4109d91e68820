package inspect_test

import (
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/internal/fixture"
)

// TestConnectDelve: through a `dlv attach --headless --accept-multiclient
// --continue` server, hangtui finds the AB-BA deadlock; the target keeps
// running between and after reads, and runs untraced once the server is
// gone. The first read starts as soon as the server listens, which is
// often before the server's own --continue: the target is found stopped
// and continued behind hangtui's back in the middle of the read (#7).
func TestConnectDelve(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "abba")
	addr, dlv := fixture.StartDlv(t, p.PID, true)
	r, err := inspect.Connect(addr, inspect.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a second read reconnects
		snap, err := r.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if snap.Target.Source != inspect.SourceRemote || snap.Target.PID != p.PID {
			t.Errorf("target %+v", snap.Target)
		}
		checkDumpABBA(t, snap, p.Manifest.Groups["g1"][0], p.Manifest.Groups["g2"][0], p.Manifest.Addr(t, "a"), p.Manifest.Addr(t, "b"))
		if !hasWarning(snap, "degraded: read from a Delve server") {
			t.Errorf("no degraded note: %q", snap.Warnings)
		}
		fixture.AssertNotStopped(t, p.PID) // running, traced by dlv
	}
	_ = dlv.Process.Signal(syscall.SIGTERM)
	_ = dlv.Wait()
	fixture.AssertRunning(t, p.PID) // dlv detached when it ended
}

// TestConnectStoppedTarget: a target the server's own client keeps stopped
// (dlv attach without --continue) is read and left stopped.
func TestConnectStoppedTarget(t *testing.T) {
	t.Parallel()
	exe := fixture.Build(t, fixture.Default)
	p := fixture.Start(t, exe, "abba")
	addr, _ := fixture.StartDlv(t, p.PID, false)
	r, err := inspect.Connect(addr, inspect.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Cycles) != 1 || !hasWarning(snap, "left stopped") {
		t.Errorf("cycles %+v, warnings %q", snap.Cycles, snap.Warnings)
	}
	if st, _ := fixture.State(p.PID); st != "t" && st != "T" {
		t.Errorf("target state %q, want it left stopped", st)
	}
}

// TestConnectErrors: nothing listening, or not a Delve server, is a
// one-line error with the recipe.
func TestConnectErrors(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { // a server that speaks no JSON-RPC
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	defer l.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, addr := range []string{closedAddr, l.Addr().String()} {
		r, err := inspect.Connect(addr, inspect.RemoteOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Snapshot()
		if inspect.KindOf(err) != inspect.ErrRemote || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--headless") {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if _, err := inspect.Connect("localhost", inspect.RemoteOptions{}); inspect.KindOf(err) != inspect.ErrRemote {
		t.Errorf("no port: %v", err)
	}
}

// wedgedDelve is a JSON-RPC server that speaks Delve's API v2 far enough
// to be taken for one, and then never answers an evaluation: a wedged
// server. It says the target runs until it is halted, and records the
// commands it got.
type wedgedDelve struct {
	mu       sync.Mutex
	running  bool
	commands []string
}

func (w *wedgedDelve) SetApiVersion(in api.SetAPIVersionIn, out *api.SetAPIVersionOut) error {
	return nil
}

func (w *wedgedDelve) State(in rpc2.StateIn, out *rpc2.StateOut) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	out.State = &api.DebuggerState{Running: w.running}
	return nil
}

func (w *wedgedDelve) Command(in api.DebuggerCommand, out *rpc2.CommandOut) error {
	w.mu.Lock()
	w.commands = append(w.commands, in.Name)
	w.running = in.Name == api.Continue
	w.mu.Unlock()
	if in.Name == api.Continue {
		select {} // answered when the target stops again: never
	}
	return nil
}

func (w *wedgedDelve) Eval(in rpc2.EvalIn, out *rpc2.EvalOut) error {
	select {}
}

// TestConnectWedgedServer: a server that stops answering is a one-line
// error after the call's deadline, not a hang, and a target hangtui halted
// is continued before it gives up.
func TestConnectWedgedServer(t *testing.T) {
	t.Parallel()
	w := &wedgedDelve{running: true}
	srv := rpc.NewServer()
	if err := srv.RegisterName("RPCServer", w); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go srv.ServeCodec(jsonrpc.NewServerCodec(c))
		}
	}()
	r, err := inspect.Connect(l.Addr().String(), inspect.RemoteOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Snapshot()
	t.Log(err)
	if inspect.KindOf(err) != inspect.ErrRemote || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "no answer") || !strings.Contains(err.Error(), "dlv connect") {
		t.Errorf("err = %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.commands) == 0 || w.commands[0] != api.Halt || w.commands[len(w.commands)-1] != api.Continue {
		t.Errorf("commands %q: want a halt first and a continue last", w.commands)
	}
}
