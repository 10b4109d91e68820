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

// Where is "func  file:line" of a goroutine's top frame.
func Where(g *inspect.Goroutine) (fn, loc string) {
	f := g.TopFrame()
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
