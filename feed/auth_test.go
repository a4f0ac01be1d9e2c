package feed_test

// Authentication on every way in: bearer tokens on the HTTP endpoints,
// AUTH on the raw port, sessions from the login page, tokens limited to a
// filter, per-token limits. Every test runs a real server on loopback.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/feed"
)

// Tokens of the tests' token files; each at least 16 characters.
const (
	tokAll   = "all-records-0123456789abcdef"
	tokShop  = "shop-api-only-0123456789abcd"
	tokWrong = "not-in-the-file-0123456789ab"
	tokAdmin = "admin-only-0123456789abcdef0"
)

// writeTokenFile writes a token file and returns its path.
func writeTokenFile(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{Timeout: waitFor, Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// request makes one request and returns the response with its whole body.
func request(t *testing.T, method, u string, hdr http.Header, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// rawDial connects to the raw port without reading anything.
func rawDial(t *testing.T, srv *feed.Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{c: c, r: bufio.NewReader(c)}
}

// rawAuth connects and authenticates with tok, and expects "<hits>".
func rawAuth(t *testing.T, srv *feed.Server, tok string) *rawClient {
	t.Helper()
	rc := rawDial(t, srv)
	rc.send(t, "AUTH "+tok)
	if got := rc.line(t); got != "<hits>" {
		t.Fatalf("after AUTH: %q, want <hits>", got)
	}
	return rc
}

// expectUnauthorizedRaw reads the one refusal line and then the end of the
// connection.
func expectUnauthorizedRaw(t *testing.T, rc *rawClient, what string) {
	t.Helper()
	if got := rc.line(t); got != `<error reason="unauthorized"/>` {
		t.Fatalf("%s: %q, want <error reason=\"unauthorized\"/>", what, got)
	}
	rc.c.SetReadDeadline(time.Now().Add(waitFor))
	// A reset is a close too: the server closes with the client's unread
	// input still in its buffer.
	if b, err := rc.r.ReadString('\n'); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("%s: after the refusal read %q, %v; want the connection closed", what, b, err)
	}
}

// check401 checks a refusal: 401, WWW-Authenticate: Bearer, and one line
// that is the same whatever was wrong.
func check401(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized || body != "unauthorized\n" ||
		!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("%s: %s %q WWW-Authenticate %q; want 401 \"unauthorized\" with a Bearer challenge",
			what, resp.Status, body, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestAuthEveryWayIn(t *testing.T) {
	log := tempLog(t, combined)
	srv := startServer(t, feed.Config{Logs: []string{log}, TokenFile: writeTokenFile(t, "# ops", tokAll+" name=ops"),
		ReadHeaderTimeout: 500 * time.Millisecond})
	base := "http://" + srv.HTTPAddr().String()

	endpoints := []string{"/hits", "/hits?format=ndjson", "/events", "/api/hits", "/api/status", "/", "/app.js", "/index.html"}
	for _, ep := range endpoints {
		for _, c := range []struct {
			name string
			hdr  http.Header
		}{
			{"missing", nil},
			{"wrong", bearer(tokWrong)},
			{"not bearer", http.Header{"Authorization": {"Basic " + tokAll}}},
			{"wrong cookie", http.Header{"Cookie": {"weblogd_session=AAAA"}}},
		} {
			resp, body := request(t, "GET", base+ep, c.hdr, nil)
			check401(t, ep+" "+c.name, resp, body)
		}
	}
	// The WebSocket handshake is refused the same way.
	for _, hdr := range []http.Header{nil, bearer(tokWrong)} {
		_, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/ws", hdr)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/ws with %v: %v, response %s; want 401", hdr, err, statusOf(resp))
		}
	}
	// A browser asking for the dashboard gets the login form, still 401.
	resp, body := request(t, "GET", base+"/?status=5xx", http.Header{"Accept": {"text/html"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `<form id="login"`) || !strings.Contains(body, `value="?status=5xx"`) {
		t.Errorf("GET / as a browser: %s %q; want 401 and the login form keeping the query", resp.Status, body)
	}

	// The probes stay open.
	for _, ep := range []string{"/metrics", "/healthz", "/readyz"} {
		if resp, body := request(t, "GET", base+ep, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %s %q, want 200", ep, resp.Status, body)
		}
	}

	// The right token opens everything.
	for _, ep := range []string{"/api/hits", "/api/status", "/", "/app.js"} {
		if resp, body := request(t, "GET", base+ep, bearer(tokAll), nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the token: %s %q, want 200", ep, resp.Status, body)
		}
	}
	var streams []*liveStream
	for _, kind := range liveKinds {
		streams = append(streams, dialLive(t, srv, kind, "", bearer(tokAll)))
	}
	rcs := []*rawClient{rawAuth(t, srv, tokAll)}
	// AUTH and a command in one write: the command is answered too.
	rc := rawDial(t, srv)
	rc.send(t, "AUTH "+tokAll+"\nSINCE 0")
	if got := rc.line(t); got != "<hits>" {
		t.Fatalf("pipelined AUTH: %q, want <hits>", got)
	}
	if h := decodeHit(t, rc.line(t)); h.Seq != 1 {
		t.Fatalf("pipelined SINCE 0: seq %d, want 1", h.Seq)
	}
	rcs = append(rcs, rc)
	writeLines(t, log, combined)
	for _, s := range streams {
		if it := s.mustNext(t); it.Seq != 2 {
			t.Errorf("%s: seq %d, want 2", s.kind, it.Seq)
		}
	}
	for _, rc := range rcs {
		if h := decodeHit(t, rc.line(t)); h.Seq != 2 {
			t.Errorf("raw: seq %d, want 2", h.Seq)
		}
	}

	// The raw port: no AUTH, a wrong one, a line too long, silence.
	rc = rawDial(t, srv)
	rc.send(t, "NEW?")
	expectUnauthorizedRaw(t, rc, "NEW? first")
	rc = rawDial(t, srv)
	rc.send(t, "AUTH "+tokWrong)
	expectUnauthorizedRaw(t, rc, "a wrong token")
	rc = rawDial(t, srv)
	rc.send(t, "AUTH "+strings.Repeat("x", 4000))
	expectUnauthorizedRaw(t, rc, "a token too long")
	rc = rawDial(t, srv)
	start := time.Now()
	expectUnauthorizedRaw(t, rc, "silence")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a silent raw client was cut after %v, want about the header timeout (500ms)", took)
	}

	// Every refusal is counted where it came in.
	for endpoint, want := range map[string]float64{"tcp": 4, "ws": 2, "hits": 8, "events": 4, "api": 8, "dashboard": 13} {
		waitMetric(t, srv, want, "weblogd_auth_failures_total", "endpoint", endpoint)
	}
	for _, endpoint := range []string{"metrics", "login", "admin"} {
		if v := metric(t, srv, "weblogd_auth_failures_total", "endpoint", endpoint); v != 0 {
			t.Errorf("weblogd_auth_failures_total{endpoint=%q}=%v, want 0", endpoint, v)
		}
	}
}

func TestAuthMetricsClosed(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: writeTokenFile(t, tokAll), AuthMetrics: true})
	base := "http://" + srv.HTTPAddr().String()
	for _, ep := range []string{"/metrics", "/healthz", "/readyz"} {
		resp, body := request(t, "GET", base+ep, nil, nil)
		check401(t, ep, resp, body)
		// With the token, 200 (/readyz once the log is followed).
		waitUntil(t, func() bool {
			resp, _ := request(t, "GET", base+ep, bearer(tokAll), nil)
			return resp.StatusCode == http.StatusOK
		})
	}
	if _, err := feed.New(feed.Config{Logs: []string{"x"}, AuthMetrics: true}); err == nil {
		t.Error("New with AuthMetrics and no token file: nil error")
	}
}

func TestTokenFileIsReread(t *testing.T) {
	path := writeTokenFile(t, tokAll)
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: path})
	u := "http://" + srv.HTTPAddr().String() + "/api/status"
	if resp, _ := request(t, "GET", u, bearer(tokAll), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("first token: %s", resp.Status)
	}
	// Replace the file (as an editor or a Secret's symlink swap does): the
	// old token stops working, the new one works, within a second or so.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(tokShop+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		resp, _ := request(t, "GET", u, bearer(tokShop), nil)
		return resp.StatusCode == http.StatusOK
	})
	if resp, _ := request(t, "GET", u, bearer(tokAll), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("removed token: %s, want 401", resp.Status)
	}
	// A file that no longer parses keeps the tokens in force.
	if err := os.WriteFile(tmp, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the check interval
	if resp, _ := request(t, "GET", u, bearer(tokShop), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after a bad edit: %s, want the previous tokens still in force", resp.Status)
	}
}

