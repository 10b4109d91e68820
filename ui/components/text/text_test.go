package text

import (
	"strings"
	"testing"
)

func TestCutPad(t *testing.T) {
	for _, tc := range []struct {
		in   string
		w    int
		want string
	}{
		{"hello", 10, "hello     "},
		{"hello world", 8, "hello w…"},
		{"g19 ──waits──▶ x", 12, "g19 ──waits…"},
		{"\x1b[1mbold\x1b[0m text", 6, "\x1b[1mbold\x1b[0m …"},
	} {
		if got := Pad(tc.in, tc.w); got != tc.want || Width(got) != tc.w {
			t.Errorf("Pad(%q, %d) = %q (width %d), want %q", tc.in, tc.w, got, Width(got), tc.want)
		}
	}
	if got := CutLeft("github.com/x/y.Func", 10); got != "…/y.Func" && Width(got) != 10 {
		t.Errorf("CutLeft = %q", got)
	}
}

func TestWrap(t *testing.T) {
	got := Wrap("goroutine 19 waits to lock mutex 0xc000012388 held by goroutine 20", 30, 2)
	for i, l := range got {
		if Width(l) > 30 {
			t.Errorf("line %d too wide: %q", i, l)
		}
		if i > 0 && !strings.HasPrefix(l, "  ") {
			t.Errorf("line %d not indented: %q", i, l)
		}
	}
	if strings.Join(strings.Fields(strings.Join(got, " ")), " ") != "goroutine 19 waits to lock mutex 0xc000012388 held by goroutine 20" {
		t.Errorf("words lost: %q", got)
	}
}

func TestLines(t *testing.T) {
	out := Lines([]string{"a", "a very long line indeed"}, 8, 3)
	lines := strings.Split(out, "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if Width(l) != 8 {
			t.Errorf("%q is %d wide", l, Width(l))
		}
	}
}
