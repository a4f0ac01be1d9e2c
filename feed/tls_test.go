package feed_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/feed"
)

// tlsClients are the clients of a TLS server whose certificate the pool
// trusts: an HTTP client that offers HTTP/2 (as browsers and curl do) and
// a WebSocket dialer (which speaks HTTP/1.1, as browsers do for
// WebSockets).
type tlsClients struct {
	pool *x509.CertPool
	http *http.Client
	ws   *websocket.Dialer
}

func newTLSClients(t *testing.T, pool *x509.CertPool) *tlsClients {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &tlsClients{
		pool: pool,
		http: &http.Client{Transport: tr},
		ws:   &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: waitFor},
	}
}

// get starts a GET of https://srv/path; the response body is the
// caller's to close (or the test's cleanup's).
func (tc *tlsClients) get(t *testing.T, srv *feed.Server, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+srv.HTTPAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tc.http.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, want 200", path, resp.Status)
	}
	return resp
}

func (tc *tlsClients) status(t *testing.T, srv *feed.Server) statusDoc {
	t.Helper()
	resp := tc.get(t, srv, "/api/status")
	defer resp.Body.Close()
	var st statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("GET /api/status: %v", err)
	}
	return st
}

// dialTLS opens a TLS connection to addr trusting pool; extra adjusts the
// client's configuration.
func dialTLS(addr string, pool *x509.CertPool, extra func(*tls.Config)) (*tls.Conn, error) {
	c := &tls.Config{RootCAs: pool}
	if extra != nil {
		extra(c)
	}
	return tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", addr, c)
}

