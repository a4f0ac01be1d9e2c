package feed_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// TestNginxReverseProxy runs weblogd behind a real nginx with the config an
// operator would write (testdata/nginx/nginx.conf.tmpl): proxy_buffering
// left on, so the streams rely on weblogd's "X-Accel-Buffering: no". Each
// stream must deliver one small record while it stays open. (With the
// header ignored, nginx 1.22 still passes small chunks of a stream on, but
// holds even the response headers of one that has written nothing yet: the
// ndjson stream, with no preamble, is then stuck until its first record.)
func TestNginxReverseProxy(t *testing.T) {
	bin := nginxBinary(t)
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, BasePath: "/weblog/",
		HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen, Backfill: -1})
	ngx := startNginx(t, bin, srv.HTTPAddr().String())
	base := ngx.url + "/weblog/"

	tr := &http.Transport{ResponseHeaderTimeout: waitFor}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: waitFor}

	t.Run("healthz", func(t *testing.T) {
		resp, body := nginxGet(t, client, base+"healthz")
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "ok" {
			t.Fatalf("GET /weblog/healthz through nginx: %d %q, want 200 ok", resp.StatusCode, body)
		}
	})

	t.Run("dashboard", func(t *testing.T) {
		resp, body := nginxGet(t, client, base)
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "weblogd") {
			t.Fatalf("GET /weblog/ through nginx: %d %q (%d bytes), want 200 text/html, the dashboard", resp.StatusCode, ct, len(body))
		}
	})

	t.Run("sse", func(t *testing.T) {
		r := openProxiedStream(t, tr, base+"events", "text/event-stream")
		// The retry line is written as soon as the subscription exists: that
		// it arrives at all shows that nginx passes the stream on unbuffered.
		if got := r.line(t); got != "retry: 2000" {
			t.Fatalf("first SSE line %q, want retry: 2000", got)
		}
		if got := r.line(t); got != "" {
			t.Fatalf("after retry: %q, want a blank line", got)
		}
		appendProxiedLine(t, log, "/nginx/sse")
		ev := map[string]string{}
		for {
			l := r.line(t)
			if l == "" && len(ev) > 0 {
				break
			}
			if l == "" || strings.HasPrefix(l, ":") { // heartbeat comment
				continue
			}
			k, v, _ := strings.Cut(l, ": ")
			ev[k] = v
		}
		h := decodeProxiedHit(t, ev["data"])
		if ev["event"] != "hit" || ev["id"] != strconv.FormatUint(h.Seq, 10) || h.Path != "/nginx/sse" || h.Status != 200 {
			t.Fatalf("SSE event through nginx: %q, want event hit, id = seq, path /nginx/sse", ev)
		}
	})

	t.Run("hits-xml", func(t *testing.T) {
		r := openProxiedStream(t, tr, base+"hits", "application/xml")
		if got := r.line(t); got != "<hits>" {
			t.Fatalf("first /hits line %q, want <hits>", got)
		}
		appendProxiedLine(t, log, "/nginx/hits-xml")
		h := decodeHit(t, r.nonBlankLine(t))
		if h.XMLName.Local != "hit" || h.Seq == 0 || h.Path != "/nginx/hits-xml" || h.Status != 200 {
			t.Fatalf("/hits through nginx: %+v, want the hit for /nginx/hits-xml", h)
		}
	})

	t.Run("hits-ndjson", func(t *testing.T) {
		r := openProxiedStream(t, tr, base+"hits?format=ndjson", "application/x-ndjson")
		appendProxiedLine(t, log, "/nginx/hits-ndjson")
		h := decodeProxiedHit(t, r.nonBlankLine(t))
		if h.Seq == 0 || h.Path != "/nginx/hits-ndjson" || h.Status != 200 {
			t.Fatalf("/hits?format=ndjson through nginx: %+v, want the hit for /nginx/hits-ndjson", h)
		}
	})

	t.Run("ws", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		d := websocket.Dialer{HandshakeTimeout: waitFor}
		wsURL := "ws" + strings.TrimPrefix(base, "http") + "ws"
		conn, resp, err := d.DialContext(ctx, wsURL, nil)
		if err != nil {
			status := "no response"
			if resp != nil {
				status = resp.Status
			}
			t.Fatalf("WebSocket through nginx: %v (%s)", err, status)
		}
		defer conn.Close()
		appendProxiedLine(t, log, "/nginx/ws")
		conn.SetReadDeadline(time.Now().Add(waitFor))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read a WebSocket message through nginx: %v", err)
		}
		var m struct {
			Type string       `json:"type"`
			Hits []proxiedHit `json:"hits"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			t.Fatalf("WebSocket message %q: %v", msg, err)
		}
		if m.Type != "hits" || len(m.Hits) != 1 || m.Hits[0].Path != "/nginx/ws" || m.Hits[0].Seq == 0 {
			t.Fatalf("WebSocket message through nginx: %s, want {\"type\":\"hits\"} with the hit for /nginx/ws", msg)
		}
	})
}

// Behind nginx, the per-address limit counts each client by its own
// address with --trusted-proxy (the proxy's X-Forwarded-For names it),
// and every client as the proxy without. The clients connect to nginx
// from distinct loopback addresses (127.0.0.2, 127.0.0.3), as distinct
// machines would; nginx connects to weblogd from 127.0.0.1.
func TestNginxPerIPLimit(t *testing.T) {
	bin := nginxBinary(t)
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: waitFor}
		tr := &http.Transport{DialContext: d.DialContext, ResponseHeaderTimeout: waitFor}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: waitFor}
	}
	a, b := from("127.0.0.2"), from("127.0.0.3")
	for _, c := range []struct {
		name    string
		trusted []string
		want    []int // a, a again, b
	}{
		{"trusted proxy", []string{"127.0.0.1"}, []int{http.StatusOK, http.StatusServiceUnavailable, http.StatusOK}},
		{"no trusted proxy", nil, []int{http.StatusOK, http.StatusServiceUnavailable, http.StatusServiceUnavailable}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, BasePath: "/weblog/", HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen,
				MaxSubscribersPerIP: 1, TrustedProxies: c.trusted})
			ngx := startNginx(t, bin, srv.HTTPAddr().String())
			for i, cl := range []*http.Client{a, a, b} {
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ngx.url+"/weblog/hits?format=ndjson", nil)
				// A client may write the header too: nginx appends its peer,
				// and only that address counts.
				req.Header.Set("X-Forwarded-For", "203.0.113.66")
				resp, err := cl.Do(req)
				if err != nil {
					t.Fatalf("stream %d through nginx: %v", i+1, err)
				}
				if resp.StatusCode != http.StatusOK {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable && !strings.Contains(string(body), "too many subscribers from this address") {
						t.Errorf("stream %d: 503 %q, want the per-address reason", i+1, body)
					}
				} else {
					t.Cleanup(func() { resp.Body.Close() })
				}
				if resp.StatusCode != c.want[i] {
					t.Errorf("stream %d (%s): %s, want %d", i+1, []string{"a", "a again", "b"}[i], resp.Status, c.want[i])
				}
			}
		})
	}
}

// proxiedHit is the part of a JSON record the nginx test looks at.
type proxiedHit struct {
	Seq    uint64 `json:"seq"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

func decodeProxiedHit(t *testing.T, s string) proxiedHit {
	t.Helper()
	var h proxiedHit
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		t.Fatalf("decode JSON record %q: %v", s, err)
	}
	return h
}

