package feed_test

// Revocation: a token removed from the token file, a browser session that
// expired or was logged out, ends the streams opened with it, each with
// its transport's goodbye; a FIFO put in place of the token file never
// holds a request or the shutdown. Real server, real token file, real
// clients.

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// replaceFile renames a new file with text over path, as editors and
// Kubernetes Secrets do.
func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// endingStream is one client stream whose end the test waits for. wait
// returns the last lines it read (for ws: the close code and text) once
// the stream has ended, or fails after within.
type endingStream struct {
	name  string
	ended chan struct{}
	at    time.Time
	last  []string // the non-blank lines before the end, or the ws close
	err   error    // how the read ended: io.EOF for a proper end
}

// readToEnd reads r's lines in a goroutine until it ends.
func readToEnd(name string, r io.Reader) *endingStream {
	e := &endingStream{name: name, ended: make(chan struct{})}
	go func() {
		defer close(e.ended)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l = strings.TrimSuffix(l, "\n"); l != "" {
				e.last = append(e.last, l)
			}
			if err != nil {
				e.err, e.at = err, time.Now()
				return
			}
		}
	}()
	return e
}

// readWSUntilClose reads a WebSocket's messages until its close frame.
func readWSUntilClose(name string, c *websocket.Conn) *endingStream {
	e := &endingStream{name: name, ended: make(chan struct{})}
	go func() {
		defer close(e.ended)
		c.SetReadDeadline(time.Now().Add(3 * waitFor))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				e.err, e.at = err, time.Now()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					e.last = append(e.last, ce.Error())
					e.err = io.EOF
				}
				return
			}
			e.last = append(e.last, string(msg))
		}
	}()
	return e
}

// waitEnd waits for the stream to end, at most within, and checks that
// it ended properly with want as its last line.
func (e *endingStream) waitEnd(t *testing.T, within time.Duration, want string) time.Time {
	t.Helper()
	select {
	case <-e.ended:
	case <-time.After(within):
		t.Fatalf("%s: still open %v after its credentials were revoked (read %q)", e.name, within, e.last)
	}
	if !errors.Is(e.err, io.EOF) {
		t.Errorf("%s: ended with %v, want a proper end of stream", e.name, e.err)
	}
	if want != "" && (len(e.last) == 0 || e.last[len(e.last)-1] != want) {
		t.Errorf("%s: last lines %q, want the last to be %q", e.name, e.last, want)
	}
	return e.at
}

// openStream GETs a stream with hdr and returns its body once the headers
// are in (the subscription exists then).
func openStream(t *testing.T, u string, hdr http.Header) io.Reader {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 4 * waitFor}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %q, want 200", u, resp.Status, b)
	}
	return resp.Body
}

