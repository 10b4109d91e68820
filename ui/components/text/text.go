// Package text has the small string helpers every pane uses to lay out
// lines: measuring, cutting and padding (ANSI-aware), and word wrapping.
package text

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Width is the number of terminal columns s takes (escape codes excluded).
func Width(s string) int { return ansi.StringWidth(s) }

// Cut shortens s to at most w columns, ending it with "…" when it was cut.
func Cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// CutLeft shortens s to at most w columns by dropping its beginning,
// starting it with "…" (for paths and function names, whose end matters).
func CutLeft(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n <= w {
		return s
	}
	return "…" + ansi.TruncateLeft(s, n-w+1, "")
}

// Pad cuts s to w columns and pads it with spaces to exactly w.
func Pad(s string, w int) string {
	s = Cut(s, w)
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// PadLeft right-aligns s in w columns.
func PadLeft(s string, w int) string {
	s = Cut(s, w)
	if n := ansi.StringWidth(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

// Wrap breaks plain text s into lines of at most w columns at spaces; the
// lines after the first are indented by hang spaces. A word longer than a
// line is cut.
func Wrap(s string, w, hang int) []string {
	if w <= 0 {
		return nil
	}
	if hang >= w {
		hang = 0
	}
	var out []string
	words := strings.Fields(s)
	cur, lim := "", w
	for _, word := range words {
		switch {
		case cur == "":
			cur = word
		case ansi.StringWidth(cur)+1+ansi.StringWidth(word) <= lim:
			cur += " " + word
		default:
			out = append(out, Cut(cur, lim))
			cur, lim = word, w-hang
		}
	}
	if cur != "" || len(out) == 0 {
		out = append(out, Cut(cur, lim))
	}
	for i := 1; i < len(out); i++ {
		out[i] = strings.Repeat(" ", hang) + out[i]
	}
	return out
}

// Lines joins exactly h lines of exactly w columns: lines are cut and
// padded, missing lines are blank, extra lines dropped. Every pane's View
// goes through it, so a pane can never draw outside its box.
func Lines(lines []string, w, h int) string {
	var b strings.Builder
	for i := 0; i < h; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(Pad(l, w))
	}
	return b.String()
}
