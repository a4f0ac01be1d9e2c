// Command weblogbench measures a log-streaming server under load: it starts
// the server (weblogd, or any program from a command template, such as
// websocketd + tail -F or frontail) or targets a running one on loopback,
// opens N subscribers of a transport, appends Combined Log Format lines to
// the log at a set rate (or in one burst), and reports what every
// subscriber got (delivered, lost, duplicated, reordered), the latency
// from write to receipt, the server's CPU time and peak RSS (its whole
// process tree), its memory per idle subscriber, and the tool's own CPU.
// With --suite standard it runs the standard scenarios several times for
// weblogd and each peer and prints one table of medians
// (docs/performance.md, "The load tool").
//
// Every line it writes carries its sequence number and write time in its
// path: GET /bench/<n>/<unixnano>. Subscribers find those paths in
// whatever the transport sends (XML, JSON, SSE, raw lines, socket.io
// events) with a byte search and parse only the two numbers, so the tool
// spends well under a microsecond a delivery and allocates nothing per
// record.
//
// It is bounded in subscribers and time, loopback only, and stops by
// itself, killing the server it started.
//
// Exit status: 0 when the run completed (whatever it measured), 1 when it
// could not (the server did not start, subscribers could not connect, an
// interrupt), 2 for bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
)

// Bounds, so that a typo cannot turn the tool into a fork bomb or a
// week-long run.
const (
	maxSubs     = 20000
	maxIdleSubs = 20000
	maxDuration = 10 * 60 // seconds
	maxRate     = 1_000_000
	maxGrace    = 60 // seconds
	maxBurst    = 10_000_000
	// maxSeenBytes caps the per-subscriber bitsets that detect duplicates
	// (one bit per planned line per subscriber).
	maxSeenBytes = 1 << 30
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == floorWriterArg { // the floor's writer: a child of the tool (floor.go)
		return floorWriter(args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "weblogbench: %v\nRun 'weblogbench --help' for the flags.\n", err)
		return 2
	}
	if o.suite == "list" {
		listSuite(stdout)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.suite != "" && o.pinLoad < 0 && o.pinServer < 0 && runtime.NumCPU() >= 2 {
		o.pinServer, o.pinLoad = 0, 1
	}
	if o.pinLoad >= 0 {
		if err := pinSelf(ctx, o.pinLoad); err != nil {
			fmt.Fprintf(stderr, "weblogbench: %v\n", err)
			return 1
		}
	}
	need := o.subs + o.stalled + o.idleSubs
	if o.suite != "" {
		need = maxSuiteSubs + o.idleSubs
	}
	if msg := raiseNoFile(need + 256); msg != "" {
		fmt.Fprintf(stderr, "weblogbench: %s\n", msg)
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "weblogbench: --cpuprofile: %v\n", err)
			return 1
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if o.suite != "" {
		return runSuite(ctx, o, stdout, stderr)
	}
	if o.floor {
		return runFloor(ctx, o, stdout, stderr)
	}
	res, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "weblogbench: %v\n", err)
		return 1
	}
	printTable(stdout, res)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, res); err != nil {
			fmt.Fprintf(stderr, "weblogbench: %v\n", err)
			return 1
		}
	}
	return 0
}

func writeJSON(path string, v any) error {
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// pinSelf runs every thread of this process on cpu (taskset -a: the
// threads the runtime has started by now; later ones inherit it), and
// lets one of them run Go code at a time, since two would only take
// turns on that core.
func pinSelf(ctx context.Context, cpu int) error {
	out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", strconv.Itoa(cpu), strconv.Itoa(os.Getpid())).CombinedOutput() // #nosec G204 -- numbers only
	if err != nil {
		return fmt.Errorf("pin the load tool to CPU %d: %v: %s", cpu, err, out)
	}
	runtime.GOMAXPROCS(1)
	return nil
}

// raiseNoFile sets the soft limit of open files to the hard one (and so
// for the servers the tool starts, which inherit it), and says so when
// even that is fewer than need.
func raiseNoFile(need int) string {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Sprintf("cannot read the open-file limit: %v", err)
	}
	if lim.Cur < lim.Max {
		want := lim
		want.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			if uint64(need) > lim.Cur {
				return fmt.Sprintf("cannot raise the open-file limit from %d to %d (%v): this run needs about %d, some subscribers may fail to connect", lim.Cur, lim.Max, err, need)
			}
			return ""
		}
		lim = want
	}
	if uint64(need) > lim.Cur {
		return fmt.Sprintf("the open-file limit is %d (hard limit %d) but this run needs about %d: some subscribers may fail to connect; raise the hard limit (ulimit -Hn, as root) or run fewer", lim.Cur, lim.Max, need)
	}
	return ""
}

// checkLoopback refuses any address that is not on this machine's loopback:
// the tool opens thousands of connections and must not aim them elsewhere.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1 or localhost)", addr)
	}
	return nil
}
