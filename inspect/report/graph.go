package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect"
)

// The wait-for graph as an export (Graphviz DOT, Mermaid): goroutines wait
// for resources, resources point to the goroutines holding them, cycle
// edges are marked. Goroutines that hold nothing and are in no cycle are
// merged per stack and waited-on resource ("×120 g14 g15 g16 +117"), so
// that 100,000 waiters stay one node. The TUI's `d` key writes the same DOT.

type graphNode struct {
	id      string
	label   string
	verdict inspect.Verdict
	box     bool // a goroutine (box) or a resource (ellipse)
}

type graphEdge struct {
	from, to, label string
	cycle           bool
}

type waitGraph struct {
	title  string
	nodes  []graphNode
	edges  []graphEdge
	cycles int
}

func buildGraph(snap *inspect.Snapshot) *waitGraph {
	g := &waitGraph{cycles: len(snap.Cycles)}
	where := fmt.Sprintf("PID %d", snap.Target.PID)
	if snap.Target.Source == inspect.SourceDump || snap.Target.PID == 0 {
		where = snap.Target.Exe
	}
	g.title = fmt.Sprintf("hangtui wait-for graph of %s (%s), %s", where, snap.Target.Source, snap.TakenAt.UTC().Format("2006-01-02 15:04:05 UTC"))

	cycleEdge := map[[2]string]bool{}
	own := map[int64]bool{}
	for _, c := range snap.Cycles {
		for i, id := range c.Goroutines {
			own[id] = true
			if i < len(c.Resources) {
				r := c.Resources[i]
				next := c.Goroutines[(i+1)%len(c.Goroutines)]
				cycleEdge[[2]string{inspect.ShortGID(id), r}] = true
				cycleEdge[[2]string{r, inspect.ShortGID(next)}] = true
			}
		}
	}
	for _, r := range snap.Resources {
		if r == nil {
			continue
		}
		for _, h := range r.Holders {
			own[h.Goroutine] = true
		}
	}
	edge := func(from, to, label string) {
		g.edges = append(g.edges, graphEdge{from: from, to: to, label: label, cycle: cycleEdge[[2]string{from, to}]})
	}

	order := append([]*inspect.Goroutine(nil), snap.Goroutines...)
	sort.SliceStable(order, func(i, j int) bool {
		ri, rj := order[i].Verdict.Rank(), order[j].Verdict.Rank()
		if ri != rj {
			return ri < rj
		}
		return order[i].ID < order[j].ID
	})
	type merged struct {
		ids  []int64
		rep  *inspect.Goroutine
		wait inspect.Wait
	}
	var merges []*merged
	byKey := map[string]*merged{}
	stackKey := map[*inspect.Frame]string{}
	for _, gr := range order {
		if gr == nil || (len(gr.Waits) == 0 && !own[gr.ID]) {
			continue
		}
		if own[gr.ID] {
			g.nodes = append(g.nodes, graphNode{id: inspect.ShortGID(gr.ID), label: gLabel(gr, inspect.ShortGID(gr.ID)), verdict: gr.Verdict, box: true})
			for _, wt := range gr.Waits {
				edge(inspect.ShortGID(gr.ID), wt.Resource, string(wt.Op))
			}
			continue
		}
		var sk string
		if len(gr.Frames) > 0 {
			// Frames are shared between goroutines with identical stacks.
			if s, ok := stackKey[&gr.Frames[0]]; ok {
				sk = s
			} else {
				k := KeyOf(gr)
				sk = k.Stack
				stackKey[&gr.Frames[0]] = sk
			}
		}
		k := string(gr.Verdict) + "|" + gr.WaitReason + "|" + sk + "|" + gr.Waits[0].Resource
		mg := byKey[k]
		if mg == nil {
			mg = &merged{rep: gr, wait: gr.Waits[0]}
			byKey[k] = mg
			merges = append(merges, mg)
		}
		mg.ids = append(mg.ids, gr.ID)
	}
	for i, mg := range merges {
		name := inspect.ShortGID(mg.rep.ID)
		node := name
		if len(mg.ids) > 1 {
			name = "×" + strconv.Itoa(len(mg.ids)) + " " + inspect.ShortGIDs(mg.ids, 3)
			node = "group" + strconv.Itoa(i)
		}
		g.nodes = append(g.nodes, graphNode{id: node, label: gLabel(mg.rep, name), verdict: mg.rep.Verdict, box: true})
		edge(node, mg.wait.Resource, string(mg.wait.Op))
	}

	rs := append([]*inspect.Resource(nil), snap.Resources...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i] != nil && rs[j] != nil && rs[i].ID < rs[j].ID })
	for _, r := range rs {
		if r == nil {
			continue
		}
		label := resLabel(r)
		g.nodes = append(g.nodes, graphNode{id: r.ID, label: label})
		for _, h := range r.Holders {
			edge(r.ID, inspect.ShortGID(h.Goroutine), h.HeldBy())
		}
	}
	return g
}

