package context

import (
	"strconv"
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/text"
)

// Age is how long ago t was, in inspect's coarse duration: "now", "3s
// ago", "2m ago", "1h05m ago"; "" for a zero t.
func Age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return ""
	case d < time.Second:
		return "now"
	}
	return inspect.CoarseDuration(d) + " ago"
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
		loc = inspect.ShortLoc(*h.Frame)
	}
	return h.HeldBy() + " " + h.Since(inspect.ShortGID(h.Goroutine), loc)
}
