package certs_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/certs/certstest"
)

// waitFor is how long a test waits for what should happen soon; generous
// so that a loaded CI machine does not flake.
const waitFor = 10 * time.Second

// logBuffer collects a logger's output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serve runs a Listener with cfg on a loopback port; every accepted
// connection gets "hello\n" and is closed. It stops when the test ends.
func serve(t *testing.T, cfg certs.ListenerConfig) *certs.Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := certs.NewListener(inner, cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetWriteDeadline(time.Now().Add(waitFor))
			io.WriteString(c, "hello\n")
			c.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l
}

// presented dials addr and returns the certificate the server presents,
// after checking that the connection then works.
func presented(t *testing.T, addr string, pool *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitFor))
	if l, err := bufio.NewReader(c).ReadString('\n'); l != "hello\n" {
		t.Fatalf("read %q, %v; want hello", l, err)
	}
	return c.ConnectionState().PeerCertificates[0]
}

// pools trusts every certificate given.
func pools(cs ...certstest.Cert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c.Cert)
	}
	return p
}

// waitPresented waits until the server presents want.
func waitPresented(t *testing.T, addr string, pool *x509.CertPool, want *x509.Certificate) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := presented(t, addr, pool)
		if got.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server presents %s, want %s", got.Subject, want.Subject)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A renewed pair is served from a handshake after it is written, with no
// restart; a pair that fails to load (garbage, or a certificate whose key
// is not written yet) leaves the served one in place and is logged once.
func TestPairReloadsRenewals(t *testing.T) {
	t.Parallel() // waits out the check interval
	dir := t.TempDir()
	a := certstest.Write(t, dir, "server")
	var logs logBuffer
	p, err := certs.LoadPair(a.CertFile, a.KeyFile, logs.logger())
	if err != nil {
		t.Fatalf("LoadPair()=%v", err)
	}
	l := serve(t, certs.ListenerConfig{TLS: p.Config()})
	addr := l.Addr().String()
	if got := presented(t, addr, a.Pool); !got.Equal(a.Cert) {
		t.Fatalf("presents %s, want the loaded certificate", got.Subject)
	}

	b := certstest.Write(t, dir, "server")
	waitPresented(t, addr, pools(a, b), b.Cert)
	if !strings.Contains(logs.String(), "reloaded the TLS certificate") {
		t.Errorf("no log line for the reload:\n%s", logs.String())
	}

	// A new certificate whose key has not been written yet: the pair does
	// not match, so the old one is still served.
	certPEM, keyPEM, c := certstest.Generate(t, "server")
	certstest.WriteFile(t, b.CertFile, certPEM)
	time.Sleep(1500 * time.Millisecond) // more than the check interval
	for range 3 {
		if got := presented(t, addr, pools(a, b)); !got.Equal(b.Cert) {
			t.Fatalf("presents %s after a half-written renewal, want the previous certificate", got.Subject)
		}
	}
	if n := strings.Count(logs.String(), "cannot reload the TLS certificate"); n != 1 {
		t.Errorf("the failed reload was logged %d times, want once:\n%s", n, logs.String())
	}
	certstest.WriteFile(t, b.KeyFile, keyPEM)
	cp := pools(a, b)
	cp.AddCert(c)
	waitPresented(t, addr, cp, c)

	// Garbage: still the last good one.
	certstest.WriteFile(t, b.CertFile, []byte("not a certificate"))
	time.Sleep(1500 * time.Millisecond)
	if got := presented(t, addr, cp); !got.Equal(c) {
		t.Fatalf("presents %s after garbage was written, want the previous certificate", got.Subject)
	}
}

