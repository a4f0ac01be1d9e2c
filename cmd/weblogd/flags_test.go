package main

import (
	"io"
	"testing"

	"github.com/weblogd/weblogd/feed"
)

// On the command line 0 means never or no limit; in feed.Config zero means
// the default and negative means never or no limit.
func TestLimitFlagsToConfig(t *testing.T) {
	cases := []struct {
		args                  []string
		slow                  string
		maxSubs, maxSubsPerIP int
	}{
		{nil, "30s", feed.DefaultMaxSubscribers, feed.DefaultMaxSubscribersPerIP},
		{[]string{"--slow-timeout", "0", "--max-subscribers", "0", "--max-subscribers-per-ip", "0"}, "-1ns", -1, -1},
		{[]string{"--slow-timeout", "5s", "--max-subscribers", "7", "--max-subscribers-per-ip", "3"}, "5s", 7, 3},
	}
	for _, c := range cases {
		o, err := parseFlags(append([]string{"--log", "x"}, c.args...), func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		cfg := o.config()
		if cfg.SlowTimeout.String() != c.slow || cfg.MaxSubscribers != c.maxSubs || cfg.MaxSubscribersPerIP != c.maxSubsPerIP {
			t.Errorf("%v: SlowTimeout %v MaxSubscribers %d MaxSubscribersPerIP %d, want %s %d %d",
				c.args, cfg.SlowTimeout, cfg.MaxSubscribers, cfg.MaxSubscribersPerIP, c.slow, c.maxSubs, c.maxSubsPerIP)
		}
	}
}

// --subscribe makes --log optional; --publish, --subscribe and --node
// reach feed.Config, from the command line or from WEBLOGD_ variables.
func TestNATSFlags(t *testing.T) {
	env := map[string]string{"WEBLOGD_NODE": "web-7", "WEBLOGD_PUBLISH": "nats://env:4222"}
	o, err := parseFlags([]string{"--subscribe", "nats://edge:4222"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(--subscribe without --log)=%v, want nil", err)
	}
	cfg := o.config()
	if cfg.Subscribe != "nats://edge:4222" || cfg.Publish != "nats://env:4222" || cfg.Node != "web-7" || len(cfg.Logs) != 0 {
		t.Errorf("config() Subscribe %q Publish %q Node %q Logs %v, want the flags' values and no log", cfg.Subscribe, cfg.Publish, cfg.Node, cfg.Logs)
	}
	if _, err := parseFlags([]string{"--publish", "nats://x:4222"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("parseFlags(--publish without --log)=nil, want an error")
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1000": 1000, "64MiB": 64 << 20, "2 GiB": 2 << 30, "3KiB": 3 << 10, "7B": 7} {
		var s sizeFlag
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("Set(%q): %d, %v; want %d", in, s, err, want)
		}
	}
	for _, in := range []string{"", "-1", "64MB", "1.5MiB", "MiB", "9999999999GiB", "ten"} {
		var s sizeFlag
		if err := s.Set(in); err == nil {
			t.Errorf("Set(%q) = %d, want an error", in, s)
		}
	}
	for in, want := range map[int64]string{0: "0", 64 << 20: "64MiB", 1 << 30: "1GiB", 1536: "1536", 3 << 10: "3KiB"} {
		s := sizeFlag(in)
		if got := s.String(); got != want {
			t.Errorf("String(%d) = %q, want %q", in, got, want)
		}
	}
}
