package feed_test

// Redaction on the wire: what --redact hides is in no byte any transport
// sends, the API's included, for history (backfill) and live records.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/redact"
)

// redactLines are lines with everything redaction hides: client addresses
// (IPv4, IPv6, an X-Forwarded-For list in an extra field), user names,
// secrets in query strings of the path and the referer, and a line that
// does not parse but holds an address and a secret.
var redactLines = []string{
	`198.51.100.23 - alice [21/Nov/2026:10:00:00 +0100] "GET /login?user=x&token=s3cr3tvalue&page=2 HTTP/1.1" 200 10 "https://ref.example/?password=hunter2hunter" "agent/1.0" "203.0.113.77, 192.0.2.200"`,
	`2001:db8:abcd:12::99 identd bob [21/Nov/2026:10:00:01 +0100] "GET /x?Key=k3yk3yk3y HTTP/1.1" 404 0 "-" "agent/1.0"`,
	`garbage from 192.0.2.55 asking /y?token=zzzzsecret`,
}

// redactSecrets must not appear anywhere on the wire, and redactUsers
// neither with user redaction.
var (
	redactSecrets = []string{"198.51.100.23", "203.0.113.77", "192.0.2.200", "2001:db8:abcd:12::99", "abcd:12",
		"s3cr3tvalue", "hunter2hunter", "k3yk3yk3y", "192.0.2.55", "zzzzsecret"}
	redactUsers = []string{"alice", "bob", "identd"}
)

// wireBytes reads what kind sends until it has carried n records, and
// returns the bytes as they came.
func wireBytes(t *testing.T, srv *feed.Server, kind string, n int) string {
	t.Helper()
	count := func(b string) int {
		if kind == kindXML || kind == "tcp" {
			return strings.Count(b, "<hit ")
		}
		return strings.Count(b, `"seq":`)
	}
	var got strings.Builder
	switch kind {
	case "tcp":
		c, err := net.Dial("tcp", srv.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("SINCE 0\n"))
		r := bufio.NewReader(c)
		for count(got.String()) < n {
			c.SetReadDeadline(time.Now().Add(waitFor))
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("tcp: %v after %q", err, got.String())
			}
			got.WriteString(l)
		}
	case kindWS:
		c, _, err := wsDialer.Dial(streamURL(srv, kindWS, "since=0"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for count(got.String()) < n {
			c.SetReadDeadline(time.Now().Add(waitFor))
			_, m, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("ws: %v after %q", err, got.String())
			}
			got.Write(m)
		}
	case "api":
		_, body := apiGet(t, srv, "/api/hits?since=0")
		got.WriteString(body2s(body))
	default:
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", streamURL(srv, kind, "since=0"), nil)
		resp, err := oneShot.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 4096)
		for count(got.String()) < n {
			m, err := resp.Body.Read(buf)
			got.Write(buf[:m])
			if err != nil && err != io.EOF {
				t.Fatalf("%s: %v after %q", kind, err, got.String())
			}
		}
	}
	if c := count(got.String()); c < n {
		t.Fatalf("%s: %d records, want %d: %q", kind, c, n, got.String())
	}
	return got.String()
}

func body2s(b []byte) string { return string(b) }

func TestRedactionOnTheWire(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	cases := []struct {
		name    string
		opts    redact.Options
		present []string // what the masking leaves instead
	}{
		{"prefix, params, user", redact.Options{Host: redact.HostPrefix, Params: redact.DefaultParams, User: true},
			[]string{"198.51.100.0", "2001:db8:abcd::", "203.0.113.0, 192.0.2.0", "token=redacted", "password=redacted",
				"Key=redacted", "page=2", "user=x", redact.Withheld}},
		{"hash, query", redact.Options{Host: redact.HostHash, HashKey: key, Query: true},
			[]string{"h-", "/login", "https://ref.example/", "garbage from h-"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Half the lines are history (backfill), half live.
			log := tempLog(t, redactLines...)
			srv := startServer(t, feed.Config{Logs: []string{log}, Redact: c.opts, Tick: 5 * time.Millisecond})
			writeLines(t, log, redactLines...)
			waitUntil(t, func() bool { return srv.LastSeq() >= 6 })
			for _, kind := range []string{"tcp", kindXML, kindNDJSON, kindSSE, kindWS, "api"} {
				wire := wireBytes(t, srv, kind, 6)
				secrets := redactSecrets
				if c.opts.User {
					secrets = append(secrets[:len(secrets):len(secrets)], redactUsers...)
				}
				for _, secret := range secrets {
					if strings.Contains(wire, secret) {
						t.Errorf("%s: %q is on the wire:\n%s", kind, secret, wire)
					}
				}
				if c.opts.Query && strings.Contains(wire, "?") {
					t.Errorf("%s: a query string is on the wire:\n%s", kind, wire)
				}
				for _, p := range c.present {
					if !strings.Contains(wire, p) {
						t.Errorf("%s: %q is not on the wire:\n%s", kind, p, wire)
					}
				}
			}
			// The q= filter searches the masked line: a secret is no oracle.
			for _, q := range []string{"s3cr3tvalue", "198.51.100.23", "192.0.2.55"} {
				if got := apiHits(t, srv, "since=0&q="+q); len(got) != 0 {
					t.Errorf("q=%s finds %d records, want none", q, len(got))
				}
			}
		})
	}
}

// An edge masks what it takes from NATS with its own --redact: a publisher
// without one does not make the edge serve what it hides.
func TestRedactionOnAnEdge(t *testing.T) {
	f := startNodeFleet(t, feed.Config{Redact: redact.Options{Host: redact.HostPrefix, Query: true, Params: redact.DefaultParams}})
	writeLines(t, f.logs["a"], redactLines...)
	waitUntil(t, func() bool { return f.edge.LastSeq() >= uint64(len(redactLines)) })
	for _, kind := range []string{"tcp", kindNDJSON, "api"} {
		wire := wireBytes(t, f.edge, kind, len(redactLines))
		for _, secret := range redactSecrets {
			if strings.Contains(wire, secret) {
				t.Errorf("%s: %q is on the wire:\n%s", kind, secret, wire)
			}
		}
		if !strings.Contains(wire, "198.51.100.0") || !strings.Contains(wire, `node`) {
			t.Errorf("%s: want the masked records of node a:\n%s", kind, wire)
		}
	}
}
