package report

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hangtui/hangtui/inspect"
)

// The Markdown summary: what a person looking at a red CI job reads on the
// job's page (GitHub's step summary, a GitLab or GitHub comment). The
// headline, the findings with their source lines (links into the
// repository when it is known), the wait-for graph of the cycles and the
// longest wait chains as a Mermaid flowchart, and the goroutines grouped by
// stack in a collapsible <details>. The output is bounded (GitHub takes at
// most 1 MiB per step summary): lists are capped, and what does not fit is
// left out with a note saying so.

// MarkdownLimit is GitHub's limit on one step's job summary
// ($GITHUB_STEP_SUMMARY): 1 MiB.
const MarkdownLimit = 1 << 20

// DefaultMarkdownMax is the size WriteMarkdown stays under unless told
// otherwise: GitHub's limit less a margin for what else a step writes.
const DefaultMarkdownMax = MarkdownLimit - 32<<10

// minMarkdownMax is the smallest budget that still gets the headline and
// the findings' titles; below it only the headline is written, if it fits.
const minMarkdownMax = 1 << 10

// Caps of the Markdown summary.
const (
	mdMaxFindings    = 20  // findings listed
	mdMaxDetails     = 12  // detail lines of one finding
	mdMaxWhere       = 8   // source locations of one finding
	mdMaxLine        = 600 // bytes of one line of text taken from the snapshot
	mdMaxGraphNodes  = 60  // nodes of the Mermaid graph
	mdMaxChains      = 5   // wait chains drawn
	mdMaxGroups      = 100 // goroutine groups listed
	mdMaxWarnings    = 20  // distinct warnings listed
	mdMaxStuckGroups = 10  // groups of stuck goroutines drawn outside cycles and chains
)

// MarkdownOptions configure WriteMarkdownOptions.
type MarkdownOptions struct {
	// Links make source locations links into the repository; nil writes
	// them as plain text.
	Links *SourceLinks
	// MaxBytes bounds the output; 0 means DefaultMarkdownMax.
	MaxBytes int
	// Full names where the complete report is (for example
	// "hangtui-4242.json"); the summary mentions it, and points to it when
	// something was left out.
	Full string
}

// SourceLinks turn a source file of the program into a link to the same
// file in its repository, at the commit that was built.
type SourceLinks struct {
	// Root is the directory of the repository's checkout on the machine
	// that built the program, e.g. "/home/runner/work/app/app".
	Root string
	// URL is the web address of that directory at the commit, e.g.
	// "https://github.com/o/app/blob/SHA"; a file's path relative to Root
	// and "#L<line>" are appended.
	URL string
}

// LinksFromEnv returns the source links of a CI job from its environment:
// GitHub Actions (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA,
// GITHUB_WORKSPACE) or GitLab CI (CI_PROJECT_URL, CI_COMMIT_SHA,
// CI_PROJECT_DIR); nil outside CI.
func LinksFromEnv(getenv func(string) string) *SourceLinks {
	if repo, sha, ws := getenv("GITHUB_REPOSITORY"), getenv("GITHUB_SHA"), getenv("GITHUB_WORKSPACE"); repo != "" && sha != "" && ws != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		return &SourceLinks{Root: ws, URL: strings.TrimRight(server, "/") + "/" + repo + "/blob/" + sha}
	}
	if proj, sha, dir := getenv("CI_PROJECT_URL"), getenv("CI_COMMIT_SHA"), getenv("CI_PROJECT_DIR"); proj != "" && sha != "" && dir != "" {
		return &SourceLinks{Root: dir, URL: strings.TrimRight(proj, "/") + "/-/blob/" + sha}
	}
	return nil
}

// url is the link to file:line, or "" when file is not in the repository.
func (l *SourceLinks) url(file string, line int) string {
	if l == nil || l.Root == "" || l.URL == "" || file == "" {
		return ""
	}
	root := strings.TrimRight(l.Root, "/") + "/"
	file = strings.ReplaceAll(file, "\\", "/")
	if !strings.HasPrefix(file, root) {
		return ""
	}
	rel := file[len(root):]
	if rel == "" || strings.Contains(rel, "/pkg/mod/") || strings.HasPrefix(rel, "../") {
		return ""
	}
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		parts[i] = urlPathEscape(p)
	}
	u := strings.TrimRight(l.URL, "/") + "/" + strings.Join(parts, "/")
	if line > 0 {
		u += "#L" + strconv.Itoa(line)
	}
	return u
}

