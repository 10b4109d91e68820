package target

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
)

// A remote Delve server (dlv --headless --accept-multiclient) speaks the
// JSON-RPC API of service/rpc2: goroutines, stacks with their arguments,
// expression evaluation and raw memory reads. hangtui reads goroutines and
// stacks through it; memory reads over RPC cost about 0.3 ms per call
// (measured: 200 reads of 4 KiB in 61 ms on loopback), too slow for the
// heap walk of the full analysis, so the remote view is the degraded one:
// what a goroutine dump shows, with the arguments Delve could evaluate.

// RemoteGoroutine is one goroutine read from a Delve server.
type RemoteGoroutine struct {
	ID         int64
	Status     string // "running", "runnable", "syscall", "waiting", ...
	WaitReason string
	Leaked     bool
	Frames     []RemoteFrame
	// GoFunc, GoFile and GoLine are the go statement that started it.
	GoFunc, GoFile string
	GoLine         int
	Labels         map[string]string
}

// RemoteFrame is one frame with its arguments in declaration order
// (receiver first), each rendered like a traceback word: "0xc000012340" for
// a pointer or an integer, "{...}" for an aggregate, "_" when Delve could
// not read it.
type RemoteFrame struct {
	Func, File string
	Line       int
	Inlined    bool
	Args       []string
}

// RemoteInfo describes the target behind the server.
type RemoteInfo struct {
	PID int
	Exe string
	// WasRunning is true when the target was running when hangtui
	// connected (it is halted to be read and continued after).
	WasRunning bool
}

// ReadRemote connects to a Delve server, halts the target if it runs,
// reads every goroutine with its stack, and disconnects, continuing the
// target if it was running (and leaving it stopped if it was stopped: that
// is somebody else's debugging session). maxDepth bounds each stack.
//
// Evaluating arguments is what costs (Delve reads each one's location
// list and memory), so stacks are read without them first, and then only
// the frames that need(func, file, line) asks for get their arguments, with
// one more call up to the deepest such frame.
//
// expectRunning says that the previous read continued the target.
func ReadRemote(addr string, timeout time.Duration, maxDepth int, expectRunning bool, need func(fn, file string, line int) bool) (info RemoteInfo, gs []RemoteGoroutine, err error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return info, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var c *rpc2.RPCClient
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("delve server: %v", r)
		}
		if c != nil {
			if info.WasRunning {
				resume(c)
			}
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_ = c.Disconnect(false)
		} else {
			conn.Close()
		}
	}()
	c = rpc2.NewClientFromConn(conn)
	st, err := c.GetStateNonBlocking()
	if err != nil {
		return info, nil, fmt.Errorf("not a Delve API v2 server (%w)", err)
	}
	if st.Exited {
		return info, nil, fmt.Errorf("the target has exited")
	}
	if expectRunning && !st.Running {
		// The continue sent when the last read disconnected may still be
		// on its way: wait for it rather than take the target for one
		// somebody stopped.
		for end := time.Now().Add(2 * time.Second); !st.Running && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
			if st, err = c.GetStateNonBlocking(); err != nil {
				return info, nil, err
			}
		}
	}
	info.WasRunning = st.Running
	if st.Running {
		if _, err := c.Halt(); err != nil {
			return info, nil, fmt.Errorf("halt: %w", err)
		}
	}
	// Reading a large process takes long, but a server that stops
	// answering must not hang hangtui.
	_ = conn.SetDeadline(time.Now().Add(max(30*timeout, 10*time.Minute)))
	info.PID = c.ProcessPid()
	reasons := waitReasonTable(c)
	raw, _, err := c.ListGoroutines(0, 0)
	if err != nil {
		return info, nil, fmt.Errorf("list goroutines: %w", err)
	}
	cfg := &api.LoadConfig{MaxStructFields: 0}
	for _, g := range raw {
		rg, ok := convertGoroutine(g, reasons)
		if !ok {
			continue
		}
		frames, err := c.Stacktrace(g.ID, maxDepth, 0, 0, nil)
		if err != nil {
			continue
		}
		deepest := -1
		for i, f := range frames {
			fn := ""
			if f.Function != nil {
				fn = f.Function.Name()
			}
			if need == nil || need(fn, f.File, f.Line) {
				deepest = i
			}
		}
		if deepest >= 0 {
			// Delve's depth counts the frames after the first.
			if withArgs, err := c.Stacktrace(g.ID, deepest, 0, 0, cfg); err == nil && len(withArgs) >= deepest+1 {
				copy(frames[:deepest+1], withArgs)
			}
		}
		rg.Frames = convertFrames(frames)
		gs = append(gs, rg)
	}
	return info, gs, nil
}

