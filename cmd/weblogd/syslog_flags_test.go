package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// WEBLOGD_SYSLOG takes a comma list of listeners, and --syslog alone is
// enough to start (no --log); a bad URL is a bad flag naming it.
func TestSyslogFlags(t *testing.T) {
	env := func(k string) string {
		if k == "WEBLOGD_SYSLOG" {
			return "udp://127.0.0.1:5514, tcp://127.0.0.1:5514,unix:///run/weblogd.sock"
		}
		return ""
	}
	o, err := parseFlags(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"udp://127.0.0.1:5514", "tcp://127.0.0.1:5514", "unix:///run/weblogd.sock"}
	if got := o.config().Syslog; !slices.Equal(got, want) {
		t.Fatalf("Syslog %q, want %q", got, want)
	}
	for _, bad := range []string{"udp://127.0.0.1", "http://x:1", "unix://host/path", "tcp://:99999"} {
		_, err := parseFlags([]string{"--syslog", bad}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--syslog \""+bad) {
			t.Errorf("--syslog %s: %v, want an error naming it", bad, err)
		}
	}
}
