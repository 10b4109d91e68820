// Command benchgen builds a hung process in the shape of a real server, for
// hangtui's speed benchmarks (bench/shapes.sh, BenchmarkShapes): N
// goroutines parked in one or more named shapes, then one JSON line on
// stdout ({"pid":…,"goroutines":…}) once they are parked, then it sleeps
// forever.
//
//	benchgen [-n N] [-shape a,b,…] [-heap MB] [-finq N]
//	benchgen -list
//
// Each shape takes an equal share of N. The shapes stand for what services
// look like when they hang, not for one bug:
//
//	shards   stacks 3-35 deep through a small recursive helper; 64 shard
//	         mutexes that main locked in its own frame; goroutines parked on
//	         them, on channels, selects, WaitGroups, Conds and sleeps
//	varied   deep and varied stacks: recursion through many distinct
//	         functions, closures, generic instantiations, method values and
//	         inlined frames, 25 to 120 frames, ~6,000 distinct stacks
//	deep     recursion 100 to 250 frames deep, a lock held at the bottom
//	holders  locks held by frames deep in stacks (deferred and plain
//	         Unlock), one goroutine holding 256 locks, a crowd behind one
//	         holder, and many distinct mutexes with a holder and a waiter each
//	chans    many distinct channels, each with one parked receiver or sender
//	labels   every goroutine runs under pprof labels (distinct values)
//	heap     live heap objects for the reachability walk (-heap MB, default
//	         1024), linked from globals and from parked goroutines' stacks
//	heapok   the heap shape, but the channel is held by a global: a
//	         healthy server with a big heap (nothing leaked)
//	finq     the finalizer goroutine blocked on a lock with -finq (default
//	         5000) finalizers queued behind it
//	mixed    all of the above but heap (the default)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

type shape struct {
	desc string
	// start launches n goroutines of the shape; each calls parked() just
	// before it blocks for good.
	start func(n int)
}

var shapes = map[string]shape{}

func register(name, desc string, start func(n int)) { shapes[name] = shape{desc, start} }

var (
	parkedCount atomic.Int64
	wantParked  atomic.Int64
)

// parked is called by every generated goroutine right before it blocks.
func parked() { parkedCount.Add(1) }

// spawn starts n goroutines running body(i) and counts them as expected.
func spawn(n int, body func(i int)) {
	wantParked.Add(int64(n))
	for i := 0; i < n; i++ {
		go body(i)
	}
}

var (
	flagHeapMB = 1024
	flagFinq   = 5000
)

func main() {
	n := flag.Int("n", 10000, "goroutines in all")
	shapeList := flag.String("shape", "mixed", "comma-separated shapes")
	list := flag.Bool("list", false, "list the shapes")
	flag.IntVar(&flagHeapMB, "heap", flagHeapMB, "MB of live heap for the heap shape")
	flag.IntVar(&flagFinq, "finq", flagFinq, "finalizers queued behind the blocked one (finq)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up if the goroutines have not parked by then")
	flag.Parse()
	if *list {
		var names []string
		for name := range shapes {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Printf("%-8s %s\n", name, shapes[name].desc)
		}
		return
	}
	names := strings.Split(*shapeList, ",")
	if *shapeList == "mixed" {
		names = []string{"shards", "varied", "deep", "holders", "chans", "labels", "finq"}
	}
	for _, name := range names {
		if _, ok := shapes[name]; !ok {
			fmt.Fprintf(os.Stderr, "benchgen: unknown shape %q (benchgen -list)\n", name)
			os.Exit(2)
		}
	}
	if contains(names, "shards") {
		// main holds them in its own frame, below, for good.
		for i := range shards {
			shards[i].mu.Lock()
		}
	}
	per := *n / len(names)
	for i, name := range names {
		k := per
		if i == len(names)-1 {
			k = *n - per*(len(names)-1)
		}
		shapes[name].start(k)
	}
	deadline := time.Now().Add(*timeout)
	for parkedCount.Load() < wantParked.Load() {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "benchgen: %d of %d goroutines parked after %v\n", parkedCount.Load(), wantParked.Load(), *timeout)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let the last ones block after announcing, and collect the setup's
	// garbage as a long-running server's GC would have.
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	out, _ := json.Marshal(map[string]any{"pid": os.Getpid(), "goroutines": runtime.NumGoroutine(), "shapes": names})
	fmt.Println(string(out))
	for {
		time.Sleep(time.Hour)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
