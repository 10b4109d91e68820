// Package report renders a Snapshot for people (text) and for machines
// (JSON, schema "hangtui.report/v1").
//
// The JSON schema is a public contract: fields may be added, never removed or
// changed in meaning. The structs below are the schema; keep them separate
// from the inspect model so the model can evolve without breaking it.
package report

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"

	"github.com/hangtui/hangtui/inspect"
)

// Schema is the value of the "schema" field.
const Schema = "hangtui.report/v1"

// Exit codes of `hangtui report` (also a public contract).
const (
	ExitOK    = 0 // nothing is stuck
	ExitError = 1 // hangtui could not produce a report
	ExitUsage = 2 // bad command line
	ExitStuck = 3 // a deadlocked or leaked goroutine was found
)

// Doc is the top-level JSON document.
type Doc struct {
	Schema     string      `json:"schema"`
	Target     Target      `json:"target"`
	TakenAt    string      `json:"taken_at"`
	PauseMS    float64     `json:"pause_ms"`
	Summary    Summary     `json:"summary"`
	Goroutines []Goroutine `json:"goroutines"`
	Resources  []Resource  `json:"resources"`
	Cycles     []Cycle     `json:"cycles"`
	Findings   []Finding   `json:"findings"`
	// Chains are the lock wait chains outside cycles (added in
	// hangtui.report/v1 as an extension).
	Chains     []Chain     `json:"chains,omitempty"`
	Finalizers *Finalizers `json:"finalizers"`
	Warnings   []string    `json:"warnings"`
	// Code is the source analysis that proves waits through package
	// variables (added in hangtui.report/v1 as an extension); absent when
	// it was not used.
	Code *Code `json:"code,omitempty"`
}

// Code is the state of the source analysis.
type Code struct {
	// State is "running", "ready", "unavailable" or "over budget".
	State     string  `json:"state"`
	Dir       string  `json:"dir,omitempty"`
	Packages  int     `json:"packages,omitempty"`
	Functions int     `json:"functions,omitempty"`
	Seconds   float64 `json:"seconds"`
	// Reason says why it is unavailable or over budget.
	Reason string `json:"reason,omitempty"`
	// Proven counts the goroutines the source proved stuck in this
	// snapshot; NotProven says why it could prove nothing.
	Proven    int    `json:"proven"`
	NotProven string `json:"not_proven,omitempty"`
}

// Target identifies what was inspected.
type Target struct {
	PID       int    `json:"pid"`
	Exe       string `json:"exe"`
	GoVersion string `json:"go_version"`
	Source    string `json:"source"`
}

// Summary counts goroutines by verdict.
type Summary struct {
	Goroutines int            `json:"goroutines"`
	ByVerdict  map[string]int `json:"by_verdict"`
	Stuck      int            `json:"stuck"`
}

// Frame is one stack frame.
type Frame struct {
	Func    string `json:"func"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Inlined bool   `json:"inlined,omitempty"`
}

// Wait is one thing a goroutine waits on.
type Wait struct {
	Resource string `json:"resource"`
	Op       string `json:"op"`
}

// Goroutine is one goroutine.
type Goroutine struct {
	ID          int64             `json:"id"`
	State       string            `json:"state"`
	WaitReason  string            `json:"wait_reason"`
	WaitSeconds *float64          `json:"wait_seconds"`
	Frames      []Frame           `json:"frames"`
	Truncated   bool              `json:"frames_truncated,omitempty"`
	TopUser     *int              `json:"top_user_frame"`
	CreatedBy   *Frame            `json:"created_by"`
	ParentID    int64             `json:"parent_id,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	System      bool              `json:"system"`
	Role        string            `json:"role,omitempty"`
	BlockedOn   *string           `json:"blocked_on"`
	Waits       []Wait            `json:"waits"`
	Holds       []string          `json:"holds"`
	Verdict     string            `json:"verdict"`
	Why         string            `json:"why,omitempty"`
}

// Holder is a goroutine holding a lock.
type Holder struct {
	Goroutine int64  `json:"goroutine"`
	Evidence  string `json:"evidence"`
	Frame     *Frame `json:"frame,omitempty"`
	Read      bool   `json:"read,omitempty"`
}

// Resource is a synchronization object. State holds the kind's fields.
type Resource struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	Addr    string         `json:"addr"`
	Type    string         `json:"type"`
	State   map[string]any `json:"state"`
	Holders []Holder       `json:"holders"`
	Waiters []int64        `json:"waiters"`
	// Wakers are parked goroutines that can still reach the object (for
	// channels, WaitGroups and Conds), where the analysis computed them.
	Wakers []int64 `json:"wakers,omitempty"`
}

// Cycle is a wait-for cycle.
type Cycle struct {
	Goroutines []int64  `json:"goroutines"`
	Resources  []string `json:"resources"`
	Kind       string   `json:"kind"`
}

// Chain is a lock wait chain: waiters wait, through resources, for head;
// longest is the longest path (via[i] is what longest[i] waits for).
type Chain struct {
	Head      int64    `json:"head"`
	Waiters   []int64  `json:"waiters"`
	Resources []string `json:"resources"`
	Longest   []int64  `json:"longest"`
	Via       []string `json:"via"`
}

