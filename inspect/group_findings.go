package inspect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Findings grouped by shape. A bug in a request handler that happened 1,000
// times is one bug: its 1,000 AB-BA cycles (or leaked receivers) are one
// finding whose first instance is described in full, with a count and the
// goroutines of the others. Two findings are the same pattern when they are
// of the same kind and severity and their goroutines are parked at the same
// code locations, on the same kinds of resource (type and field, not
// address), holding the same kinds of lock taken at the same lines.

// groupFindings merges findings of the same pattern, in place. The first
// finding of a group (in the current order) keeps its title and details;
// the others become its Instances. Findings without goroutines stay alone.
func groupFindings(s *Snapshot) {
	if len(s.Findings) < 2 {
		return
	}
	gs := make(map[int64]*Goroutine, len(s.Goroutines))
	for _, g := range s.Goroutines {
		gs[g.ID] = g
	}
	rs := make(map[string]*Resource, len(s.Resources))
	for _, r := range s.Resources {
		rs[r.ID] = r
	}
	sigs := map[string]int{}
	out := s.Findings[:0]
	for _, f := range s.Findings {
		sig := findingSignature(f, gs, rs)
		if sig == "" {
			out = append(out, f)
			continue
		}
		if i, ok := sigs[sig]; ok {
			first := &out[i]
			if len(first.Instances) == 0 {
				// Goroutines may share a resource's Waiters: copy
				// before merging.
				first.Goroutines = append([]int64(nil), first.Goroutines...)
				first.Resources = append([]string(nil), first.Resources...)
			}
			first.Instances = append(first.Instances, FindingInstance{Goroutines: f.Goroutines, Resources: f.Resources})
			first.Goroutines = append(first.Goroutines, f.Goroutines...)
			first.Resources = append(first.Resources, f.Resources...)
			continue
		}
		sigs[sig] = len(out)
		out = append(out, f)
	}
	s.Findings = out
	for i := range s.Findings {
		f := &s.Findings[i]
		if len(f.Instances) == 0 {
			continue
		}
		sortIDs(f.Goroutines)
		f.Goroutines = compactIDs(f.Goroutines)
		sort.Strings(f.Resources)
		f.Resources = compactStrings(f.Resources)
		n := 1 + len(f.Instances)
		f.Title = fmt.Sprintf("%s — %d instances of the same pattern", f.Title, n)
		f.Details = append(f.Details, "the same pattern, "+Plural(n-1, "more instance")+": "+instanceList(f.Instances, 8))
	}
}

// instanceList is "goroutines 21, 22; goroutines 23, 24; … (997 more)".
func instanceList(is []FindingInstance, max int) string {
	var parts []string
	for i, in := range is {
		if i == max {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(is)-max))
			break
		}
		parts = append(parts, "goroutines "+joinIDs(in.Goroutines))
	}
	return strings.Join(parts, "; ")
}

// findingSignature describes f's pattern without addresses or ids; "" when
// f is not to be grouped.
func findingSignature(f Finding, gs map[int64]*Goroutine, rs map[string]*Resource) string {
	if len(f.Goroutines) == 0 {
		return ""
	}
	var parts []string
	seen := map[string]bool{}
	for _, id := range f.Goroutines {
		g := gs[id]
		if g == nil {
			return ""
		}
		p := goroutineSignature(g, rs)
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	sort.Strings(parts)
	var types []string
	for _, id := range f.Resources {
		if r := rs[id]; r != nil {
			types = append(types, string(r.Kind)+" "+r.Type)
		}
	}
	sort.Strings(types)
	types = compactStrings(types)
	return fmt.Sprintf("%s|%d|%s|%s", f.Kind, f.Severity, strings.Join(parts, ";"), strings.Join(types, ";"))
}

// goroutineSignature is where g is parked, on what kind of resource, and
// what kinds of lock it holds since which lines.
func goroutineSignature(g *Goroutine, rs map[string]*Resource) string {
	// Built without fmt: a million leaked goroutines are one finding
	// each before grouping.
	var b []byte
	b = append(b, g.Role...)
	b = append(b, '@')
	frame := func(f Frame) {
		b = append(b, f.Func...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(f.Line), 10)
	}
	if g.TopUser >= 0 && g.TopUser < len(g.Frames) {
		frame(g.Frames[g.TopUser])
	} else if len(g.Frames) > 0 {
		frame(g.Frames[0])
	}
	b = append(b, ' ')
	b = append(b, g.WaitReason...)
	for _, w := range g.Waits {
		if r := rs[w.Resource]; r != nil {
			b = append(b, ' ')
			b = append(b, w.Op...)
			b = append(b, ':')
			b = append(b, r.Kind...)
			b = append(b, ':')
			b = append(b, r.Type...)
		}
	}
	var holds []string
	for _, id := range g.Holds {
		r := rs[id]
		if r == nil {
			continue
		}
		h := string(r.Kind) + ":" + r.Type
		for _, hd := range r.Holders {
			if hd.Goroutine == g.ID && hd.Frame != nil {
				h += "@" + hd.Frame.Func + ":" + strconv.Itoa(hd.Frame.Line) + ":" + string(hd.Evidence)
			}
		}
		holds = append(holds, h)
	}
	sort.Strings(holds)
	b = append(b, " holds "...)
	for i, h := range holds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h...)
	}
	return string(b)
}

func compactIDs(ids []int64) []int64 {
	out := ids[:0]
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

func compactStrings(ss []string) []string {
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
