package report

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hangtui/hangtui/inspect"
)

// Width is the maximum number of columns of a line of the text report.
// Longer lines are wrapped where that reads well and cut ("…") otherwise.
const Width = 100

// Caps on the lists printed in the text report.
const (
	maxGroupIDs   = 8  // goroutine ids in a group's header
	maxListIDs    = 12 // waiter, sender, receiver ids of a resource
	maxWaitLines  = 4  // "waits to ..." / "holds ..." lines of a group
	maxHolders    = 8  // holders of one resource
	maxFuncColumn = 56 // widest function name the frame column aligns to
	minResGroup   = 3  // similar resources printed as one block from this many
	maxFrames     = 50 // frames of one stack; the innermost 40 and outermost 10
)

// WriteText writes the report for people: plain text, at most Width
// columns, deterministic. Sections: header, summary, findings, cycles,
// finalizers, goroutines grouped by stack, resources, warnings.
func WriteText(w io.Writer, s *inspect.Snapshot) error {
	if s == nil {
		return errors.New("report: nil snapshot")
	}
	t := newText(s)
	t.header()
	t.summary()
	t.findings()
	t.cycles()
	t.finalizers()
	t.goroutines()
	t.resources()
	t.warnings()
	_, err := io.WriteString(w, t.b.String())
	return err
}

// Headline is the one-line summary of a snapshot, e.g.
// "2 goroutines deadlocked in 1 cycle · 3 leaked · 57 goroutines" or
// "nothing stuck · 40 blocked · 57 goroutines". The TUI shows it too.
func Headline(s *inspect.Snapshot) string {
	if s == nil {
		return ""
	}
	n := map[inspect.Verdict]int{}
	total := 0
	for _, g := range s.Goroutines {
		if g != nil {
			n[g.Verdict]++
			total++
		}
	}
	dl, lk := n[inspect.VerdictDeadlocked], n[inspect.VerdictLeaked]
	var parts []string
	switch {
	case dl > 0:
		p := inspect.Plural(dl, "goroutine") + " deadlocked"
		if len(s.Cycles) > 0 {
			p += " in " + inspect.Plural(len(s.Cycles), "cycle")
		}
		parts = append(parts, p)
		if lk > 0 {
			parts = append(parts, strconv.Itoa(lk)+" leaked")
		}
	case lk > 0:
		parts = append(parts, inspect.Plural(lk, "goroutine")+" leaked")
	default:
		parts = append(parts, "nothing stuck")
		if b := n[inspect.VerdictBlocked]; b > 0 {
			parts = append(parts, strconv.Itoa(b)+" blocked")
		}
	}
	parts = append(parts, inspect.Plural(total, "goroutine"))
	return strings.Join(parts, " · ")
}

// text is one text report being written.
type text struct {
	s     *inspect.Snapshot
	b     strings.Builder
	p     *paths
	gs    []*inspect.Goroutine // non-nil, sorted by id
	byID  map[int64]*inspect.Goroutine
	res   map[string]*inspect.Resource
	blank bool // the last line written was empty (or nothing was written)
}

func newText(s *inspect.Snapshot) *text {
	t := &text{s: s, p: newPaths(s), byID: map[int64]*inspect.Goroutine{}, res: map[string]*inspect.Resource{}, blank: true}
	for _, g := range s.Goroutines {
		if g != nil {
			t.gs = append(t.gs, g)
			t.byID[g.ID] = g
		}
	}
	sort.SliceStable(t.gs, func(i, j int) bool { return t.gs[i].ID < t.gs[j].ID })
	for _, r := range s.Resources {
		if r != nil {
			t.res[r.ID] = r
		}
	}
	return t
}

// line writes one line, indented, cut at Width.
func (t *text) line(indent int, s string) {
	s = strings.Repeat(" ", indent) + s
	if utf8.RuneCountInString(s) > Width {
		r := []rune(s)
		s = string(r[:Width-1]) + "…"
	}
	t.b.WriteString(strings.TrimRight(s, " "))
	t.b.WriteByte('\n')
	t.blank = false
}

