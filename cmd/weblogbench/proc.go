package main

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (getconf CLK_TCK).
const clockTicks = 100

// procStat is what the tool needs from /proc/<pid>/stat.
type procStat struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return procStat{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	return procStat{ppid: int(n(1)), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14)}, true
}

// tree returns root and every live descendant. It scans /proc for parent
// links: the children files need CONFIG_PROC_CHILDREN and list only one
// thread's children.
func tree(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	kids := map[int][]int{}
	for i, e := range ents {
		if i%32 == 31 {
			runtime.Gosched() // see rssSampler
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			kids[st.ppid] = append(kids[st.ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i]]...)
	}
	return out
}

// treeCPU is the CPU time in seconds used so far by root's tree: each live
// process's own time, plus what its exited and waited-for children used.
func treeCPU(root int) float64 {
	var ticks int64
	for _, pid := range tree(root) {
		if st, ok := readStat(pid); ok {
			ticks += st.utime + st.stime + st.cutime + st.cstime
		}
	}
	return float64(ticks) / clockTicks
}

// pageSize is the unit of /proc/<pid>/statm.
var pageSize = int64(os.Getpagesize())

// treeRSS is the resident memory in bytes of root's tree (VmRSS summed;
// shared pages count once per process, as ps and top count them).
func treeRSS(root int) int64 { return sumRSS(tree(root)) }

// sumRSS adds up the resident memory of pids, from /proc/<pid>/statm
// (its second field, resident pages, is VmRSS), cheaper to read than
// status.
func sumRSS(pids []int) int64 {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		if err != nil {
			continue
		}
		f := bytes.Fields(b)
		if len(f) > 1 {
			n, _ := strconv.ParseInt(string(f[1]), 10, 64)
			total += n * pageSize
		}
	}
	return total
}

// treePSS is the proportional set size in bytes of root's tree: each
// shared page divided among the processes that map it, so the sum over a
// server that forks one small process per client (websocketd) counts the
// shared program text once. Zero when smaps_rollup cannot be read.
func treePSS(root int) int64 {
	var total int64
	for _, pid := range tree(root) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Pss:"); ok {
				f := strings.Fields(v) // "1234 kB"
				if len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					total += kb << 10
				}
				break
			}
		}
	}
	return total
}

// rssSampler follows the peak RSS of a tree. Listing the tree scans all of
// /proc, so the list is refreshed once a second and only the members'
// statm read at each sample, into one buffer, yielding between reads: the
// tool may run on one core with one Go thread, where a long stretch of
// sampling would delay the subscribers' reads and so their latency.
type rssSampler struct {
	root      int
	paths     []string // /proc/<pid>/statm of the tree's members
	refreshed time.Time
	buf       [512]byte
}

func (r *rssSampler) sample() int64 {
	if now := time.Now(); now.Sub(r.refreshed) >= time.Second {
		r.paths = r.paths[:0]
		for _, pid := range tree(r.root) {
			r.paths = append(r.paths, "/proc/"+strconv.Itoa(pid)+"/statm")
		}
		r.refreshed = now
	}
	var total int64
	for i, p := range r.paths {
		if i%16 == 15 {
			runtime.Gosched()
		}
		fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		n, _ := syscall.Read(fd, r.buf[:])
		syscall.Close(fd)
		// "size resident shared ...", in pages.
		b := r.buf[:max(n, 0)]
		if i := bytes.IndexByte(b, ' '); i >= 0 {
			if v, _, ok := digits(b[i+1:]); ok {
				total += v * pageSize
			}
		}
	}
	return total
}

// selfCPU is the CPU time in seconds this process has used so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