// urlPathEscape escapes a path segment for a Markdown link destination.
func urlPathEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~@+=,", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// WriteMarkdown writes the Markdown summary of a snapshot, under
// DefaultMarkdownMax bytes, without source links.
func WriteMarkdown(w io.Writer, s *inspect.Snapshot) error {
	return WriteMarkdownOptions(w, s, MarkdownOptions{})
}

// WriteMarkdownOptions writes the Markdown summary of a snapshot.
func WriteMarkdownOptions(w io.Writer, s *inspect.Snapshot, opt MarkdownOptions) error {
	out, err := Markdown(s, opt)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, out)
	return err
}

// Markdown returns the Markdown summary of a snapshot; it is at most
// opt.MaxBytes long (DefaultMarkdownMax when 0).
func Markdown(s *inspect.Snapshot, opt MarkdownOptions) (string, error) {
	if s == nil {
		return "", errors.New("report: nil snapshot")
	}
	limit := opt.MaxBytes
	if limit <= 0 {
		limit = DefaultMarkdownMax
	}
	m := &md{s: s, opt: opt, t: newText(s)}

	head := m.header()
	if len(head)+len(m.truncNote(0, 0)) > limit || limit < minMarkdownMax {
		// Only the headline, when even that fits.
		if h := m.headline() + "\n"; len(h) <= limit {
			return h, nil
		}
		return "", nil
	}
	// Sections by priority; each has a short form used when the full one
	// does not fit.
	findings, findingsShort := m.findings()
	graph, graphShort := m.graph()
	warnings, warningsShort := m.warnings()
	footer := m.footer()
	sections := []*[2]string{{findings, findingsShort}, {graph, graphShort}, {warnings, warningsShort}}
	used := func() int {
		n := len(head) + len(footer) + len(m.truncNote(1e9, 1e9)) // room for the longest note
		for _, sec := range sections {
			n += len(sec[0])
		}
		return n
	}
	cut := false
	for i := len(sections) - 1; i >= 0 && used() > limit; i-- {
		sections[i][0] = sections[i][1]
		cut = true
	}
	if used() > limit {
		// Pathological: even the short forms do not fit.
		for _, sec := range sections {
			sec[0] = ""
		}
		footer = ""
		cut = true
	}
	room := limit - used()
	goroutines, shown, total := m.goroutines(room)
	var b strings.Builder
	b.Grow(used() + len(goroutines))
	b.WriteString(head)
	b.WriteString(sections[0][0])
	b.WriteString(sections[1][0])
	b.WriteString(goroutines)
	b.WriteString(sections[2][0])
	if cut || shown < total {
		b.WriteString(m.truncNote(shown, total))
	}
	b.WriteString(footer)
	return b.String(), nil
}

type md struct {
	s   *inspect.Snapshot
	opt MarkdownOptions
	t   *text
}

// ---- text helpers ----

