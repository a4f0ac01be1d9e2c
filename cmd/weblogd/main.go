// Command weblogd follows web-server access logs and streams every new line
// live: raw XML over TCP (nc host 8888), HTTP streams, a dashboard, health.
// It is a thin main over package feed: flags and environment, logging,
// signals and exit codes.
//
// Exit status: 0 after a clean shutdown on SIGINT or SIGTERM, 2 for bad
// flags, 1 for anything that stops it while running. A second signal skips
// the graceful drain.
//
// Two subcommands: "weblogd version" prints what --version prints, and
// "weblogd healthcheck" asks a running weblogd's /healthz (for container
// images, which have no curl).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/weblogd/weblogd/demo"
	"github.com/weblogd/weblogd/feed"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "weblogd: version takes no arguments, got %q\n", args[1])
				return 2
			}
			fmt.Fprintln(stdout, "weblogd", version)
			return 0
		case "healthcheck":
			return healthcheck(args[1:], getenv, stdout, stderr)
		}
	}
	// The flag package would print the whole usage after a bad flag: the
	// one-line reason below says more.
	o, err := parseFlags(args, getenv, io.Discard)
	if errors.Is(err, errHelp) {
		newFlagSet(&options{}, stdout).Usage()
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "weblogd: %v\nRun 'weblogd --help' for the flags.\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "weblogd", version)
		return 0
	}
	logger := newLogger(o, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // from now on a second signal kills the process at once
	}()

	var demoDone chan error
	if o.demo {
		if len(o.logs) == 0 {
			dir, err := os.MkdirTemp("", "weblogd-demo-")
			if err != nil {
				fmt.Fprintf(stderr, "weblogd: make the demo log: %v\n", err)
				return 1
			}
			defer os.RemoveAll(dir)
			o.logs = append(o.logs, filepath.Join(dir, "access.log"))
		}
		// Opened here, so that a --log in a missing directory is a bad
		// flag, said at once.
		f, err := demo.Open(o.logs[0])
		if err != nil {
			fmt.Fprintf(stderr, "weblogd: --demo: %v\nRun 'weblogd --help' for the flags.\n", err)
			return 2
		}
		defer f.Close()
		logger.Info("writing demo traffic", "path", o.logs[0], "rate", o.demoRate)
		demoDone = make(chan error, 1)
		demoCtx, stopDemo := context.WithCancel(ctx)
		defer func() {
			stopDemo()
			if err := <-demoDone; err != nil {
				logger.Error("demo traffic stopped", "err", err)
			}
		}()
		go func() { demoDone <- demo.Write(demoCtx, f, o.demoRate) }()
	}

	cfg := o.config()
	cfg.Logger = logger
	srv, err := feed.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "weblogd: %v\nRun 'weblogd --help' for the flags.\n", err)
		return 2
	}
	if err := srv.Run(ctx); err != nil {
		logger.Error("weblogd stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(o *options, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.logLevel}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
