// Package scroll is the cursor and viewport of a list: which item is
// selected and which items are visible. Panes render only the visible items,
// so a list of 100,000 goroutines costs no more to draw than one of 20.
package scroll

import (
	tea "charm.land/bubbletea/v2"

	"charm.land/bubbles/v2/key"

	"github.com/hangtui/hangtui/ui/keys"
)

// State is a cursor over N items shown Height at a time.
type State struct {
	N      int // number of items
	Height int // visible items
	Cursor int // selected item
	Offset int // first visible item
}

// SetN changes the number of items, keeping the cursor in range.
func (s *State) SetN(n int) {
	s.N = n
	s.clamp()
}

// SetHeight changes how many items are visible.
func (s *State) SetHeight(h int) {
	s.Height = max(h, 1)
	s.clamp()
}

// Select moves the cursor to item i (clamped) and scrolls to show it.
func (s *State) Select(i int) {
	s.Cursor = i
	s.clamp()
}

// Move moves the cursor by d items.
func (s *State) Move(d int) { s.Select(s.Cursor + d) }

// Scroll moves the viewport by d items without moving the cursor out of
// view (the mouse wheel).
func (s *State) Scroll(d int) {
	s.Offset += d
	s.Offset = max(0, min(s.Offset, s.N-s.Height))
	if s.Cursor < s.Offset {
		s.Cursor = s.Offset
	}
	if s.Cursor >= s.Offset+s.Height {
		s.Cursor = s.Offset + s.Height - 1
	}
	s.clamp()
}

func (s *State) clamp() {
	if s.Height < 1 {
		s.Height = 1
	}
	if s.Cursor >= s.N {
		s.Cursor = s.N - 1
	}
	if s.Cursor < 0 {
		s.Cursor = 0
	}
	if s.Cursor < s.Offset {
		s.Offset = s.Cursor
	}
	if s.Cursor >= s.Offset+s.Height {
		s.Offset = s.Cursor - s.Height + 1
	}
	if s.Offset > s.N-s.Height {
		s.Offset = s.N - s.Height
	}
	if s.Offset < 0 {
		s.Offset = 0
	}
}

// Visible returns the range [from, to) of visible items.
func (s *State) Visible() (from, to int) {
	return s.Offset, min(s.N, s.Offset+s.Height)
}

// Update handles the movement keys and the mouse wheel; it reports whether
// msg was one of them.
func (s *State) Update(msg tea.Msg, km *keys.KeyMap) bool {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, km.Up):
			s.Move(-1)
		case key.Matches(msg, km.Down):
			s.Move(1)
		case key.Matches(msg, km.Top):
			s.Select(0)
		case key.Matches(msg, km.Bottom):
			s.Select(s.N - 1)
		case key.Matches(msg, km.PageUp):
			s.Move(-max(s.Height-1, 1))
		case key.Matches(msg, km.PageDown):
			s.Move(max(s.Height-1, 1))
		default:
			return false
		}
		return true
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			s.Scroll(-3)
		case tea.MouseWheelDown:
			s.Scroll(3)
		default:
			return false
		}
		return true
	}
	return false
}