// mdEscape makes text from the snapshot literal in Markdown: the
// characters that could start emphasis, a link, HTML, a code span or a
// table cell are backslash-escaped, and line breaks become spaces.
func mdEscape(s string) string {
	s = cutBytes(s, mdMaxLine)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '#', '!', '{', '}':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// code is s as an inline code span.
func code(s string) string {
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(cutBytes(s, mdMaxLine))
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || len(fence) > 1 {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// cutBytes cuts s to at most n bytes at a rune boundary, with "…".
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// loc is a frame's "file:line" as a code span, linked into the repository
// when the file is in it.
func (m *md) loc(f inspect.Frame) string {
	c := code(m.t.p.loc(f))
	if u := m.opt.Links.url(f.File, f.Line); u != "" {
		return "[" + c + "](" + u + ")"
	}
	return c
}

// where is "`func` at `file:line`" for a goroutine's innermost frame of
// the program (or the innermost frame outside the runtime).
func (m *md) where(g *inspect.Goroutine) string {
	f := g.TopFrame()
	if f == nil {
		return "no stack"
	}
	return code(inspect.StripTypeArgs(f.Func, inspect.TypeArgsElided)) + " at " + m.loc(*f)
}

// ---- header ----

func (m *md) headline() string {
	icon := "🟢"
	stuck, blocked := 0, 0
	for _, g := range m.t.gs {
		if g.Verdict.Stuck() {
			stuck++
		} else if g.Verdict == inspect.VerdictBlocked {
			blocked++
		}
	}
	switch {
	case stuck > 0:
		icon = "🔴"
	case blocked > 0:
		icon = "🟡"
	}
	return "## " + icon + " hangtui: " + mdEscape(Headline(m.s))
}

// sourceName says what a snapshot was read from.
func sourceName(k inspect.SourceKind) string {
	switch k {
	case inspect.SourceLive:
		return "live process"
	case inspect.SourceCore:
		return "core file"
	case inspect.SourceDump:
		return "goroutine dump"
	case inspect.SourceRemote:
		return "through a Delve server"
	case "":
		return "source unknown"
	}
	return string(k)
}

// targetLine is "PID 4242 (/srv/bank/bin/bankd)", with "unknown" for what
// the source did not record.
func targetLine(s *inspect.Snapshot) string {
	pid := "PID unknown"
	if s.Target.PID > 0 {
		pid = "PID " + strconv.Itoa(s.Target.PID)
	}
	return pid + " (" + orUnknown(s.Target.Exe) + ")"
}

// takenAtString is the snapshot's time in UTC, or "unknown".
func takenAtString(s *inspect.Snapshot) string {
	if s.TakenAt.IsZero() {
		return "unknown"
	}
	return s.TakenAt.UTC().Format("2006-01-02 15:04:05 UTC")
}

// unknownFrom says what a kind of source cannot show ("" when it shows
// everything).
func unknownFrom(k inspect.SourceKind) string {
	switch k {
	case inspect.SourceDump, inspect.SourceRemote:
		return "memory (lock holders only from source lines, no reachability proof of leaks), the channels of a `select`, the finalizer queue"
	}
	return ""
}

func (m *md) header() string {
	var b strings.Builder
	s := m.s
	b.WriteString(m.headline())
	b.WriteString("\n\n")
	var parts []string
	if s.Target.PID > 0 {
		parts = append(parts, "**PID "+strconv.Itoa(s.Target.PID)+"**")
	} else {
		parts = append(parts, "**PID unknown**")
	}
	if s.Target.Exe != "" {
		parts = append(parts, code(s.Target.Exe))
	} else {
		parts = append(parts, "executable unknown")
	}
	if s.Target.GoVersion != "" {
		parts = append(parts, mdEscape(s.Target.GoVersion))
	} else {
		parts = append(parts, "Go version unknown")
	}
	parts = append(parts, sourceName(s.Target.Source), "taken "+takenAtString(s))
	switch s.Target.Source {
	case inspect.SourceLive, inspect.SourceRemote:
		if s.Pause > 0 {
			parts = append(parts, "target paused "+inspect.ShortDuration(s.Pause))
		} else {
			parts = append(parts, "pause unknown")
		}
	}
	b.WriteString(strings.Join(parts, " · "))
	b.WriteString("\n\n")

	counts, stuck, blocked := tallyVerdicts(m.t.gs)
	cs := make([]string, len(counts))
	for i, c := range counts {
		v := c.Verdict.Name()
		if c.Verdict.Stuck() {
			v = "**" + v + "**"
		}
		cs[i] = strconv.Itoa(c.N) + " " + v
	}
	line := inspect.Plural(len(m.t.gs), "goroutine")
	if len(cs) > 0 {
		line += ": " + strings.Join(cs, ", ")
	}
	b.WriteString(line + ".")
	if stuck > 0 {
		b.WriteString(" **Stuck: " + neverRunAgain(stuck) + ".**")
	} else {
		b.WriteString(" " + notStuck(blocked))
	}
	b.WriteString("\n\n")
	if u := unknownFrom(s.Target.Source); u != "" {
		b.WriteString("Unknown from a " + sourceName(s.Target.Source) + ": " + u + ".\n\n")
	}
	return b.String()
}

func (m *md) footer() string {
	if m.opt.Full == "" {
		return ""
	}
	return "<sub>Full report: " + code(m.opt.Full) + " · written by hangtui</sub>\n"
}

// truncNote says what was left out to stay under the size limit.
func (m *md) truncNote(shown, total int) string {
	s := "> [!NOTE]\n> This summary was cut to stay under its size limit"
	if shown < total {
		s += ": " + strconv.Itoa(shown) + " of " + inspect.Plural(total, "goroutine group") + " are listed"
	}
	s += "."
	if m.opt.Full != "" {
		s += " The full report is " + code(m.opt.Full) + "."
	}
	return s + "\n\n"
}

// ---- findings ----

func (m *md) findings() (full, short string) {
	if len(m.s.Findings) == 0 {
		return "", ""
	}
	fs := sortedFindings(m.s.Findings)
	var b strings.Builder
	b.WriteString("### Findings\n\n")
	var sb strings.Builder
	sb.WriteString("### Findings\n\n")
	for i, f := range fs {
		if i == mdMaxFindings {
			fmt.Fprintf(&b, "%d more findings are in the full report.\n\n", len(fs)-i)
			break
		}
		num := strconv.Itoa(i+1) + ". "
		ind := strings.Repeat(" ", len(num))
		title := f.Title
		if title == "" {
			title = string(f.Kind)
		}
		head := num + severityIcon(f.Severity) + " **" + f.Severity.String() + "** · " + mdEscape(title) + "\n"
		b.WriteString(head)
		sb.WriteString(head)
		for j, d := range f.Details {
			if j == mdMaxDetails {
				fmt.Fprintf(&b, "%s- … %d more lines\n", ind, len(f.Details)-j)
				break
			}
			b.WriteString(ind + "- " + mdEscape(d) + "\n")
		}
		for _, w := range m.findingWhere(f) {
			b.WriteString(ind + "- " + w + "\n")
		}
	}
	b.WriteString("\n")
	sb.WriteString("\n")
	return b.String(), sb.String()
}

func sortedFindings(in []inspect.Finding) []inspect.Finding {
	fs := append([]inspect.Finding(nil), in...)
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if ma, mb := minID(a.Goroutines), minID(b.Goroutines); ma != mb {
			return ma < mb
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Title < b.Title
	})
	return fs
}

func severityIcon(s inspect.Severity) string {
	switch s {
	case inspect.SeverityError:
		return "🔴"
	case inspect.SeverityWarning:
		return "🟠"
	}
	return "🔵"
}

// findingWhere lists a finding's source lines: where its goroutines are
// (grouped by verdict and innermost frame of the program) and where its
// locks were taken.
func (m *md) findingWhere(f inspect.Finding) []string {
	var out []string
	type at struct {
		v        inspect.Verdict
		fn, file string
		line     int
		noStack  bool
	}
	var order []at
	ids := map[at][]int64{}
	rep := map[at]*inspect.Goroutine{}
	for _, id := range uniqueIDs(f.Goroutines) {
		g := m.t.byID[id]
		if g == nil {
			continue
		}
		k := at{v: g.Verdict, noStack: true}
		if fr := g.TopFrame(); fr != nil {
			k = at{v: g.Verdict, fn: fr.Func, file: fr.File, line: fr.Line}
		}
		if _, ok := ids[k]; !ok {
			order = append(order, k)
			rep[k] = g
		}
		ids[k] = append(ids[k], id)
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.v.Rank() != b.v.Rank() {
			return a.v.Rank() < b.v.Rank()
		}
		return len(ids[a]) > len(ids[b])
	})
	for _, k := range order {
		if len(out) == mdMaxWhere {
			out = append(out, "… more goroutines in the full report")
			return out
		}
		head := "goroutine " + strconv.FormatInt(ids[k][0], 10)
		if n := len(ids[k]); n > 1 {
			head = "×" + strconv.Itoa(n) + " goroutines " + idList("", ids[k], maxGroupIDs)
		}
		out = append(out, "**"+mdEscape(head)+"** "+k.v.Name()+": "+m.where(rep[k]))
	}
	for _, rid := range f.Resources {
		r := m.t.res[rid]
		if r == nil {
			continue
		}
		for _, h := range r.Holders {
			if h.Frame == nil {
				continue
			}
			if len(out) == mdMaxWhere {
				out = append(out, "… more in the full report")
				return out
			}
			out = append(out, m.holderLine(r, h))
		}
	}
	return out
}

// holderLine is "`mutex:0x…` (main.Account.mu) held by goroutine 19:
// deferred Unlock pending at `account.go:28`".
func (m *md) holderLine(r *inspect.Resource, h inspect.Holder) string {
	s := code(r.ID)
	if r.Type != "" {
		s += " (" + code(inspect.ShortType(r.Type)) + ")"
	}
	return s + " " + h.HeldBy() + " goroutine " + strconv.FormatInt(h.Goroutine, 10) + ": " + h.EvidenceText(m.loc(*h.Frame))
}

// ---- graph ----

func (m *md) graph() (full, short string) {
	g, notDrawn := m.focusGraph(mdMaxGraphNodes)
	var b strings.Builder
	b.WriteString("### Wait-for graph\n\n")
	short = b.String() + "Left out to stay under the size limit.\n\n"
	if len(g.nodes) == 0 {
		b.WriteString("No cycles, wait chains or stuck goroutines to draw.\n\n")
		return b.String(), b.String()
	}
	b.WriteString("Goroutines (boxes) wait for resources (rounded), which point to the goroutines holding them; ")
	b.WriteString("cycles and deadlocked goroutines are red, leaked ones magenta, identical waiters one box.")
	if notDrawn > 0 {
		fmt.Fprintf(&b, " %s not drawn (the graph stops at %d nodes).", inspect.Plural(notDrawn, "more goroutine or resource"), mdMaxGraphNodes)
	}
	b.WriteString("\n\n```mermaid\n")
	writeMermaidFlow(func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }, g)
	b.WriteString("```\n\n")
	return b.String(), short
}