// A Kubernetes Secret volume renews by swapping a symlink to a new
// directory; the files named stay the same links.
func TestPairFollowsSymlinkSwap(t *testing.T) {
	t.Parallel() // waits out the check interval
	dir := t.TempDir()
	v1, v2 := filepath.Join(dir, "..v1"), filepath.Join(dir, "..v2")
	for _, d := range []string{v1, v2} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	a := certstest.Write(t, v1, "tls")
	b := certstest.Write(t, v2, "tls")
	data := filepath.Join(dir, "..data")
	if err := os.Symlink("..v1", data); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := certs.LoadPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), nil)
	if err != nil {
		t.Fatalf("LoadPair()=%v", err)
	}
	l := serve(t, certs.ListenerConfig{TLS: p.Config()})
	addr := l.Addr().String()
	if got := presented(t, addr, a.Pool); !got.Equal(a.Cert) {
		t.Fatalf("presents %s, want the first certificate", got.Subject)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink("..v2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	waitPresented(t, addr, pools(a, b), b.Cert)
}

func TestLoadPairErrors(t *testing.T) {
	dir := t.TempDir()
	a := certstest.Write(t, dir, "a")
	b := certstest.Write(t, dir, "b")
	for name, files := range map[string][2]string{
		"missing cert":   {filepath.Join(dir, "nope.crt"), a.KeyFile},
		"missing key":    {a.CertFile, filepath.Join(dir, "nope.key")},
		"key of another": {a.CertFile, b.KeyFile},
	} {
		if _, err := certs.LoadPair(files[0], files[1], nil); err == nil || !strings.Contains(err.Error(), files[0]) {
			t.Errorf("%s: LoadPair()=%v, want an error naming %s", name, err, files[0])
		}
	}
}

// A client that is not speaking TLS gets the plain-text reply and is
// closed; one that says nothing is closed after the handshake timeout;
// neither holds up a TLS client, and none of them reaches Accept.
func TestListenerRefusesPlainAndSilentClients(t *testing.T) {
	dir := t.TempDir()
	a := certstest.Write(t, dir, "server")
	p, err := certs.LoadPair(a.CertFile, a.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	l := serve(t, certs.ListenerConfig{TLS: p.Config(), HandshakeTimeout: timeout, PlainTextReply: []byte("speak TLS\n")})
	addr := l.Addr().String()

	// The server's handshake timeout runs from its Accept, which may come
	// before Dial returns here: the clock starts before Dial.
	start := time.Now()
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	presented(t, addr, a.Pool) // not held up by the silent one

	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	io.WriteString(plain, "NEW?\nmore input the server does not read\n")
	plain.SetReadDeadline(time.Now().Add(waitFor))
	if got, err := io.ReadAll(plain); string(got) != "speak TLS\n" || err != nil {
		t.Fatalf("plain-text client read %q, %v; want the reply, then EOF", got, err)
	}

	silent.SetReadDeadline(time.Now().Add(waitFor))
	if got, err := io.ReadAll(silent); len(got) != 0 || err != nil {
		t.Fatalf("silent client read %q, %v; want EOF", got, err)
	}
	if took := time.Since(start); took < timeout || took > timeout+2*time.Second {
		t.Fatalf("silent client closed after %v, want after the %v handshake timeout", took, timeout)
	}
}

func TestListenerRefusesTLS11(t *testing.T) {
	dir := t.TempDir()
	a := certstest.Write(t, dir, "server")
	p, err := certs.LoadPair(a.CertFile, a.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := serve(t, certs.ListenerConfig{TLS: p.Config()})
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", l.Addr().String(),
		&tls.Config{RootCAs: a.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.1 handshake: %v, want it refused for its protocol version", err)
	}
}

// Close cuts handshakes under way and returns at once; Accept then says
// the listener is closed.
func TestListenerCloseCutsHandshakes(t *testing.T) {
	dir := t.TempDir()
	a := certstest.Write(t, dir, "server")
	p, err := certs.LoadPair(a.CertFile, a.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := certs.NewListener(inner, certs.ListenerConfig{TLS: p.Config(), HandshakeTimeout: time.Minute})
	accepted := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		accepted <- err
	}()
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(100 * time.Millisecond) // let the handshake start
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatalf("Close()=%v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %v with a handshake under way, want it cut at once", took)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept()=%v, want net.ErrClosed", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Accept did not return after Close")
	}
	silent.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the client in its handshake read %v, want EOF", err)
	}
}

