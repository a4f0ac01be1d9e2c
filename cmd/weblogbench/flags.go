package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// defaultServerCmd starts weblogd on free loopback ports with no history,
// and without its per-client-address limit (100 by default), which every
// subscriber of the tool, all from 127.0.0.1, would otherwise run into.
const defaultServerCmd = "weblogd --log {log} --http 127.0.0.1:{http} --tcp 127.0.0.1:{tcp} --backfill 0 --max-subscribers 0 --max-subscribers-per-ip 0"

type options struct {
	transport      string
	kinds          []string // --transport parsed: subscriber i is kinds[i%len]
	subs, idleSubs int
	stalled        int
	rate           float64
	burst          int64
	duration       time.Duration
	grace          time.Duration
	connectTimeout time.Duration
	serverCmd      string
	target         string
	targetTCP      string
	targetPID      int
	log            string
	wsPath         string
	sioNamespace   string
	eio            int
	jsonPath       string
	pinServer      int
	pinLoad        int
	timerSlack     time.Duration
	quiet          bool
	cpuProfile     string
	floor          bool
	floorTick      time.Duration
	ingest         bool

	suite string
	runs  int
	peers peerList
	rows  string

	set map[string]bool // flags given on the command line
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("weblogbench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.transport, "transport", "tcp", "subscriber kind: tcp, hits (chunked XML), ndjson, sse, ws (weblogd's JSON messages), ws-lines (one raw line per message: websocketd), socketio (frontail); mixed (tcp,hits,ndjson,sse,ws), mixed4 (tcp,hits,sse,ws), or a comma list of kinds, given to subscribers in turn")
	fs.IntVar(&o.subs, "subs", 100, fmt.Sprintf("subscribers (at most %d); 0 with --idle-subs measures idle memory only", maxSubs))
	fs.IntVar(&o.idleSubs, "idle-subs", 0, "before the run, measure the server's memory per idle subscriber with this many idle connections of --transport; 0 skips it")
	fs.IntVar(&o.stalled, "stalled", 0, "extra subscribers (of the first --transport kind) that connect and never read; they are not counted in the delivery figures")
	fs.Float64Var(&o.rate, "rate", 100, "lines written to the log per second, one write each")
	fs.Int64Var(&o.burst, "burst", 0, fmt.Sprintf("instead of --rate, write this many lines as fast as possible (whole lines, up to %d KiB a write) and report the ingest rate; at most %d", burstWrite>>10, maxBurst))
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long lines are written (at most 10m); with --burst, the longest the burst may take")
	fs.DurationVar(&o.grace, "grace", 2*time.Second, "after the last line, how long to wait for deliveries (the wait ends early once every subscriber has every line; with --burst, it is how long deliveries may stall; at most 1m)")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 60*time.Second, "how long the server may take to start and every subscriber to connect and see a first line")
	fs.StringVar(&o.serverCmd, "server-cmd", defaultServerCmd, "command that starts the server, split on spaces, run without a shell; {log}, {http}, {tcp} become the temporary log and free loopback ports")
	fs.StringVar(&o.target, "target", "", "use a running server's HTTP address (loopback only) instead of starting one; needs --log")
	fs.StringVar(&o.targetTCP, "target-tcp", "", "with --target: the running server's raw TCP address (for --transport tcp or mixed)")
	fs.IntVar(&o.targetPID, "target-pid", 0, "with --target: the server's process id, to measure its CPU and RSS")
	fs.StringVar(&o.log, "log", "", "with --target: the log the running server follows; lines are appended to it")
	fs.StringVar(&o.wsPath, "ws-path", "", "path of the WebSocket stream (default /ws for ws, / for ws-lines, /socket.io/ for socketio)")
	fs.StringVar(&o.sioNamespace, "sio-namespace", "", "socket.io namespace to join, e.g. /abc (default: the one the server's page at / connects to, else /)")
	fs.IntVar(&o.eio, "eio", 3, "engine.io protocol version for socketio: 3 (socket.io 2, frontail) or 4 (socket.io 3 and later)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the result as JSON to this file")
	fs.IntVar(&o.pinServer, "pin-server", -1, "run the server on this CPU only (with taskset); -1 does not pin (the suite pins to CPU 0 on a machine of 2 or more)")
	fs.IntVar(&o.pinLoad, "pin-load", -1, "run this tool on this CPU only (with taskset), with one Go thread running; -1 does not pin (the suite pins to CPU 1)")
	fs.DurationVar(&o.timerSlack, "timer-slack", time.Millisecond, "the timer slack of every server the tool starts, peers and the floor's writer included, as weblogd's systemd unit sets it (TimerSlackNSec=1ms); 0 leaves the kernel's default (Linux only)")
	fs.BoolVar(&o.ingest, "ingest", false, "send the lines to the server's POST /ingest, from one client in one chunked request, instead of appending them to its log; the server command gets --ingest-token-file {tokens} (a token file the tool writes) unless it has {tokens}")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.BoolVar(&o.floor, "floor", false, "instead of a server, measure the floor: what writing alone costs here, a process (pinned with --pin-server) writing a message the size of weblogd's for --rate to each of --subs loopback connections once per --floor-tick, for --duration")
	fs.DurationVar(&o.floorTick, "floor-tick", 50*time.Millisecond, "with --floor, the tick: weblogd's --tick")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the tool's own CPU profile to this file (go tool pprof), to check it is not the bottleneck")
	fs.StringVar(&o.suite, "suite", "", "run a suite of scenarios instead of one: standard (one table for weblogd and each --peer, then weblogd's targets)")
	fs.IntVar(&o.runs, "runs", 3, "with --suite: runs of each scenario; cells are medians")
	fs.Var(&o.peers, "peer", "with --suite: NAME[:KIND[:PATH]]=CMD, a server to compare, started from the command template CMD; KIND is its subscriber kind (websocketd: ws-lines, frontail: socketio, others: ws-lines) and PATH its WebSocket path; a peer of kind ws is another build of weblogd, shown but not a peer to beat (repeatable)")
	fs.StringVar(&o.rows, "rows", "", "with --suite: run only the scenarios whose key contains one of these comma-separated strings (the keys are listed by --suite list)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	return fs
}

const usageText = `Usage: weblogbench [flags]
       weblogbench --suite standard [--runs 3] [--peer NAME=CMD]...

Starts a log-streaming server (or targets a running one on loopback), opens
subscribers, writes access-log lines at a set rate and reports delivery,
latency, CPU and memory. With --suite, runs the standard scenarios several
times for weblogd and each peer and prints one table.

Peers (built and installed outside the repository, see docs/performance.md):

  weblogbench --transport ws-lines --subs 100 --rate 1000 \
    --server-cmd "/tmp/peers/websocketd/websocketd --port={http} --address=127.0.0.1 --maxforks=0 --loglevel=error tail -n0 -F {log}"
  weblogbench --transport socketio --subs 100 --rate 1000 \
    --server-cmd "/tmp/peers/frontail/node_modules/.bin/frontail -h 127.0.0.1 -p {http} -n 0 --disable-usage-stats {log}"
  weblogbench --suite standard --runs 3 --pin-server 0 --pin-load 1 \
    --peer "websocketd=/tmp/peers/websocketd/websocketd --port={http} --address=127.0.0.1 --maxforks=0 --loglevel=error tail -n0 -F {log}" \
    --peer "frontail=/tmp/peers/frontail/node_modules/.bin/frontail -h 127.0.0.1 -p {http} -n 0 --disable-usage-stats {log}"

Flags:
`

// peerSpec is one --peer: a server to compare in the suite.
type peerSpec struct {
	name, kind, path, cmd string
}

type peerList []peerSpec

func (p *peerList) String() string {
	var s []string
	for _, x := range *p {
		s = append(s, x.name+"="+x.cmd)
	}
	return strings.Join(s, " ")
}

// Set parses NAME[:KIND[:PATH]]=CMD.
func (p *peerList) Set(v string) error {
	head, cmd, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(cmd) == "" {
		return errors.New("want NAME[:KIND[:PATH]]=CMD")
	}
	f := strings.SplitN(head, ":", 3)
	ps := peerSpec{name: f[0], cmd: strings.TrimSpace(cmd)}
	if ps.name == "" || ps.name == "weblogd" {
		return fmt.Errorf("peer name %q: want a name other than weblogd", ps.name)
	}
	switch ps.name {
	case "frontail":
		ps.kind = "socketio"
	default: // websocketd, and any program that sends raw lines
		ps.kind = "ws-lines"
	}
	if len(f) > 1 && f[1] != "" {
		ps.kind = f[1]
	}
	if !isWebSocket(ps.kind) {
		return fmt.Errorf("peer %s: kind %q: want ws, ws-lines or socketio", ps.name, ps.kind)
	}
	if len(f) > 2 {
		ps.path = f[2]
	}
	for _, q := range *p {
		if q.name == ps.name {
			return fmt.Errorf("peer %s given twice", ps.name)
		}
	}
	if !strings.Contains(ps.cmd, "{log}") || !strings.Contains(ps.cmd, "{http}") {
		return fmt.Errorf("peer %s: the command needs {log} and {http}", ps.name)
	}
	*p = append(*p, ps)
	return nil
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{set: map[string]bool{}}
	fs := newFlagSet(o, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.suite != "" {
		return o, o.checkSuite()
	}
	return o, o.check()
}

// check validates the options of one run.
func (o *options) check() error {
	var errs []error
	kinds, err := parseTransports(o.transport)
	if err != nil {
		errs = append(errs, err)
	}
	o.kinds = kinds
	if o.subs < 0 || o.subs > maxSubs {
		errs = append(errs, fmt.Errorf("--subs %d: want 1 to %d", o.subs, maxSubs))
	}
	if o.ingest && (o.target != "" || o.floor || o.suite != "") {
		errs = append(errs, errors.New("--ingest starts its own server: not with --target, --floor or --suite"))
	}
	if o.subs == 0 && (o.idleSubs == 0 || o.burst > 0 || o.stalled > 0) {
		errs = append(errs, errors.New("--subs 0 goes only with --idle-subs (idle memory only)"))
	}
	if o.idleSubs < 0 || o.idleSubs > maxIdleSubs {
		errs = append(errs, fmt.Errorf("--idle-subs %d: want 0 to %d", o.idleSubs, maxIdleSubs))
	}
	if o.stalled < 0 || o.stalled > maxSubs-o.subs {
		errs = append(errs, fmt.Errorf("--stalled %d: want 0 to %d with --subs %d", o.stalled, maxSubs-o.subs, o.subs))
	}
	if !(o.rate > 0 && o.rate <= maxRate) {
		errs = append(errs, fmt.Errorf("--rate %v: want more than 0, at most %d", o.rate, maxRate))
	}
	if o.burst < 0 || o.burst > maxBurst {
		errs = append(errs, fmt.Errorf("--burst %d: want 0 to %d", o.burst, maxBurst))
	}
	if o.duration <= 0 || o.duration > maxDuration*time.Second {
		errs = append(errs, fmt.Errorf("--duration %v: want more than 0, at most 10m", o.duration))
	}
	if o.grace < 0 || o.grace > maxGrace*time.Second {
		errs = append(errs, fmt.Errorf("--grace %v: want 0 to 1m", o.grace))
	}
	if o.connectTimeout <= 0 || o.connectTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--connect-timeout %v: want more than 0, at most 10m", o.connectTimeout))
	}
	if o.floor && (o.subs < 1 || o.idleSubs > 0 || o.burst > 0 || o.stalled > 0 || o.target != "") {
		errs = append(errs, errors.New("--floor takes --subs (1 or more), --rate, --floor-tick, --duration and the pins; no server, idle, burst or stalled subscribers"))
	}
	if o.timerSlack < 0 || o.timerSlack > maxTimerSlack {
		errs = append(errs, fmt.Errorf("--timer-slack %v: want 0 to %v", o.timerSlack, maxTimerSlack))
	}
	if o.floorTick <= 0 || o.floorTick > time.Minute {
		errs = append(errs, fmt.Errorf("--floor-tick %v: want more than 0, at most 1m", o.floorTick))
	}
	if o.eio != 3 && o.eio != 4 {
		errs = append(errs, fmt.Errorf("--eio %d: want 3 or 4", o.eio))
	}
	if o.sioNamespace != "" && !strings.HasPrefix(o.sioNamespace, "/") {
		errs = append(errs, fmt.Errorf("--sio-namespace %q: want a name starting with /", o.sioNamespace))
	}
	if p := o.planned(); p > 0 && int64(o.subs)*(p/8+8) > maxSeenBytes {
		errs = append(errs, fmt.Errorf("--subs %d × %d lines: the duplicate check would need more than 1 GiB; fewer subscribers or lines", o.subs, p))
	}
	needTCP, needHTTP := false, false
	for _, k := range kinds {
		if k == "tcp" {
			needTCP = true
		} else {
			needHTTP = true
		}
	}
	if o.target != "" {
		if err := checkLoopback(o.target); err != nil {
			errs = append(errs, fmt.Errorf("--target %v", err))
		}
		if o.targetTCP != "" {
			if err := checkLoopback(o.targetTCP); err != nil {
				errs = append(errs, fmt.Errorf("--target-tcp %v", err))
			}
		} else if needTCP {
			errs = append(errs, fmt.Errorf("--transport %s with --target needs --target-tcp", o.transport))
		}
		if o.log == "" {
			errs = append(errs, errors.New("--target needs --log, the log the running server follows"))
		}
		if o.pinServer >= 0 {
			errs = append(errs, errors.New("--pin-server works only on a server the tool starts, not with --target"))
		}
	} else {
		if o.log != "" || o.targetTCP != "" || o.targetPID != 0 {
			errs = append(errs, errors.New("--log, --target-tcp and --target-pid go with --target; without it the tool makes its own log"))
		}
		errs = append(errs, checkTemplate(o.serverCmd, needTCP, needHTTP, o.transport)...)
	}
	return errors.Join(errs...)
}

// checkTemplate validates a server command template for the kinds used.
func checkTemplate(cmd string, needTCP, needHTTP bool, transport string) []error {
	var errs []error
	if len(strings.Fields(cmd)) == 0 {
		errs = append(errs, errors.New("--server-cmd is empty"))
	}
	if !strings.Contains(cmd, "{log}") {
		errs = append(errs, errors.New("--server-cmd has no {log}: the server must follow the tool's log"))
	}
	if needHTTP && !strings.Contains(cmd, "{http}") {
		errs = append(errs, fmt.Errorf("--transport %s needs {http} in --server-cmd", transport))
	}
	if needTCP && !strings.Contains(cmd, "{tcp}") {
		errs = append(errs, fmt.Errorf("--transport %s needs {tcp} in --server-cmd", transport))
	}
	return errs
}

// checkSuite validates the options of a suite; each scenario's own options
// are checked again when it runs.
func (o *options) checkSuite() error {
	var errs []error
	if o.suite != "standard" && o.suite != "list" {
		errs = append(errs, fmt.Errorf("--suite %q: want standard (or list, to list its scenarios)", o.suite))
	}
	if o.runs < 1 || o.runs > 9 {
		errs = append(errs, fmt.Errorf("--runs %d: want 1 to 9", o.runs))
	}
	for _, f := range []string{"target", "target-tcp", "target-pid", "log", "transport", "subs", "rate", "burst", "stalled", "ws-path"} {
		if o.set[f] {
			errs = append(errs, fmt.Errorf("--%s does not go with --suite: each scenario sets its own", f))
		}
	}
	if o.duration <= 0 || o.duration > maxDuration*time.Second {
		errs = append(errs, fmt.Errorf("--duration %v: want more than 0, at most 10m", o.duration))
	}
	if o.grace < 0 || o.grace > maxGrace*time.Second {
		errs = append(errs, fmt.Errorf("--grace %v: want 0 to 1m", o.grace))
	}
	if o.idleSubs < 0 || o.idleSubs > maxIdleSubs {
		errs = append(errs, fmt.Errorf("--idle-subs %d: want 0 to %d", o.idleSubs, maxIdleSubs))
	}
	errs = append(errs, checkTemplate(o.serverCmd, true, true, "tcp and ws")...)
	return errors.Join(errs...)
}

// planned is how many lines the run writes.
func (o *options) planned() int64 {
	if o.burst > 0 {
		return o.burst
	}
	return max(1, int64(o.rate*o.duration.Seconds()))
}

// kindOf is subscriber i's kind.
func (o *options) kindOf(i int) string { return o.kinds[i%len(o.kinds)] }