// dialRawTLS is `openssl s_client` in Go: the raw stream over TLS, its
// "<hits>" read.
func dialRawTLS(t *testing.T, srv *feed.Server, pool *x509.CertPool) *rawClient {
	t.Helper()
	c, err := dialTLS(srv.TCPAddr().String(), pool, nil)
	if err != nil {
		t.Fatalf("dial the raw port over TLS: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{c: c, r: bufio.NewReader(c)}
	if got := rc.line(t); got != "<hits>" {
		t.Fatalf("first line %q, want <hits>", got)
	}
	return rc
}

// readLine reads one line from r within waitFor (the caller's connection
// has the deadline, or the request's context).
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// Over TLS, every way in works as it does in plain text: the API and the
// HTTP streams over HTTP/2, the WebSocket over HTTP/1.1 (wss), the raw
// stream through Go's TLS, `openssl s_client` and `ncat --ssl`. A client that
// speaks plain text to a TLS port, or TLS 1.1, is refused.
func TestTLSEveryTransport(t *testing.T) {
	log := tempLog(t)
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	srv := startServer(t, feed.Config{Logs: []string{log}, TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile})
	tc := newTLSClients(t, cert.Pool)
	var seq uint64 // the seq of the line the next subtest writes
	next := func(t *testing.T, path string) string {
		seq++
		line := strings.Replace(combined, "/index.html?q=1", path, 1)
		writeLines(t, log, line)
		return path
	}

	t.Run("api over HTTP/2", func(t *testing.T) {
		resp := tc.get(t, srv, "/api/status")
		if resp.ProtoMajor != 2 {
			t.Fatalf("GET /api/status: %s, want HTTP/2", resp.Proto)
		}
		if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Fatalf("GET /api/status: TLS %+v, want 1.2 or later", resp.TLS)
		}
		var st statusDoc
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Version == "" {
			t.Fatalf("GET /api/status: %+v, %v", st, err)
		}
	})

	t.Run("hits over HTTP/2", func(t *testing.T) {
		resp := tc.get(t, srv, "/hits")
		if resp.ProtoMajor != 2 {
			t.Fatalf("GET /hits: %s, want HTTP/2", resp.Proto)
		}
		r := bufio.NewReader(resp.Body)
		if l := readLine(t, r); l != "<hits>" {
			t.Fatalf("first line %q, want <hits>", l)
		}
		path := next(t, "/over-h2")
		if h := decodeHit(t, readLine(t, r)); h.Seq != seq || h.Path != path {
			t.Fatalf("hit %+v, want seq %d path %s", h, seq, path)
		}
	})

	t.Run("events over HTTP/2", func(t *testing.T) {
		resp := tc.get(t, srv, "/events")
		if resp.ProtoMajor != 2 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("GET /events: %s %q, want HTTP/2 and text/event-stream", resp.Proto, resp.Header.Get("Content-Type"))
		}
		r := bufio.NewReader(resp.Body)
		for l := readLine(t, r); l != ""; l = readLine(t, r) { // the retry frame
		}
		path := next(t, "/sse-over-h2")
		var id, data string
		for l := readLine(t, r); l != ""; l = readLine(t, r) {
			if v, ok := strings.CutPrefix(l, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(l, "data: "); ok {
				data = v
			}
		}
		if id != fmt.Sprint(seq) || !strings.Contains(data, `"path":"`+path+`"`) {
			t.Fatalf("event id %q data %q, want seq %d with path %s", id, data, seq, path)
		}
	})

	t.Run("ws over wss", func(t *testing.T) {
		conn, resp, err := tc.ws.Dial("wss://"+srv.HTTPAddr().String()+"/ws", nil)
		if err != nil {
			t.Fatalf("dial wss: %v (%v)", err, resp)
		}
		defer conn.Close()
		path := next(t, "/over-wss")
		conn.SetReadDeadline(time.Now().Add(waitFor))
		var msg struct {
			Type string
			Hits []struct {
				Seq  uint64
				Path string
			}
		}
		if err := conn.ReadJSON(&msg); err != nil {
			t.Fatal(err)
		}
		if msg.Type != "hits" || len(msg.Hits) != 1 || msg.Hits[0].Seq != seq || msg.Hits[0].Path != path {
			t.Fatalf("message %+v, want the hit of seq %d, path %s", msg, seq, path)
		}
	})

	t.Run("raw over TLS", func(t *testing.T) {
		rc := dialRawTLS(t, srv, cert.Pool)
		st := rc.c.(*tls.Conn).ConnectionState()
		if st.Version < tls.VersionTLS12 || st.NegotiatedProtocol != "" {
			t.Fatalf("TLS version %x, protocol %q; want 1.2 or later and none", st.Version, st.NegotiatedProtocol)
		}
		path := next(t, "/raw-over-tls")
		if h := decodeHit(t, rc.line(t)); h.Seq != seq || h.Path != path {
			t.Fatalf("hit %+v, want seq %d path %s", h, seq, path)
		}
		// The protocol is the same: commands are answered.
		rc.send(t, "NEW?")
		if l := rc.line(t); l != "<none/>" {
			t.Fatalf("NEW? answered %q, want <none/>", l)
		}
	})

	// What docs/protocol.md tells nc users to run, verifying the certificate as
	// a careful user would.
	for _, c := range []struct{ tool, pkg string }{{"openssl", "openssl"}, {"ncat", "ncat"}} {
		t.Run(c.tool, func(t *testing.T) {
			path := tool(t, c.tool, c.pkg)
			host, port, _ := net.SplitHostPort(srv.TCPAddr().String())
			args := []string{"s_client", "-connect", srv.TCPAddr().String(), "-quiet",
				"-CAfile", cert.CertFile, "-verify_return_error", "-verify_ip", host}
			if c.tool == "ncat" {
				// As docs/protocol.md has it; ncat verifies nothing unless told,
				// and its --ssl-verify refuses a self-signed certificate.
				args = []string{"--ssl", "--recv-only", host, port}
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			cmd := exec.CommandContext(ctx, path, args...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stop := func() string {
				cancel()
				cmd.Wait()
				return stderr.String()
			}
			defer stop()
			r := bufio.NewReader(out)
			if l, err := r.ReadString('\n'); l != "<hits>\n" {
				t.Fatalf("%s read %q, %v; want <hits>\n%s", c.tool, l, err, stop())
			}
			path = next(t, "/"+c.tool)
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.tool, err, stop())
			}
			if h := decodeHit(t, l); h.Seq != seq || h.Path != path {
				t.Fatalf("hit %+v, want seq %d path %s", h, seq, path)
			}
		})
	}

	t.Run("plain text to the raw port", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "NEW?\n")
		c.SetReadDeadline(time.Now().Add(waitFor))
		got, err := io.ReadAll(c)
		if err != nil || !strings.HasPrefix(string(got), `<error reason="this port speaks TLS`) || strings.Count(string(got), "\n") != 1 {
			t.Fatalf("plain-text client read %q, %v; want one <error/> line saying the port speaks TLS, then EOF", got, err)
		}
	})

	t.Run("plain HTTP to the HTTPS port", func(t *testing.T) {
		resp, err := oneShot.Get("http://" + srv.HTTPAddr().String() + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Fatalf("plain HTTP: %s %q, want 400 saying the server speaks HTTPS", resp.Status, body)
		}
	})

	t.Run("TLS 1.1 refused", func(t *testing.T) {
		for name, addr := range map[string]string{"http": srv.HTTPAddr().String(), "raw": srv.TCPAddr().String()} {
			c, err := dialTLS(addr, cert.Pool, func(c *tls.Config) {
				c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			})
			if err == nil {
				c.Close()
				t.Errorf("%s port: a TLS 1.1 handshake succeeded", name)
			} else if !strings.Contains(err.Error(), "protocol version") {
				t.Errorf("%s port: TLS 1.1 handshake: %v, want a protocol version alert", name, err)
			}
		}
	})

	// Every stream above was counted like any other.
	st := tc.status(t, srv)
	if st.Totals.Records != seq {
		t.Errorf("status: %d records, want %d", st.Totals.Records, seq)
	}
}

