package feed_test

// Filter values and bounds as a client meets them on a real server: a
// value that could never match, a list too long or a query string too big
// is a 400 with the reason on every HTTP stream and /api/hits, before any
// stream starts; the bound itself is served.

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/transports"
)

// refusedEverywhere checks that query is a 400 whose one line says want on
// /hits, /events, /ws (as a plain GET and as a WebSocket handshake) and
// /api/hits.
func refusedEverywhere(t *testing.T, srv *feed.Server, query, want string) {
	t.Helper()
	base := "http://" + srv.HTTPAddr().String()
	for _, p := range []string{"/hits", "/events", "/ws", "/api/hits"} {
		resp, err := oneShot.Get(base + p + "?" + query)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: read the body: %v", p, err)
		}
		checkBadRequest(t, resp, string(body))
		if !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: body %q, want it to say %q", p, body, want)
		}
	}
	conn, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/ws?"+query, nil)
	if err == nil {
		conn.Close()
		t.Fatal("WebSocket handshake succeeded, want a 400")
	}
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("Dial error %v, want ErrBadHandshake with the response", err)
	}
	body, _ := io.ReadAll(resp.Body)
	checkBadRequest(t, resp, string(body))
	if !strings.Contains(string(body), want) {
		t.Fatalf("ws: body %q, want it to say %q", body, want)
	}
}

// servedEverywhere checks that query (which must ask for backlog=1 and
// match the newest record) is served: the record with seq arrives on every
// stream kind and in /api/hits.
func servedEverywhere(t *testing.T, srv *feed.Server, query string, seq uint64) {
	t.Helper()
	for _, kind := range []string{kindXML, kindNDJSONAccept, kindSSE, kindWS} {
		s := dialLive(t, srv, kind, query, nil)
		it, err := s.next()
		if err != nil || it.Seq != seq {
			t.Fatalf("%s: first item %+v (%v), want record %d", kind, it, err, seq)
		}
		s.close()
	}
	resp, body := apiGet(t, srv, "/api/hits?"+strings.Replace(query, "backlog=1", "limit=1", 1))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"seq":`+strconv.FormatUint(seq, 10)) {
		t.Fatalf("/api/hits: %s %q, want record %d", resp.Status, body, seq)
	}
}

// A status filter takes only HTTP status codes (100-599), and a path
// filter only a path: anything else would be accepted and match nothing.
func TestFilterValuesThatCannotMatch(t *testing.T) {
	log := tempLog(t, `203.0.113.5 - - [21/Nov/2026:10:00:00 +0100] "GET /api/x HTTP/1.1" 599 1 "-" "curl/8.5.0"`)
	srv := startServer(t, feed.Config{Logs: []string{log}, TCPAddr: feed.NoListen})
	waitUntil(t, func() bool { return srv.LastSeq() >= 1 })
	for _, c := range []struct{ query, want string }{
		{"status=6xx", `bad status "6xx": want a code 100-599`},
		{"status=999", `bad status "999"`},
		{"status=99", `bad status "99"`},
		{"status=500-600", `bad status "500-600"`},
		{"path=api", `bad path "api": want a prefix starting with /`},
	} {
		t.Run(c.query, func(t *testing.T) { refusedEverywhere(t, srv, c.query, c.want) })
	}
	// The edges of what is accepted match.
	for _, q := range []string{"status=599", "status=5xx", "status=100-599", "path=/api"} {
		t.Run(q, func(t *testing.T) { servedEverywhere(t, srv, "backlog=1&"+q, 1) })
	}
}

// The bounds of a request's filters: MaxFilterValues values per parameter
// and MaxQueryBytes of query string. Past them a 400 says which; at them
// the request is served.
func TestFilterBounds(t *testing.T) {
	log := tempLog(t, `203.0.113.5 - - [21/Nov/2026:10:00:00 +0100] "GET /api/x HTTP/1.1" 200 1 "-" "curl/8.5.0"`)
	srv := startServer(t, feed.Config{Logs: []string{log}, TCPAddr: feed.NoListen})
	waitUntil(t, func() bool { return srv.LastSeq() >= 1 })
	// hosts(n) is a host= list of n CIDRs whose last one matches the record.
	hosts := func(n int) string {
		var v []string
		for i := range n - 1 {
			v = append(v, "10."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256)+".0/24")
		}
		return "host=" + strings.Join(append(v, "203.0.113.0/24"), ",")
	}
	bound := transports.MaxFilterValues
	// pad makes q exactly n bytes with the ignored cache-buster.
	pad := func(q string, n int) string {
		q += "&_="
		return q + strings.Repeat("x", n-len(q))
	}
	t.Run("values", func(t *testing.T) {
		refusedEverywhere(t, srv, hosts(bound+1), "host has 65 values, more than the 64 allowed")
		refusedEverywhere(t, srv, "method="+strings.Repeat("GET,", bound)+"GET", "method has 65 values")
		servedEverywhere(t, srv, "backlog=1&"+hosts(bound), 1)
	})
	t.Run("query size", func(t *testing.T) {
		refusedEverywhere(t, srv, pad("backlog=1", transports.MaxQueryBytes+1),
			"the query string has 4097 bytes, more than the 4096 allowed")
		// The list of the report that found the cost: 3,400 CIDRs.
		refusedEverywhere(t, srv, hosts(3400), "more than the 4096 allowed")
		servedEverywhere(t, srv, pad("backlog=1&"+hosts(bound), transports.MaxQueryBytes), 1)
	})
}

// A path that is not UTF-8 once unescaped is a bad request, not a server
// error, with or without a base path.
func TestBadPath(t *testing.T) {
	for _, base := range []string{"", "/weblog"} {
		srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen, BasePath: base})
		for _, p := range []string{"/%ff", "/%c0%af", "/hits%fe", "/static/%ff.js", "/api/%80"} {
			resp, body := apiGet(t, srv, base+p)
			checkBadRequest(t, resp, string(body))
			if !strings.Contains(string(body), "not valid UTF-8") {
				t.Errorf("GET %s: body %q, want the reason", base+p, body)
			}
		}
		// A path that is UTF-8 but names nothing is still a 404.
		if resp, body := apiGet(t, srv, base+"/%C3%BC"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s/%%C3%%BC: %s %q, want 404", base, resp.Status, body)
		}
	}
}
