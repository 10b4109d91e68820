package inspect

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Table tests of the wait-for analysis on hand-built snapshots: no process,
// no core, only the model.

// tg is a goroutine parked with reason on the given waits.
func tg(id int64, reason string, waits ...Wait) *Goroutine {
	return &Goroutine{ID: id, State: StateWaiting, WaitReason: reason, Waits: waits, TopUser: -1, Verdict: VerdictBlocked}
}

// tmu is a locked sync.Mutex with holders and waiters.
func tmu(id string, holders []Holder, waiters ...int64) *Resource {
	return &Resource{ID: id, Kind: KindMutex, Addr: 0x1000, Type: "sync.Mutex",
		Mutex: &MutexState{Locked: true}, Holders: holders, Waiters: waiters}
}

// trw is a sync.RWMutex with holders and waiters.
func trw(id string, st RWMutexState, holders []Holder, waiters ...int64) *Resource {
	return &Resource{ID: id, Kind: KindRWMutex, Addr: 0x2000, Type: "sync.RWMutex",
		RWMutex: &st, Holders: holders, Waiters: waiters}
}

func held(g int64) Holder    { return Holder{Goroutine: g, Evidence: EvidenceDefer} }
func rheld(g int64) Holder   { return Holder{Goroutine: g, Evidence: EvidenceDefer, Read: true} }
func refHeld(g int64) Holder { return Holder{Goroutine: g, Evidence: EvidenceReference} }

func lockOn(res string) Wait  { return Wait{Resource: res, Op: OpLock} }
func rlockOn(res string) Wait { return Wait{Resource: res, Op: OpRLock} }

// edgeList is the analysis's wait-for edges as "from->to@res", sorted.
func edgeList(a *analysis) []string {
	var out []string
	for from, es := range a.next {
		for _, e := range es {
			out = append(out, fmt.Sprintf("%d->%d@%s", from, e.To, e.Res))
		}
	}
	sort.Strings(out)
	return out
}

func TestRWEdges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		gs   []*Goroutine
		r    *Resource
		want []string
	}{
		{
			name: "reader waits for the write holder",
			gs:   []*Goroutine{tg(1, "sync.RWMutex.RLock", rlockOn("rw")), tg(2, "sync.Mutex.Lock")},
			r:    trw("rw", RWMutexState{WriterHeld: true}, []Holder{held(2)}, 1),
			want: []string{"1->2@rw"},
		},
		{
			name: "reader does not wait for other readers",
			gs:   []*Goroutine{tg(1, "sync.RWMutex.RLock", rlockOn("rw")), tg(2, "sync.Mutex.Lock")},
			r:    trw("rw", RWMutexState{Readers: 1}, []Holder{rheld(2)}, 1),
			want: nil,
		},
		{
			name: "reader waits for the writer announced ahead of it",
			gs: []*Goroutine{
				tg(1, "sync.RWMutex.RLock", rlockOn("rw")),
				tg(2, "sync.RWMutex.Lock", lockOn("rw")),
				tg(3, "sync.Mutex.Lock"),
			},
			r: trw("rw", RWMutexState{Readers: 1, WriterPending: true}, []Holder{rheld(3)}, 1, 2),
			// 2 waits for the reader 3 to leave; 1 waits for 2.
			want: []string{"1->2@rw", "2->3@rw"},
		},
		{
			name: "writer parked for readers waits for the read holders only",
			gs: []*Goroutine{
				tg(1, "sync.RWMutex.Lock", lockOn("rw")),
				tg(2, "sync.Mutex.Lock"), tg(3, "sync.Mutex.Lock"),
			},
			r:    trw("rw", RWMutexState{Readers: 2, WriterPending: true}, []Holder{rheld(2), rheld(3)}, 1),
			want: []string{"1->2@rw", "1->3@rw"},
		},
		{
			name: "writer on the inner mutex waits for the writer holding it and the one ahead",
			gs: []*Goroutine{
				tg(1, "sync.Mutex.Lock", lockOn("rw")),
				tg(2, "sync.RWMutex.Lock", lockOn("rw")),
				tg(3, "sync.Mutex.Lock"),
			},
			r: trw("rw", RWMutexState{WriterPending: true, Readers: 1}, []Holder{rheld(3)}, 1, 2),
			// 1 is queued behind 2 (pending writer), not behind the
			// reader; 2 waits for the reader.
			want: []string{"1->2@rw", "2->3@rw"},
		},
		{
			name: "reference evidence makes no edge",
			gs:   []*Goroutine{tg(1, "sync.RWMutex.RLock", rlockOn("rw")), tg(2, "sync.Mutex.Lock")},
			r:    trw("rw", RWMutexState{WriterHeld: true}, []Holder{refHeld(2)}, 1),
			want: nil,
		},
		{
			name: "a writer does not wait for itself",
			gs:   []*Goroutine{tg(1, "sync.RWMutex.Lock", lockOn("rw")), tg(2, "sync.Mutex.Lock")},
			r:    trw("rw", RWMutexState{Readers: 1, WriterPending: true}, []Holder{rheld(2)}, 1),
			want: []string{"1->2@rw"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{Goroutines: tc.gs, Resources: []*Resource{tc.r}}
			a := newAnalysis(s)
			a.lockEdges()
			if got := edgeList(a); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("edges %v, want %v", got, tc.want)
			}
		})
	}
}