func dialWS(t *testing.T, u string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := wsDialer.Dial(u, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v (%s)", u, err, statusOf(resp))
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// revokeWithin is how long after the reload was noticed every stream must
// have ended: the sweep follows the reload at once; the rest is slack for
// a loaded machine under -race.
const revokeWithin = 5 * time.Second

// A token removed from the token file ends every stream opened with it,
// on every transport, each with its goodbye; streams of other tokens go
// on. Counted as weblogd_disconnects_total{reason="revoked"}.
func TestRevokedTokenEndsItsStreams(t *testing.T) {
	log := tempLog(t)
	path := writeTokenFile(t, tokAll+" name=all", tokShop+" name=shop")
	srv := startServer(t, feed.Config{Logs: []string{log}, TokenFile: path})
	httpBase := "http://" + srv.HTTPAddr().String()

	ndjson := readToEnd("ndjson", openStream(t, httpBase+"/hits?format=ndjson", bearer(tokAll)))
	xmlS := readToEnd("/hits XML", openStream(t, httpBase+"/hits", bearer(tokAll)))
	sse := readToEnd("SSE", openStream(t, httpBase+"/events", bearer(tokAll)))
	ws := readWSUntilClose("WebSocket", dialWS(t, "ws://"+srv.HTTPAddr().String()+"/ws", bearer(tokAll)))
	raw := rawAuth(t, srv, tokAll)
	rawS := readToEnd("raw TCP", raw.r)
	other := readToEnd("ndjson of the other token", openStream(t, httpBase+"/hits?format=ndjson", bearer(tokShop)))

	replaceFile(t, path, tokShop+" name=shop\n")
	waitUntil(t, func() bool {
		resp, _ := request(t, "GET", httpBase+"/api/status", bearer(tokAll), nil)
		return resp.StatusCode == http.StatusUnauthorized
	})
	noticed := time.Now()
	for _, c := range []struct {
		s    *endingStream
		last string
	}{
		{ndjson, `{"type":"error","reason":"revoked"}`},
		{xmlS, "</hits>"},
		{sse, ": disconnected: revoked"},
		{ws, "websocket: close 1008 (policy violation): revoked"},
		{rawS, "</hits>"},
	} {
		at := c.s.waitEnd(t, revokeWithin, c.last)
		t.Logf("%s ended %v after the reload was seen", c.s.name, at.Sub(noticed).Round(time.Millisecond))
	}
	for _, c := range []struct {
		s    *endingStream
		want string
	}{{xmlS, `<error reason="revoked"/>`}, {rawS, `<error reason="revoked"/>`}} {
		if n := len(c.s.last); n < 2 || c.s.last[n-2] != c.want {
			t.Errorf("%s: last lines %q, want %s before </hits>", c.s.name, c.s.last, c.want)
		}
	}
	select {
	case <-other.ended:
		t.Fatalf("the stream of a token still in the file ended: %v %q", other.err, other.last)
	default:
	}
	// (That the counter is there at 0 from the start: TestLimitMetricsFromTheStart.)
	mfs, _ := scrape(t, srv)
	for tr, want := range map[string]float64{"hits": 2, "events": 1, "ws": 1, "tcp": 1} {
		if v, _ := value(mfs, "weblogd_disconnects_total", "transport", tr, "reason", "revoked"); v != want {
			t.Errorf(`weblogd_disconnects_total{transport=%q,reason="revoked"}=%v, want %v`, tr, v, want)
		}
	}
}

// login logs in with tok and returns the session cookie header.
func login(t *testing.T, base, tok string) http.Header {
	t.Helper()
	resp, _ := request(t, "POST", base+"/login", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		strings.NewReader("token="+tok))
	for _, c := range resp.Cookies() {
		if c.Name == "weblogd_session" {
			return http.Header{"Cookie": {c.Name + "=" + c.Value}}
		}
	}
	t.Fatalf("login: %s, no session cookie", resp.Status)
	return nil
}

// A browser session that expires (not renewed for its lifetime) ends its
// streams; one that an open dashboard renews keeps them, past the
// lifetime of the cookie they were opened with.
func TestExpiredSessionEndsItsStreams(t *testing.T) {
	const lifetime = 2 * time.Second
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: writeTokenFile(t, tokAll), SessionLifetime: lifetime})
	base := "http://" + srv.HTTPAddr().String()
	loggedIn := time.Now()
	idle, renewed := login(t, base, tokAll), login(t, base, tokAll)
	sse := readToEnd("SSE of an idle session", openStream(t, base+"/events", idle))
	ws := readWSUntilClose("WebSocket of an idle session", dialWS(t, "ws://"+srv.HTTPAddr().String()+"/ws", idle))
	kept := readToEnd("SSE of a renewed session", openStream(t, base+"/events", renewed))

	// The dashboard renews its session with every api/status it asks for.
	stop := make(chan struct{})
	renewing := make(chan struct{})
	go func() {
		defer close(renewing)
		cookie := renewed
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			resp, _ := request(t, "GET", base+"/api/status", cookie, nil)
			for _, c := range resp.Cookies() {
				cookie = http.Header{"Cookie": {c.Name + "=" + c.Value}}
			}
		}
	}()
	defer func() {
		close(stop)
		<-renewing
	}()
	for _, c := range []struct {
		s    *endingStream
		last string
	}{{sse, ": disconnected: revoked"}, {ws, "websocket: close 1008 (policy violation): revoked"}} {
		at := c.s.waitEnd(t, lifetime+revokeWithin, c.last)
		// (An expiry is kept to the millisecond.)
		if at.Sub(loggedIn) < lifetime-time.Millisecond {
			t.Errorf("%s ended %v after the login, before its session's lifetime (%v)", c.s.name, at.Sub(loggedIn), lifetime)
		}
		t.Logf("%s ended %v after the login (session lifetime %v)", c.s.name, at.Sub(loggedIn).Round(time.Millisecond), lifetime)
	}
	time.Sleep(lifetime) // the renewed session's first cookie is long expired now
	select {
	case <-kept.ended:
		t.Fatalf("the stream of a session renewed by use ended: %v %q", kept.err, kept.last)
	default:
	}
}

// Logging out ends the session for good: its cookie, kept by someone,
// works no more, and its open streams end.
func TestLogoutEndsSessionAndStreams(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: writeTokenFile(t, tokAll)})
	base := "http://" + srv.HTTPAddr().String()
	cookie := login(t, base, tokAll)
	ndjson := readToEnd("ndjson", openStream(t, base+"/hits?format=ndjson", cookie))
	ws := readWSUntilClose("WebSocket", dialWS(t, "ws://"+srv.HTTPAddr().String()+"/ws", cookie))
	if resp, _ := request(t, "GET", base+"/api/status", cookie, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("with the session: %s", resp.Status)
	}
	resp, _ := request(t, "POST", base+"/logout", cookie, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s, want 303", resp.Status)
	}
	ndjson.waitEnd(t, revokeWithin, `{"type":"error","reason":"revoked"}`)
	ws.waitEnd(t, revokeWithin, "websocket: close 1008 (policy violation): revoked")
	resp, body := request(t, "GET", base+"/api/status", cookie, nil)
	check401(t, "the cookie of a session logged out", resp, body)
	if _, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/ws", cookie); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/ws with the cookie of a session logged out: %v (%s), want 401", err, statusOf(resp))
	}
}

// A FIFO renamed over the token file holds nothing: requests go on being
// answered with the tokens in force, the failed reload is logged, and the
// server shuts down as usual.
func TestTokenFileReplacedByFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	if err := os.WriteFile(path, []byte(tokAll+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	srv, stop := runServer(t, feed.Config{Logs: []string{tempLog(t)}, TokenFile: path, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		Logger: slog.New(logs)}, 5*time.Second)
	u := "http://" + srv.HTTPAddr().String() + "/api/status"
	stream := readToEnd("ndjson", openStream(t, "http://"+srv.HTTPAddr().String()+"/hits?format=ndjson", bearer(tokAll)))

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, path); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	// Past two checks of the file: each request is answered, promptly.
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header = bearer(tokAll)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /api/status with a FIFO for the token file: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/status with a FIFO for the token file: %s, want 200 with the tokens in force", resp.Status)
		}
	}
	logs.waitFor(t, slog.LevelError, "cannot reload the token file")
	if err := stop(); err != nil {
		t.Fatalf("shutdown with a FIFO for the token file: %v", err)
	}
	stream.waitEnd(t, waitFor, "") // at shutdown an ndjson stream simply ends
}