// Under TLS, a connection whose write timed out (its peer stopped reading)
// closes at once, instead of crypto/tls's close_notify waiting 5 s more.
func TestFailFastCloseAfterTimeout(t *testing.T) {
	dir := t.TempDir()
	a := certstest.Write(t, dir, "server")
	p, err := certs.LoadPair(a.CertFile, a.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := tls.NewListener(certs.FailFast(inner), p.Config())
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		c.SetDeadline(time.Now().Add(waitFor))
		c.(*tls.Conn).Handshake() // the client's Dial waits for it
		accepted <- c
	}()
	client, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", l.Addr().String(), &tls.Config{RootCAs: a.Pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close() // never reads
	c := <-accepted
	if c == nil {
		t.Fatal("Accept failed")
	}
	c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	// Writes this small fill the socket buffer to the byte (after larger
	// ones there is often room left), so that a close_notify would wait.
	chunk := make([]byte, 16)
	for {
		if _, err := c.Write(chunk); err != nil {
			break
		}
	}
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("a write after a failed one succeeded")
	}
	start := time.Now()
	c.Close()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %v after a write timed out, want at once", took)
	}
}

// noWaitRead reads c, switched by NoWait, until it has n bytes: a read
// with nothing there returns at once with a net.Error whose Timeout is
// true, and the test reads again a little later.
func noWaitRead(c net.Conn, n int) (string, error) {
	var got []byte
	buf := make([]byte, 64)
	deadline := time.Now().Add(waitFor)
	for len(got) < n {
		m, err := c.Read(buf)
		got = append(got, buf[:m]...)
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout():
			if time.Now().After(deadline) {
				return string(got), err
			}
			time.Sleep(5 * time.Millisecond)
		default:
			return string(got), err
		}
	}
	return string(got), nil
}

// NoWait switches the TLS connections of both of weblogd's TLS listeners
// (certs' Listener for the raw port, net/http's TLS over FailFast for the
// HTTP port, whose WebSocket handler hijacks them) to reads that return at
// once when there is nothing, and that keep what they read. Other
// connections are left alone.
func TestNoWait(t *testing.T) {
	dir := t.TempDir()
	a := certstest.Write(t, dir, "server")
	p, err := certs.LoadPair(a.CertFile, a.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, server, client net.Conn) {
		t.Helper()
		buf := make([]byte, 8)
		start := time.Now()
		var ne net.Error
		if n, err := server.Read(buf); n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("Read() with nothing sent: %d, %v; want a net.Error with Timeout", n, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Read() with nothing sent took %v", took)
		}
		go io.WriteString(client, "NEW?\n")
		if got, err := noWaitRead(server, 5); got != "NEW?\n" {
			t.Fatalf("read %q, %v; want the line", got, err)
		}
	}

	t.Run("Listener", func(t *testing.T) {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l := certs.NewListener(inner, certs.ListenerConfig{TLS: p.Config()})
		defer l.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := l.Accept()
			accepted <- c
		}()
		client, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", inner.Addr().String(), &tls.Config{RootCAs: a.Pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server := <-accepted
		if server == nil {
			t.Fatal("Accept failed")
		}
		defer server.Close()
		if !certs.NoWait(server) {
			t.Fatal("NoWait(a Listener's connection) = false")
		}
		check(t, server, client)
	})

	t.Run("HTTP", func(t *testing.T) {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hijacked := make(chan net.Conn, 1)
		srv := &http.Server{TLSConfig: p.Config(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil || brw.Reader.Buffered() > 0 {
				t.Errorf("Hijack: %v, %d bytes buffered", err, brw.Reader.Buffered())
				return
			}
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
			hijacked <- c
		})}
		go srv.ServeTLS(certs.FailFast(inner), "", "")
		defer srv.Close()
		client, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", inner.Addr().String(), &tls.Config{RootCAs: a.Pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		client.SetDeadline(time.Now().Add(waitFor))
		io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(client), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v, %v", resp, err)
		}
		server := <-hijacked
		defer server.Close()
		if !certs.NoWait(server) {
			t.Fatal("NoWait(a hijacked connection of net/http's TLS over FailFast) = false")
		}
		check(t, server, client)
	})

	t.Run("Others", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		if certs.NoWait(a) {
			t.Error("NoWait(net.Pipe()) = true")
		}
		if certs.NoWait(tls.Server(a, p.Config())) {
			t.Error("NoWait(a TLS connection not over FailFast, before its handshake) = true")
		}
	})
}