// focus builds the part of the wait-for graph that explains a hang: the
// cycles, what waits behind them, the longest wait chains, and other stuck
// goroutines grouped by stack and resource.
type focus struct {
	m         *md
	g         *waitGraph
	max       int
	notDrawn  int
	nodeOf    map[int64]string // goroutine id -> node
	rep       map[string]*inspect.Goroutine
	resDrawn  map[string]bool
	groups    int
	cycleEdge map[[2]string]bool
}

func (m *md) focusGraph(max int) (*waitGraph, int) {
	f := &focus{m: m, g: &waitGraph{cycles: len(m.s.Cycles)}, max: max, nodeOf: map[int64]string{},
		rep: map[string]*inspect.Goroutine{}, resDrawn: map[string]bool{}, cycleEdge: map[[2]string]bool{}}
	cycles := sortedCycles(m.s.Cycles)
	seen := map[int64]bool{}
	for _, c := range cycles {
		for i, id := range c.Goroutines {
			f.addG(id)
			if i < len(c.Resources) {
				r := c.Resources[i]
				f.addR(r)
				next := c.Goroutines[(i+1)%len(c.Goroutines)]
				f.cycleEdge[[2]string{inspect.ShortGID(id), r}] = true
				f.cycleEdge[[2]string{r, inspect.ShortGID(next)}] = true
			}
		}
	}
	for _, behind := range inspect.BehindCycles(m.s, cycles, seen) {
		for _, bs := range behind {
			f.addGroup(bs.IDs)
			f.addR(bs.Resource)
		}
	}
	for _, ch := range inspect.ChainPaths(m.s, seen, mdMaxChains) {
		f.addGroup(ch.Starters)
		for i, r := range ch.Resources {
			f.addR(r)
			f.addG(ch.Holders[i])
		}
		if ch.Tail != "" {
			f.addR(ch.Tail)
		}
	}
	// Stuck goroutines not drawn yet, grouped by verdict, stack and what
	// they wait on.
	type key struct {
		v     inspect.Verdict
		stack stackID
		res   string
	}
	var order []key
	byKey := map[key][]int64{}
	for _, g := range m.t.gs {
		if !g.Verdict.Stuck() || f.nodeOf[g.ID] != "" {
			continue
		}
		k := key{v: g.Verdict}
		if len(g.Frames) > 0 {
			k.stack = stackID{&g.Frames[0], len(g.Frames)}
		}
		if len(g.Waits) > 0 {
			k.res = g.Waits[0].Resource
		}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], g.ID)
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.v.Rank() != b.v.Rank() {
			return a.v.Rank() < b.v.Rank()
		}
		return len(byKey[a]) > len(byKey[b])
	})
	for i, k := range order {
		if i == mdMaxStuckGroups {
			for _, k := range order[i:] {
				f.notDrawn += len(byKey[k])
			}
			break
		}
		f.addGroup(byKey[k])
		if k.res != "" {
			f.addR(k.res)
		}
	}
	f.edges()
	return f.g, f.notDrawn
}

