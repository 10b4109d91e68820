package inspect

// Live contention (hangtui top): the waits of a running process, sampled
// over time without stopping it, ranked by waiter-seconds.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hangtui/hangtui/inspect/internal/target"
)

// ContentionProfile is the ranking of what goroutines waited on over a
// period of sampling.
type ContentionProfile struct {
	Target Target
	// Start is when sampling started; Duration how long it has run.
	Start    time.Time
	Duration time.Duration
	// Interval is the sampling interval asked for.
	Interval time.Duration
	// Samples counts the samples that validated; Dropped those that did
	// not (a structure read while it changed), which count nothing.
	Samples, Dropped int
	// Stale counts waits seen while they ended (not counted); Torn the
	// waits whose stack changed while it was read (counted, no site).
	Stale, Torn int
	// HolderSamples counts the holder passes (see ContendedResource.Holders).
	HolderSamples int
	// Paused is the total time the target was stopped: only the first
	// snapshot (names, for a CLI run); sampling never stops it.
	Paused time.Duration
	// SampleTime is the total time spent reading samples, HolderTime
	// that of the holder passes; BytesRead the target memory read.
	SampleTime, HolderTime time.Duration
	BytesRead              int64
	// Goroutines is the number of goroutines in the last sample.
	Goroutines int
	// Forgotten counts resources dropped from a long run's ranking: not
	// waited on for SeriesLen samples, outside the 1,000 largest, once
	// more than 5,000 were tracked.
	Forgotten int
	// Resources are ranked by WaitSeconds, largest first.
	Resources []*ContendedResource
}

// ContendedResource is one object goroutines waited on.
type ContendedResource struct {
	// ID is the resource id, as in snapshots ("mutex:0xc000012345").
	ID   string
	Kind Kind
	Addr uint64
	// Name is the variable or field holding it where known
	// ("main.store.mu"); Type its Go type ("sync.Mutex", "chan main.Job").
	Name, Type string
	// WaitSeconds is the sum over samples of waiters × the time since the
	// previous sample.
	WaitSeconds float64
	// MaxWaiters and MeanWaiters are over all samples (mean counts the
	// samples in which nobody waited as 0).
	MaxWaiters  int
	MeanWaiters float64
	// Ops are the operations waited for, with their waiter-seconds.
	Ops map[Op]float64
	// Waiters are the waiting code sites, largest share first.
	Waiters []ContentionSite
	// Holders are the code sites of the goroutines holding the lock,
	// seen by the holder passes made while it had waiters (HolderSamples
	// of them); Share is of those passes. Only for Mutex and RWMutex.
	Holders       []ContentionSite
	HolderSamples int
	// Series is the number of waiters in each of the last samples, oldest
	// first (sparklines).
	Series []int
	// Last are the goroutines waiting in the last sample, LastHolders
	// the holders of the last holder pass.
	Last        []int64
	LastHolders []Holder

	waitSites map[siteKey]*ContentionSite
	holdSites map[siteKey]*ContentionSite
	stacks    map[stackKey]*ContentionStack
	sumW      int
	lastSeen  int
}

// ContentionSite is a code location with its share.
type ContentionSite struct {
	Func string
	File string
	Line int
	// Share of the resource's waiter-seconds (waiters) or of its holder
	// samples (holders), 0 to 1.
	Share float64
	// WaitSeconds at this site (waiters); Samples the holder passes that
	// saw a holder here (holders).
	WaitSeconds float64
	Samples     int
	// Evidence is how the holder was identified (holders).
	Evidence Evidence
}

// ContentionStack is a waiting stack and its waiter-seconds (the pprof
// profile's samples).
type ContentionStack struct {
	Resource    *ContendedResource
	Op          Op
	Frames      []Frame
	WaitSeconds float64
	Samples     int
}

type siteKey struct {
	fn   string
	file string
	line int
}

type stackKey struct {
	stack *target.Frame
	n     int
	op    Op
}

// debugSamples prints every sample to stderr (HANGTUI_DEBUG_SAMPLES=1).
var debugSamples = os.Getenv("HANGTUI_DEBUG_SAMPLES") != ""

// SeriesLen is how many samples ContendedResource.Series keeps.
const SeriesLen = 120

