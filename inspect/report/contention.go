package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/hangtui/hangtui/inspect"
)

// ContentionSchema is the "schema" of `hangtui top --json`.
const ContentionSchema = "hangtui.contention/v1"

// ContentionDoc is the JSON document of `hangtui top --json`. Like the
// report's, the schema is a public contract: fields are only ever added.
type ContentionDoc struct {
	Schema    string `json:"schema"`
	Target    Target `json:"target"`
	StartedAt string `json:"started_at"`
	// DurationS is how long sampling ran; IntervalS the interval asked.
	DurationS float64 `json:"duration_s"`
	IntervalS float64 `json:"interval_s"`
	// Samples validated, DroppedSamples did not (they count nothing).
	Samples        int `json:"samples"`
	DroppedSamples int `json:"dropped_samples"`
	// StaleWaits were seen ending while read (not counted); TornStacks
	// are waits whose stack changed while read (counted, without a site).
	StaleWaits int `json:"stale_waits"`
	TornStacks int `json:"torn_stacks"`
	// HolderSamples counts the passes that looked for lock holders.
	HolderSamples int `json:"holder_samples"`
	// PausedMS is the total time the target was stopped.
	PausedMS float64 `json:"paused_ms"`
	// SamplingMS and HolderMS are the time hangtui spent reading.
	SamplingMS float64 `json:"sampling_ms"`
	HolderMS   float64 `json:"holder_ms"`
	// Goroutines in the last sample.
	Goroutines int `json:"goroutines"`
	// ForgottenResources were dropped from a long run's ranking (see
	// inspect.ContentionProfile.Forgotten).
	ForgottenResources int                 `json:"forgotten_resources"`
	Resources          []ContendedResource `json:"resources"`
}

// ContendedResource is one object waited on, in ranking order.
type ContendedResource struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Addr string `json:"addr"`
	// Name is the variable or field holding it where known; Type its Go
	// type.
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	WaitSeconds float64 `json:"wait_seconds"`
	MaxWaiters  int     `json:"max_waiters"`
	MeanWaiters float64 `json:"mean_waiters"`
	// Ops are waiter-seconds by operation (lock, rlock, wait, send, recv,
	// select, acquire).
	Ops           map[string]float64 `json:"ops"`
	Waiters       []ContentionSite   `json:"waiters"`
	Holders       []ContentionSite   `json:"holders"`
	HolderSamples int                `json:"holder_samples"`
}

