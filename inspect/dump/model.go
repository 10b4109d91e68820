// Package dump parses Go goroutine dumps: the text the runtime prints on
// SIGQUIT or a fatal error (GOTRACEBACK=all|crash|system), the panic of a
// `go test -timeout`, and /debug/pprof/goroutine?debug=2. It knows nothing
// about debuggers or analysis: it turns text into goroutines and stacks,
// keeping the raw argument words that the analysis in package inspect uses
// to link waiters to lock and channel addresses.
package dump

// Dump is one goroutine dump.
type Dump struct {
	// Goroutines in the order they appear in the input.
	Goroutines []*Goroutine
	// Header holds the lines just before the first goroutine that say why
	// the dump was printed, e.g. "SIGQUIT: quit", "panic: test timed out
	// after 2s", "fatal error: all goroutines are asleep - deadlock!".
	Header []string
	// AllAsleep is true when the runtime itself reported "all goroutines
	// are asleep - deadlock!": it checked that no goroutine can run.
	AllAsleep bool
	// TimedOut names the tests that were running when `go test -timeout`
	// fired (from "running tests:"), when the dump is such a panic.
	TimedOut []string
	// Dumps is how many separate dumps the input held; only the first is
	// read (a later one starts when a goroutine id repeats).
	Dumps int
	// Truncated is true when the input ended inside a goroutine's stack.
	Truncated bool
	// Skipped counts input lines that were not part of any goroutine (test
	// output interleaved with the dump, log lines, registers).
	Skipped int
	// GoVersion is the Go release that built the program when the file
	// paths of the runtime show it (module-cache toolchains), else "".
	GoVersion string
}

// Goroutine is one goroutine of the dump.
type Goroutine struct {
	// ID is the goroutine id.
	ID int64
	// Status is the text between the brackets before any comma: a
	// scheduler state ("running", "runnable", "syscall") or the wait reason
	// ("sync.Mutex.Lock", "chan receive (nil chan)").
	Status string
	// Minutes is how long it has waited, as the runtime printed it (it
	// prints whole minutes from 1 on); 0 when not printed.
	Minutes int
	// LockedToThread is true for ", locked to thread".
	LockedToThread bool
	// Leaked is true for "(leaked)": the runtime's goroutine leak detector
	// (Go 1.26+ goroutineleak) proved it can never run again.
	Leaked bool
	// Durable is true for "(durable)": blocked inside a synctest bubble.
	Durable bool
	// Labels are the pprof labels printed in the header (Go 1.26+ with
	// GODEBUG=tracebacklabels=1).
	Labels map[string]string
	// GP and MP are the g and m addresses when printed (gp=… mp=…); M is
	// the m id or -1 for m=nil or when not printed.
	GP, MP uint64
	M      int64
	// Stack is the call stack, innermost first. Goroutines with identical
	// stacks (same functions, files and lines) share one Stack.
	Stack *Stack
	// Elided is true when the runtime left out frames
	// ("...additional frames elided..." or "...N frames elided...").
	Elided bool
	// Truncated is true when the input ended inside this goroutine.
	Truncated bool
	// CreatedBy is the go statement that started it; ParentID the
	// goroutine that ran it (0 when not printed).
	CreatedBy *Frame
	ParentID  int64
	// Line is the input line of the header (1-based), for messages.
	Line int
	// args holds the argument text of every frame, separated by '\n'.
	args string
	// argv holds every frame's arguments as values, for goroutines that
	// come from elsewhere than a text dump (SetArgValues).
	argv [][]Arg
}

// Stack is a sequence of frames shared by goroutines with the same stack.
type Stack struct {
	Frames []Frame
}

// Frame is one frame of a stack.
type Frame struct {
	// Func is the function as printed ("main.(*Store).Get", "panic").
	Func string
	// File and Line are the source position.
	File string
	Line int
	// Inlined is true when the runtime printed "(...)" instead of the
	// arguments: the frame was inlined into its caller.
	Inlined bool
}

// Args returns the raw argument text of frame i (without parentheses),
// "..." for an inlined frame, "" when there were none or when none of them
// was printed as a live word (all "?" or aggregates: no evidence in them).
func (g *Goroutine) Args(i int) string {
	s := g.args
	for ; i > 0; i-- {
		j := indexByte(s, '\n')
		if j < 0 {
			return ""
		}
		s = s[j+1:]
	}
	if j := indexByte(s, '\n'); j >= 0 {
		return s[:j]
	}
	return s
}

// SetArgValues sets the arguments of every frame as values, for
// goroutines that come from elsewhere than a text dump (a Delve server's
// stacks): argv[i] is frame i's, the receiver first.
func (g *Goroutine) SetArgValues(argv [][]Arg) { g.argv = argv }

// ArgValues returns frame i's top-level arguments: the values given to
// SetArgValues, else the printed text parsed (ParseArgs).
func (g *Goroutine) ArgValues(i int) []Arg {
	if g.argv != nil {
		if i < len(g.argv) {
			return g.argv[i]
		}
		return nil
	}
	return ParseArgs(g.Args(i))
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// Arg is one top-level argument as the runtime printed it.
type Arg struct {
	// Value is the word's value for a scalar argument.
	Value uint64
	// Uncertain is true when the runtime marked the word with "?": it may
	// be stale (a register argument not known to be live).
	Uncertain bool
	// Aggregate is true for a struct, string, slice or interface ("{…}").
	Aggregate bool
	// Unknown is true for "...", "_" or anything unparsable.
	Unknown bool
}

// ParseArgs splits an argument list into its top-level arguments: one per
// parameter (the receiver first), aggregates as one argument each. The
// list stops at "..." (the runtime prints at most about ten words).
func ParseArgs(s string) []Arg {
	var out []Arg
	depth := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '{':
				depth++
				continue
			case '}':
				depth--
				continue
			case ',':
				if depth != 0 {
					continue
				}
			default:
				continue
			}
		}
		if depth != 0 && i < len(s) {
			continue
		}
		item := trimSpace(s[start:i])
		start = i + 1
		if item == "" {
			continue
		}
		out = append(out, parseArg(item))
		if out[len(out)-1].Unknown && item == "..." {
			return out
		}
	}
	return out
}

func parseArg(item string) Arg {
	if item[0] == '{' {
		return Arg{Aggregate: true}
	}
	a := Arg{}
	if item[len(item)-1] == '?' {
		a.Uncertain = true
		item = item[:len(item)-1]
	}
	v, ok := parseHex(item)
	if !ok {
		return Arg{Unknown: true}
	}
	a.Value = v
	return a
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseHex parses "0x1f" (the only form the runtime prints words in).
func parseHex(s string) (uint64, bool) {
	if len(s) < 3 || s[0] != '0' || s[1] != 'x' || len(s) > 18 {
		return 0, false
	}
	var v uint64
	for i := 2; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | uint64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