// appendProxiedLine writes one combined-format line for path to the log.
func appendProxiedLine(t *testing.T, log, path string) {
	t.Helper()
	writeLines(t, log, fmt.Sprintf(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET %s HTTP/1.1" 200 512 "-" "nginx-test"`, path))
}

func nginxGet(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read the body: %v", url, err)
	}
	return resp, string(body)
}

// proxiedStream reads a streaming response line by line. The request's
// context carries the deadline: a read that waits longer fails.
type proxiedStream struct{ r *bufio.Reader }

// openProxiedStream GETs a streaming endpoint and checks the headers that
// nginx passes on; the stream ends with the subtest.
func openProxiedStream(t *testing.T, tr *http.Transport, url, wantType string) *proxiedStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		t.Fatalf("GET %s through nginx: %s %q, want 200", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
		t.Fatalf("GET %s: Content-Type %q, want %s", url, ct, wantType)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("GET %s: Cache-Control %q, want no-cache", url, cc)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		t.Fatalf("GET %s: Content-Length %s on a stream", url, cl)
	}
	return &proxiedStream{r: bufio.NewReader(resp.Body)}
}

func (s *proxiedStream) line(t *testing.T) string {
	t.Helper()
	l, err := s.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line through nginx: %v (got %q): is nginx buffering the stream?", err, l)
	}
	return strings.TrimSuffix(l, "\n")
}

