// Package statusbar is the bottom line: what is attached, how long the
// target was paused for the snapshot, how old the snapshot is, whether the
// view is live or paused, and what changed since the previous snapshot.
package statusbar

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect"
	"github.com/hangtui/hangtui/ui/components/text"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// FlashFor is how long a flash message stays.
const FlashFor = 6 * time.Second

type segment struct {
	plain, styled string
	prio          int // higher stays longer when the line is too narrow
	right         bool
}

// View draws the status bar, w columns wide.
func View(ctx *uictx.Context, w int) string {
	th, st := ctx.Theme, ctx.Status
	now := ctx.Now()
	var segs []segment
	add := func(plain, styled string, prio int) {
		if styled == "" {
			styled = plain
		}
		segs = append(segs, segment{plain: plain, styled: styled, prio: prio})
	}

	// Live state.
	switch {
	case st.State == uictx.Gone:
		add("✗ exited", th.Error.Render("✗ exited"), 100)
	case st.Reading:
		label := "◌ reading"
		if st.Total > 0 {
			label = fmt.Sprintf("◌ reading %s %s", Bar(st.Done, st.Total, 10), Count(st.Total))
		}
		add(label, th.Warn.Render(label), 100)
	case st.State == uictx.Live:
		add("● live", th.OK.Render("● live"), 100)
	case st.State == uictx.Paused:
		add("‖ refresh paused", th.Warn.Render("‖ refresh paused"), 100)
	case st.State == uictx.Static:
		label := "core file"
		if snap := ctx.Snap(); snap != nil && snap.Target.Source == inspect.SourceDump {
			label = "dump"
		}
		add(label, th.Info.Render(label), 100)
	case st.State == uictx.Starting:
		add("◌ attaching", th.Warn.Render("◌ attaching"), 100)
	}

	flash := st.Flash != "" && now.Sub(st.FlashAt) < FlashFor
	if flash {
		s := th.Info
		if st.FlashErr {
			s = th.Error
		}
		add(st.Flash, s.Render(st.Flash), 95)
	} else if st.Err != "" {
		add("! "+st.Err, th.Error.Render("! "+st.Err), 95)
	}

	if snap := ctx.Snap(); snap != nil {
		t := snap.Target
		if t.PID > 0 {
			add(fmt.Sprintf("PID %d", t.PID), th.Bold.Render(fmt.Sprintf("PID %d", t.PID)), 90)
		}
		if t.Exe != "" {
			add(filepath.Base(t.Exe), "", 40)
		}
		if t.GoVersion != "" {
			add(t.GoVersion, th.Dim.Render(t.GoVersion), 30)
		}
		if t.Source == inspect.SourceRemote {
			// Through a Delve server: no memory, so no reachability proof
			// (the overview's warnings say more).
			add("degraded: via Delve", th.Warn.Render("degraded: via Delve"), 92)
		}
		if c := snap.Code; c != nil {
			// The source analysis (proofs through package variables).
			switch c.State {
			case inspect.CodeRunning:
				s := "◌ source: " + c.Phase
				add(s, th.Warn.Render(s), 60)
			case inspect.CodeReady:
				s := "source ✓"
				if c.Proven > 0 {
					s = fmt.Sprintf("source ✓ +%d proven", c.Proven)
				}
				if c.NotProven != "" {
					s = "source: no proof"
				}
				add(s, th.Dim.Render(s), 35)
			default:
				s := "source: " + string(c.State)
				add(s, th.Dim.Render(s), 35)
			}
		}
		if snap.Pause > 0 && (t.Source == inspect.SourceLive || t.Source == inspect.SourceRemote) {
			add("paused "+inspect.ShortDuration(snap.Pause), th.Dim.Render("paused "+inspect.ShortDuration(snap.Pause)), 50)
		}
		if age := uictx.Age(now, st.LastAt); age != "" && st.State != uictx.Static {
			add(age, "", 70)
		}
		if st.Interval > 0 && st.Interval > ctx.Interval && st.State == uictx.Live {
			// The engine stretched the interval to keep the target running.
			s := "every " + inspect.CoarseDuration(st.Interval.Round(time.Second))
			add(s, th.Warn.Render(s), 45)
		}
		if d := ctx.Data; d != nil && d.Prev != nil {
			var p []string
			if d.NewCount > 0 {
				p = append(p, fmt.Sprintf("+%d new", d.NewCount))
			}
			if d.EndedCount > 0 {
				p = append(p, fmt.Sprintf("−%d ended", d.EndedCount))
			}
			if d.MovedCount > 0 {
				p = append(p, fmt.Sprintf("~%d changed", d.MovedCount))
			}
			if len(p) == 0 {
				p = append(p, "no change")
			}
			s := strings.Join(p, " ")
			add(s, th.Changed.Render(s), 80)
		}
	}
	hint := func(k, what string, prio int) {
		segs = append(segs, segment{plain: k + " " + what, styled: th.Key.Render(k) + th.Dim.Render(" "+what), prio: prio, right: true})
	}
	hint("tab", "panes", 10)
	hint("enter", "open", 15)
	hint("?", "help", 60)
	return fit(segs, w, th.Dim.Render(" · "))
}

// fit drops the lowest-priority segments until the line fits in w columns,
// then joins them with sep and pushes right-aligned segments to the end.
func fit(segs []segment, w int, sep string) string {
	width := func(ss []segment) int {
		n, left, right := 2, 0, 0
		for _, s := range ss {
			if s.right {
				right++
			} else {
				left++
			}
			n += text.Width(s.plain)
		}
		return n + 3*max(left-1, 0) + 3*max(right-1, 0) + 1
	}
	keep := append([]segment(nil), segs...)
	for len(keep) > 1 && width(keep) > w {
		lo := 0
		for i, s := range keep {
			if s.prio < keep[lo].prio {
				lo = i
			}
		}
		keep = append(keep[:lo], keep[lo+1:]...)
	}
	var left, right []string
	lw, rw := 1, 1
	for _, s := range keep {
		if s.right {
			if len(right) > 0 {
				rw += 3
			}
			right = append(right, s.styled)
			rw += text.Width(s.plain)
			continue
		}
		if len(left) > 0 {
			lw += 3
		}
		left = append(left, s.styled)
		lw += text.Width(s.plain)
	}
	gap := max(w-lw-rw, 1)
	line := " " + strings.Join(left, sep) + strings.Repeat(" ", gap) + strings.Join(right, sep) + " "
	return text.Cut(line, w)
}

// Bar draws a text progress bar of width cells: "█████░░░░░".
func Bar(done, total, width int) string {
	if total <= 0 || width <= 0 {
		return ""
	}
	n := min(width, max(0, done*width/total))
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}

// Count formats a goroutine count: "100,000 goroutines".
func Count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " goroutines"
}
