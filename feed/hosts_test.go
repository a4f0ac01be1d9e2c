package feed_test

// What the HTTP server checks before any route: the Host a request is for
// (DNS rebinding), the headers that keep pages from being framed, and the
// client address behind a trusted proxy. Real server, real clients.

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/web"
)

// getHost GETs path from srv with Host set to host and returns the
// response and its body.
func getHost(t *testing.T, srv *feed.Server, host, path string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+srv.HTTPAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Host = host
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// A server on loopback answers loopback host names only, unless told
// otherwise: a page of a name that resolves to 127.0.0.1 (DNS rebinding)
// can neither read the API nor open a WebSocket.
func TestLoopbackServerAnswersLoopbackHostsOnly(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t, combined)}, AllowHosts: []string{"weblog.example"}})
	port := strconv.Itoa(srv.HTTPAddr().(*net.TCPAddr).Port)
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port, "127.0.0.1", "weblog.example:" + port, "Weblog.Example."} {
		if resp, body := getHost(t, srv, host, "/api/hits", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %s %q, want 200", host, resp.Status, body)
		}
	}
	for _, host := range []string{"rebind.evil.example:" + port, "rebind.evil.example", "192.0.2.1:" + port, "localhost.evil.example"} {
		resp, body := getHost(t, srv, host, "/api/hits", nil)
		if resp.StatusCode != http.StatusMisdirectedRequest || strings.Count(body, "\n") != 1 || !strings.Contains(body, "is not served here") {
			t.Errorf("Host %s: %s %q, want 421 with a one-line reason", host, resp.Status, body)
		}
	}
	// The rebinding page's WebSocket: its Origin matches its Host, which
	// is not one this server answers.
	evil := "rebind.evil.example:" + port
	_, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/ws", http.Header{"Host": {evil}, "Origin": {"http://" + evil}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("WebSocket from a rebinding page: %v (%s), want 421", err, statusOf(resp))
	}
	allowed := "weblog.example:" + port
	c, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/ws", http.Header{"Host": {allowed}, "Origin": {"http://" + allowed}})
	if err != nil {
		t.Fatalf("WebSocket from an allowed host's page: %v (%s)", err, statusOf(resp))
	}
	c.Close()
}

// Beyond loopback, without a token file, weblogd warns once that anyone
// who can reach the port sees every request; and answers any host unless
// AllowHosts is given.
func TestWarnsWhenOpenBeyondLoopback(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    feed.Config
		warned bool
	}{
		{"all interfaces, no token file", feed.Config{HTTPAddr: "0.0.0.0:0", TCPAddr: feed.NoListen}, true},
		{"raw port on all interfaces", feed.Config{HTTPAddr: "127.0.0.1:0", TCPAddr: "0.0.0.0:0"}, true},
		{"all interfaces, a token file", feed.Config{HTTPAddr: "0.0.0.0:0", TCPAddr: feed.NoListen, TokenFile: writeTokenFile(t, tokAll)}, false},
		{"loopback", feed.Config{HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := &logRecorder{}
			c.cfg.Logs, c.cfg.Logger = []string{tempLog(t)}, slog.New(logs)
			srv, stop := runServer(t, c.cfg, 5*time.Second)
			if c.cfg.TokenFile == "" {
				if resp, body := getHost(t, srv, "anything.example", "/healthz", nil); resp.StatusCode != http.StatusOK && c.cfg.HTTPAddr == "0.0.0.0:0" {
					t.Errorf("beyond loopback, Host anything.example: %s %q, want 200 (no host check)", resp.Status, body)
				}
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			n := 0
			logs.mu.Lock()
			for _, m := range logs.msgs {
				if strings.HasPrefix(m, "WARN ") && strings.Contains(m, "anyone who can reach these ports sees every request") {
					n++
				}
			}
			logs.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[c.warned]; n != want {
				t.Errorf("%d warnings that anyone sees every request, want %d", n, want)
			}
		})
	}
}

