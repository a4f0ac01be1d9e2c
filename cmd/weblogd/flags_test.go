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