// lockGraph builds a snapshot where each goroutine waits on one mutex held
// by another: edges "a>b" read "a waits for a mutex b holds" (named
// "m<b>"). Goroutines that only hold are parked elsewhere.
func lockGraph(edges ...string) *Snapshot {
	gs := map[int64]*Goroutine{}
	rs := map[string]*Resource{}
	get := func(id int64) *Goroutine {
		if gs[id] == nil {
			gs[id] = tg(id, "chan receive")
		}
		return gs[id]
	}
	for _, e := range edges {
		var from, to int64
		if _, err := fmt.Sscanf(e, "%d>%d", &from, &to); err != nil {
			panic(e)
		}
		res := fmt.Sprintf("m%d", to)
		g := get(from)
		g.WaitReason = "sync.Mutex.Lock"
		g.Waits = append(g.Waits, lockOn(res))
		h := get(to)
		if rs[res] == nil {
			rs[res] = tmu(res, []Holder{held(to)})
			h.Holds = append(h.Holds, res)
		}
		rs[res].Waiters = append(rs[res].Waiters, from)
	}
	s := &Snapshot{}
	for _, g := range gs {
		s.Goroutines = append(s.Goroutines, g)
	}
	sort.Slice(s.Goroutines, func(i, j int) bool { return s.Goroutines[i].ID < s.Goroutines[j].ID })
	for _, id := range sortedKeys(rs) {
		s.Resources = append(s.Resources, rs[id])
	}
	return s
}

func cycleStrings(cs []Cycle) []string {
	var out []string
	for _, c := range cs {
		var parts []string
		for i, g := range c.Goroutines {
			parts = append(parts, fmt.Sprintf("%d@%s", g, c.Resources[i]))
		}
		out = append(out, string(c.Kind)+":"+strings.Join(parts, " "))
	}
	return out
}

func verdicts(s *Snapshot) map[int64]Verdict {
	out := map[int64]Verdict{}
	for _, g := range s.Goroutines {
		if g.Verdict != VerdictBlocked {
			out[g.ID] = g.Verdict
		}
	}
	return out
}

func findingKinds(s *Snapshot) []string {
	var out []string
	for _, f := range s.Findings {
		out = append(out, fmt.Sprintf("%s%v", f.Kind, f.Goroutines))
	}
	return out
}

func TestCycles(t *testing.T) {
	t.Parallel()
	D := VerdictDeadlocked
	for _, tc := range []struct {
		name     string
		s        *Snapshot
		cycles   []string
		verdicts map[int64]Verdict
	}{
		{
			name:     "a chain is no cycle",
			s:        lockGraph("1>2", "2>3"),
			verdicts: map[int64]Verdict{},
		},
		{
			name:     "two goroutines, two locks",
			s:        lockGraph("1>2", "2>1"),
			cycles:   []string{"lock-order:1@m2 2@m1"},
			verdicts: map[int64]Verdict{1: D, 2: D},
		},
		{
			name:     "a lock held by its waiter",
			s:        lockGraph("7>7"),
			cycles:   []string{"self:7@m7"},
			verdicts: map[int64]Verdict{7: D},
		},
		{
			name:     "a cycle starts at its lowest id",
			s:        lockGraph("5>9", "9>3", "3>5"),
			cycles:   []string{"lock-order:3@m5 5@m9 9@m3"},
			verdicts: map[int64]Verdict{3: D, 5: D, 9: D},
		},
		{
			name:     "two cycles, in order of their lowest id",
			s:        lockGraph("20>21", "21>20", "4>6", "6>4"),
			cycles:   []string{"lock-order:4@m6 6@m4", "lock-order:20@m21 21@m20"},
			verdicts: map[int64]Verdict{4: D, 6: D, 20: D, 21: D},
		},
		{
			name: "one component with two cycles is one deadlock",
			s:    lockGraph("1>2", "2>1", "2>3", "3>2"),
			// The walk from 1 goes on to the member it has not seen
			// (3) and closes on 2: the cycle it closed is kept.
			cycles:   []string{"lock-order:2@m3 3@m2"},
			verdicts: map[int64]Verdict{1: D, 2: D, 3: D},
		},
		{
			name: "a goroutine waiting into a cycle is not in it",
			s:    lockGraph("1>2", "2>1", "8>1"),
			// 8 is deadlocked behind the cycle (behindCycles), not a
			// member.
			cycles:   []string{"lock-order:1@m2 2@m1"},
			verdicts: map[int64]Verdict{1: D, 2: D, 8: D},
		},
		{
			name: "RWMutex read lock taken again while a writer waits",
			s: &Snapshot{
				Goroutines: []*Goroutine{
					tg(1, "sync.RWMutex.RLock", rlockOn("rw")),
					tg(2, "sync.RWMutex.Lock", lockOn("rw")),
				},
				Resources: []*Resource{trw("rw", RWMutexState{Readers: 1, WriterPending: true}, []Holder{rheld(1)}, 1, 2)},
			},
			cycles:   []string{"rwmutex-reentry:1@rw 2@rw"},
			verdicts: map[int64]Verdict{1: D, 2: D},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			analyze(tc.s)
			if got := cycleStrings(tc.s.Cycles); !reflect.DeepEqual(got, tc.cycles) {
				t.Errorf("cycles %q, want %q", got, tc.cycles)
			}
			if got := verdicts(tc.s); !reflect.DeepEqual(got, tc.verdicts) {
				t.Errorf("verdicts %v, want %v", got, tc.verdicts)
			}
			n := 0
			for _, f := range tc.s.Findings {
				if f.Kind == FindingDeadlock {
					n++
				}
			}
			if n != len(tc.cycles) {
				t.Errorf("%d deadlock findings for %d cycles: %v", n, len(tc.cycles), findingKinds(tc.s))
			}
		})
	}
}

