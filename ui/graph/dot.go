package graph

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hangtui/hangtui/inspect"
	uictx "github.com/hangtui/hangtui/ui/context"
)

// WriteDOT writes the wait-for graph of d in Graphviz DOT: goroutines
// (boxes) wait for resources (ellipses), resources point to the goroutines
// holding them; cycle edges are red. Goroutines that hold nothing and are in
// no cycle are merged per stack and waited-on resource ("×120 g14 …"), so
// that 100,000 waiters stay one node.
func WriteDOT(w io.Writer, d *uictx.Data) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	snap := d.Snap
	p("// hangtui wait-for graph of PID %d (%s), %s\n", snap.Target.PID, snap.Target.Exe, snap.TakenAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	p("// %s\n", d.Headline)
	p("digraph hangtui {\n")
	p("  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n")

	cycleEdge := map[[2]string]bool{}
	for _, c := range snap.Cycles {
		for i, id := range c.Goroutines {
			if i < len(c.Resources) {
				r := c.Resources[i]
				next := c.Goroutines[(i+1)%len(c.Goroutines)]
				cycleEdge[[2]string{gNode(id), r}] = true
				cycleEdge[[2]string{r, gNode(next)}] = true
			}
		}
	}

	// Which goroutines get a node of their own.
	own := map[int64]bool{}
	for _, r := range snap.Resources {
		if r == nil {
			continue
		}
		for _, h := range r.Holders {
			own[h.Goroutine] = true
		}
	}
	for id := range d.InCycle {
		own[id] = true
	}

	type merged struct {
		key  string
		ids  []int64
		rep  *inspect.Goroutine
		wait inspect.Wait
	}
	var merges []*merged
	byKey := map[string]*merged{}
	for _, g := range d.Order {
		if len(g.Waits) == 0 && !own[g.ID] {
			continue
		}
		if own[g.ID] {
			p("  %s [shape=box, label=%s%s];\n", quote(gNode(g.ID)), quote(gLabel(g, uictx.GID(g.ID))), verdictAttr(g.Verdict))
			for _, wt := range g.Waits {
				edge(bw, gNode(g.ID), wt.Resource, string(wt.Op), cycleEdge)
			}
			continue
		}
		k := strconv.Itoa(d.GroupOf[g.ID]) + "|" + g.Waits[0].Resource
		mg := byKey[k]
		if mg == nil {
			mg = &merged{key: "group" + strconv.Itoa(len(merges)), rep: g, wait: g.Waits[0]}
			byKey[k] = mg
			merges = append(merges, mg)
		}
		mg.ids = append(mg.ids, g.ID)
	}
	for _, mg := range merges {
		name := uictx.GID(mg.rep.ID)
		node := gNode(mg.rep.ID)
		if len(mg.ids) > 1 {
			name = "×" + strconv.Itoa(len(mg.ids)) + " " + uictx.IDList(mg.ids, 3)
			node = mg.key
		}
		p("  %s [shape=box, label=%s%s];\n", quote(node), quote(gLabel(mg.rep, name)), verdictAttr(mg.rep.Verdict))
		edge(bw, node, mg.wait.Resource, string(mg.wait.Op), cycleEdge)
	}

	rs := append([]*inspect.Resource(nil), snap.Resources...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i] != nil && rs[j] != nil && rs[i].ID < rs[j].ID })
	for _, r := range rs {
		if r == nil {
			continue
		}
		label := uictx.ResName(r, r.ID) + "\n" + uictx.Addr(r) + "\n" + uictx.ResState(r)
		p("  %s [shape=ellipse, label=%s];\n", quote(r.ID), quote(label))
		for _, h := range r.Holders {
			lbl := "held by"
			if h.Read {
				lbl = "read-held by"
			}
			edge(bw, r.ID, gNode(h.Goroutine), lbl, cycleEdge)
		}
	}
	p("}\n")
	return bw.Flush()
}

func gNode(id int64) string { return uictx.GID(id) }

func gLabel(g *inspect.Goroutine, name string) string {
	fn, loc := uictx.Where(g)
	return name + " " + uictx.Verdict(g.Verdict) + "\n" + fn + "\n" + loc
}

func verdictAttr(v inspect.Verdict) string {
	switch v {
	case inspect.VerdictDeadlocked:
		return ", color=red, fontcolor=red"
	case inspect.VerdictLeaked:
		return ", color=magenta, fontcolor=magenta"
	}
	return ""
}

func edge(w io.Writer, from, to, label string, cycle map[[2]string]bool) {
	attr := ""
	if cycle[[2]string{from, to}] {
		attr = ", color=red, fontcolor=red, penwidth=2"
	}
	fmt.Fprintf(w, "  %s -> %s [label=%s%s];\n", quote(from), quote(to), quote(label), attr)
}

// quote is a DOT string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
