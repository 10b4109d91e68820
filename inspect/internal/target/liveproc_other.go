//go:build !(linux && amd64)

package target

import (
	"fmt"
	"runtime"
	"time"

	"github.com/go-delve/delve/pkg/proc"
)

// liveProc is hangtui's own stop (liveproc_linux_amd64.go); elsewhere every
// attach goes through the platform's Delve backend.
type liveProc struct {
	stoppedAt time.Time
	stats     struct{ listings, gone int }
}

func openLive(pid int) (*liveProc, *proc.TargetGroup, error) {
	return nil, nil, fmt.Errorf("%w on %s/%s", errSeizeUnsupported, runtime.GOOS, runtime.GOARCH)
}

func (p *liveProc) stop() error                      { return errSeizeUnsupported }
func (p *liveProc) run(started func()) (bool, error) { return false, errSeizeUnsupported }
func (p *liveProc) requestStop()                     {}
func (p *liveProc) releaseNow()                      {}
func (p *liveProc) close() error                     { return nil }