// WriteDOT writes the wait-for graph in Graphviz DOT (render with
// `dot -Tsvg`). Deadlocked goroutines and cycle edges are red, leaked ones
// magenta.
func WriteDOT(w io.Writer, snap *inspect.Snapshot) error {
	g := buildGraph(snap)
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("// %s\n", g.title)
	p("// %s\n", Headline(snap))
	p("digraph hangtui {\n")
	p("  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n")
	for _, n := range g.nodes {
		if n.box {
			p("  %s [shape=box, label=%s%s];\n", dotQuote(n.id), dotQuote(n.label), dotVerdict(n.verdict))
		} else {
			p("  %s [shape=ellipse, label=%s];\n", dotQuote(n.id), dotQuote(n.label))
		}
	}
	for _, e := range g.edges {
		attr := ""
		if e.cycle {
			attr = ", color=red, fontcolor=red, penwidth=2"
		}
		p("  %s -> %s [label=%s%s];\n", dotQuote(e.from), dotQuote(e.to), dotQuote(e.label), attr)
	}
	p("}\n")
	return bw.Flush()
}

// WriteMermaid writes the wait-for graph as a Mermaid flowchart, in a
// ```mermaid block that GitHub and GitLab render when pasted into an issue.
func WriteMermaid(w io.Writer, snap *inspect.Snapshot) error {
	g := buildGraph(snap)
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("```mermaid\n")
	p("%%%% %s\n", g.title)
	p("%%%% %s\n", Headline(snap))
	writeMermaidFlow(p, g)
	p("```\n")
	return bw.Flush()
}

// writeMermaidFlow writes g as a Mermaid flowchart (without the fence):
// goroutines are boxes, resources rounded, deadlocked goroutines and cycle
// edges red, leaked goroutines magenta.
func writeMermaidFlow(p func(format string, a ...any), g *waitGraph) {
	p("flowchart LR\n")
	ids := map[string]string{}
	mid := func(id string) string {
		if m, ok := ids[id]; ok {
			return m
		}
		m := "n" + strconv.Itoa(len(ids))
		ids[id] = m
		return m
	}
	var deadlocked, leaked []string
	for _, n := range g.nodes {
		label := mermaidQuote(n.label)
		if n.box {
			p("  %s[%s]\n", mid(n.id), label)
		} else {
			p("  %s([%s])\n", mid(n.id), label)
		}
		switch n.verdict {
		case inspect.VerdictDeadlocked:
			deadlocked = append(deadlocked, mid(n.id))
		case inspect.VerdictLeaked:
			leaked = append(leaked, mid(n.id))
		}
	}
	var cycleLinks []string
	for i, e := range g.edges {
		p("  %s -->|%s| %s\n", mid(e.from), mermaidQuote(e.label), mid(e.to))
		if e.cycle {
			cycleLinks = append(cycleLinks, strconv.Itoa(i))
		}
	}
	if len(deadlocked) > 0 {
		p("  classDef deadlocked stroke:#d00,color:#d00,stroke-width:2px\n  class %s deadlocked\n", strings.Join(deadlocked, ","))
	}
	if len(leaked) > 0 {
		p("  classDef leaked stroke:#c0c,color:#c0c\n  class %s leaked\n", strings.Join(leaked, ","))
	}
	if len(cycleLinks) > 0 {
		p("  linkStyle %s stroke:#d00,stroke-width:2px,color:#d00\n", strings.Join(cycleLinks, ","))
	}
}

func gLabel(g *inspect.Goroutine, name string) string {
	v := g.Verdict.Label()
	fn, loc := g.ShortWhere()
	return name + " " + v + "\n" + fn + "\n" + loc
}

// resLabel is a resource node's label: name, address and state, one a line.
func resLabel(r *inspect.Resource) string {
	return inspect.ResourceName(r, r.ID) + "\n" + fmt.Sprintf("%#x", r.Addr) + "\n" + r.StateText()
}

func dotVerdict(v inspect.Verdict) string {
	switch v {
	case inspect.VerdictDeadlocked:
		return ", color=red, fontcolor=red"
	case inspect.VerdictLeaked:
		return ", color=magenta, fontcolor=magenta"
	}
	return ""
}

// dotQuote is a DOT string literal.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// mermaidQuote is a Mermaid label: quoted, with line breaks as <br/> and
// the characters Mermaid would parse replaced by entity codes.
func mermaidQuote(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "\n", "<br/>", "<", "#lt;", ">", "#gt;", "|", "#124;")
	return `"` + r.Replace(s) + `"`
}