// The dashboard and the login page cannot be framed by another site, and
// no response is sniffed as another type.
func TestPageHeaders(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: writeTokenFile(t, tokAll)})
	base := "http://" + srv.HTTPAddr().String()
	for _, c := range []struct {
		what string
		path string
		hdr  http.Header
	}{
		{"the dashboard", "/", bearer(tokAll)},
		{"the login page", "/login", nil},
		{"the login form for a browser without a session", "/", http.Header{"Accept": {"text/html"}}},
		{"the API", "/api/status", bearer(tokAll)},
	} {
		resp, _ := request(t, "GET", base+c.path, c.hdr, nil)
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Frame-Options %q, X-Content-Type-Options %q; want SAMEORIGIN, nosniff",
				c.what, resp.Header.Get("X-Frame-Options"), resp.Header.Get("X-Content-Type-Options"))
		}
		// Every directive, each once: a page of this server runs its own
		// files only, and nothing inline (the login form's style is
		// allowed by its hash, not by 'unsafe-inline').
		directives := map[string]string{}
		for _, d := range strings.Split(csp, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			if _, twice := directives[name]; twice {
				t.Errorf("%s: Content-Security-Policy %q names %s twice", c.what, csp, name)
			}
			directives[name] = value
		}
		for name, want := range map[string]string{
			"default-src": "'self'", "script-src": "'self'", "img-src": "'self' data:", "connect-src": "'self'",
			"frame-ancestors": "'self'", "base-uri": "'none'", "form-action": "'self'",
		} {
			if directives[name] != want {
				t.Errorf("%s: Content-Security-Policy %q: %s is %q, want %q", c.what, csp, name, directives[name], want)
			}
		}
		if style := directives["style-src"]; style != "'self' "+web.LoginStyle || strings.Contains(style, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q: style-src is %q, want 'self' and the login form's style by its hash", c.what, csp, style)
		}
	}
}

// streamFrom opens an ndjson stream with hdr and returns its status; a
// stream that opened stays open until the test ends.
func streamFrom(t *testing.T, srv *feed.Server, hdr http.Header) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+srv.HTTPAddr().String()+"/hits?format=ndjson", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: waitFor}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
	} else {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return resp.StatusCode
}

// Behind a trusted proxy the client's address is the rightmost address of
// X-Forwarded-For (or Forwarded) that is not a trusted proxy's; from any
// other peer the headers are ignored.
func TestTrustedProxyNamesTheClient(t *testing.T) {
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	t.Run("trusted", func(t *testing.T) {
		srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, MaxSubscribersPerIP: 1,
			TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8"}})
		for _, c := range []struct {
			what string
			hdr  http.Header
			want int
		}{
			{"a first client", xff("198.51.100.1"), http.StatusOK},
			{"the first client again", xff("198.51.100.1"), http.StatusServiceUnavailable},
			{"the first client through two trusted proxies", xff("198.51.100.1, 10.1.2.3"), http.StatusServiceUnavailable},
			{"the first client, with a spoofed address before its own", xff("203.0.113.66, 198.51.100.1"), http.StatusServiceUnavailable},
			{"the first client, in two header lines", http.Header{"X-Forwarded-For": {"203.0.113.66", "198.51.100.1"}}, http.StatusServiceUnavailable},
			{"a second client", xff("198.51.100.2"), http.StatusOK},
			{"a client by Forwarded", http.Header{"Forwarded": {`for="[2001:db8::1]:4711";proto=https, for=10.0.0.1`}}, http.StatusOK},
			{"the same client by Forwarded again", http.Header{"Forwarded": {`for=203.0.113.66, for="[2001:db8::1]"`}}, http.StatusServiceUnavailable},
			{"no header: the proxy itself", nil, http.StatusOK},
			{"a header saying nothing usable: the proxy", xff("unknown"), http.StatusServiceUnavailable},
		} {
			if got := streamFrom(t, srv, c.hdr); got != c.want {
				t.Errorf("%s (%v): %d, want %d", c.what, c.hdr, got, c.want)
			}
		}
	})
	t.Run("untrusted peer", func(t *testing.T) {
		srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, MaxSubscribersPerIP: 1, TrustedProxies: []string{"127.0.0.2"}})
		if got := streamFrom(t, srv, xff("198.51.100.1")); got != http.StatusOK {
			t.Fatalf("first: %d", got)
		}
		if got := streamFrom(t, srv, xff("198.51.100.2")); got != http.StatusServiceUnavailable {
			t.Fatalf("a peer that is not a trusted proxy, naming another client: %d, want 503 (its header ignored)", got)
		}
	})
}

func TestBadTrustedProxyOrHost(t *testing.T) {
	for _, c := range []feed.Config{
		{TrustedProxies: []string{"10.0.0.0/33"}},
		{TrustedProxies: []string{"proxy.example"}},
		{AllowHosts: []string{"example.com:8080"}},
		{AllowHosts: []string{"https://example.com"}},
		{AllowHosts: []string{""}},
	} {
		c.Logs = []string{"x"}
		if _, err := feed.New(c); err == nil {
			t.Errorf("New(%v %v)=nil, want an error", c.TrustedProxies, c.AllowHosts)
		}
	}
}