// Finding is a problem with its evidence.
type Finding struct {
	Severity   string   `json:"severity"`
	Kind       string   `json:"kind"`
	Title      string   `json:"title"`
	Details    []string `json:"details"`
	Goroutines []int64  `json:"goroutines"`
	Resources  []string `json:"resources"`
	// Instances is how many times the pattern occurred, when more than
	// once: title and details describe the first occurrence, goroutines
	// and resources cover all of them, OtherInstances lists the others.
	Instances      int        `json:"instances,omitempty"`
	OtherInstances []Instance `json:"other_instances,omitempty"`
	// Sites are the source lines the finding points at (for a lock
	// nobody holds: the Lock calls with a way out that keeps it locked).
	Sites []Site `json:"sites,omitempty"`
	// Wakers are, for a verdict proven from the source, every operation
	// in the code that could wake the goroutines, with why nothing that
	// can still run gets there.
	Wakers []Waker `json:"wakers,omitempty"`
}

// Waker is an operation in the source that could wake a goroutine parked
// on resource: op ("send", "receive", "close", "Unlock", "RUnlock",
// "Done", "Add", "Signal", "Broadcast") at file:line in func (code is the
// line). reachers are the goroutines whose code can get there (all stuck
// themselves); finalizer says only the finalizer goroutine does; unknown,
// that its channel or lock is not followed in the code (any of its type);
// reflection, that it is a reflect function operating on any channel.
type Waker struct {
	Resource   string  `json:"resource"`
	Op         string  `json:"op"`
	Func       string  `json:"func"`
	File       string  `json:"file"`
	Line       int     `json:"line"`
	Code       string  `json:"code,omitempty"`
	Finalizer  bool    `json:"finalizer,omitempty"`
	Unknown    bool    `json:"unknown,omitempty"`
	Reflection bool    `json:"reflection,omitempty"`
	Reachers   []int64 `json:"reachers"`
	Why        string  `json:"why"`
}