// sep writes an empty line unless the last one was empty.
func (t *text) sep() {
	if !t.blank {
		t.b.WriteByte('\n')
		t.blank = true
	}
}

// section starts a section with its heading.
func (t *text) section(title string) {
	t.sep()
	t.line(0, title)
	t.sep()
}

// wrap writes s word-wrapped: the first line at indent, the others at
// indent+hang.
func (t *text) wrap(indent, hang int, s string) {
	for i, l := range wrapWords(s, Width-indent, Width-indent-hang) {
		if i == 0 {
			t.line(indent, l)
		} else {
			t.line(indent+hang, l)
		}
	}
}

// wrapWords breaks s at spaces into lines of at most first columns (the
// first line) and rest columns (the others). Spacing inside a line is kept;
// a word longer than a line is left whole (and cut by line).
func wrapWords(s string, first, rest int) []string {
	var out []string
	lim := first
	for width(s) > lim {
		r := []rune(s)
		cut := -1
		for i := lim; i > 0; i-- {
			if r[i] == ' ' {
				cut = i
				break
			}
		}
		for i := lim + 1; cut < 0 && i < len(r); i++ {
			if r[i] == ' ' {
				cut = i
			}
		}
		if cut < 0 {
			break
		}
		head := strings.TrimRight(string(r[:cut]), " ")
		if head == "" {
			break
		}
		out = append(out, head)
		s = strings.TrimLeft(string(r[cut:]), " ")
		lim = rest
	}
	return append(out, s)
}

// segments writes parts joined by " · ", starting a new line (indented by
// hang) before a part that does not fit.
func (t *text) segments(indent, hang int, parts []string) {
	cur, in := "", indent
	for _, p := range parts {
		switch {
		case cur == "":
			cur = p
		case in+width(cur)+3+width(p) <= Width:
			cur += " · " + p
		default:
			t.line(in, cur)
			cur, in = p, indent+hang
		}
	}
	if cur != "" {
		t.line(in, cur)
	}
}

// headed writes head, then " · " and tail on the same line if that fits, or
// tail wrapped on the following lines indented by 2.
func (t *text) headed(indent int, head, tail string) {
	switch {
	case tail == "":
		t.line(indent, head)
	case indent+width(head)+3+width(tail) <= Width:
		t.line(indent, head+" · "+tail)
	default:
		t.line(indent, head)
		t.wrap(indent+2, 2, tail)
	}
}

func width(s string) int { return utf8.RuneCountInString(s) }

// ---- header and summary ----

