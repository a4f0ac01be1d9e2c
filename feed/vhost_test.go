package feed_test

// vhost= on a real server reading an Apache vhost_combined log, whose
// lines start with the virtual host as host:port.

import (
	"slices"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/feed"
)

func TestVHostFilter(t *testing.T) {
	line := func(vhost string) string {
		l := `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"`
		if vhost != "" {
			l = vhost + " " + l
		}
		return l
	}
	log := tempLog(t,
		line("example.com:443"),       // 1
		line("other.org:443"),         // 2
		line(""),                      // 3: no vhost, never matches vhost=
		line("EXAMPLE.com:80"),        // 4
		line("example.community:443"), // 5: a longer name, not a prefix match
		line("example.com:8443"),      // 6
		line("[2001:db8::1]:443"),     // 7
	)
	srv := startServer(t, feed.Config{Logs: []string{log}, TCPAddr: feed.NoListen})
	waitUntil(t, func() bool { return srv.LastSeq() >= 7 })

	seqs := func(items []liveItem) []uint64 {
		var s []uint64
		for _, it := range items {
			s = append(s, it.Seq)
		}
		return s
	}
	for _, c := range []struct {
		query string
		want  []uint64
	}{
		{"vhost=example.com", []uint64{1, 4, 6}},
		{"vhost=Example.COM", []uint64{1, 4, 6}},
		{"vhost=example.com:443", []uint64{1}},
		{"vhost=example.com:443,other.org", []uint64{1, 2}},
		{"vhost=example.com:443&vhost=example.com:80", []uint64{1, 4}},
		{"vhost=2001:db8::1", []uint64{7}},
		{"vhost=[2001:DB8::1]:443", []uint64{7}},
		{"vhost=example.org", nil},
	} {
		t.Run(c.query, func(t *testing.T) {
			if got := seqs(apiHits(t, srv, c.query)); !slices.Equal(got, c.want) {
				t.Fatalf("/api/hits?%s: records %v, want %v", c.query, got, c.want)
			}
			if len(c.want) == 0 {
				return
			}
			// The newest matching record is the last before the stream
			// waits for live ones: reading up to it shows the whole backlog.
			s := dialLive(t, srv, kindNDJSON, c.query+"&backlog=10", nil)
			var got []uint64
			for len(got) < len(c.want) {
				it, err := s.next()
				if err != nil {
					t.Fatalf("/hits?format=ndjson&%s: after %v: %v", c.query, got, err)
				}
				got = append(got, it.Seq)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("/hits?format=ndjson&%s&backlog=10: records %v, want %v", c.query, got, c.want)
			}
		})
	}
	for _, c := range []struct{ query, want string }{
		{"vhost=", "vhost has an empty value"},
		{"vhost=example.com,", "vhost has an empty value"},
		{"vhost=exa%20mple.com", `bad vhost "exa mple.com"`},
		{"vhost=example.com/x", `bad vhost "example.com/x"`},
		{"vhost=example.com:http", `bad vhost "example.com:http"`},
		{"vhost=example.com:70000", `bad vhost "example.com:70000"`},
		{"vhost=:443", `bad vhost ":443"`},
		{"vhost=" + strings.Repeat("a,", 64) + "a", "vhost has 65 values, more than the 64 allowed"},
	} {
		t.Run(c.query, func(t *testing.T) { refusedEverywhere(t, srv, c.query, c.want) })
	}
}
