package inspect

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The words every view of a snapshot uses for the same things: the text
// report, the Markdown, DOT and Mermaid exports (inspect/report), the
// findings' own lines (this package) and the TUI (ui/...). A view lays
// them out its own way (columns, parentheses, colours) but does not word a
// state, a wait, a holder or a verdict itself: change the wording here, and
// every view changes with it.

// Plural is n and word, with an "s" unless n is 1: "1 goroutine",
// "3 goroutines".
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// ShortGID is how a goroutine is named where room is short (the TUI, graph
// nodes): "g21".
func ShortGID(id int64) string { return "g" + strconv.FormatInt(id, 10) }

// ShortGIDs is "g5 g6 g7 +3": at most limit goroutines by ShortGID, and
// how many more.
func ShortGIDs(ids []int64, limit int) string {
	var b strings.Builder
	for i, id := range ids {
		if i == limit {
			b.WriteString(" +" + strconv.Itoa(len(ids)-limit))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ShortGID(id))
	}
	return b.String()
}

// TypeArgsElided is what stands for a function's type arguments where it is
// shown to people, as in Go tracebacks: "main.Map[...].Get".
const TypeArgsElided = "[...]"

// StripTypeArgs replaces every top-level [...] group of a function name
// with repl: with TypeArgsElided, "main.Map[go.shape.int].Get" →
// "main.Map[...].Get"; with "", "main.Map.Get" (to compare names).
func StripTypeArgs(fn, repl string) string {
	if !strings.Contains(fn, "[") {
		return fn
	}
	var b strings.Builder
	depth := 0
	for _, r := range fn {
		switch {
		case r == '[':
			if depth == 0 {
				b.WriteString(repl)
			}
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ShortDuration is a duration to its unit, for how long something took
// (a pause, an analysis): "850µs", "12ms", "1.4s".
func ShortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

// CoarseDuration is a duration as people say how long something has been
// waiting: "<1s", "45s", "4m", "1h05m", "2d3h"; "" for none (the runtime
// has not measured it).
func CoarseDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return "<1s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// ---- where a goroutine is ----

// parkFuncs are the runtime functions every parked goroutine has on top of
// its stack; they say nothing about why it parked.
var parkFuncs = map[string]bool{
	"runtime.gopark": true, "runtime.goparkunlock": true, "runtime.park_m": true,
	"runtime.mcall": true, "runtime.systemstack": true, "runtime.fastrand": true,
}

// IsParkFunc reports whether fn is one of the runtime functions every
// parked goroutine has on top of its stack (runtime.gopark...).
func IsParkFunc(fn string) bool { return parkFuncs[fn] }

// TopFrame is the frame that best says where a goroutine is: the innermost
// frame of the program, else the innermost frame outside the runtime, else
// the first frame after the parking functions. Nil without frames.
func (g *Goroutine) TopFrame() *Frame {
	if g == nil || len(g.Frames) == 0 {
		return nil
	}
	if t := g.TopUser; t >= 0 && t < len(g.Frames) {
		return &g.Frames[t]
	}
	for i, f := range g.Frames {
		if IsUserFunc(f.Func) {
			return &g.Frames[i]
		}
	}
	for i, f := range g.Frames {
		if FuncPackage(f.Func) != "runtime" {
			return &g.Frames[i]
		}
	}
	i := 0
	for i < len(g.Frames)-1 && parkFuncs[g.Frames[i].Func] {
		i++
	}
	return &g.Frames[i]
}

// ShortFuncName is a function name without its package path, type
// arguments elided: "store.(*Cache[...]).Get"; "?" for none.
func ShortFuncName(fn string) string {
	if fn == "" {
		return "?"
	}
	return ShortFunc(StripTypeArgs(fn, TypeArgsElided))
}

// ShortLoc is a frame's location with one directory: "store/store.go:41";
// "?" when the file is not known.
func ShortLoc(f Frame) string {
	if f.File == "" {
		return "?"
	}
	s := ShortFile(f.File)
	if f.Line > 0 {
		s += ":" + strconv.Itoa(f.Line)
	}
	return s
}

// ShortWhere is where a goroutine is, short: its TopFrame's ShortFuncName
// and ShortLoc; "(no stack)" and "" without frames.
func (g *Goroutine) ShortWhere() (fn, loc string) {
	f := g.TopFrame()
	if f == nil {
		return "(no stack)", ""
	}
	return ShortFuncName(f.Func), ShortLoc(*f)
}

// Doing is what a goroutine does: its wait reason, else its state
// ("sync.Mutex.Lock", "running").
func (g *Goroutine) Doing() string {
	if g.WaitReason != "" {
		return g.WaitReason
	}
	return string(g.State)
}

// ---- verdicts ----

// verdictOrder lists the verdicts most severe first (Verdict.Rank).
var verdictOrder = []Verdict{
	VerdictDeadlocked, VerdictLeaked, VerdictBlocked, VerdictSyscall,
	VerdictRunning, VerdictRunnable, VerdictSleeping, VerdictIdle,
}

// Rank orders verdicts most severe first: deadlocked 0, leaked 1,
// blocked 2, syscall 3, running 4, runnable 5, sleeping 6, idle 7; an
// unknown or empty verdict 8.
func (v Verdict) Rank() int {
	for i, o := range verdictOrder {
		if v == o {
			return i
		}
	}
	return len(verdictOrder)
}

// Name is the verdict as written in lower case: "deadlocked", "blocked";
// "unknown" when there is none.
func (v Verdict) Name() string {
	if v == "" {
		return "unknown"
	}
	return string(v)
}

// Label is the verdict where it stands on its own (a goroutine's status, a
// graph node): Name, in upper case when it claims the goroutine can never
// run again ("DEADLOCKED", "LEAKED").
func (v Verdict) Label() string {
	if v.Stuck() {
		return strings.ToUpper(string(v))
	}
	return v.Name()
}

// Name is the cycle's kind as written: "lock-order"; "wait-for" when it
// has none.
func (k CycleKind) Name() string {
	if k == "" {
		return "wait-for"
	}
	return string(k)
}

// ---- waits ----

// Verb is the operation as a verb phrase, before a resource: "lock",
// "read-lock", "receive from", "wait on".
func (o Op) Verb() string {
	switch o {
	case OpRLock:
		return "read-lock"
	case OpWait, "":
		return "wait on"
	case OpSend:
		return "send on"
	case OpRecv:
		return "receive from"
	case OpSelect:
		return "send on or receive from"
	}
	return string(o)
}

// WaitsTo is the phrase after a goroutine, before a resource: "waits to
// lock", "waits to receive from", "waits on".
func (o Op) WaitsTo() string {
	if o == OpWait || o == "" {
		return "waits on"
	}
	return "waits to " + o.Verb()
}

// ---- resources ----

// ResourceName is a resource's kind and type without package paths:
// "mutex main.Account.mu", "chan int", "nil chan"; its id when the type is
// not known, and id when r is nil.
func ResourceName(r *Resource, id string) string {
	if r == nil {
		return id
	}
	t := ShortType(r.Type)
	switch {
	case t == "":
		return r.ID
	case strings.HasPrefix(t, string(r.Kind)+" ") || r.Kind == KindChan && strings.HasPrefix(t, "chan"):
		return t
	case r.Kind == KindChan && r.Chan != nil && r.Chan.Nil:
		return "nil chan"
	}
	return string(r.Kind) + " " + t
}

// describeResource is how the findings name a resource: "mutex 0xc000012340
// (main.Account.mu)".
func describeResource(r *Resource) string {
	return fmt.Sprintf("%s %#x (%s)", r.Kind, r.Addr, ShortType(r.Type))
}

// Buffer is a channel's buffer: "len 0/cap 16".
func (c *ChanState) Buffer() string {
	return "len " + strconv.Itoa(c.Len) + "/cap " + strconv.Itoa(c.Cap)
}

// State is a resource's state as read from memory, without who waits on
// it: "locked, starving", "read-locked by 2 readers, writer pending",
// "counter 2", "len 0/cap 16, open", "nil channel: blocks forever",
// "state not read" (a goroutine dump or a Delve server shows no memory).
// For a sync.Cond, whose state is its waiters, "3 waiting".
func (r *Resource) State() string { return r.state(false) }

// StateText is State and how many wait: "locked, 3 waiting", "len 0/cap
// 16, open, 4 receivers waiting", "write-locked, 1 writer waiting".
func (r *Resource) StateText() string { return r.state(true) }

func (r *Resource) state(counts bool) string {
	waiting := 0
	if counts {
		waiting = len(r.Waiters)
	}
	var p []string
	waitingPart := func(n int, who string) {
		if counts && n > 0 {
			p = append(p, who+" waiting")
		}
	}
	switch {
	case r.Mutex != nil:
		m := r.Mutex
		if m.Locked {
			p = append(p, "locked")
		} else {
			p = append(p, "unlocked")
		}
		if m.Starving {
			p = append(p, "starving")
		}
		if waiting == 0 {
			waiting = m.Waiters
		}
		waitingPart(waiting, strconv.Itoa(waiting))
	case r.RWMutex != nil:
		m := r.RWMutex
		switch {
		case m.WriterHeld:
			p = append(p, "write-locked")
		case m.Readers > 0:
			p = append(p, "read-locked by "+Plural(m.Readers, "reader"))
		default:
			p = append(p, "unlocked")
		}
		if m.WriterPending {
			p = append(p, "writer pending")
		}
		waitingPart(m.WritersWaiting, Plural(m.WritersWaiting, "writer"))
		waitingPart(m.ReadersWaiting, Plural(m.ReadersWaiting, "reader"))
	case r.WaitGroup != nil:
		p = append(p, "counter "+strconv.Itoa(r.WaitGroup.Counter))
		if waiting == 0 {
			waiting = r.WaitGroup.Waiters
		}
		waitingPart(waiting, strconv.Itoa(waiting))
	case r.Cond != nil:
		p = append(p, strconv.Itoa(r.Cond.Waiters)+" waiting")
	case r.Chan != nil:
		c := r.Chan
		if c.Nil {
			return "nil channel: blocks forever"
		}
		s := c.Buffer() + ", open"
		if c.Closed {
			s = c.Buffer() + ", closed"
		}
		p = append(p, s)
		waitingPart(len(c.Senders), Plural(len(c.Senders), "sender"))
		waitingPart(len(c.Receivers), Plural(len(c.Receivers), "receiver"))
		if len(c.Senders)+len(c.Receivers) == 0 {
			waitingPart(waiting, strconv.Itoa(waiting))
		}
	case r.Sema != nil:
		p = append(p, "value "+strconv.FormatUint(uint64(r.Sema.Value), 10))
		waitingPart(waiting, strconv.Itoa(waiting))
	default:
		p = append(p, "state not read")
		waitingPart(waiting, strconv.Itoa(waiting))
	}
	return strings.Join(p, ", ")
}

// ---- holders ----

// HeldBy is "held by", or "read-held by" for a reader of an RWMutex.
func (h Holder) HeldBy() string {
	if h.Read {
		return "read-held by"
	}
	return "held by"
}

// EvidenceText is how the holder was identified, with loc the place it
// points at ("" when not known or not wanted): "deferred Unlock pending at
// store.go:41", "locked at store.go:41, not unlocked since", "inferred, the
// only goroutine referencing it, at cache.go:58"; without loc "deferred
// Unlock pending", "locked, not unlocked since".
func (h Holder) EvidenceText(loc string) string {
	at := ""
	if loc != "" {
		at = " at " + loc
	}
	unlock, lock := "Unlock", "locked"
	if h.Read {
		unlock, lock = "RUnlock", "read-locked"
	}
	switch h.Evidence {
	case EvidenceDefer:
		return "deferred " + unlock + " pending" + at
	case EvidenceSource:
		return lock + at + ", not unlocked since"
	case EvidenceReference:
		if at != "" {
			return "inferred, the only goroutine referencing it," + at
		}
		return "inferred, the only goroutine referencing it"
	case "":
		return strings.TrimPrefix(at, " ")
	}
	return string(h.Evidence) + at
}

// Since is who holds the lock, since where, and how that is known:
// "goroutine 18 since store.go:41 (deferred Unlock pending)", with who and
// loc as the caller names them.
func (h Holder) Since(who, loc string) string {
	s := who
	if loc != "" {
		s += " since " + loc
	}
	if e := h.EvidenceText(""); e != "" {
		s += " (" + e + ")"
	}
	return s
}

// DescribeHolder is "goroutine 18 since store.go:41 (deferred Unlock
// pending)".
func DescribeHolder(h Holder) string {
	loc := ""
	if h.Frame != nil {
		loc = fmt.Sprintf("%s:%d", ShortFile(h.Frame.File), h.Frame.Line)
	}
	return h.Since(fmt.Sprintf("goroutine %d", h.Goroutine), loc)
}