// waitReasonTable reads runtime.waitReasonStrings from the target: the
// texts of its own release, as the local reader does.
func waitReasonTable(c *rpc2.RPCClient) []string {
	v, err := c.EvalVariable(api.EvalScope{GoroutineID: -1}, "runtime.waitReasonStrings", api.LoadConfig{MaxArrayValues: 256, MaxStringLen: 128})
	if err != nil || v == nil {
		return nil
	}
	out := make([]string, len(v.Children))
	for i, ch := range v.Children {
		out[i] = ch.Value
	}
	return out
}

// Goroutine statuses of the runtime (runtime2.go), stable since Go 1.x.
var statusNames = map[uint64]string{
	1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 8: "running", 9: "preempted", 10: "waiting",
}

func convertGoroutine(g *api.Goroutine, reasons []string) (RemoteGoroutine, bool) {
	st, ok := statusNames[g.Status&^0x1000]
	if !ok || g.Unreadable != "" {
		return RemoteGoroutine{}, false // idle, dead
	}
	rg := RemoteGoroutine{ID: g.ID, Status: st, Leaked: g.Status&^0x1000 == 10, Labels: g.Labels,
		GoFile: g.GoStatementLoc.File, GoLine: g.GoStatementLoc.Line}
	if g.GoStatementLoc.Function != nil {
		rg.GoFunc = g.GoStatementLoc.Function.Name()
	}
	if st == "waiting" && g.WaitReason > 0 && int(g.WaitReason) < len(reasons) {
		rg.WaitReason = reasons[g.WaitReason]
	}
	return rg, true
}

func convertFrames(frames []api.Stackframe) []RemoteFrame {
	out := make([]RemoteFrame, 0, len(frames))
	for i, f := range frames {
		rf := RemoteFrame{File: f.File, Line: f.Line}
		if f.Function != nil {
			rf.Func = f.Function.Name()
		}
		// An inlined frame shares its physical frame (the same CFA) with
		// the caller listed after it.
		rf.Inlined = i+1 < len(frames) && frames[i+1].FrameOffset == f.FrameOffset && f.FrameOffset != 0
		for _, a := range f.Arguments {
			if a.Flags&api.VariableReturnArgument != 0 {
				continue
			}
			rf.Args = append(rf.Args, argWord(a))
		}
		out = append(out, rf)
	}
	return out
}

// argWord renders an argument like the runtime's traceback does.
func argWord(a api.Variable) string {
	if a.Unreadable != "" {
		return "_"
	}
	switch a.Kind {
	case reflect.Ptr, reflect.Chan, reflect.Map, reflect.UnsafePointer, reflect.Func:
		if len(a.Children) > 0 {
			return "0x" + strconv.FormatUint(a.Children[0].Addr, 16)
		}
		if v, err := strconv.ParseUint(a.Value, 10, 64); err == nil {
			return "0x" + strconv.FormatUint(v, 16)
		}
		return "_"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		val := a.Value
		if i := strings.LastIndex(val, "("); i >= 0 && strings.HasSuffix(val, ")") {
			val = val[i+1 : len(val)-1] // "semaBlockProfile (1)"
		}
		if v, err := strconv.ParseInt(val, 10, 64); err == nil {
			return "0x" + strconv.FormatUint(uint64(v), 16)
		}
		if v, err := strconv.ParseUint(val, 10, 64); err == nil {
			return "0x" + strconv.FormatUint(v, 16)
		}
		return "_"
	case reflect.Bool:
		if a.Value == "true" {
			return "0x1"
		}
		return "0x0"
	}
	return "{...}"
}

// resume continues the target and waits until the server says it runs, so
// that closing the connection cannot overtake the continue (a quick second
// read would then find the target stopped and take it for somebody's
// breakpoint).
func resume(c *rpc2.RPCClient) {
	_ = c.Continue() // answers only when the target stops again: not waited for
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if st, err := c.GetStateNonBlocking(); err != nil || st.Running || st.Exited {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