// Stacks returns every waiting stack of the profile with its
// waiter-seconds, largest first.
func (p *ContentionProfile) Stacks() []*ContentionStack {
	var out []*ContentionStack
	for _, r := range p.Resources {
		for _, s := range r.stacks {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].WaitSeconds != out[j].WaitSeconds {
			return out[i].WaitSeconds > out[j].WaitSeconds
		}
		return out[i].Resource.ID < out[j].Resource.ID
	})
	return out
}

// Resource returns the resource with this id, or nil.
func (p *ContentionProfile) Resource(id string) *ContendedResource {
	for _, r := range p.Resources {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// SamplerOptions configure a ContentionSampler.
type SamplerOptions struct {
	// Interval is the time between samples (default 100ms).
	Interval time.Duration
	// HolderDuty bounds the share of wall time spent finding lock holders
	// (default 0.03); a negative value turns holder passes off.
	HolderDuty float64
}

// ContentionSampler samples a running process's waits without stopping
// it. Make it with Session.NewSampler; use it from one goroutine.
type ContentionSampler struct {
	raw  *target.Target
	smp  *target.Sampler
	opts SamplerOptions
	prof *ContentionProfile
	res  map[string]*ContendedResource
	// byKey finds resources without formatting ids; sites caches each
	// distinct stack's waiting site (stacks are shared slices).
	byKey map[resKey]*ContendedResource
	sites map[*target.Frame]siteKey
	// names are resource names from snapshots, by id.
	names map[string]string
	// src is the source index of the holder passes (its own).
	src *sourceIndex
	// last is when the last validated sample was read.
	last       time.Time
	nextHolder time.Time
	// holderRaw is the holder passes' own raw target: a pass runs on a
	// goroutine of its own beside the samples (holderBusy), its result
	// comes back on holderDone.
	holderRaw  *target.Target
	holderBusy bool
	holderDone chan *holderOut
	// lastWaits are the lock waiters of the last sample, for the holder
	// pass: resource → goroutine ids.
	lastWaits map[*ContendedResource][]int64
	// classify tells which sync object a semaphore wait is on.
	classify func(w *target.SampleWait) (Kind, uint64, Op)
}

// NewSampler prepares sampling the session's live process without
// stopping it: it copies what it needs from the attached target (layouts,
// symbols, the names and Conds of snap, a snapshot of the same session) and
// then reads with process_vm_readv alone, so it may be used after Close,
// and beside further snapshots on another goroutine.
func (s *Session) NewSampler(snap *Snapshot, opts SamplerOptions) (*ContentionSampler, error) {
	cs := newContentionSampler(opts)
	err := s.do(func() error {
		if s.tgt == nil {
			return errors.New("session is closed")
		}
		if s.info.Source != SourceLive {
			return &Error{Kind: ErrUnsupported, Msg: "only a running process can be sampled",
				Hint: "hangtui top needs a PID: a core file or a dump does not change"}
		}
		raw, err := s.tgt.RawClone()
		if err != nil {
			return err
		}
		cs.raw = raw
		if cs.holderRaw, err = s.tgt.RawClone(); err != nil {
			return err
		}
		cs.holderRaw.StacksOnly = true
		cs.prof = &ContentionProfile{Target: s.info, Interval: cs.opts.Interval}
		var conds []uint64
		if snap != nil {
			for _, r := range snap.Resources {
				if r.Kind == KindCond {
					conds = append(conds, r.Addr)
				}
			}
		}
		cs.smp, err = raw.NewSampler(conds)
		return err
	})
	if err != nil {
		return nil, err
	}
	cs.Learn(snap)
	cs.classify = semaClassifier(cs.raw)
	return cs, nil
}

func newContentionSampler(opts SamplerOptions) *ContentionSampler {
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	if opts.HolderDuty == 0 {
		opts.HolderDuty = 0.03
	}
	return &ContentionSampler{opts: opts, res: map[string]*ContendedResource{}, names: map[string]string{}, src: newSourceIndex(),
		byKey: map[resKey]*ContendedResource{}, sites: map[*target.Frame]siteKey{}, holderDone: make(chan *holderOut, 1)}
}

// OpenSampler prepares sampling process pid's waits without ever stopping
// it, not even at the start: no ptrace, no Delve attach (the debug
// information is read from the executable). What only an attached snapshot
// can tell is missing: a lock in a heap object is named by its type and
// address only (package variables are still named), and a holder is found
// only by a pending deferred Unlock, not from the source. A process
// traced by another debugger can be sampled.
func OpenSampler(pid int, opts SamplerOptions) (*ContentionSampler, error) {
	pre, err := precheckTraced(pid, true)
	if err != nil {
		return nil, err
	}
	raw, err := target.OpenRaw(pid)
	if err != nil {
		return nil, &Error{Kind: ErrUnsupported, Msg: fmt.Sprintf("cannot read process %d without stopping it: %v", pid, err),
			Hint: "hangtui top without --no-stop attaches once, briefly", Err: err}
	}
	cs := newContentionSampler(opts)
	cs.raw = raw
	if cs.holderRaw, err = raw.RawClone(); err != nil {
		return nil, err
	}
	cs.holderRaw.StacksOnly = true
	info := Target{PID: pid, Exe: pre.exe, GoVersion: pre.goVersion, Source: SourceLive}
	if v := raw.GoVersion(); v != "" {
		info.GoVersion = v
	}
	cs.prof = &ContentionProfile{Target: info, Interval: cs.opts.Interval}
	if cs.smp, err = raw.NewSampler(nil); err != nil {
		return nil, &Error{Kind: ErrUnsupported, Msg: fmt.Sprintf("cannot sample process %d: %v", pid, err), Err: err}
	}
	cs.classify = semaClassifier(raw)
	// A first read tells a process whose memory may not be read.
	if smp := cs.smp.Sample(); smp.Drop != "" && strings.Contains(smp.Drop, "could not read") {
		return nil, ptraceDenied(pid, errors.New(smp.Drop))
	}
	return cs, nil
}

// Learn takes the names of snap's resources (a snapshot of the same
// process): sampling alone cannot name a lock by the variable holding it.
func (cs *ContentionSampler) Learn(snap *Snapshot) {
	if snap == nil {
		return
	}
	for _, r := range snap.Resources {
		if r.Type == "" {
			continue
		}
		cs.names[r.ID] = r.Type
		if cr := cs.res[r.ID]; cr != nil {
			cr.Name, cr.Type = splitName(r.Kind, r.Type, cr.Type)
		}
		if r.Kind == KindCond {
			cs.smp.AddConds(r.Addr)
		}
	}
}

// splitName turns a snapshot's Resource.Type ("main.store.mu", "sync.Mutex",
// "main.jobs (chan main.Job)") into a name and a type.
func splitName(k Kind, snapType, typ string) (name, t string) {
	if k == KindChan {
		if n, rest, ok := strings.Cut(snapType, " ("); ok {
			return n, strings.TrimSuffix(rest, ")")
		}
		return "", snapType
	}
	if snapType == typ || snapType == kindType(k, "") {
		return "", typ
	}
	return snapType, typ
}

// semaClassifier decides which sync object a semaphore belongs to, as the
// snapshot's classifySema does, from the wait reason and the stack top.
func semaClassifier(t *target.Target) func(w *target.SampleWait) (Kind, uint64, Op) {
	offs := targetSyncOffsets(t)
	return func(w *target.SampleWait) (Kind, uint64, Op) {
		return offs.classifySema(w.Reason, modelFrames(w.Frames), nil, w.Addr)
	}
}

// Profile returns the ranking so far. It shares nothing with the sampler:
// the sampler may go on sampling.
func (cs *ContentionSampler) Profile() *ContentionProfile {
	p := *cs.prof
	p.Resources = make([]*ContendedResource, 0, len(cs.res))
	for _, r := range cs.res {
		p.Resources = append(p.Resources, r.export(cs.prof.Samples))
	}
	sort.SliceStable(p.Resources, func(i, j int) bool {
		a, b := p.Resources[i], p.Resources[j]
		if a.WaitSeconds != b.WaitSeconds {
			return a.WaitSeconds > b.WaitSeconds
		}
		return a.ID < b.ID
	})
	return &p
}

// export copies r for a profile, with its sites ranked.
func (r *ContendedResource) export(samples int) *ContendedResource {
	c := *r
	if samples > 0 {
		c.MeanWaiters = float64(r.sumW) / float64(samples)
	}
	c.Ops = make(map[Op]float64, len(r.Ops))
	for k, v := range r.Ops {
		c.Ops[k] = v
	}
	c.Series = slices.Clone(r.Series)
	c.Last = slices.Clone(r.Last)
	c.LastHolders = slices.Clone(r.LastHolders)
	c.Waiters = rankSites(r.waitSites, func(s *ContentionSite) float64 { return s.WaitSeconds })
	for i := range c.Waiters {
		if r.WaitSeconds > 0 {
			c.Waiters[i].Share = c.Waiters[i].WaitSeconds / r.WaitSeconds
		}
	}
	c.Holders = rankSites(r.holdSites, func(s *ContentionSite) float64 { return float64(s.Samples) })
	for i := range c.Holders {
		if r.HolderSamples > 0 {
			c.Holders[i].Share = float64(c.Holders[i].Samples) / float64(r.HolderSamples)
		}
	}
	c.stacks = make(map[stackKey]*ContentionStack, len(r.stacks))
	for k, s := range r.stacks {
		sc := *s
		sc.Resource = &c
		c.stacks[k] = &sc
	}
	c.waitSites, c.holdSites = nil, nil
	return &c
}

func rankSites(m map[siteKey]*ContentionSite, by func(*ContentionSite) float64) []ContentionSite {
	out := make([]ContentionSite, 0, len(m))
	for _, s := range m {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := by(&out[i]), by(&out[j]); a != b {
			return a > b
		}
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// Start marks the start of sampling (and of the waiter-seconds' first
// interval); Sample calls it when it was not called.
func (cs *ContentionSampler) Start(paused time.Duration) {
	now := time.Now()
	cs.prof.Start, cs.last, cs.prof.Paused = now, now, paused
}

// Sample reads the process's waits once and adds them to the profile. It
// returns an error only when the process has gone.
func (cs *ContentionSampler) Sample() error {
	if cs.prof.Start.IsZero() {
		cs.Start(0)
		cs.last = cs.last.Add(-cs.opts.Interval)
	}
	t0 := time.Now()
	smp := cs.smp.Sample()
	now := time.Now()
	cs.prof.SampleTime += now.Sub(t0)
	cs.prof.BytesRead += smp.Bytes
	cs.prof.Duration = now.Sub(cs.prof.Start)
	if debugSamples {
		counts := map[uint64]int{}
		for _, w := range smp.Waits {
			counts[w.Addr]++
		}
		fmt.Fprintf(os.Stderr, " %s sample: %v drop=%q stale=%d torn=%d waits=%d objects=%d\n", time.Now().Format("15:04:05.000"), now.Sub(t0), smp.Drop, smp.Stale, smp.Torn, len(smp.Waits), len(counts))
	}
	if smp.Drop != "" {
		if processGone(cs.prof.Target.PID) {
			return &Error{Kind: ErrProcessGone, Msg: fmt.Sprintf("process %d has exited", cs.prof.Target.PID)}
		}
		cs.prof.Dropped++
		return nil
	}
	dt := now.Sub(cs.last).Seconds()
	cs.last = now
	cs.prof.Samples++
	cs.prof.Stale += smp.Stale
	cs.prof.Torn += smp.Torn
	cs.prof.Goroutines = smp.Goroutines
	cs.add(smp, dt)
	cs.applyHolders(false)
	cs.startHolders(now)
	return nil
}

// Finish waits for a holder pass still running and takes its result, for
// a last Profile.
func (cs *ContentionSampler) Finish() { cs.applyHolders(true) }

// add counts one sample's waits.
func (cs *ContentionSampler) add(smp *target.Sample, dt float64) {
	type resWaits struct {
		r   *ContendedResource
		ids []int64
	}
	seen := map[*ContendedResource]*resWaits{}
	var order []*resWaits
	cs.lastWaits = map[*ContendedResource][]int64{}
	for i := range smp.Waits {
		w := &smp.Waits[i]
		var kind Kind
		var addr uint64
		var op Op
		switch w.Kind {
		case target.WaitSema:
			kind, addr, op = cs.classify(w)
		case target.WaitChan:
			kind, addr, op = KindChan, w.Addr, OpRecv
			if w.Send {
				op = OpSend
			}
			if w.Select {
				op = OpSelect
			}
		case target.WaitCond:
			kind, addr, op = KindCond, w.Addr, OpWait
		default:
			continue
		}
		r := cs.resource(kind, addr)
		rw := seen[r]
		if rw == nil {
			rw = &resWaits{r: r}
			seen[r] = rw
			order = append(order, rw)
		}
		rw.ids = append(rw.ids, w.GoID)
		r.WaitSeconds += dt
		r.Ops[op] += dt
		k, ok := siteKey{}, false
		if len(w.Frames) > 0 {
			k, ok = cs.sites[&w.Frames[0]]
		}
		if !ok {
			fn, file, line := waitSite(w.Frames)
			k = siteKey{fn, file, line}
			if len(w.Frames) > 0 && len(cs.sites) < 1<<16 {
				cs.sites[&w.Frames[0]] = k
			}
		}
		site := r.waitSites[k]
		if site == nil {
			site = &ContentionSite{Func: k.fn, File: k.file, Line: k.line}
			r.waitSites[k] = site
		}
		site.WaitSeconds += dt
		if len(w.Frames) > 0 {
			sk := stackKey{&w.Frames[0], len(w.Frames), op}
			st := r.stacks[sk]
			if st == nil {
				st = &ContentionStack{Op: op, Frames: modelFrames(w.Frames)}
				r.stacks[sk] = st
			}
			st.WaitSeconds += dt
			st.Samples++
		}
	}
	n := cs.prof.Samples
	for _, rw := range order {
		r := rw.r
		slices.Sort(rw.ids)
		r.Last = rw.ids
		r.lastSeen = n
		r.sumW += len(rw.ids)
		r.MaxWaiters = max(r.MaxWaiters, len(rw.ids))
		if r.Kind == KindMutex || r.Kind == KindRWMutex {
			cs.lastWaits[r] = rw.ids
		}
	}
	if n%100 == 0 && len(cs.res) > maxTracked {
		cs.prune(n)
	}
	for _, r := range cs.res {
		k := 0
		if r.lastSeen == n {
			k = len(r.Last)
		} else {
			r.Last = nil
		}
		r.Series = append(r.Series, k)
		if len(r.Series) > SeriesLen {
			r.Series = r.Series[len(r.Series)-SeriesLen:]
		}
	}
}

// maxTracked bounds the resources a long run keeps: a program that makes
// short-lived channels would otherwise grow the ranking (and the work per
// sample) forever.
const maxTracked = 5000

// prune forgets the resources nobody waited on in the last SeriesLen
// samples, except the 1,000 with the most waiter-seconds.
func (cs *ContentionSampler) prune(n int) {
	all := make([]*ContendedResource, 0, len(cs.res))
	for _, r := range cs.res {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].WaitSeconds > all[j].WaitSeconds })
	for _, r := range all[min(len(all), 1000):] {
		if n-r.lastSeen > SeriesLen {
			delete(cs.res, r.ID)
			delete(cs.byKey, resKey{r.Kind, r.Addr})
			delete(cs.lastWaits, r)
			cs.prof.Forgotten++
		}
	}
}

// resource returns the accumulated resource, creating it.
func (cs *ContentionSampler) resource(kind Kind, addr uint64) *ContendedResource {
	if r := cs.byKey[resKey{kind, addr}]; r != nil {
		return r
	}
	id := ResourceID(kind, addr)
	r := &ContendedResource{ID: id, Kind: kind, Addr: addr, Ops: map[Op]float64{},
		waitSites: map[siteKey]*ContentionSite{}, holdSites: map[siteKey]*ContentionSite{}, stacks: map[stackKey]*ContentionStack{}}
	r.Type = kindType(kind, "")
	if kind == KindChan {
		if c, err := cs.raw.ReadChan(addr); err == nil && c.ElemType != "?" {
			r.Type = kindType(kind, c.ElemType)
		}
	}
	if n, ok := cs.names[id]; ok {
		r.Name, r.Type = splitName(kind, n, r.Type)
	} else if kind == KindChan {
		r.Name = cs.raw.GlobalHolding(addr)
	} else if kind != KindSema {
		r.Name = cs.raw.GlobalContaining(addr)
	}
	// Pad the series: the resource had no waiters in the earlier samples.
	r.Series = make([]int, min(cs.prof.Samples-1, SeriesLen-1))
	cs.res[id] = r
	cs.byKey[resKey{kind, addr}] = r
	return r
}

// waitSite is where a waiting goroutine waits: its innermost frame in the
// program's own code, else the innermost outside the runtime and sync
// packages.
func waitSite(fs []target.Frame) (fn, file string, line int) {
	if len(fs) == 0 {
		return "?", "", 0
	}
	for _, f := range fs {
		if IsUserFunc(f.Func) {
			return f.Func, f.File, f.Line
		}
	}
	for _, f := range fs {
		if p := FuncPackage(f.Func); p != "runtime" && p != "sync" && p != "internal/sync" {
			return f.Func, f.File, f.Line
		}
	}
	f := fs[len(fs)-1]
	return f.Func, f.File, f.Line
}