// Site is a place in the source: a Lock call (func, file, line) and how
// its function can be left with the lock held (exit "return", "end" or
// "panic" at exit_line, through the break/continue/goto lines in via).
type Site struct {
	Func     string `json:"func"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Exit     string `json:"exit"`
	ExitLine int    `json:"exit_line"`
	Via      []int  `json:"via,omitempty"`
}

// Instance is one more occurrence of a finding's pattern.
type Instance struct {
	Goroutines []int64  `json:"goroutines"`
	Resources  []string `json:"resources"`
}

// ToDoc converts a snapshot into the JSON document.
func ToDoc(s *inspect.Snapshot) *Doc { return toDoc(s, true) }

// toDoc converts a snapshot, leaving Goroutines and Resources empty unless
// full is set (the streaming writer encodes them itself).
func toDoc(s *inspect.Snapshot, full bool) *Doc {
	d := &Doc{
		Schema:     Schema,
		Target:     Target{PID: s.Target.PID, Exe: s.Target.Exe, GoVersion: s.Target.GoVersion, Source: string(s.Target.Source)},
		TakenAt:    s.TakenAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		PauseMS:    float64(s.Pause.Microseconds()) / 1000,
		Summary:    Summarize(s),
		Goroutines: []Goroutine{},
		Resources:  []Resource{},
		Cycles:     []Cycle{},
		Findings:   []Finding{},
		Finalizers: finalizersDoc(s),
		Warnings:   append([]string{}, s.Warnings...),
	}
	for _, g := range s.Goroutines {
		if full {
			d.Goroutines = append(d.Goroutines, goroutineDoc(g))
		}
	}
	if full {
		d.Resources = make([]Resource, 0, len(s.Resources))
		for _, r := range s.Resources {
			d.Resources = append(d.Resources, resourceDoc(r))
		}
	}
	for _, c := range s.Cycles {
		d.Cycles = append(d.Cycles, Cycle{Goroutines: c.Goroutines, Resources: c.Resources, Kind: string(c.Kind)})
	}
	if c := s.Code; c != nil {
		d.Code = &Code{State: string(c.State), Dir: c.Dir, Packages: c.Packages, Functions: c.Functions,
			Seconds: c.Took.Seconds(), Reason: c.Reason, Proven: c.Proven, NotProven: c.NotProven}
	}
	for _, c := range s.Chains {
		d.Chains = append(d.Chains, Chain{Head: c.Head, Waiters: c.Waiters, Resources: c.Resources, Longest: c.Longest, Via: c.Via})
	}
	for _, f := range s.Findings {
		fd := Finding{Severity: f.Severity.String(), Kind: string(f.Kind), Title: f.Title,
			Details: append([]string{}, f.Details...), Goroutines: nonNilIDs(f.Goroutines), Resources: nonNil(f.Resources)}
		for _, st := range f.Sites {
			fd.Sites = append(fd.Sites, Site{Func: st.Func, File: st.File, Line: st.Line, Exit: st.Exit, ExitLine: st.ExitLine, Via: st.Via})
		}
		for _, w := range f.Wakers {
			fd.Wakers = append(fd.Wakers, Waker{Resource: w.Resource, Op: w.Op, Func: w.Func, File: w.File, Line: w.Line, Code: w.Code,
				Finalizer: w.Finalizer, Unknown: w.Unknown, Reflection: w.Reflection, Reachers: nonNilIDs(w.Reachers), Why: w.Why})
		}
		if len(f.Instances) > 0 {
			fd.Instances = 1 + len(f.Instances)
			for _, in := range f.Instances {
				fd.OtherInstances = append(fd.OtherInstances, Instance{Goroutines: nonNilIDs(in.Goroutines), Resources: nonNil(in.Resources)})
			}
		}
		d.Findings = append(d.Findings, fd)
	}
	return d
}

func goroutineDoc(g *inspect.Goroutine) Goroutine {
	out := Goroutine{
		ID: g.ID, State: string(g.State), WaitReason: g.WaitReason, Frames: []Frame{},
		Truncated: g.StackTruncated, ParentID: g.ParentID, Labels: g.Labels, System: g.System,
		Role: string(g.Role), Waits: []Wait{}, Holds: nonNil(g.Holds), Verdict: string(g.Verdict), Why: g.Why,
	}
	if g.Waiting > 0 {
		s := g.Waiting.Seconds()
		out.WaitSeconds = &s
	}
	for _, f := range g.Frames {
		out.Frames = append(out.Frames, frameDoc(f))
	}
	if g.TopUser >= 0 {
		i := g.TopUser
		out.TopUser = &i
	}
	if g.CreatedBy != nil {
		f := frameDoc(*g.CreatedBy)
		out.CreatedBy = &f
	}
	if id := g.BlockedOn(); id != "" {
		out.BlockedOn = &id
	}
	for _, w := range g.Waits {
		out.Waits = append(out.Waits, Wait{Resource: w.Resource, Op: string(w.Op)})
	}
	return out
}

func frameDoc(f inspect.Frame) Frame {
	return Frame{Func: f.Func, File: f.File, Line: f.Line, Inlined: f.Inlined}
}

func resourceDoc(r *inspect.Resource) Resource {
	out := Resource{ID: r.ID, Kind: string(r.Kind), Addr: "0x" + strconv.FormatUint(r.Addr, 16), Type: r.Type,
		State: map[string]any{}, Holders: []Holder{}, Waiters: nonNilIDs(r.Waiters), Wakers: r.Wakers}
	switch {
	case r.Mutex != nil:
		m := r.Mutex
		out.State = map[string]any{"locked": m.Locked, "starving": m.Starving, "woken": m.Woken, "waiter_count": m.Waiters}
	case r.RWMutex != nil:
		m := r.RWMutex
		out.State = map[string]any{"writer_held": m.WriterHeld, "writer_pending": m.WriterPending, "readers": m.Readers,
			"readers_waiting": m.ReadersWaiting, "writers_waiting": m.WritersWaiting}
	case r.WaitGroup != nil:
		out.State = map[string]any{"counter": r.WaitGroup.Counter, "waiters": r.WaitGroup.Waiters}
	case r.Cond != nil:
		out.State = map[string]any{"waiters": r.Cond.Waiters}
	case r.Chan != nil:
		c := r.Chan
		out.State = map[string]any{"elem_type": c.ElemType, "len": c.Len, "cap": c.Cap, "closed": c.Closed,
			"senders": nonNilIDs(c.Senders), "receivers": nonNilIDs(c.Receivers)}
	case r.Sema != nil:
		out.State = map[string]any{"value": r.Sema.Value}
	}
	for _, h := range r.Holders {
		hd := Holder{Goroutine: h.Goroutine, Evidence: string(h.Evidence), Read: h.Read}
		if h.Frame != nil {
			f := frameDoc(*h.Frame)
			hd.Frame = &f
		}
		out.Holders = append(out.Holders, hd)
	}
	return out
}

// Summarize counts goroutines by verdict.
func Summarize(s *inspect.Snapshot) Summary {
	sum := Summary{Goroutines: len(s.Goroutines), ByVerdict: map[string]int{}}
	for _, g := range s.Goroutines {
		sum.ByVerdict[string(g.Verdict)]++
		if g.Verdict.Stuck() {
			sum.Stuck++
		}
	}
	return sum
}

// ExitCode is the exit code `hangtui report` returns for a snapshot.
func ExitCode(s *inspect.Snapshot) int {
	if Summarize(s).Stuck > 0 {
		return ExitStuck
	}
	return ExitOK
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func nonNilIDs(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

// WriteJSON writes the snapshot as compact JSON on one line: the bytes
// json.NewEncoder(w).Encode(ToDoc(s)) would write, streamed (json_stream.go).
func WriteJSON(w io.Writer, s *inspect.Snapshot) error {
	return writeJSONStream(w, s)
}

// WriteJSONIndent writes the snapshot as indented JSON, for people. Indenting
// a 100,000-goroutine report costs seconds, so it is only used on terminals.
func WriteJSONIndent(w io.Writer, s *inspect.Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ToDoc(s))
}
