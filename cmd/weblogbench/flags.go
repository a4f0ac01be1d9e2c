package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// defaultServerCmd starts weblogd on free loopback ports with no history,
// and without its per-client-address limit (100 by default), which every
// subscriber of the tool, all from 127.0.0.1, would otherwise run into.
const defaultServerCmd = "weblogd --log {log} --http 127.0.0.1:{http} --tcp 127.0.0.1:{tcp} --backfill 0 --max-subscribers 0 --max-subscribers-per-ip 0"

type options struct {
	transport      string
	subs, idleSubs int
	rate           float64
	duration       time.Duration
	grace          time.Duration
	connectTimeout time.Duration
	serverCmd      string
	target         string
	targetTCP      string
	targetPID      int
	log            string
	wsPath         string
	jsonPath       string
	pinServer      int
	pinLoad        int
	quiet          bool
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("weblogbench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.transport, "transport", "tcp", "subscriber kind: tcp, hits (chunked XML), ndjson, sse, ws, or mixed (all five in turn)")
	fs.IntVar(&o.subs, "subs", 100, fmt.Sprintf("subscribers (at most %d)", maxSubs))
	fs.IntVar(&o.idleSubs, "idle-subs", 0, "before the run, measure the server's memory per idle subscriber with this many idle connections of --transport; 0 skips it")
	fs.Float64Var(&o.rate, "rate", 100, "lines written to the log per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long lines are written (at most 10m)")
	fs.DurationVar(&o.grace, "grace", 2*time.Second, "after the last line, how long to wait for deliveries (the wait ends early once every subscriber has every line; at most 1m)")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 60*time.Second, "how long the server may take to start and every subscriber to connect and see a first line")
	fs.StringVar(&o.serverCmd, "server-cmd", defaultServerCmd, "command that starts the server, split on spaces, run without a shell; {log}, {http}, {tcp} become the temporary log and free loopback ports")
	fs.StringVar(&o.target, "target", "", "use a running server's HTTP address (loopback only) instead of starting one; needs --log")
	fs.StringVar(&o.targetTCP, "target-tcp", "", "with --target: the running server's raw TCP address (for --transport tcp or mixed)")
	fs.IntVar(&o.targetPID, "target-pid", 0, "with --target: the server's process id, to measure its CPU and RSS")
	fs.StringVar(&o.log, "log", "", "with --target: the log the running server follows; lines are appended to it")
	fs.StringVar(&o.wsPath, "ws-path", "/ws", "path of the WebSocket stream")
	fs.StringVar(&o.jsonPath, "json", "", "also write the result as JSON to this file")
	fs.IntVar(&o.pinServer, "pin-server", -1, "run the server on this CPU only (with taskset); -1 does not pin")
	fs.IntVar(&o.pinLoad, "pin-load", -1, "run this tool on this CPU only (with taskset); -1 does not pin")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weblogbench [flags]\n\nStarts a log-streaming server (or targets a running one on loopback), opens\nsubscribers, writes access-log lines at a set rate and reports delivery,\nlatency, CPU and memory.\n\n")
		fs.PrintDefaults()
	}
	return fs
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet(o, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	if o.transport != "mixed" && !slices.Contains(transports, o.transport) {
		errs = append(errs, fmt.Errorf("--transport %q: want tcp, hits, ndjson, sse, ws or mixed", o.transport))
	}
	if o.subs < 1 || o.subs > maxSubs {
		errs = append(errs, fmt.Errorf("--subs %d: want 1 to %d", o.subs, maxSubs))
	}
	if o.idleSubs < 0 || o.idleSubs > maxIdleSubs {
		errs = append(errs, fmt.Errorf("--idle-subs %d: want 0 to %d", o.idleSubs, maxIdleSubs))
	}
	if !(o.rate > 0 && o.rate <= maxRate) {
		errs = append(errs, fmt.Errorf("--rate %v: want more than 0, at most %d", o.rate, maxRate))
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
	if p := o.planned(); p > 0 && int64(o.subs)*(p/8+8) > maxSeenBytes {
		errs = append(errs, fmt.Errorf("--subs %d × %d lines: the duplicate check would need more than 1 GiB; fewer subscribers or lines", o.subs, p))
	}
	needTCP := o.transport == "tcp" || o.transport == "mixed"
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
		f := strings.Fields(o.serverCmd)
		if len(f) == 0 {
			errs = append(errs, errors.New("--server-cmd is empty"))
		}
		if !strings.Contains(o.serverCmd, "{log}") {
			errs = append(errs, errors.New("--server-cmd has no {log}: the server must follow the tool's log"))
		}
		if o.transport != "tcp" && !strings.Contains(o.serverCmd, "{http}") {
			errs = append(errs, fmt.Errorf("--transport %s needs {http} in --server-cmd", o.transport))
		}
		if needTCP && !strings.Contains(o.serverCmd, "{tcp}") {
			errs = append(errs, fmt.Errorf("--transport %s needs {tcp} in --server-cmd", o.transport))
		}
	}
	return o, errors.Join(errs...)
}

// planned is how many lines the run writes.
func (o *options) planned() int64 {
	return max(1, int64(o.rate*o.duration.Seconds()))
}