func (f *focus) full() bool { return len(f.g.nodes) >= f.max }

func (f *focus) addG(id int64) {
	if f.nodeOf[id] != "" {
		return
	}
	g := f.m.t.byID[id]
	if f.full() || g == nil {
		f.notDrawn++
		return
	}
	n := inspect.ShortGID(id)
	f.nodeOf[id] = n
	f.rep[n] = g
	f.g.nodes = append(f.g.nodes, graphNode{id: n, label: gLabel(g, n), verdict: g.Verdict, box: true})
}

// addGroup draws goroutines as one node ("×120 g14 g15 g16 +117"), those
// not drawn yet.
func (f *focus) addGroup(ids []int64) {
	var left []int64
	for _, id := range ids {
		if f.nodeOf[id] == "" && f.m.t.byID[id] != nil {
			left = append(left, id)
		}
	}
	switch {
	case len(left) == 0:
		return
	case len(left) == 1:
		f.addG(left[0])
		return
	case f.full():
		f.notDrawn += len(left)
		return
	}
	sort.Slice(left, func(i, j int) bool { return left[i] < left[j] })
	g := f.m.t.byID[left[0]]
	n := "group" + strconv.Itoa(f.groups)
	f.groups++
	for _, id := range left {
		f.nodeOf[id] = n
	}
	f.rep[n] = g
	name := "×" + strconv.Itoa(len(left)) + " " + inspect.ShortGIDs(left, 3)
	f.g.nodes = append(f.g.nodes, graphNode{id: n, label: gLabel(g, name), verdict: g.Verdict, box: true})
}

