package report

import (
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
	"github.com/hangtui/hangtui/inspect"
)

// The goroutine profile export: what `runtime/pprof` writes for
// `pprof.Lookup("goroutine").WriteTo(w, 0)` (a gzipped profile.proto with
// one sample type, goroutine/count), so that `go tool pprof` and the
// continuous profilers that ingest goroutine profiles read it. Goroutines
// with the same stack and the same labels are one sample whose value is
// their count, as in the runtime's own profile; each sample carries
// hangtui's analysis as labels next to the goroutine's own pprof labels.

// Labels hangtui adds to every sample of a pprof export.
const (
	// PprofVerdict is the goroutine's verdict (deadlocked, leaked,
	// blocked, running, ...; "unknown" when none was given).
	PprofVerdict = "verdict"
	// PprofState is its scheduler state (running, runnable, syscall,
	// waiting, ...).
	PprofState = "state"
	// PprofWaitReason is the runtime's wait reason, for a waiting
	// goroutine ("unknown" when the source did not record one).
	PprofWaitReason = "wait_reason"
	// PprofResource is the resource id(s) it waits on ("chan:0x…",
	// comma-separated for a select), as in the JSON report.
	PprofResource = "resource"
	// PprofHolderOf is the resource id(s) of the locks it holds,
	// comma-separated.
	PprofHolderOf = "holder_of"
)

// pprofOwn are the labels hangtui sets; a goroutine's own label with one of
// these names is kept under "label.NAME" so that neither is lost.
var pprofOwn = map[string]bool{
	PprofVerdict: true, PprofState: true, PprofWaitReason: true, PprofResource: true, PprofHolderOf: true,
}

// WritePprof writes the snapshot as a gzipped pprof goroutine profile
// (profile.proto, the format of runtime/pprof's goroutine profile with
// debug=0): `go tool pprof -top`, `-tagfocus=verdict=deadlocked`, `-raw`
// and the web UI (`-http`) read it.
func WritePprof(w io.Writer, s *inspect.Snapshot) error {
	p, err := Pprof(s)
	if err != nil {
		return err
	}
	return p.Write(w)
}

// Pprof builds the goroutine profile of a snapshot (see WritePprof).
func Pprof(s *inspect.Snapshot) (*profile.Profile, error) {
	if s == nil {
		return nil, errors.New("report: nil snapshot")
	}
	b := &pprofBuilder{
		p: &profile.Profile{
			SampleType:        []*profile.ValueType{{Type: "goroutine", Unit: "count"}},
			PeriodType:        &profile.ValueType{Type: "goroutine", Unit: "count"},
			Period:            1,
			DefaultSampleType: "goroutine",
		},
		funcs:   map[funcKey]*profile.Function{},
		locs:    map[locKey]*profile.Location{},
		stacks:  map[stackID][]*profile.Location{},
		samples: map[string]*profile.Sample{},
	}
	if !s.TakenAt.IsZero() {
		b.p.TimeNanos = s.TakenAt.UnixNano()
	}
	b.p.Comments = pprofComments(s)
	exe := s.Target.Exe
	if exe == "" {
		exe = "unknown"
	}
	// One mapping, marked symbolized: pprof uses the functions, files and
	// lines given here and never looks for the binary.
	b.mapping = &profile.Mapping{ID: 1, Start: 0, Limit: ^uint64(0), File: exe,
		HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true}
	b.p.Mapping = []*profile.Mapping{b.mapping}

	gs := make([]*inspect.Goroutine, 0, len(s.Goroutines))
	for _, g := range s.Goroutines {
		if g != nil {
			gs = append(gs, g)
		}
	}
	sort.SliceStable(gs, func(i, j int) bool { return gs[i].ID < gs[j].ID })
	var key strings.Builder
	for _, g := range gs {
		labels := pprofLabels(g)
		locs := b.stack(g.Frames)
		key.Reset()
		// The stack's identity: its locations, which are shared between
		// equal frames.
		for _, l := range locs {
			key.WriteString(uint64Key(l.ID))
		}
		key.WriteByte(0)
		for _, k := range sortedLabelKeys(labels) {
			key.WriteString(k)
			key.WriteByte(1)
			key.WriteString(labels[k][0])
			key.WriteByte(2)
		}
		if smp := b.samples[key.String()]; smp != nil {
			smp.Value[0]++
			continue
		}
		smp := &profile.Sample{Location: locs, Value: []int64{1}, Label: labels}
		b.samples[key.String()] = smp
		b.p.Sample = append(b.p.Sample, smp)
	}
	if err := b.p.CheckValid(); err != nil {
		return nil, err
	}
	return b.p, nil
}

type funcKey struct{ name, file string }

// locKey identifies a location: its outermost frame's PC and the frames
// in it (the innermost one's function, file and line; the inlined ones
// between, rarely any, as text).
type locKey struct {
	pc        uint64
	fn, file  string
	line      int
	inlinedBy string
}