func TestCyclesOnlyCollect(t *testing.T) {
	t.Parallel()
	s := lockGraph("1>2", "2>1")
	a := newAnalysis(s)
	a.onlyCollect = true
	a.lockEdges()
	a.cycles()
	if got := cycleStrings(s.Cycles); !reflect.DeepEqual(got, []string{"lock-order:1@m2 2@m1"}) {
		t.Errorf("cycles %q", got)
	}
	if len(s.Findings) != 0 || len(verdicts(s)) != 0 {
		t.Errorf("onlyCollect made findings %v or verdicts %v", findingKinds(s), verdicts(s))
	}
}

func TestBehindCycles(t *testing.T) {
	t.Parallel()
	D := VerdictDeadlocked
	for _, tc := range []struct {
		name     string
		s        *Snapshot
		verdicts map[int64]Verdict
		// behind are the deadlock-behind findings: resource and
		// goroutines.
		behind []string
	}{
		{
			name:     "waiting on a lock a cycle member holds",
			s:        lockGraph("1>2", "2>1", "3>2"),
			verdicts: map[int64]Verdict{1: D, 2: D, 3: D},
			behind:   []string{"m2[3]"},
		},
		{
			name:     "transitively, through a lock held by one deadlocked behind",
			s:        lockGraph("1>2", "2>1", "3>2", "4>3", "5>4"),
			verdicts: map[int64]Verdict{1: D, 2: D, 3: D, 4: D, 5: D},
			behind:   []string{"m2[3]", "m3[4]", "m4[5]"},
		},
		{
			name:     "a lock held by a goroutine that is not stuck",
			s:        lockGraph("1>2", "2>1", "3>4"),
			verdicts: map[int64]Verdict{1: D, 2: D},
		},
		{
			name: "a wait for two holders, one of them free",
			s: func() *Snapshot {
				s := lockGraph("1>2", "2>1", "9>9")
				// 3 waits on an RWMutex read-held by 1 (deadlocked)
				// and by 4 (free to go on).
				s.Goroutines = append(s.Goroutines, tg(3, "sync.RWMutex.Lock", lockOn("rw")), tg(4, "chan receive"))
				s.Resources = append(s.Resources, trw("rw", RWMutexState{Readers: 2, WriterPending: true}, []Holder{rheld(1), rheld(4)}, 3))
				return s
			}(),
			verdicts: map[int64]Verdict{1: D, 2: D, 9: D},
		},
		{
			name: "a goroutine with two waits is left alone",
			s: func() *Snapshot {
				s := lockGraph("1>2", "2>1", "3>2")
				for _, g := range s.Goroutines {
					if g.ID == 3 {
						g.Waits = append(g.Waits, Wait{Resource: "ch", Op: OpRecv})
					}
				}
				return s
			}(),
			verdicts: map[int64]Verdict{1: D, 2: D},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			analyze(tc.s)
			if got := verdicts(tc.s); !reflect.DeepEqual(got, tc.verdicts) {
				t.Errorf("verdicts %v, want %v", got, tc.verdicts)
			}
			var behind []string
			for _, f := range tc.s.Findings {
				if f.Kind == FindingDeadlockBehind {
					behind = append(behind, fmt.Sprintf("%s%v", strings.Join(f.Resources, ","), f.Goroutines))
				}
			}
			if !reflect.DeepEqual(behind, tc.behind) {
				t.Errorf("behind findings %v, want %v", behind, tc.behind)
			}
		})
	}
}