func (f *focus) addR(id string) {
	if f.resDrawn[id] {
		return
	}
	if f.full() {
		f.notDrawn++
		return
	}
	f.resDrawn[id] = true
	label := id
	if r := f.m.t.res[id]; r != nil {
		label = resLabel(r)
	}
	f.g.nodes = append(f.g.nodes, graphNode{id: id, label: label})
}

// edges links what was drawn: each goroutine node to the resources its
// goroutine waits on, each resource to the nodes of its holders.
func (f *focus) edges() {
	done := map[[2]string]bool{}
	edge := func(from, to, label string) {
		k := [2]string{from, to}
		if done[k] {
			return
		}
		done[k] = true
		f.g.edges = append(f.g.edges, graphEdge{from: from, to: to, label: label, cycle: f.cycleEdge[k]})
	}
	for _, n := range f.g.nodes {
		if g := f.rep[n.id]; g != nil {
			for _, w := range g.Waits {
				if f.resDrawn[w.Resource] {
					edge(n.id, w.Resource, string(w.Op))
				}
			}
		}
	}
	for _, n := range f.g.nodes {
		r := f.m.t.res[n.id]
		if n.box || r == nil {
			continue
		}
		for _, h := range r.Holders {
			if to := f.nodeOf[h.Goroutine]; to != "" {
				edge(n.id, to, h.HeldBy())
			}
		}
	}
}