func TestBadTokenFileIsRefused(t *testing.T) {
	for name, text := range map[string]string{
		"short":          "abc\n",
		"empty":          "# nothing\n",
		"unknown key":    tokAll + " colour=red\n",
		"bad filter":     tokAll + " status=abc\n",
		"duplicate":      tokAll + "\n" + tokAll + "\n",
		"not key=value":  tokAll + " source\n",
		"duplicate name": tokAll + " name=a\n" + tokShop + " name=a\n",
	} {
		_, err := feed.New(feed.Config{Logs: []string{"x"}, TokenFile: writeTokenFile(t, text)})
		if err == nil {
			t.Errorf("%s: New()=nil, want an error", name)
			continue
		}
		if strings.Contains(err.Error(), tokAll) || strings.Contains(err.Error(), "abc\n") {
			t.Errorf("%s: the error %q shows the token", name, err)
		}
	}
}

// A session from the login page: a cookie that works like the token on
// the API and the streams, HttpOnly, SameSite=Strict, Secure over TLS.
func TestLoginSession(t *testing.T) {
	log := tempLog(t, combined)
	srv := startServer(t, feed.Config{Logs: []string{log}, TokenFile: writeTokenFile(t, tokAll), BasePath: "/weblog/"})
	base := "http://" + srv.HTTPAddr().String() + "/weblog"
	form := func(tok string) io.Reader {
		return strings.NewReader(url.Values{"token": {tok}, "next": {"?status=2xx"}}.Encode())
	}
	ct := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

	if resp, body := request(t, "GET", base+"/login", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="token"`) {
		t.Fatalf("GET /login: %s %q", resp.Status, body)
	}
	resp, body := request(t, "POST", base+"/login", ct, form(tokWrong))
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) > 0 || !strings.Contains(body, "unauthorized") {
		t.Fatalf("a wrong token: %s, cookies %v; want 401 and no cookie", resp.Status, resp.Cookies())
	}
	cross := ct.Clone()
	cross.Set("Origin", "https://evil.example")
	if resp, _ := request(t, "POST", base+"/login", cross, form(tokAll)); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-origin login: %s, want 403", resp.Status)
	}
	resp, _ = request(t, "POST", base+"/login", ct, form(tokAll))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "./?status=2xx" {
		t.Fatalf("login: %s Location %q; want 303 to ./?status=2xx", resp.Status, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "weblogd_session" {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/weblog/" || c.MaxAge != 3600 {
		t.Fatalf("session cookie %+v; want HttpOnly, SameSite=Strict, not Secure without TLS, Path /weblog/, an hour", c)
	}
	if strings.Contains(c.Value, tokAll) {
		t.Fatal("the cookie holds the token")
	}
	cookie := http.Header{"Cookie": {c.Name + "=" + c.Value}}
	for _, ep := range []string{"/api/status", "/api/hits", "/", "/app.js"} {
		if resp, body := request(t, "GET", base+ep, cookie, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the session: %s %q", ep, resp.Status, body)
		}
	}
	// The streams take it too: a browser's WebSocket and EventSource send it.
	conn, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/weblog/ws?backlog=1", cookie)
	if err != nil {
		t.Fatalf("/ws with the session: %v (%s)", err, statusOf(resp))
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(waitFor))
	if _, msg, err := conn.ReadMessage(); err != nil || !strings.Contains(string(msg), `"seq":1`) {
		t.Fatalf("/ws with the session: %q, %v", msg, err)
	}
	// A tampered session is refused.
	bad := []byte(c.Value)
	bad[len(bad)/2] ^= 1
	if bad[len(bad)/2] == '-' || bad[len(bad)/2] == '_' {
		bad[len(bad)/2] = 'A'
	}
	resp, body = request(t, "GET", base+"/api/status", http.Header{"Cookie": {c.Name + "=" + string(bad)}}, nil)
	check401(t, "a tampered session", resp, body)
	// Logging out clears it.
	resp, _ = request(t, "POST", base+"/logout", cookie, nil)
	if cs := resp.Cookies(); resp.StatusCode != http.StatusSeeOther || len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Fatalf("logout: %s, cookies %v; want 303 and the cookie cleared", resp.Status, cs)
	}

	// Over TLS the cookie is Secure.
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	tsrv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: writeTokenFile(t, tokAll),
		TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile})
	tc := newTLSClients(t, cert.Pool)
	tc.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest("POST", "https://"+tsrv.HTTPAddr().String()+"/login", form(tokAll))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tresp, err := tc.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tresp.Body.Close()
	if cs := tresp.Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("login over TLS: cookies %+v, want one Secure cookie", cs)
	}
}

// A token limited to a filter sees only what its filter passes, on every
// transport, whatever it asks for: live, backlog, since, the snapshot API.
func TestTokenScope(t *testing.T) {
	dir := t.TempDir()
	shop, blog := filepath.Join(dir, "shop.log"), filepath.Join(dir, "blog.log")
	line := func(path string) string { return accessLine("198.51.100.7", "GET", path, 200, "scope-test") }
	// History: in the ring before anyone subscribes.
	writeLines(t, shop, line("/api/h1"), line("/h2"))
	writeLines(t, blog, line("/api/h3"))
	srv := startServer(t, feed.Config{Logs: []string{shop, blog}, Tick: 5 * time.Millisecond,
		TokenFile: writeTokenFile(t, tokAll, tokShop+" name=shop source=shop.log path=/api/")})
	hdr := bearer(tokShop)

	cases := []struct {
		query string
		want  []string // the paths that arrive, in order
	}{
		{"", []string{"/api/1", "/api/2-end"}},
		{"source=blog.log,shop.log", []string{"/api/1", "/api/2-end"}},
		{"path=/api/2", []string{"/api/2-end"}},
		{"backlog=100", []string{"/api/h1", "/api/1", "/api/2-end"}},
		{"since=0", []string{"/api/h1", "/api/1", "/api/2-end"}},
	}
	type sub struct {
		s    *liveStream
		want []string
	}
	var subs []sub
	for _, c := range cases {
		for _, kind := range liveKinds {
			subs = append(subs, sub{dialLive(t, srv, kind, c.query, hdr), c.want})
		}
	}
	rawPush := rawAuth(t, srv, tokShop)
	rawSince := rawAuth(t, srv, tokShop)
	rawSince.send(t, "SINCE 0")
	rawAll := rawAuth(t, srv, tokAll)

	// Live: blog's lines first and in the ring, so that shop's last line
	// is the last anyone gets.
	writeLines(t, blog, line("/api/2"), line("/api/2x"))
	waitUntil(t, func() bool { return srv.LastSeq() >= 5 })
	writeLines(t, shop, line("/api/1"), line("/home"), "an unparsed line /api/", line("/api/2-end"))

	for _, sb := range subs {
		var got []string
		for {
			it := sb.s.mustNext(t)
			if it.Gap {
				continue
			}
			if it.Source != "shop.log" {
				t.Errorf("%s: a record of %s: %+v", sb.s.kind, it.Source, it)
			}
			got = append(got, it.Path)
			if it.Path == "/api/2-end" {
				break
			}
		}
		if !slices.Equal(got, sb.want) {
			t.Errorf("%s %s: paths %v, want %v", sb.s.kind, sb.s.resp.Request.URL.RawQuery, got, sb.want)
		}
	}
	readRaw := func(rc *rawClient, stop string) []string {
		var got []string
		for {
			h := decodeHit(t, rc.line(t))
			got = append(got, h.Source+":"+h.Path)
			if h.Path == stop {
				return got
			}
		}
	}
	if got := readRaw(rawPush, "/api/2-end"); !slices.Equal(got, []string{"shop.log:/api/1", "shop.log:/api/2-end"}) {
		t.Errorf("raw: %v", got)
	}
	if got := readRaw(rawSince, "/api/2-end"); !slices.Equal(got, []string{"shop.log:/api/h1", "shop.log:/api/1", "shop.log:/api/2-end"}) {
		t.Errorf("raw after SINCE 0: %v", got)
	}
	// An unlimited token sees all of it.
	if got := readRaw(rawAll, "/api/2-end"); len(got) != 6 {
		t.Errorf("raw, unlimited token: %v, want the 6 live records", got)
	}

	// The snapshot API, each way it reads the ring.
	for query, want := range map[string][]string{
		"limit=100":                []string{"/api/h1", "/api/1", "/api/2-end"},
		"since=0":                  []string{"/api/h1", "/api/1", "/api/2-end"},
		"source=blog.log":          nil,
		"since=0&source=blog.log":  nil,
		"path=/api/h&limit=100":    []string{"/api/h1"},
		"since=0&q=unparsed&limit": nil,
	} {
		if strings.HasSuffix(query, "&limit") {
			query += "=10"
		}
		resp, body := request(t, "GET", "http://"+srv.HTTPAddr().String()+"/api/hits?"+query, hdr, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/api/hits?%s: %s %q", query, resp.Status, body)
		}
		var got []string
		for _, l := range strings.Split(strings.Trim(body, "[]\n"), "},") {
			if l == "" {
				continue
			}
			it, err := decodeWireJSON([]byte(strings.TrimSuffix(l, "}") + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if it.Gap {
				continue
			}
			if it.Source != "shop.log" {
				t.Errorf("/api/hits?%s: a record of %s", query, it.Source)
			}
			got = append(got, it.Path)
		}
		if !slices.Equal(got, want) {
			t.Errorf("/api/hits?%s: %v, want %v", query, got, want)
		}
	}
}

// Limits per token: a token over its share is refused on every transport,
// the others are not, and a slot comes back when its subscriber goes.
func TestMaxSubscribersPerToken(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, MaxSubscribersPerToken: 2, MaxSubscribersPerIP: -1,
		TokenFile: writeTokenFile(t, tokAll+" name=all", tokShop+" name=shop")})
	ws := dialLive(t, srv, kindWS, "", bearer(tokAll))
	rawAuth(t, srv, tokAll)
	waitMetric(t, srv, 1, "weblogd_subscribers", "transport", "ws")
	waitMetric(t, srv, 1, "weblogd_subscribers", "transport", "tcp")

	const reason = "too many subscribers with this token"
	for _, kind := range []string{kindXML, kindSSE, kindWS} {
		_, err := dialLiveErr(srv, kind, "", bearer(tokAll))
		if err == nil || !strings.Contains(err.Error(), "503") || (kind != kindWS && !strings.Contains(err.Error(), reason)) {
			t.Errorf("%s, a third subscriber of the token: %v; want 503 %q", kind, err, reason)
		}
	}
	rc := rawDial(t, srv)
	rc.send(t, "AUTH "+tokAll)
	if got := rc.line(t); got != `<error reason="`+reason+`"/>` {
		t.Errorf("raw, a third subscriber of the token: %q", got)
	}
	// Another token is not held back.
	dialLive(t, srv, kindSSE, "", bearer(tokShop))
	// The WebSocket's slot comes back when it closes.
	ws.close()
	waitUntil(t, func() bool {
		s, err := dialLiveErr(srv, kindXML, "", bearer(tokAll))
		if err != nil {
			return false
		}
		s.close()
		return true
	})
	for tr, n := range map[string]float64{"hits": 1, "events": 1, "ws": 1, "tcp": 1} {
		if v := metric(t, srv, "weblogd_refused_total", "transport", tr, "reason", "max_subscribers_per_token"); v < n {
			t.Errorf("weblogd_refused_total{transport=%q,reason=max_subscribers_per_token}=%v, want ≥ %v", tr, v, n)
		}
	}
	if st := getStatusAuth(t, srv, tokShop); st.Limits.MaxSubscribersPerToken != 2 {
		t.Errorf("/api/status limits %+v, want max_subscribers_per_token 2", st.Limits)
	}
}

// getStatusAuth is getStatus with a token.
func getStatusAuth(t *testing.T, srv *feed.Server, tok string) (st struct {
	Limits struct {
		MaxSubscribersPerToken int `json:"max_subscribers_per_token"`
	} `json:"limits"`
}) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+srv.HTTPAddr().String()+"/api/status", nil)
	req.Header = bearer(tok)
	resp, err := oneShot.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// wsCloseCode reads from c until it ends and returns the close code.
func wsCloseCode(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("ws ended with %v, want a close frame", err)
		}
	}
}

// A session is renewed by use once half its lifetime is gone, and ends
// when it is not used for its lifetime.
func TestSessionRenewalAndExpiry(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: writeTokenFile(t, tokAll), SessionLifetime: 2 * time.Second})
	base := "http://" + srv.HTTPAddr().String()
	resp, _ := request(t, "POST", base+"/login", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		strings.NewReader("token="+tokAll))
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login: cookies %v", cookies)
	}
	use := func(c *http.Cookie) (*http.Response, string) {
		return request(t, "GET", base+"/api/status", http.Header{"Cookie": {c.Name + "=" + c.Value}}, nil)
	}
	if resp, _ := use(cookies[0]); resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 0 {
		t.Fatalf("a fresh session: %s, cookies %v; want 200 and no renewal yet", resp.Status, resp.Cookies())
	}
	time.Sleep(1200 * time.Millisecond) // more than half the lifetime
	resp, _ = use(cookies[0])
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
		t.Fatalf("a half-used session: %s, cookies %v; want 200 and a renewed cookie", resp.Status, resp.Cookies())
	}
	renewed := resp.Cookies()[0]
	time.Sleep(1000 * time.Millisecond) // the first cookie's lifetime is over
	resp, body := use(cookies[0])
	check401(t, "an expired session", resp, body)
	if resp, _ := use(renewed); resp.StatusCode != http.StatusOK {
		t.Fatalf("the renewed session: %s, want 200", resp.Status)
	}
}

// AUTH over TLS on the raw port (openssl s_client, ncat --ssl): the
// handshake first, then the AUTH line.
func TestAuthOverTLSRaw(t *testing.T) {
	log := tempLog(t, combined)
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	srv := startServer(t, feed.Config{Logs: []string{log}, TokenFile: writeTokenFile(t, tokAll),
		TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile})
	for _, c := range []struct {
		tok, want string
	}{{tokWrong, `<error reason="unauthorized"/>`}, {tokAll, "<hits>"}} {
		conn, err := dialTLS(srv.TCPAddr().String(), cert.Pool, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		rc := &rawClient{c: conn, r: bufio.NewReader(conn)}
		rc.send(t, "AUTH "+c.tok+"\nSINCE 0")
		if got := rc.line(t); got != c.want {
			t.Fatalf("AUTH over TLS: %q, want %q", got, c.want)
		}
		if c.tok == tokAll {
			if h := decodeHit(t, rc.line(t)); h.Seq != 1 {
				t.Fatalf("SINCE 0 over TLS: seq %d, want 1", h.Seq)
			}
		}
	}
}