// A renewed certificate (new files written over the old ones) is
// presented by both ports from a handshake soon after, without a restart;
// connections already open go on.
func TestTLSRenewal(t *testing.T) {
	log := tempLog(t)
	dir := t.TempDir()
	a := certstest.Write(t, dir, "weblogd")
	srv := startServer(t, feed.Config{Logs: []string{log}, TLSCertFile: a.CertFile, TLSKeyFile: a.KeyFile, Tick: -1})
	open := dialRawTLS(t, srv, a.Pool)

	presents := func(addr string, pool *x509.CertPool) *x509.Certificate {
		t.Helper()
		c, err := dialTLS(addr, pool, func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} })
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	for _, addr := range []string{srv.HTTPAddr().String(), srv.TCPAddr().String()} {
		if got := presents(addr, a.Pool); !got.Equal(a.Cert) {
			t.Fatalf("%s presents serial %v, want the first certificate", addr, got.SerialNumber)
		}
	}

	b := certstest.Write(t, dir, "weblogd")
	both := a.Pool.Clone()
	both.AddCert(b.Cert)
	for _, addr := range []string{srv.HTTPAddr().String(), srv.TCPAddr().String()} {
		waitUntil(t, func() bool { return presents(addr, both).Equal(b.Cert) })
	}
	writeLines(t, log, combined)
	if h := decodeHit(t, open.line(t)); h.Seq != 1 {
		t.Fatalf("the connection opened before the renewal got %+v, want seq 1", h)
	}
	tc := newTLSClients(t, b.Pool)
	tc.status(t, srv) // a client that trusts only the new certificate
}