type pprofBuilder struct {
	p       *profile.Profile
	mapping *profile.Mapping
	funcs   map[funcKey]*profile.Function
	locs    map[locKey]*profile.Location
	// stacks caches the locations of a frame slice: goroutines with
	// identical stacks share one slice in the model.
	stacks  map[stackID][]*profile.Location
	samples map[string]*profile.Sample
}

// stackID identifies a frame slice shared between goroutines.
type stackID struct {
	first *inspect.Frame
	n     int
}

func (b *pprofBuilder) function(f inspect.Frame) *profile.Function {
	name := f.Func
	if name == "" {
		name = "unknown"
	}
	k := funcKey{name, f.File}
	if fn := b.funcs[k]; fn != nil {
		return fn
	}
	fn := &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: name, SystemName: name, Filename: f.File}
	b.funcs[k] = fn
	b.p.Function = append(b.p.Function, fn)
	return fn
}

// stack returns the locations of a stack, innermost first. A frame marked
// inlined was inlined into the frame after it: both are lines of one
// location, as in a profile of the real program.
func (b *pprofBuilder) stack(frames []inspect.Frame) []*profile.Location {
	if len(frames) == 0 {
		return b.noStack()
	}
	id := stackID{&frames[0], len(frames)}
	if locs, ok := b.stacks[id]; ok {
		return locs
	}
	var locs []*profile.Location
	for i := 0; i < len(frames); {
		j := i
		for j < len(frames)-1 && frames[j].Inlined {
			j++
		}
		locs = append(locs, b.location(frames[i:j+1]))
		i = j + 1
	}
	b.stacks[id] = locs
	return locs
}

// noStack is the location of a goroutine whose stack could not be read.
func (b *pprofBuilder) noStack() []*profile.Location {
	return []*profile.Location{b.location([]inspect.Frame{{Func: "(no stack)"}})}
}

// location is one physical frame and the frames inlined into it
// (innermost first); its address is the outermost frame's PC.
func (b *pprofBuilder) location(frames []inspect.Frame) *profile.Location {
	f0 := frames[0]
	key := locKey{pc: frames[len(frames)-1].PC, fn: f0.Func, file: f0.File, line: f0.Line}
	if len(frames) > 1 {
		var k strings.Builder
		for _, f := range frames[1:] {
			k.WriteString(f.Func)
			k.WriteByte(0)
			k.WriteString(f.File)
			k.WriteByte(0)
			k.WriteString(uint64Key(uint64(f.Line)))
		}
		key.inlinedBy = k.String()
	}
	if l := b.locs[key]; l != nil {
		return l
	}
	l := &profile.Location{ID: uint64(len(b.p.Location) + 1), Mapping: b.mapping, Address: key.pc}
	for _, f := range frames {
		l.Line = append(l.Line, profile.Line{Function: b.function(f), Line: int64(f.Line)})
	}
	b.locs[key] = l
	b.p.Location = append(b.p.Location, l)
	return l
}

func uint64Key(v uint64) string {
	var buf [10]byte
	n := 0
	for {
		buf[n] = byte(v&0x7f) | 0x80
		v >>= 7
		n++
		if v == 0 {
			break
		}
	}
	return string(buf[:n])
}

// pprofLabels are a goroutine's sample labels: hangtui's analysis and the
// goroutine's own pprof labels, one value each.
func pprofLabels(g *inspect.Goroutine) map[string][]string {
	l := make(map[string][]string, 5+len(g.Labels))
	for k, v := range g.Labels {
		if pprofOwn[k] {
			k = "label." + k
		}
		l[k] = []string{v}
	}
	l[PprofVerdict] = []string{g.Verdict.Name()}
	if g.State != "" {
		l[PprofState] = []string{string(g.State)}
	} else {
		l[PprofState] = []string{"unknown"}
	}
	if g.State == inspect.StateWaiting || g.WaitReason != "" {
		r := g.WaitReason
		if r == "" {
			r = "unknown"
		}
		l[PprofWaitReason] = []string{r}
	}
	if len(g.Waits) > 0 {
		ids := make([]string, 0, len(g.Waits))
		for _, w := range g.Waits {
			ids = append(ids, w.Resource)
		}
		l[PprofResource] = []string{strings.Join(ids, ",")}
	}
	if len(g.Holds) > 0 {
		l[PprofHolderOf] = []string{strings.Join(g.Holds, ",")}
	}
	return l
}

func sortedLabelKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pprofComments describe the target in the profile's comments (`go tool
// pprof -comments`), with "unknown" for what the source did not record.
func pprofComments(s *inspect.Snapshot) []string {
	tg := s.Target
	return []string{
		"hangtui goroutine profile: " + Headline(s),
		"target: " + targetLine(s),
		"source: " + orUnknown(string(tg.Source)),
		"go version: " + orUnknown(tg.GoVersion),
		"taken at: " + takenAtString(s),
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
