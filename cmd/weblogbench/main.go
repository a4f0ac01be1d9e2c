// Command weblogbench measures a log-streaming server under load: it starts
// the server (weblogd, or any program from a command template) or targets
// a running one on loopback, opens N subscribers of a transport, appends
// Combined Log Format lines to the log at a set rate, and reports what
// every subscriber got (delivered, lost, duplicated, reordered), the
// latency from write to receipt, and the server's CPU time and peak RSS.
//
// Every line it writes carries its sequence number and write time in its
// path: GET /bench/<n>/<unixnano>. Subscribers find those paths in
// whatever the transport sends, so the parse is cheap and the same for all.
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
	"os/signal"
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
	// maxSeenBytes caps the per-subscriber bitsets that detect duplicates
	// (one bit per planned line per subscriber).
	maxSeenBytes = 1 << 30
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "weblogbench: %v\nRun 'weblogbench --help' for the flags.\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "weblogbench: %v\n", err)
		return 1
	}
	printTable(stdout, res)
	if o.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "weblogbench: write the report: %v\n", err)
			return 1
		}
	}
	return 0
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