func sortedCycles(in []inspect.Cycle) []inspect.Cycle {
	cs := append([]inspect.Cycle(nil), in...)
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if len(a.Goroutines) > 0 && len(b.Goroutines) > 0 && a.Goroutines[0] != b.Goroutines[0] {
			return a.Goroutines[0] < b.Goroutines[0]
		}
		if len(a.Goroutines) != len(b.Goroutines) {
			return len(a.Goroutines) < len(b.Goroutines)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return strings.Join(a.Resources, " ") < strings.Join(b.Resources, " ")
	})
	return cs
}

// ---- goroutines ----

// goroutines is the collapsible list of goroutine groups, in at most room
// bytes: as many groups as fit. It returns how many groups it lists and
// how many there are.
func (m *md) goroutines(room int) (string, int, int) {
	if len(m.t.gs) == 0 {
		return "", 0, 0
	}
	groups, idle := groupShown(m.t.gs)
	summary := inspect.Plural(len(m.t.gs), "goroutine") + groupsNote(len(groups), len(idle))
	head := "### Goroutines\n\n<details>\n<summary>" + summary + " (stuck first, then the largest groups)</summary>\n\n"
	tail := ""
	if len(idle) > 0 {
		tail = mdEscape(idleLine(idle)) + "\n\n"
	}
	const closing = "</details>\n\n"
	var b strings.Builder
	if len(head)+len(closing) > room {
		return "", 0, len(groups)
	}
	b.WriteString(head)
	left := room - len(head) - len(closing)
	n := 0
	for _, g := range groups {
		if n == mdMaxGroups {
			break
		}
		s := m.group(g)
		if len(s) > left {
			break
		}
		b.WriteString(s)
		left -= len(s)
		n++
	}
	if n < len(groups) {
		more := fmt.Sprintf("%s (%s) not listed.\n\n", inspect.Plural(len(groups)-n, "more group"), inspect.Plural(countIn(groups[n:]), "goroutine"))
		if len(more) <= left {
			b.WriteString(more)
			left -= len(more)
		}
	}
	if len(tail) <= left {
		b.WriteString(tail)
	}
	b.WriteString(closing)
	total := len(groups)
	if n == total || n == mdMaxGroups {
		// Capped by count, not by size: not a cut.
		total = n
	}
	return b.String(), n, total
}

func countIn(gs []Group) int {
	n := 0
	for _, g := range gs {
		n += len(g.Goroutines)
	}
	return n
}

// group is one group: a line with its ids, status and source line, and a
// code block with what it waits on and holds, why, its labels and stack,
// as in the text report.
func (m *md) group(g Group) string {
	st := mdEscape(status(g))
	if up := g.Key.Verdict.Label(); g.Stuck() && strings.HasPrefix(st, up) {
		st = "**" + up + "**" + st[len(up):]
	}
	var b strings.Builder
	b.WriteString("**" + mdEscape(idsHead(g)) + "** · " + st + " · " + m.where(g.Representative) + "\n\n")
	m.t.b.Reset()
	m.t.blank = true
	m.t.groupDetails(0, g)
	m.t.stack(2, g)
	body := m.t.b.String()
	m.t.b.Reset()
	fence := "```"
	for strings.Contains(body, fence) {
		fence += "`"
	}
	b.WriteString(fence + "text\n" + body + fence + "\n\n")
	return b.String()
}

// ---- warnings ----

func (m *md) warnings() (full, short string) {
	if len(m.s.Warnings) == 0 {
		return "", ""
	}
	ws := countedWarnings(m.s.Warnings)
	var b strings.Builder
	b.WriteString("### Warnings\n\n")
	for i, w := range ws {
		if i == mdMaxWarnings {
			fmt.Fprintf(&b, "- … %d more in the full report\n", len(ws)-i)
			break
		}
		b.WriteString("- " + mdEscape(w) + "\n")
	}
	b.WriteString("\n")
	short = "### Warnings\n\n" + inspect.Plural(len(ws), "warning") + " in the full report.\n\n"
	return b.String(), short
}
