package context

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/text"
)

// GID is how a goroutine is named on screen: "g21".
func GID(id int64) string { return "g" + strconv.FormatInt(id, 10) }

// Wait is a coarse duration: "<1s", "45s", "4m31s", "1h05m", "2d3h"; "" for 0
// (the runtime has not measured it).
func Wait(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return "<1s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// Pause is a short duration for how long the target was stopped: "12ms".
func Pause(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

// Age is how long ago t was: "now", "3s ago", "2m ago".
func Age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return ""
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m ago"
	}
	return strconv.Itoa(int(d/time.Hour)) + "h ago"
}

// Func is a function name without its package path and type arguments:
// "store.(*Store).Get".
func Func(fn string) string {
	if fn == "" {
		return "?"
	}
	return inspect.ShortFunc(inspect.StripTypeArgs(fn, inspect.TypeArgsElided))
}

// Loc is a frame's location, shortened: "store/store.go:41".
func Loc(f inspect.Frame) string {
	if f.File == "" {
		return "?"
	}
	s := inspect.ShortFile(f.File)
	if f.Line > 0 {
		s += ":" + strconv.Itoa(f.Line)
	}
	return s
}

// parkFuncs say nothing about why a goroutine is parked.
var parkFuncs = map[string]bool{
	"runtime.gopark": true, "runtime.goparkunlock": true, "runtime.park_m": true,
	"runtime.mcall": true, "runtime.systemstack": true,
}

// TopFrame is the frame that best says where a goroutine is: the innermost
// frame of the program, else the innermost frame outside the runtime, else
// the first frame after the parking functions. Nil without frames.
func TopFrame(g *inspect.Goroutine) *inspect.Frame {
	if g == nil || len(g.Frames) == 0 {
		return nil
	}
	if t := g.TopUser; t >= 0 && t < len(g.Frames) {
		return &g.Frames[t]
	}
	for i, f := range g.Frames {
		if inspect.IsUserFunc(f.Func) {
			return &g.Frames[i]
		}
	}
	for i, f := range g.Frames {
		if inspect.FuncPackage(f.Func) != "runtime" {
			return &g.Frames[i]
		}
	}
	i := 0
	for i < len(g.Frames)-1 && parkFuncs[g.Frames[i].Func] {
		i++
	}
	return &g.Frames[i]
}

// Where is "func  file:line" of a goroutine's top frame.
func Where(g *inspect.Goroutine) (fn, loc string) {
	f := TopFrame(g)
	if f == nil {
		return "(no stack)", ""
	}
	return Func(f.Func), Loc(*f)
}

// WhereFit is "func  file:line" in at most w columns: the location loses
// its directory first, then goes; then the function is cut.
func WhereFit(fn, loc string, w int) string {
	if loc == "" {
		return text.Cut(fn, w)
	}
	if s := fn + "  " + loc; text.Width(s) <= w {
		return s
	}
	if i := strings.LastIndex(loc, "/"); i >= 0 {
		loc = loc[i+1:]
	}
	if s := fn + "  " + loc; text.Width(s) <= w {
		return s
	}
	return text.Cut(fn, w)
}

// Doing is what a goroutine does: its wait reason, or its state.
func Doing(g *inspect.Goroutine) string {
	if g.WaitReason != "" {
		return g.WaitReason
	}
	return string(g.State)
}

// Addr is a resource's address, "0xc000012340", or "" when unknown.
func Addr(r *inspect.Resource) string {
	if r == nil || r.Addr == 0 {
		return ""
	}
	return "0x" + strconv.FormatUint(r.Addr, 16)
}

// HolderText is "held by g18 since store/store.go:41 (deferred Unlock
// pending)": inspect's wording (Holder.HeldBy, Holder.Since) with the
// screen's goroutine names and locations.
func HolderText(h inspect.Holder) string {
	loc := ""
	if h.Frame != nil {
		loc = Loc(*h.Frame)
	}
	return h.HeldBy() + " " + h.Since(GID(h.Goroutine), loc)
}

// IDList is "g5 g6 g7 +3" with at most limit ids.
func IDList(ids []int64, limit int) string {
	var b strings.Builder
	for i, id := range ids {
		if i == limit {
			fmt.Fprintf(&b, " +%d", len(ids)-limit)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(GID(id))
	}
	return b.String()
}
