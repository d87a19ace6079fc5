package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is a process whose CPU time and memory a run measures, read from
// /proc (Linux; elsewhere nothing is measured).
type Process struct {
	// Name in the report, e.g. "whistle dev".
	Name string
	// PID finds the process when the measuring starts; 0: not there.
	PID func() int
	// WithChildren counts its children too (PostgreSQL's backends): their
	// CPU time, and their memory as the sum of their private pages plus the
	// largest shared and file-backed sets once (shared buffers are mapped by
	// every backend and would otherwise be counted once per backend).
	WithChildren bool
}

// Self is the bench's own process.
func Self() Process { return Process{Name: "bench", PID: os.Getpid} }

// devProcesses are a `whistle dev`'s process and its private PostgreSQL
// (the postmaster of <data>/postgres/pgdata and its backends).
func devProcesses(data string, pid int) []Process {
	pidFile := filepath.Join(data, "postgres", "pgdata", "postmaster.pid")
	return []Process{
		{Name: "whistle dev", PID: func() int { return pid }},
		{Name: "postgres", PID: func() int { return postmasterPID(pidFile) }, WithChildren: true},
	}
}

// postmasterPID reads the first line of postmaster.pid; 0 when absent
// (an external PostgreSQL).
func postmasterPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux the project runs on.
const clockTicks = 100

// usage is a process's CPU time so far and its memory now.
type usage struct {
	cpu      float64 // seconds
	rss, hwm int64   // bytes; hwm is the kernel's peak (single processes only)
}

// procStat is what the bench reads of /proc/PID/stat.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	n := func(field int) int64 { v, _ := strconv.ParseInt(f[field-3], 10, 64); return v }
	return procStat{ppid: int(n(4)), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, nil
}

// readStatus returns /proc/PID/status's memory lines in bytes, by name
// (VmRSS, VmHWM, RssAnon, RssFile, RssShmem).
func readStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || !(strings.HasPrefix(name, "Vm") || strings.HasPrefix(name, "Rss")) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			kb, _ := strconv.ParseInt(f[0], 10, 64)
			out[name] = kb * 1024
		}
	}
	return out, nil
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		c, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := readStat(c); err == nil && st.ppid == pid {
			out = append(out, c)
		}
	}
	return out
}

// measure reads a process's usage now.
func measure(pid int, withChildren bool) (usage, error) {
	st, err := readStat(pid)
	if err != nil {
		return usage{}, err
	}
	mem, err := readStatus(pid)
	if err != nil {
		return usage{}, err
	}
	if !withChildren {
		return usage{cpu: float64(st.utime+st.stime) / clockTicks, rss: mem["VmRSS"], hwm: mem["VmHWM"]}, nil
	}
	// Children that ended are in cutime and cstime (the postmaster reaps them).
	ticks := st.utime + st.stime + st.cutime + st.cstime
	anon, file, shmem := mem["RssAnon"], mem["RssFile"], mem["RssShmem"]
	for _, c := range children(pid) {
		cst, err := readStat(c)
		if err != nil {
			continue // it just ended
		}
		cmem, err := readStatus(c)
		if err != nil {
			continue
		}
		ticks += cst.utime + cst.stime
		anon += cmem["RssAnon"]
		file, shmem = max(file, cmem["RssFile"]), max(shmem, cmem["RssShmem"])
	}
	return usage{cpu: float64(ticks) / clockTicks, rss: anon + file + shmem}, nil
}

// meter samples processes' memory every second and their CPU time at the
// start and the end of a phase of the run.
type meter struct {
	procs []Process
	pids  []int
	start []usage
	last  []usage
	peak  []int64
	rss   [][]int64 // one sample a second
	mu    sync.Mutex
	quit  chan struct{}
	done  chan struct{}
}

// startMeter starts measuring the processes that can be found.
func startMeter(procs []Process, every time.Duration) *meter {
	m := &meter{quit: make(chan struct{}), done: make(chan struct{})}
	for _, p := range procs {
		pid := 0
		if p.PID != nil {
			pid = p.PID()
		}
		u, err := measure(pid, p.WithChildren)
		if pid == 0 || err != nil {
			continue
		}
		m.procs, m.pids = append(m.procs, p), append(m.pids, pid)
		m.start, m.last = append(m.start, u), append(m.last, u)
		m.peak, m.rss = append(m.peak, u.rss), append(m.rss, []int64{u.rss})
	}
	go m.loop(every)
	return m
}

func (m *meter) loop(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			m.sample()
			return
		case <-t.C:
			m.sample()
		}
	}
}

func (m *meter) sample() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, p := range m.procs {
		u, err := measure(m.pids[i], p.WithChildren)
		if err != nil {
			continue // it ended; keep what was seen
		}
		m.last[i] = u
		m.peak[i] = max(m.peak[i], u.rss, u.hwm)
		m.rss[i] = append(m.rss[i], u.rss)
	}
}

// stop ends the measuring and reports each process over the phase.
func (m *meter) stop() []ProcessReport {
	close(m.quit)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ProcessReport, len(m.procs))
	for i, p := range m.procs {
		s := m.rss[i]
		how := "CPU utime+stime; RSS VmRSS each second, peak VmHWM"
		if p.WithChildren {
			how = "CPU of the postmaster and all its backends (ended ones too); RSS Σ RssAnon + max RssFile + max RssShmem " +
				"(shared memory once) each second, peak of those"
		}
		out[i] = ProcessReport{Name: p.Name, PID: m.pids[i], CPUSeconds: m.last[i].cpu - m.start[i].cpu, PeakRSS: m.peak[i],
			RSSFirst: s[0], RSSMiddle: s[len(s)/2], RSSLast: s[len(s)-1], RSSSeries: s, Measured: how}
	}
	return out
}

// ProcessReport is one process's CPU time and memory over a phase of the run.
type ProcessReport struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	// PeakRSS is in bytes; RSSFirst, RSSMiddle and RSSLast are samples of
	// RSSSeries, one a second, to show whether memory stays flat.
	PeakRSS   int64   `json:"peak_rss_bytes"`
	RSSFirst  int64   `json:"rss_first_bytes"`
	RSSMiddle int64   `json:"rss_middle_bytes"`
	RSSLast   int64   `json:"rss_last_bytes"`
	RSSSeries []int64 `json:"rss_series_bytes"`
	// Measured says how.
	Measured string `json:"measured"`
}