// ContentionSite is a code location and its share.
type ContentionSite struct {
	Func string `json:"func"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Share of the resource's waiter-seconds (waiters) or of its holder
	// samples (holders).
	Share       float64  `json:"share"`
	WaitSeconds *float64 `json:"wait_seconds,omitempty"`
	Samples     *int     `json:"samples,omitempty"`
	Evidence    string   `json:"evidence,omitempty"`
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// ContentionToDoc converts a profile to its JSON document.
func ContentionToDoc(p *inspect.ContentionProfile) *ContentionDoc {
	d := &ContentionDoc{
		Schema:             ContentionSchema,
		Target:             Target{PID: p.Target.PID, Exe: p.Target.Exe, GoVersion: p.Target.GoVersion, Source: string(p.Target.Source)},
		StartedAt:          p.Start.UTC().Format(time.RFC3339Nano),
		DurationS:          round(p.Duration.Seconds(), 3),
		IntervalS:          p.Interval.Seconds(),
		Samples:            p.Samples,
		DroppedSamples:     p.Dropped,
		StaleWaits:         p.Stale,
		TornStacks:         p.Torn,
		HolderSamples:      p.HolderSamples,
		PausedMS:           round(float64(p.Paused)/1e6, 1),
		SamplingMS:         round(float64(p.SampleTime)/1e6, 1),
		HolderMS:           round(float64(p.HolderTime)/1e6, 1),
		Goroutines:         p.Goroutines,
		ForgottenResources: p.Forgotten,
		Resources:          []ContendedResource{},
	}
	for _, r := range p.Resources {
		cr := ContendedResource{
			ID: r.ID, Kind: string(r.Kind), Addr: fmt.Sprintf("%#x", r.Addr), Name: r.Name, Type: r.Type,
			WaitSeconds: round(r.WaitSeconds, 3), MaxWaiters: r.MaxWaiters, MeanWaiters: round(r.MeanWaiters, 2),
			Ops: map[string]float64{}, Waiters: []ContentionSite{}, Holders: []ContentionSite{}, HolderSamples: r.HolderSamples,
		}
		for op, v := range r.Ops {
			cr.Ops[string(op)] = round(v, 3)
		}
		for _, s := range r.Waiters {
			ws := round(s.WaitSeconds, 3)
			cr.Waiters = append(cr.Waiters, ContentionSite{Func: s.Func, File: s.File, Line: s.Line, Share: round(s.Share, 3), WaitSeconds: &ws})
		}
		for _, s := range r.Holders {
			n := s.Samples
			cr.Holders = append(cr.Holders, ContentionSite{Func: s.Func, File: s.File, Line: s.Line, Share: round(s.Share, 3), Samples: &n, Evidence: string(s.Evidence)})
		}
		d.Resources = append(d.Resources, cr)
	}
	return d
}

// WriteContentionJSON writes the profile as JSON (hangtui.contention/v1).
func WriteContentionJSON(w io.Writer, p *inspect.ContentionProfile, indent bool) error {
	enc := json.NewEncoder(w)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(ContentionToDoc(p))
}

// ContentionHeader is the profile's first line: what was watched, how long,
// how many samples, how long the target was stopped.
func ContentionHeader(p *inspect.ContentionProfile) string {
	rate := 0.0
	if s := p.Duration.Seconds(); s > 0 {
		rate = float64(p.Samples) / s
	}
	s := fmt.Sprintf("process %d: %d goroutines, %s watched, %d samples (%.1f/s)", p.Target.PID, p.Goroutines,
		p.Duration.Round(100*time.Millisecond), p.Samples, rate)
	if p.Dropped > 0 {
		s += fmt.Sprintf(", %d dropped", p.Dropped)
	}
	return s + fmt.Sprintf(", target stopped %s in all", p.Paused.Round(time.Millisecond))
}

// ResourceLabel is "main.store.mu (sync.Mutex)", or the type and address
// when the name is not known.
func ResourceLabel(r *inspect.ContendedResource) string {
	if r.Name != "" {
		return r.Name + " (" + r.Type + ")"
	}
	return fmt.Sprintf("%s %#x", r.Type, r.Addr)
}

// SiteLine is "main.(*store).put store/store.go:41".
func SiteLine(s inspect.ContentionSite) string {
	if s.File == "" {
		return s.Func
	}
	return fmt.Sprintf("%s %s:%d", s.Func, inspect.ShortFile(s.File), s.Line)
}

// OpsLine is "lock 12.1s, rlock 3.0s", largest first.
func OpsLine(r *inspect.ContendedResource) string {
	type kv struct {
		op string
		v  float64
	}
	var ops []kv
	for op, v := range r.Ops {
		ops = append(ops, kv{string(op), v})
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].v != ops[j].v {
			return ops[i].v > ops[j].v
		}
		return ops[i].op < ops[j].op
	})
	var parts []string
	for _, o := range ops {
		parts = append(parts, fmt.Sprintf("%s %.1fs", o.op, o.v))
	}
	return strings.Join(parts, ", ")
}

// WriteContentionText writes the ranking as a table with each resource's
// waiting and holding code sites; top resources at most (0: all).
func WriteContentionText(w io.Writer, p *inspect.ContentionProfile, top int) error {
	var b strings.Builder
	b.WriteString(ContentionHeader(p) + "\n")
	if p.Stale > 0 || p.Torn > 0 {
		fmt.Fprintf(&b, "(%d waits ended while read were not counted; %d stacks changed while read count without a site)\n", p.Stale, p.Torn)
	}
	b.WriteString("\n")
	if len(p.Resources) == 0 {
		b.WriteString("nothing waited on a lock, channel, WaitGroup or Cond in any sample\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "%3s  %9s  %5s  %6s  %-9s  %s\n", "#", "WAIT-S", "MAX", "MEAN", "KIND", "RESOURCE")
	for i, r := range p.Resources {
		if top > 0 && i == top {
			fmt.Fprintf(&b, "… %d more (--top 0 shows all)\n", len(p.Resources)-top)
			break
		}
		fmt.Fprintf(&b, "%3d  %9.2f  %5d  %6.1f  %-9s  %s\n", i+1, r.WaitSeconds, r.MaxWaiters, r.MeanWaiters, r.Kind, ResourceLabel(r))
		if len(r.Ops) > 1 {
			fmt.Fprintf(&b, "%38s%s\n", "", OpsLine(r))
		}
		for k, s := range r.Waiters {
			if k == 4 {
				fmt.Fprintf(&b, "%38s  … %d more waiting sites\n", "", len(r.Waiters)-k)
				break
			}
			label := "waiting"
			if k > 0 {
				label = ""
			}
			fmt.Fprintf(&b, "%30s %-7s %4.0f%%  %s\n", "", label, 100*s.Share, SiteLine(s))
		}
		switch {
		case len(r.Holders) > 0:
			for k, s := range r.Holders {
				if k == 3 {
					break
				}
				label := "holding"
				if k > 0 {
					label = ""
				}
				fmt.Fprintf(&b, "%30s %-7s %4.0f%%  %s\n", "", label, 100*s.Share, SiteLine(s))
			}
		case r.HolderSamples > 0:
			fmt.Fprintf(&b, "%30s %-7s        not seen in %d holder passes (running on a thread, or no evidence)\n", "", "holding", r.HolderSamples)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteContentionPprof writes the profile as a pprof contention profile:
// each sample is a waiting stack with its waiter-seconds (as "delay",
// nanoseconds) and the number of samples it was seen in, labelled with
// the resource; `go tool pprof` reads it.
func WriteContentionPprof(w io.Writer, p *inspect.ContentionProfile) error {
	prof := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "samples", Unit: "count"},
			{Type: "delay", Unit: "nanoseconds"},
		},
		DefaultSampleType: "delay",
		PeriodType:        &profile.ValueType{Type: "wait", Unit: "nanoseconds"},
		Period:            int64(p.Interval),
		TimeNanos:         p.Start.UnixNano(),
		DurationNanos:     int64(p.Duration),
		Comments:          []string{"hangtui top: waiter-seconds by waiting stack, sampled without stopping the process"},
	}
	funcs := map[[2]string]*profile.Function{}
	locs := map[string]*profile.Location{}
	fn := func(name, file string) *profile.Function {
		k := [2]string{name, file}
		if f := funcs[k]; f != nil {
			return f
		}
		f := &profile.Function{ID: uint64(len(prof.Function) + 1), Name: name, SystemName: name, Filename: file}
		prof.Function = append(prof.Function, f)
		funcs[k] = f
		return f
	}
	for _, st := range p.Stacks() {
		s := &profile.Sample{Value: []int64{int64(st.Samples), int64(st.WaitSeconds * 1e9)}}
		// A physical frame's location holds its inlined frames too, as Go's
		// own profiles do (innermost first).
		var group []inspect.Frame
		flush := func() {
			if len(group) == 0 {
				return
			}
			var kb strings.Builder
			for _, f := range group {
				fmt.Fprintf(&kb, "%x %s %d;", f.PC, f.Func, f.Line)
			}
			k := kb.String()
			l := locs[k]
			if l == nil {
				l = &profile.Location{ID: uint64(len(prof.Location) + 1), Address: group[0].PC}
				for _, f := range group {
					l.Line = append(l.Line, profile.Line{Function: fn(f.Func, f.File), Line: int64(f.Line)})
				}
				prof.Location = append(prof.Location, l)
				locs[k] = l
			}
			s.Location = append(s.Location, l)
			group = group[:0]
		}
		for _, f := range st.Frames {
			group = append(group, f)
			if !f.Inlined {
				flush()
			}
		}
		flush()
		name := st.Resource.Name
		if name == "" {
			name = st.Resource.Type
		}
		s.Label = map[string][]string{"resource": {st.Resource.ID}, "name": {name}, "op": {string(st.Op)}}
		prof.Sample = append(prof.Sample, s)
	}
	return prof.Write(w)
}
