package picker

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Process is one row of the picker.
type Process struct {
	PID     int
	Name    string
	Exe     string
	Cmdline string
	// GoVersion is the Go release that built it; "" when it is not a Go
	// program, "?" when that could not be read.
	GoVersion string
	Uptime    time.Duration
	CPU       float64 // percent of one CPU, over the last interval
	RSS       int64   // bytes
	Threads   int
	// Test is set for test binaries (name ends in .test, or -test. flags).
	Test bool
	// Reason says why hangtui cannot attach; "" when it can.
	Reason string

	start, ticks uint64 // /proc/PID/stat starttime and utime+stime
}

// Go reports whether the process is (or may be) a Go program.
func (p Process) Go() bool { return p.GoVersion != "" }

// clkTck is USER_HZ, 100 on every Linux that matters.
const clkTck = 100

// exeInfo is what is known about an executable, cached per process start.
type exeInfo struct {
	goVersion string
	reason    string
}

// Scanner lists processes from /proc. It remembers what it read about
// executables and the previous CPU times, so scanning again is cheap.
type Scanner struct {
	Proc  string // "/proc"
	self  int
	uid   int
	exes  map[[2]uint64]exeInfo
	prev  map[int]Process
	prevT time.Time
}

// NewScanner returns a scanner of /proc.
func NewScanner() *Scanner {
	return &Scanner{Proc: "/proc", self: os.Getpid(), uid: os.Geteuid(), exes: map[[2]uint64]exeInfo{}}
}

// Scan lists the processes: every process when all is set, else the Go
// programs and those that might be (unreadable).
func (s *Scanner) Scan(all bool) ([]Process, error) {
	ents, err := os.ReadDir(s.Proc)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	uptime := s.uptime()
	var out []Process
	cur := map[int]Process{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == s.self {
			continue
		}
		p, ok := s.read(pid, uptime)
		if !ok {
			continue
		}
		if prev, ok := s.prev[pid]; ok && prev.start == p.start && !s.prevT.IsZero() {
			if dt := now.Sub(s.prevT).Seconds(); dt > 0 {
				p.CPU = float64(p.ticks-prev.ticks) / clkTck / dt * 100
			}
		} else if p.Uptime > 0 {
			p.CPU = float64(p.ticks) / clkTck / p.Uptime.Seconds() * 100
		}
		cur[pid] = p
		if all || p.Go() {
			out = append(out, p)
		}
	}
	s.prev, s.prevT = cur, now
	return out, nil
}

func (s *Scanner) uptime() float64 {
	b, err := os.ReadFile(filepath.Join(s.Proc, "uptime"))
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

// read reads one process; ok is false for kernel threads and processes
// that vanished.
func (s *Scanner) read(pid int, uptime float64) (Process, bool) {
	dir := filepath.Join(s.Proc, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Process{}, false
	}
	// pid (comm) state ppid ... : comm may contain spaces and parentheses.
	st := string(stat)
	lp, rp := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
	if lp < 0 || rp < lp {
		return Process{}, false
	}
	p := Process{PID: pid, Name: st[lp+1 : rp]}
	f := strings.Fields(st[rp+1:])
	// f[0] is state (field 3); field n is f[n-3].
	field := func(n int) uint64 {
		if n-3 < len(f) {
			v, _ := strconv.ParseUint(f[n-3], 10, 64)
			return v
		}
		return 0
	}
	flags := field(9)
	if flags&0x00200000 != 0 { // PF_KTHREAD
		return Process{}, false
	}
	p.ticks = field(14) + field(15)
	p.Threads = int(field(20))
	p.start = field(22)
	p.RSS = int64(field(24)) * int64(os.Getpagesize())
	if uptime > 0 {
		p.Uptime = time.Duration((uptime - float64(p.start)/clkTck) * float64(time.Second))
	}
	state := ""
	if len(f) > 0 {
		state = f[0]
	}

	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		p.Cmdline = strings.Join(args, " ")
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-test.") {
				p.Test = true
			}
		}
	}
	if p.Cmdline == "" && state != "Z" {
		return Process{}, false // a kernel thread without the flag, or gone
	}
	exe, exeErr := os.Readlink(filepath.Join(dir, "exe"))
	p.Exe = strings.TrimSuffix(exe, " (deleted)")
	if strings.HasSuffix(p.Name, ".test") || strings.HasSuffix(p.Exe, ".test") {
		p.Test = true
	}
	uid, tracer := status(filepath.Join(dir, "status"))

	switch {
	case state == "Z":
		p.Reason = "zombie: the process has exited"
	case exeErr != nil && s.uid != 0 && uid != s.uid:
		p.GoVersion = "?"
		p.Reason = "another user's process: run hangtui as root (sudo)"
	case exeErr != nil:
		p.GoVersion = "?"
		p.Reason = "cannot read its executable: " + shortErr(exeErr)
	default:
		info := s.exe(filepath.Join(dir, "exe"), p.start, uint64(pid))
		p.GoVersion, p.Reason = info.goVersion, info.reason
		if p.Reason == "" && s.uid != 0 && uid != s.uid {
			p.Reason = "another user's process: run hangtui as root (sudo)"
		}
	}
	if p.Reason == "" && tracer != 0 {
		p.Reason = fmt.Sprintf("already traced by PID %d (%s): detach that debugger first", tracer, comm(s.Proc, tracer))
	}
	return p, true
}

// exe reads (once per process start) whether an executable is Go and has
// debug info.
func (s *Scanner) exe(path string, start, pid uint64) exeInfo {
	k := [2]uint64{pid, start}
	if info, ok := s.exes[k]; ok {
		return info
	}
	var info exeInfo
	bi, err := buildinfo.ReadFile(path)
	switch {
	case err != nil && os.IsPermission(err):
		info = exeInfo{goVersion: "?", reason: "cannot read its executable: permission denied (run as root)"}
	case err != nil:
		info = exeInfo{reason: "not a Go program"}
	default:
		info.goVersion = bi.GoVersion
		if !hasDWARF(path) {
			info.reason = "no debug info (no .debug_info section): rebuild without -ldflags=-s -w"
		}
	}
	s.exes[k] = info
	return info
}

// hasDWARF reports whether an ELF file has a DWARF info section.
func hasDWARF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil
}

// status returns the real uid and the TracerPid of a process.
func status(path string) (uid, tracer int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1, 0
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		switch {
		case bytes.HasPrefix(l, []byte("Uid:")):
			if f := strings.Fields(string(l[4:])); len(f) > 0 {
				uid, _ = strconv.Atoi(f[0])
			}
		case bytes.HasPrefix(l, []byte("TracerPid:")):
			tracer, _ = strconv.Atoi(strings.TrimSpace(string(l[10:])))
		}
	}
	return uid, tracer
}

func comm(proc string, pid int) string {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func shortErr(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
