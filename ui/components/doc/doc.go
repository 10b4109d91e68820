// Package doc is a scrollable document of lines in which some runs of lines
// are selectable items: the overview's findings, the graph's nodes, the
// frames and links of a goroutine's detail. The cursor moves from item to
// item, the view scrolls to keep the selected item whole, and only the
// visible lines are drawn.
package doc

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hangtui/hangtui/ui/components/text"
	"github.com/hangtui/hangtui/ui/keys"
)

// Line is one line of a document.
type Line struct {
	// Styled is the line as drawn; Plain the same text without styles (drawn
	// in reverse video when the line is selected).
	Styled, Plain string
	// Item is the index of the selectable item the line belongs to, or -1.
	Item int
}

// Builder collects lines.
type Builder struct {
	Lines []Line
	items int
}

// Add appends a line that belongs to no item. styled may be "" to use
// plain.
func (b *Builder) Add(plain, styled string) {
	if styled == "" {
		styled = plain
	}
	b.Lines = append(b.Lines, Line{Styled: styled, Plain: plain, Item: -1})
}

// Blank appends an empty line, unless the last line is empty already.
func (b *Builder) Blank() {
	if n := len(b.Lines); n > 0 && b.Lines[n-1].Plain != "" {
		b.Add("", "")
	}
}

// Item starts a new selectable item and returns its index; lines added with
// AddTo(index, ...) belong to it.
func (b *Builder) Item() int {
	b.items++
	return b.items - 1
}

// AddTo appends a line of item i.
func (b *Builder) AddTo(i int, plain, styled string) {
	if styled == "" {
		styled = plain
	}
	b.Lines = append(b.Lines, Line{Styled: styled, Plain: plain, Item: i})
}

// Items is the number of items started.
func (b *Builder) Items() int { return b.items }

// Model is a document on screen.
type Model struct {
	lines  []Line
	first  []int // first line of each item
	last   []int // last line of each item
	Cursor int   // selected item, -1 when there are none
	Offset int   // first visible line
	W, H   int
	// Selected is the style of the selected item's first line.
	Selected lipgloss.Style
}

// SetSize sets the size in columns and lines.
func (m *Model) SetSize(w, h int) {
	m.W, m.H = w, max(h, 1)
	m.follow()
}

// SetLines replaces the document, keeping the cursor on the same item index
// (clamped) and the offset.
func (m *Model) SetLines(lines []Line) {
	m.lines = lines
	m.first, m.last = m.first[:0], m.last[:0]
	for i, l := range lines {
		if l.Item < 0 {
			continue
		}
		for len(m.first) <= l.Item {
			m.first = append(m.first, i)
			m.last = append(m.last, i)
		}
		m.last[l.Item] = i
	}
	switch {
	case len(m.first) == 0:
		m.Cursor = -1
	case m.Cursor < 0:
		m.Cursor = 0
	case m.Cursor >= len(m.first):
		m.Cursor = len(m.first) - 1
	}
	m.clampOffset()
}

// Lines returns the document.
func (m *Model) Lines() []Line { return m.lines }

// Len is the number of items.
func (m *Model) Len() int { return len(m.first) }

// Select moves the cursor to item i and scrolls to it.
func (m *Model) Select(i int) {
	if len(m.first) == 0 {
		return
	}
	m.Cursor = max(0, min(i, len(m.first)-1))
	m.follow()
}

// follow scrolls so that the selected item is visible, whole if it fits.
func (m *Model) follow() {
	if m.Cursor >= 0 && m.Cursor < len(m.first) {
		f, l := m.first[m.Cursor], m.last[m.Cursor]
		if l >= m.Offset+m.H {
			m.Offset = l - m.H + 1
		}
		if f < m.Offset || l-f+1 > m.H {
			m.Offset = f
		}
		// Show the heading above the first item, and the end below the last.
		if m.Cursor == 0 && f < m.H {
			m.Offset = 0
		}
		if m.Cursor == len(m.first)-1 && len(m.lines)-f <= m.H {
			m.Offset = len(m.lines) - m.H
		}
	}
	m.clampOffset()
}

func (m *Model) clampOffset() {
	m.Offset = max(0, min(m.Offset, len(m.lines)-m.H))
}

// scroll moves the view by d lines and, when the selected item leaves the
// view, selects the nearest visible one.
func (m *Model) scroll(d int) {
	m.Offset += d
	m.clampOffset()
	if m.Cursor < 0 {
		return
	}
	if m.last[m.Cursor] < m.Offset || m.first[m.Cursor] >= m.Offset+m.H {
		best := -1
		for i := range m.first {
			if m.first[i] >= m.Offset && m.first[i] < m.Offset+m.H {
				if best < 0 || d < 0 {
					best = i
				}
				if d > 0 {
					break
				}
			}
		}
		if best >= 0 {
			m.Cursor = best
		}
	}
}

// Update handles movement keys and the mouse wheel; it reports whether msg
// was one of them.
func (m *Model) Update(msg tea.Msg, km *keys.KeyMap) bool {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		page := max(m.H-1, 1)
		switch {
		case key.Matches(msg, km.Up):
			if m.Cursor > 0 {
				m.Select(m.Cursor - 1)
			} else {
				m.scroll(-1)
			}
		case key.Matches(msg, km.Down):
			if m.Cursor >= 0 && m.Cursor < len(m.first)-1 {
				m.Select(m.Cursor + 1)
			} else {
				m.scroll(1)
			}
		case key.Matches(msg, km.Top):
			m.Offset = 0
			m.Select(0)
		case key.Matches(msg, km.Bottom):
			m.Select(len(m.first) - 1)
			m.Offset = len(m.lines)
			m.clampOffset()
		case key.Matches(msg, km.PageUp):
			m.scroll(-page)
		case key.Matches(msg, km.PageDown):
			m.scroll(page)
		default:
			return false
		}
		return true
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.scroll(-3)
		case tea.MouseWheelDown:
			m.scroll(3)
		default:
			return false
		}
		return true
	}
	return false
}

// ItemAt returns the item drawn at line y of the view (a click), or -1.
func (m *Model) ItemAt(y int) int {
	i := m.Offset + y
	if y < 0 || i >= len(m.lines) {
		return -1
	}
	return m.lines[i].Item
}

// View draws the visible lines, exactly W×H.
func (m *Model) View() string {
	out := make([]string, 0, m.H)
	for i := m.Offset; i < len(m.lines) && i < m.Offset+m.H; i++ {
		l := m.lines[i]
		if l.Item >= 0 && l.Item == m.Cursor && i == m.first[m.Cursor] {
			out = append(out, m.Selected.Render(text.Pad(Mark(l.Plain), m.W)))
			continue
		}
		out = append(out, l.Styled)
	}
	return text.Lines(out, m.W, m.H)
}

// More reports whether lines are hidden above and below the view.
func (m *Model) More() (above, below bool) {
	return m.Offset > 0, m.Offset+m.H < len(m.lines)
}

// Mark puts the selection marker "›" in the first column of a line, so
// that the selection shows without reverse video too (NO_COLOR, goldens).
func Mark(plain string) string {
	if strings.HasPrefix(plain, " ") {
		return "›" + plain[1:]
	}
	return "›" + plain
}

// Join is a helper to build a line from styled parts.
func Join(parts ...string) string { return strings.Join(parts, "") }
