package main

import (
	"sync"
	"time"
)

func init() {
	register("shards", "stacks 3-35 deep through a recursive helper; 64 shard mutexes held by main's own frame; mutex/chan/select/WaitGroup/Cond/sleep waits", startShards)
}

type shard struct {
	mu    sync.Mutex
	items map[int]int
}

var (
	shards     [64]shard
	shardWG    sync.WaitGroup
	shardCondM sync.Mutex
	shardCond  = sync.NewCond(&shardCondM)
	shardRecv  [16]chan int
	shardSend  [16]chan int
	shardSelA  = make(chan int)
	shardSelB  = make(chan int)
)

// recurse is the small recursive helper: a request handler walking a tree.
//
//go:noinline
func recurse(depth int, leaf func()) int {
	if depth <= 0 {
		leaf()
		return 0
	}
	return recurse(depth-1, leaf) + 1
}

func (s *shard) get(k int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.items[k]
}

func startShards(n int) {
	for i := range shardRecv {
		shardRecv[i] = make(chan int)
		shardSend[i] = make(chan int)
	}
	shardWG.Add(1)
	spawn(n, func(i int) {
		var leaf func()
		switch i % 10 {
		case 0, 1, 2:
			leaf = func() { parked(); shards[i%len(shards)].get(i) }
		case 3:
			leaf = func() { parked(); <-shardRecv[i%len(shardRecv)] }
		case 4:
			leaf = func() { parked(); shardSend[i%len(shardSend)] <- i }
		case 5:
			leaf = func() {
				parked()
				select {
				case <-shardSelA:
				case shardSelB <- i:
				}
			}
		case 6:
			leaf = func() { parked(); shardWG.Wait() }
		case 7:
			leaf = func() {
				shardCondM.Lock()
				parked()
				shardCond.Wait()
				shardCondM.Unlock()
			}
		default:
			leaf = func() { parked(); time.Sleep(time.Hour) }
		}
		recurse(i%33+3, leaf)
	})
}

func init() {
	register("deep", "recursion 100-250 frames deep; a lock held at the bottom of some, waited for at the bottom of others", startDeep)
}

var deepMu sync.Mutex

// startDeep parks goroutines at the bottom of a deep recursion: one holds
// deepMu there (plain Unlock after the sleep), a tenth wait for it, the rest
// sleep or wait on a channel.
func startDeep(n int) {
	held := make(chan struct{})
	spawn(1, func(int) {
		recurse(240, func() {
			deepMu.Lock()
			close(held)
			parked()
			time.Sleep(time.Hour)
			deepMu.Unlock()
		})
	})
	<-held
	ch := make(chan int)
	spawn(n-1, func(i int) {
		recurse(100+i%150, func() {
			parked()
			switch i % 10 {
			case 0:
				deepMu.Lock()
			case 1, 2, 3:
				<-ch
			default:
				time.Sleep(time.Hour)
			}
		})
	})
}