func TestBehindCyclesExported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		s      *Snapshot
		cycles []Cycle
		want   [][]BehindSet
	}{
		{
			name:   "nearest first, through other locks",
			s:      lockGraph("1>2", "2>1", "3>2", "4>3", "5>4"),
			cycles: []Cycle{{Goroutines: []int64{1, 2}, Resources: []string{"m2", "m1"}}},
			want:   [][]BehindSet{{{Resource: "m2", IDs: []int64{3}}, {Resource: "m3", IDs: []int64{4}}, {Resource: "m4", IDs: []int64{5}}}},
		},
		{
			name: "listed once, behind the first cycle",
			// 5 waits on m6, held by 6, which waits on m1 (cycle 1-2)
			// and on m11 (cycle 10-11): only behind the first.
			s: lockGraph("1>2", "2>1", "10>11", "11>10", "6>1", "6>11", "5>6"),
			cycles: []Cycle{
				{Goroutines: []int64{1, 2}, Resources: []string{"m2", "m1"}},
				{Goroutines: []int64{10, 11}, Resources: []string{"m11", "m10"}},
			},
			want: [][]BehindSet{
				{{Resource: "m1", IDs: []int64{6}}, {Resource: "m6", IDs: []int64{5}}},
				nil,
			},
		},
		{
			name:   "nothing behind",
			s:      lockGraph("1>2", "2>1"),
			cycles: []Cycle{{Goroutines: []int64{1, 2}, Resources: []string{"m2", "m1"}}},
			want:   [][]BehindSet{nil},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[int64]bool{}
			got := BehindCycles(tc.s, tc.cycles, seen)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("BehindCycles = %+v, want %+v", got, tc.want)
			}
			for _, c := range tc.cycles {
				for _, id := range c.Goroutines {
					if !seen[id] {
						t.Errorf("cycle member %d not marked seen", id)
					}
				}
			}
			for _, sets := range got {
				for _, b := range sets {
					for _, id := range b.IDs {
						if !seen[id] {
							t.Errorf("listed goroutine %d not marked seen", id)
						}
					}
				}
			}
		})
	}
}

func TestOrphanedLocks(t *testing.T) {
	t.Parallel()
	unlocked := tmu("free", nil, 1)
	unlocked.Mutex.Locked = false
	for _, tc := range []struct {
		name string
		r    *Resource
		want bool
	}{
		{"locked mutex, waiters, no holder", tmu("m", nil, 1, 2), true},
		{"locked mutex with a holder", tmu("m", []Holder{held(3)}, 1, 2), false},
		{"locked mutex held by reference only", tmu("m", []Holder{refHeld(3)}, 1), false},
		{"locked mutex, no waiters", tmu("m", nil), false},
		{"unlocked mutex with waiters", unlocked, false},
		{"write-held RWMutex, no holder", trw("rw", RWMutexState{WriterHeld: true}, nil, 1), true},
		{"read-held RWMutex, no holder", trw("rw", RWMutexState{Readers: 2, WriterPending: true}, nil, 1), true},
		{"free RWMutex with waiters", trw("rw", RWMutexState{}, nil, 1), false},
		{"a channel is no lock", &Resource{ID: "ch", Kind: KindChan, Chan: &ChanState{}, Waiters: []int64{1}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Snapshot{Goroutines: []*Goroutine{tg(1, "sync.Mutex.Lock", lockOn(tc.r.ID)), tg(2, "sync.Mutex.Lock", lockOn(tc.r.ID)), tg(3, "chan receive")},
				Resources: []*Resource{tc.r}}
			a := newAnalysis(s)
			a.orphanedLocks()
			var got []Finding
			for _, f := range s.Findings {
				if f.Kind == FindingOrphanedLock {
					got = append(got, f)
				}
			}
			if (len(got) == 1) != tc.want || len(got) > 1 {
				t.Fatalf("orphaned-lock findings %v, want %v", findingKinds(s), tc.want)
			}
			if tc.want {
				f := got[0]
				if f.Severity != SeverityWarning || !reflect.DeepEqual(f.Resources, []string{tc.r.ID}) || !reflect.DeepEqual(f.Goroutines, tc.r.Waiters) {
					t.Errorf("finding %+v", f)
				}
			}
		})
	}
}
