// Package keys is the one key map of the TUI. The `?` help screen is
// generated from it, so a binding that is not here does not exist.
package keys

import "charm.land/bubbles/v2/key"

// KeyMap lists every key binding.
type KeyMap struct {
	Up       key.Binding
	Down     key.Binding
	Top      key.Binding
	Bottom   key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Enter    key.Binding
	Back     key.Binding

	NextPane key.Binding
	PrevPane key.Binding
	Jump     key.Binding // 1-6: the digit says which pane

	Filter key.Binding
	Sort   key.Binding
	Group  key.Binding
	Expand key.Binding
	All    key.Binding // picker: show every process

	Pause   key.Binding
	Refresh key.Binding
	Save    key.Binding
	SaveDOT key.Binding

	Help key.Binding
	Quit key.Binding
}

// Default returns the key map.
func Default() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		Top:      b("g/home", "first", "g", "home"),
		Bottom:   b("G/end", "last", "G", "end"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+b", "ctrl+u"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+f", "ctrl+d", "space"),
		Enter:    b("enter", "open / jump", "enter"),
		Back:     b("esc", "back", "esc", "backspace"),

		NextPane: b("tab", "next pane", "tab"),
		PrevPane: b("shift+tab", "previous pane", "shift+tab"),
		Jump:     b("1-6", "go to pane", "1", "2", "3", "4", "5", "6"),

		Filter: b("/", "filter", "/"),
		Sort:   b("o", "change sort order", "o"),
		Group:  b("u", "group / ungroup", "u"),
		Expand: b("e", "expand / collapse", "e"),
		All:    b("a", "all processes / Go only", "a"),

		Pause:   b("p", "pause / resume refresh", "p"),
		Refresh: b("r", "refresh now", "r"),
		Save:    b("s", "save snapshot JSON", "s"),
		SaveDOT: b("d", "save graph as DOT", "d"),

		Help: b("?", "help", "?"),
		Quit: b("q", "quit (detach)", "q", "ctrl+c"),
	}
}

// ShortHelp is the one-line hint.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.NextPane, k.Enter, k.Back, k.Filter, k.Quit}
}

// FullHelp is the help screen, one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown, k.Enter, k.Back},
		{k.NextPane, k.PrevPane, k.Jump, k.Filter, k.Sort, k.Group, k.Expand},
		{k.Pause, k.Refresh, k.Save, k.SaveDOT, k.Help, k.Quit},
	}
}

// Pane returns the pane number (0-based) of a Jump key, or -1.
func Pane(s string) int {
	if len(s) == 1 && s[0] >= '1' && s[0] <= '6' {
		return int(s[0] - '1')
	}
	return -1
}
