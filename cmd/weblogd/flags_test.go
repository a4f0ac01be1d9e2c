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