// header is one line when it fits in Width columns, which a long executable
// path prevents; then it continues on a second line.
func (t *text) header() {
	tg := t.s.Target
	head := "hangtui report"
	if tg.PID > 0 {
		head += " · PID " + strconv.Itoa(tg.PID)
	}
	if tg.Exe != "" {
		head += " (" + elidePath(tg.Exe, Width-width(head)-3) + ")"
	}
	parts := []string{head}
	if tg.GoVersion != "" {
		parts = append(parts, tg.GoVersion)
	}
	if tg.Source != "" {
		parts = append(parts, string(tg.Source))
	}
	if !t.s.TakenAt.IsZero() {
		parts = append(parts, t.s.TakenAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if t.s.Pause > 0 {
		parts = append(parts, "target paused "+inspect.ShortDuration(t.s.Pause))
	}
	t.segments(0, 2, parts)
}

// elidePath shortens a path to at most n columns by replacing directories
// in its middle with "…", keeping the first directory and the file name.
func elidePath(p string, n int) string {
	if width(p) <= n {
		return p
	}
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return p
	}
	base := p[i:] // "/name"
	for j := i - 1; j > 0; j-- {
		if p[j] == '/' && width(p[:j])+2+width(base) <= n {
			return p[:j] + "/…" + base
		}
	}
	return "…" + base
}

// waitRange describes how long the goroutines have been parked: "waiting 4m"
// or "waiting 4m–12m", or "waiting up to 12m" when the runtime has not
// measured it for some of them (those parked since the last GC); "" when it
// measured none.
func waitRange(gs []*inspect.Goroutine) string {
	var lo, hi time.Duration
	known := 0
	for _, g := range gs {
		if g.Waiting <= 0 {
			continue
		}
		if known == 0 || g.Waiting < lo {
			lo = g.Waiting
		}
		if g.Waiting > hi {
			hi = g.Waiting
		}
		known++
	}
	switch {
	case known == 0:
		return ""
	case known < len(gs):
		return "waiting up to " + inspect.CoarseDuration(hi)
	case inspect.CoarseDuration(lo) == inspect.CoarseDuration(hi):
		return "waiting " + inspect.CoarseDuration(hi)
	}
	return "waiting " + inspect.CoarseDuration(lo) + "–" + inspect.CoarseDuration(hi)
}

func (t *text) summary() {
	t.sep()
	counts, stuck, blocked := tallyVerdicts(t.gs)
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = strconv.Itoa(c.N) + " " + c.Verdict.Name()
	}
	s := inspect.Plural(len(t.gs), "goroutine")
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	t.wrap(0, 4, s)
	if stuck > 0 {
		t.line(0, "STUCK: "+neverRunAgain(stuck))
	} else {
		t.line(0, notStuck(blocked))
	}
	var where []string
	if t.p.prefix != "" {
		where = append(where, t.p.prefix+" (program)")
	}
	if t.p.goroot != "" {
		where = append(where, t.p.goroot+" (Go)")
	}
	if len(where) > 0 {
		t.wrap(0, 4, "Source paths are relative to "+strings.Join(where, " and ")+".")
	}
	if line := CodeLine(t.s.Code); line != "" {
		t.wrap(0, 4, line)
	}
}

// CodeLine is one line on the source analysis (proofs through package
// variables): "Source analysis: 191 packages in 14.2s; proved 2 goroutines
// stuck.", or why it proved nothing; "" when it was not used.
func CodeLine(c *inspect.CodeAnalysis) string {
	if c == nil {
		return ""
	}
	switch c.State {
	case inspect.CodeReady:
		s := fmt.Sprintf("Source analysis: %d packages in %s", c.Packages, inspect.ShortDuration(c.Took))
		switch {
		case c.NotProven != "":
			s += "; no proof from it: " + c.NotProven
		case c.Proven > 0:
			s += fmt.Sprintf("; it proved %s stuck beyond what memory proves", inspect.Plural(c.Proven, "goroutine"))
		}
		return s + "."
	case inspect.CodeRunning:
		return "Source analysis: still running (" + c.Phase + "); verdicts are what memory proves."
	}
	return "Source analysis " + string(c.State) + ": " + c.Reason
}

// ---- findings and cycles ----

func (t *text) findings() {
	if len(t.s.Findings) == 0 {
		return
	}
	// Most severe first; then by the goroutines involved, so that the
	// order does not depend on the order the analysis produced them in.
	fs := sortedFindings(t.s.Findings)
	t.section(fmt.Sprintf("FINDINGS (%d)", len(fs)))
	for i, f := range fs {
		t.sep()
		num := strconv.Itoa(i+1) + ". "
		ind := width(num)
		title := f.Title
		if title == "" {
			title = string(f.Kind)
		}
		t.wrap(0, ind, num+strings.ToUpper(f.Severity.String())+"  "+title)
		for _, d := range f.Details {
			t.wrap(ind, 2, d)
		}
		var gs []*inspect.Goroutine
		var missing []int64
		for _, id := range uniqueIDs(f.Goroutines) {
			if g := t.byID[id]; g != nil {
				gs = append(gs, g)
			} else {
				missing = append(missing, id)
			}
		}
		for _, grp := range GroupGoroutines(gs) {
			t.sep()
			t.group(ind, grp, false)
		}
		if len(missing) > 0 {
			t.sep()
			t.wrap(ind, 2, "not in the snapshot: "+idList("goroutine", missing, maxListIDs))
		}
	}
}