// Shutdown over TLS with a stalled client of every transport: as in plain
// text, the stalled ones are cut when the goodbyes' time is up and Run
// returns nil within the shutdown timeout (crypto/tls's close_notify would
// hold each stalled connection 5 s more: certs.FailFast).
func TestTLSShutdownWithStalledClients(t *testing.T) {
	log := tempLog(t)
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	const shutdownTimeout = 2 * time.Second
	srv, stop := stopServerFunc(t, feed.Config{Logs: []string{log}, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile,
		WriteTimeout: time.Minute, SlowTimeout: -1, ShutdownTimeout: shutdownTimeout, Tick: 5 * time.Millisecond, Queue: 10})
	tc := newTLSClients(t, cert.Pool)

	stalled := func(addr, request string) {
		c, err := dialTLS(addr, cert.Pool, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
	}
	stalled(srv.TCPAddr().String(), "")
	stalled(srv.HTTPAddr().String(), "GET /hits HTTP/1.1\r\nHost: localhost\r\n\r\n")
	stalled(srv.HTTPAddr().String(), "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
	ws, _, err := tc.ws.Dial("wss://"+srv.HTTPAddr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	transports := []string{"tcp", "hits", "events", "ws"}
	waitUntil(t, func() bool {
		st := tc.status(t, srv)
		for _, tr := range transports {
			if st.Subscribers[tr] != 1 {
				return false
			}
		}
		return true
	})
	const size = 8 << 10
	n := uint64(writeBurst(t, srv, log, burstBytes/size, size, func() bool {
		st := tc.status(t, srv)
		for _, tr := range transports {
			if st.Transports[tr].Dropped == 0 {
				return false
			}
		}
		return true
	}))
	tc.http.Transport.(*http.Transport).CloseIdleConnections()

	healthy := dialRawTLS(t, srv, cert.Pool)
	h2 := tc.get(t, srv, "/hits")
	h2r := bufio.NewReader(h2.Body)
	if l := readLine(t, h2r); h2.ProtoMajor != 2 || l != "<hits>" {
		t.Fatalf("GET /hits: %s, first line %q; want HTTP/2 and <hits>", h2.Proto, l)
	}
	waitUntil(t, func() bool { return srv.LastSeq() >= n })
	writeLines(t, log, combined)
	waitUntil(t, func() bool { return srv.LastSeq() >= n+1 })

	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v, want nil: stalled clients are cut by the drain, not by the shutdown timeout", err)
	}
	took := time.Since(start)
	t.Logf("Run returned %v after the cancel", took.Round(time.Millisecond))
	if took >= shutdownTimeout {
		t.Fatalf("Run returned %v after the cancel, want within the shutdown timeout (%v)", took, shutdownTimeout)
	}
	if h := decodeHit(t, healthy.line(t)); h.Seq != n+1 {
		t.Fatalf("healthy client: %+v, want seq %d", h, n+1)
	}
	if l := healthy.line(t); l != "</hits>" {
		t.Fatalf("healthy client: %q, want </hits>", l)
	}
	// Over HTTP/2 the stream ends as over HTTP/1.1: the document's end,
	// then the end of the response (not a reset stream).
	rest, err := io.ReadAll(h2r)
	lines := strings.Split(strings.TrimSuffix(string(rest), "\n"), "\n")
	if err != nil || len(lines) != 2 || decodeHit(t, lines[0]).Seq != n+1 || lines[1] != "</hits>" {
		t.Fatalf("healthy HTTP/2 client: %q then %v; want seq %d, </hits>, and the end of the response", rest, err, n+1)
	}
}

func TestTLSConfig(t *testing.T) {
	log := tempLog(t)
	dir := t.TempDir()
	cert := certstest.Write(t, dir, "weblogd")
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  feed.Config
		want string
	}{
		{"cert without key", feed.Config{TLSCertFile: cert.CertFile}, "both a certificate file and a key file"},
		{"key without cert", feed.Config{TLSKeyFile: cert.KeyFile}, "both a certificate file and a key file"},
		{"missing cert", feed.Config{TLSCertFile: dir + "/nope.crt", TLSKeyFile: cert.KeyFile}, "nope.crt"},
		{"key is no key", feed.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.CertFile}, "weblogd.crt"},
		{"twice", feed.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile, TLS: &tls.Config{}}, "configured twice"},
	} {
		c.cfg.Logs = []string{log}
		if _, err := feed.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New()=%v, want an error saying %q", c.name, err, c.want)
		}
	}

	// An embedder's own configuration serves both ports, TLS 1.2 at
	// least, HTTP/2 offered.
	own := &tls.Config{Certificates: []tls.Certificate{pair}}
	srv := startServer(t, feed.Config{Logs: []string{log}, TLS: own})
	if own.MinVersion != 0 || own.NextProtos != nil {
		t.Errorf("the embedder's tls.Config was changed: %+v", own)
	}
	tc := newTLSClients(t, cert.Pool)
	if resp := tc.get(t, srv, "/healthz"); resp.ProtoMajor != 2 {
		t.Errorf("GET /healthz: %s, want HTTP/2", resp.Proto)
	}
	dialRawTLS(t, srv, cert.Pool)
	if _, err := dialTLS(srv.TCPAddr().String(), cert.Pool, func(c *tls.Config) {
		c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	}); err == nil {
		t.Error("the embedder's configuration accepted TLS 1.1")
	}
}