// nonBlankLine skips heartbeat blank lines.
func (s *proxiedStream) nonBlankLine(t *testing.T) string {
	t.Helper()
	for {
		if l := s.line(t); l != "" {
			return l
		}
	}
}

// nginxBinary finds the nginx binary. CI must have it (.ci/run installs
// it); elsewhere the test is skipped without it.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	const sbin = "/usr/sbin/nginx" // Debian's, often outside a user's PATH
	if fi, err := os.Stat(sbin); err == nil && fi.Mode()&0o111 != 0 {
		return sbin
	}
	missing(t, "nginx", "nginx")
	return ""
}

// nginxProc is a running nginx.
type nginxProc struct {
	url     string // http://127.0.0.1:port
	dir     string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

func (p *nginxProc) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "error.log"))
	return string(b)
}

// nginxAttempts is how many ports startNginx tries: the port is picked by
// listening on :0 and closing, so another process may take it first.
const nginxAttempts = 5

// startNginx runs nginx as a reverse proxy to upstream (weblogd's HTTP
// address) on a free loopback port, and stops it when the test ends.
func startNginx(t *testing.T, bin, upstream string) *nginxProc {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "nginx", "nginx.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	for attempt := 1; attempt <= nginxAttempts; attempt++ {
		dir := t.TempDir()
		port := freeLoopbackPort(t)
		var conf bytes.Buffer
		if err := tmpl.Execute(&conf, map[string]any{"Dir": dir, "Port": port, "Upstream": upstream}); err != nil {
			t.Fatal(err)
		}
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &nginxProc{url: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, done: make(chan struct{})}
		var out bytes.Buffer
		p.cmd = exec.Command(bin, "-p", dir+"/", "-c", confPath, "-e", filepath.Join(dir, "error.log"))
		p.cmd.Stdout, p.cmd.Stderr = &out, &out
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		go func() {
			p.waitErr = p.cmd.Wait()
			close(p.done)
		}()
		err := p.waitUp(port)
		if err == nil {
			t.Cleanup(func() { p.stop(t) })
			return p
		}
		p.kill()
		errs = append(errs, fmt.Sprintf("attempt %d on port %d: %v\n%s%s", attempt, port, err, out.String(), p.errorLog()))
		if !strings.Contains(p.errorLog(), "Address already in use") {
			break // not a port race: trying again will not help
		}
	}
	t.Fatalf("nginx did not come up:\n%s", strings.Join(errs, "\n"))
	return nil
}

// waitUp polls until nginx answers /weblog/healthz (through to weblogd)
// itself, nginx exits, or waitFor passes.
func (p *nginxProc) waitUp(port int) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(waitFor)
	bindFailed := fmt.Sprintf("bind() to 127.0.0.1:%d failed", port)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("nginx exited: %v", p.waitErr)
		default:
		}
		// nginx retries a busy port for seconds before it gives up.
		if strings.Contains(p.errorLog(), bindFailed) {
			return fmt.Errorf("nginx could not bind its port")
		}
		resp, err := c.Get(p.url + "/weblog/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// The Server header tells nginx from another process that
			// took the port.
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
				return nil
			}
			err = fmt.Errorf("GET /weblog/healthz: %s, Server %q", resp.Status, resp.Header.Get("Server"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not up within %v: %v", waitFor, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nginxStopWait is how long nginx gets to quit on SIGQUIT before it is
// killed; with its streams closed first it quits at once.
const nginxStopWait = 5 * time.Second

func (p *nginxProc) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(nginxStopWait):
		t.Logf("nginx did not quit within %v of SIGQUIT; killing it", nginxStopWait)
		p.kill()
	}
	if t.Failed() {
		t.Logf("nginx error log:\n%s", p.errorLog())
	}
}

func (p *nginxProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// freeLoopbackPort returns a loopback port that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