// minID is the smallest id, or the largest int64 for none.
func minID(ids []int64) int64 {
	m := int64(1<<63 - 1)
	for _, id := range ids {
		if id < m {
			m = id
		}
	}
	return m
}

func uniqueIDs(ids []int64) []int64 {
	out := append([]int64(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	n := 0
	for i, id := range out {
		if i == 0 || id != out[n-1] {
			out[n] = id
			n++
		}
	}
	return out[:n]
}

func (t *text) cycles() {
	if len(t.s.Cycles) == 0 {
		return
	}
	cs := sortedCycles(t.s.Cycles)
	t.section(fmt.Sprintf("CYCLES (%d)", len(cs)))
	for i, c := range cs {
		kind := c.Kind.Name()
		first := "?"
		if len(c.Goroutines) > 0 {
			first = "goroutine " + strconv.FormatInt(c.Goroutines[0], 10)
		}
		t.line(0, fmt.Sprintf("Cycle %d (%s): %s", i+1, kind, first))
		for j := range c.Goroutines {
			res := "?"
			if j < len(c.Resources) {
				res = c.Resources[j]
			}
			next := c.Goroutines[(j+1)%len(c.Goroutines)]
			holder := inspect.Holder{Goroutine: next}
			if r := t.res[res]; r != nil {
				for _, h := range r.Holders {
					if h.Goroutine == next && h.Read {
						holder = h
					}
				}
			}
			held := holder.HeldBy() + " goroutine " + strconv.FormatInt(next, 10)
			t.wrap(4, 4, "→ "+t.resName(res)+" "+held)
		}
	}
}

// resName is "id (type)", or the id alone when the type is not known.
func (t *text) resName(id string) string {
	if r := t.res[id]; r != nil && r.Type != "" {
		return id + " (" + inspect.ShortType(r.Type) + ")"
	}
	return id
}

// ---- goroutines ----

// collapsed reports whether g is summed up in the "runtime goroutines idle"
// line rather than shown: an idle runtime-internal goroutine.
func collapsed(g *inspect.Goroutine) bool {
	return g.Verdict == inspect.VerdictIdle && (g.System || g.Role != inspect.RoleNone)
}

// groupShown groups the goroutines that are shown, and returns apart those
// collapsed into the idle line.
func groupShown(gs []*inspect.Goroutine) (groups []Group, idle []*inspect.Goroutine) {
	var shown []*inspect.Goroutine
	for _, g := range gs {
		if collapsed(g) {
			idle = append(idle, g)
		} else {
			shown = append(shown, g)
		}
	}
	return GroupGoroutines(shown), idle
}

// groupsNote follows a goroutine count: " in 12 groups, 8 idle runtime".
func groupsNote(groups, idle int) string {
	s := ""
	if groups > 0 {
		s += " in " + inspect.Plural(groups, "group")
	}
	if idle > 0 {
		s += fmt.Sprintf(", %d idle runtime", idle)
	}
	return s
}

func (t *text) goroutines() {
	if len(t.gs) == 0 {
		return
	}
	groups, idle := groupShown(t.gs)
	t.section(fmt.Sprintf("GOROUTINES (%d%s)", len(t.gs), groupsNote(len(groups), len(idle))))
	for _, g := range groups {
		t.sep()
		t.group(0, g, true)
	}
	if len(idle) > 0 {
		t.sep()
		t.line(0, idleLine(idle))
	}
}

// idleLine sums up idle runtime goroutines by wait reason, most common first.
func idleLine(gs []*inspect.Goroutine) string {
	n := map[string]int{}
	for _, g := range gs {
		n[g.Doing()]++
	}
	reasons := make([]string, 0, len(n))
	for r := range n {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if n[reasons[i]] != n[reasons[j]] {
			return n[reasons[i]] > n[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	s := inspect.Plural(len(gs), "runtime goroutine") + " idle: "
	for i, r := range reasons {
		item := r
		if n[r] > 1 {
			item += " ×" + strconv.Itoa(n[r])
		}
		if i > 0 {
			item = ", " + item
		}
		if i < len(reasons)-1 && width(s)+width(item)+3 > Width || width(s)+width(item) > Width {
			return s + ", …"
		}
		s += item
	}
	return s
}

// idsHead is "goroutine 19" or "×10000 goroutines 18, 19, 20, … (9997 more)".
func idsHead(g Group) string {
	if len(g.Goroutines) == 1 {
		return "goroutine " + strconv.FormatInt(g.Representative.ID, 10)
	}
	return "×" + strconv.Itoa(len(g.Goroutines)) + " goroutines " + idList("", g.IDs(), maxGroupIDs)
}

// idList is "18, 19, 20, … (9997 more)", prefixed by a noun when given.
func idList(noun string, ids []int64, limit int) string {
	var b strings.Builder
	if noun != "" {
		b.WriteString(noun)
		if len(ids) != 1 {
			b.WriteByte('s')
		}
		b.WriteByte(' ')
	}
	for i, id := range ids {
		if i == limit {
			fmt.Fprintf(&b, ", … (%d more)", len(ids)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// status is the " · "-joined description of a group: verdict (upper case
// when stuck), what it does, role, how long it waited.
func status(g Group) string {
	rep := g.Representative
	var parts []string
	parts = append(parts, g.Key.Verdict.Label())
	doing := g.Key.WaitReason
	if doing == "" {
		doing = string(g.Key.State)
	}
	if doing != "" && doing != string(g.Key.Verdict) {
		parts = append(parts, doing)
	}
	switch {
	case rep.Role != inspect.RoleNone:
		parts = append(parts, string(rep.Role)+" goroutine")
	case rep.System:
		parts = append(parts, "runtime goroutine")
	}
	if w := waitRange(g.Goroutines); w != "" {
		parts = append(parts, w)
	}
	return strings.Join(parts, " · ")
}

// group writes one group: header, and with details what it waits on and
// holds, why it is stuck and its labels; then its stack.
func (t *text) group(indent int, g Group, details bool) {
	t.headed(indent, idsHead(g), status(g))
	if details {
		t.groupDetails(indent+2, g)
	}
	t.stack(indent+4, g)
}

func (t *text) groupDetails(indent int, g Group) {
	// Waits, deduplicated across the group.
	type wait struct {
		op  inspect.Op
		res string
	}
	seen := map[wait]bool{}
	var waits []wait
	holds := map[string]bool{}
	for _, m := range g.Goroutines {
		for _, w := range m.Waits {
			k := wait{w.Op, w.Resource}
			if !seen[k] {
				seen[k] = true
				waits = append(waits, k)
			}
		}
		for _, h := range m.Holds {
			holds[h] = true
		}
	}
	sort.Slice(waits, func(i, j int) bool {
		if waits[i].res != waits[j].res {
			return waits[i].res < waits[j].res
		}
		return waits[i].op < waits[j].op
	})
	for i, w := range waits {
		if i == maxWaitLines && len(waits) > maxWaitLines+1 {
			t.line(indent, fmt.Sprintf("… and %d more waits", len(waits)-i))
			break
		}
		t.wrap(indent, 4, w.op.WaitsTo()+" "+t.resName(w.res))
	}
	hs := sortedKeys(holds)
	for i, h := range hs {
		if i == maxWaitLines && len(hs) > maxWaitLines+1 {
			t.line(indent, fmt.Sprintf("… and %d more held", len(hs)-i))
			break
		}
		t.wrap(indent, 4, "holds "+t.resName(h))
	}

	// Why: each distinct explanation once, with the goroutines it is for
	// when they differ.
	var whys []string
	whyIDs := map[string][]int64{}
	for _, m := range g.Goroutines {
		if m.Why == "" {
			continue
		}
		if _, ok := whyIDs[m.Why]; !ok {
			whys = append(whys, m.Why)
		}
		whyIDs[m.Why] = append(whyIDs[m.Why], m.ID)
	}
	for i, w := range whys {
		if i == maxWaitLines && len(whys) > maxWaitLines+1 {
			t.line(indent, fmt.Sprintf("… and %d more explanations", len(whys)-i))
			break
		}
		label := "why: "
		if len(whys) > 1 || len(whyIDs[w]) < len(g.Goroutines) {
			label = "why (" + idList("", whyIDs[w], 3) + "): "
		}
		t.wrap(indent, min(width(label), 12), label+w)
	}

	// Labels, when all members have the same.
	lbl, same := g.Representative.Labels, true
	for _, m := range g.Goroutines {
		if !sameLabels(m.Labels, lbl) {
			same = false
		}
	}
	if len(lbl) > 0 && same {
		keys := make([]string, 0, len(lbl))
		for k := range lbl {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			keys[i] = k + "=" + lbl[k]
		}
		t.wrap(indent, 8, "labels: "+strings.Join(keys, ", "))
	}
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// frameLine is a frame as printed: function and location.
type frameLine struct{ fn, loc string }

// stack writes the group's stack: one "func  file:line" line per frame, the
// locations aligned in a column; a frame that does not fit has its location
// on the next line, like in a Go traceback.
func (t *text) stack(indent int, g Group) {
	rep := g.Representative
	var lines []frameLine
	shown := shownFrames(rep)
	for n, i := range shown {
		if len(shown) > maxFrames && n == maxFrames-10 {
			lines = append(lines, frameLine{fn: fmt.Sprintf("… %d frames not shown", len(shown)-maxFrames)})
		}
		if len(shown) > maxFrames && n >= maxFrames-10 && n < len(shown)-10 {
			continue
		}
		f := rep.Frames[i]
		lines = append(lines, frameLine{funcName(f), t.p.loc(f)})
	}
	if rep.StackTruncated {
		lines = append(lines, frameLine{fn: "… (stack truncated)"})
	}
	if len(rep.Frames) == 0 {
		lines = append(lines, frameLine{fn: "(no stack)"})
	}
	if c := t.createdBy(g); c != nil {
		lines = append(lines, *c)
	}
	room := Width - indent
	for i := range lines {
		lines[i].fn = fitFunc(lines[i].fn, room)
	}
	col := frameColumn(lines, room)
	for _, l := range lines {
		w := width(l.fn)
		switch {
		case l.loc == "":
			t.line(indent, l.fn)
		case w <= col && col+2+width(l.loc) <= room:
			t.line(indent, l.fn+strings.Repeat(" ", col-w+2)+l.loc)
		default:
			t.line(indent, l.fn)
			t.line(indent+4, l.loc)
		}
	}
}

// frameColumn picks the column at which locations are aligned: the one
// that puts the most frames on a single line (the narrowest on a tie).
func frameColumn(lines []frameLine, room int) int {
	best, bestN := 0, -1
	tried := map[int]bool{}
	for _, c := range lines {
		col := width(c.fn)
		if col > maxFuncColumn || tried[col] {
			continue
		}
		tried[col] = true
		n := 0
		for _, l := range lines {
			if l.loc != "" && width(l.fn) <= col && col+2+width(l.loc) <= room {
				n++
			}
		}
		if n > bestN || n == bestN && col < best {
			best, bestN = col, n
		}
	}
	return best
}

// fitFunc shortens a function name wider than n columns by eliding leading
// elements of its package path ("…/ledger/v2.(*Ledger).Post"), then, if
// that is not enough, its beginning.
func fitFunc(fn string, n int) string {
	if width(fn) <= n {
		return fn
	}
	pkgEnd := strings.LastIndex(fn, "/") // the package path ends after its last "/"
	for i := 0; i < pkgEnd; i++ {
		if fn[i] == '/' {
			if s := "…" + fn[i:]; width(s) <= n {
				return s
			}
		}
	}
	r := []rune(fn)
	return "…" + string(r[len(r)-n+1:])
}

// createdBy is the "created by" line of a group, when all members were
// created at the same place ("in goroutine N" when also by the same parent).
func (t *text) createdBy(g Group) *frameLine {
	c := g.Representative.CreatedBy
	if c == nil {
		return nil
	}
	parent := g.Representative.ParentID
	for _, m := range g.Goroutines {
		if m.CreatedBy == nil || m.CreatedBy.Func != c.Func || m.CreatedBy.File != c.File || m.CreatedBy.Line != c.Line {
			return &frameLine{fn: "created by several places"}
		}
		if m.ParentID != parent {
			parent = 0
		}
	}
	fn := "created by " + inspect.StripTypeArgs(c.Func, inspect.TypeArgsElided)
	if parent > 0 {
		fn += " in goroutine " + strconv.FormatInt(parent, 10)
	}
	return &frameLine{fn, t.p.loc(*c)}
}

// ---- resources ----

func (t *text) resources() {
	var rs []*inspect.Resource
	for _, r := range t.s.Resources {
		if r != nil {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Addr != b.Addr {
			return a.Addr < b.Addr
		}
		return a.ID < b.ID
	})
	t.section(fmt.Sprintf("RESOURCES (%d)", len(rs)))

	// Resources nobody is known to hold and that look alike (same kind,
	// type and state) are printed as one block when there are many.
	type simKey struct{ kind, typ, state string }
	similar := map[simKey][]*inspect.Resource{}
	keyOf := func(r *inspect.Resource) (simKey, bool) {
		return simKey{string(r.Kind), r.Type, r.StateText()}, len(r.Holders) == 0
	}
	for _, r := range rs {
		if k, ok := keyOf(r); ok {
			similar[k] = append(similar[k], r)
		}
	}
	done := map[simKey]bool{}
	for _, r := range rs {
		k, ok := keyOf(r)
		switch {
		case ok && len(similar[k]) >= minResGroup:
			if !done[k] {
				done[k] = true
				t.sep()
				t.resourceGroup(similar[k])
			}
		default:
			t.sep()
			t.resource(r)
		}
	}
}

// resHead is "ID  TYPE  STATE" (a channel's state follows its type with one
// space: "chan int (len 0/cap 0), open").
func resHead(id string, r *inspect.Resource) string {
	s := id
	if r.Type != "" {
		s += "  " + r.Type
	}
	st := r.StateText()
	if c := r.Chan; c != nil && !c.Nil {
		// The buffer reads as part of the channel's type.
		st = strings.Replace(st, c.Buffer(), "("+c.Buffer()+")", 1)
	}
	if st != "" {
		if r.Kind == inspect.KindChan && r.Chan != nil && !r.Chan.Nil && r.Type != "" {
			s += " " + st
		} else {
			s += "  " + st
		}
	}
	return s
}

// isHeld reports whether the state says somebody holds the lock.
func isHeld(r *inspect.Resource) bool {
	switch {
	case r.Mutex != nil:
		return r.Mutex.Locked
	case r.RWMutex != nil:
		return r.RWMutex.WriterHeld || r.RWMutex.Readers > 0
	}
	return false
}

func (t *text) resource(r *inspect.Resource) {
	t.wrap(0, 4, resHead(r.ID, r))
	hs := append([]inspect.Holder(nil), r.Holders...)
	sort.SliceStable(hs, func(i, j int) bool {
		if hs[i].Goroutine != hs[j].Goroutine {
			return hs[i].Goroutine < hs[j].Goroutine
		}
		return !hs[i].Read && hs[j].Read
	})
	for i, h := range hs {
		if i == maxHolders && len(hs) > maxHolders+1 {
			t.line(4, fmt.Sprintf("… and %d more holders", len(hs)-i))
			break
		}
		t.wrap(4, 4, t.holder(h))
	}
	if len(hs) == 0 && isHeld(r) {
		t.line(4, "held by: not found (no goroutine shows evidence of holding it)")
	}
	t.waiterLines(4, r.Waiters, r.Chan)
}

// waiterLines lists who waits: senders and receivers for a channel whose
// queues were read, waiters otherwise.
func (t *text) waiterLines(indent int, waiters []int64, c *inspect.ChanState) {
	if c != nil && len(c.Senders)+len(c.Receivers) > 0 {
		if len(c.Senders) > 0 {
			t.wrap(indent, 4, "senders: "+idList("", uniqueIDs(c.Senders), maxListIDs))
		}
		if len(c.Receivers) > 0 {
			t.wrap(indent, 4, "receivers: "+idList("", uniqueIDs(c.Receivers), maxListIDs))
		}
		return
	}
	if len(waiters) > 0 {
		t.wrap(indent, 4, "waiters: "+idList("", uniqueIDs(waiters), maxListIDs))
	}
}

// holder is "held by goroutine 18 (deadlocked) — deferred Unlock pending at
// store.go:41".
func (t *text) holder(h inspect.Holder) string {
	s := h.HeldBy() + " goroutine " + strconv.FormatInt(h.Goroutine, 10)
	if g := t.byID[h.Goroutine]; g != nil {
		s += " (" + g.Verdict.Name() + ")"
	} else {
		s += " (not in snapshot)"
	}
	loc := ""
	if h.Frame != nil {
		loc = t.p.loc(*h.Frame)
	}
	if e := h.EvidenceText(loc); e != "" {
		s += " — " + e
	}
	return s
}

// resourceGroup prints alike resources that nobody holds as one block.
func (t *text) resourceGroup(rs []*inspect.Resource) {
	r0 := rs[0]
	t.wrap(0, 4, resHead("×"+strconv.Itoa(len(rs))+" "+string(r0.Kind)+":…", r0))
	ids := make([]string, 0, maxListIDs)
	var waiters, senders, receivers []int64
	for i, r := range rs {
		if i < maxListIDs/2 {
			ids = append(ids, r.ID)
		}
		waiters = append(waiters, r.Waiters...)
		if r.Chan != nil {
			senders = append(senders, r.Chan.Senders...)
			receivers = append(receivers, r.Chan.Receivers...)
		}
	}
	list := strings.Join(ids, ", ")
	if len(rs) > len(ids) {
		list += fmt.Sprintf(", … (%d more)", len(rs)-len(ids))
	}
	t.wrap(4, 4, list)
	if isHeld(r0) {
		t.line(4, "held by: not found (no goroutine shows evidence of holding them)")
	}
	var c *inspect.ChanState
	if r0.Kind == inspect.KindChan {
		c = &inspect.ChanState{Senders: senders, Receivers: receivers}
	}
	t.waiterLines(4, waiters, c)
}

// ---- warnings ----

func (t *text) warnings() {
	if len(t.s.Warnings) == 0 {
		return
	}
	t.section(fmt.Sprintf("WARNINGS (%d)", len(t.s.Warnings)))
	for _, w := range countedWarnings(t.s.Warnings) {
		t.wrap(0, 2, "- "+w)
	}
}

// countedWarnings is each distinct warning once, sorted, with how many
// times it was given when more than once: "no memory at 0x10 (×3)".
func countedWarnings(warnings []string) []string {
	n := map[string]int{}
	for _, w := range warnings {
		n[w]++
	}
	ws := make([]string, 0, len(n))
	for w := range n {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	for i, w := range ws {
		if n[w] > 1 {
			ws[i] += fmt.Sprintf(" (×%d)", n[w])
		}
	}
	return ws
}
