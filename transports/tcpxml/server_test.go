package tcpxml_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/transports"
	"github.com/weblogd/weblogd/transports/tcpxml"
)

const waitFor = 10 * time.Second

// server is a hub and a raw TCP server on loopback; shutdown ends the
// hub's subscriptions, as weblogd's shutdown does, then Serve.
type server struct {
	hub  *broadcast.Hub
	srv  *tcpxml.Server
	addr string
	// shutdown ends the hub (every stream gets its goodbye) and waits for
	// Serve to return.
	shutdown func()
}

// start serves c on a loopback listener, wrapped by wrap if not nil (TLS).
func start(t *testing.T, c tcpxml.Config, wrap func(net.Listener) net.Listener) *server {
	t.Helper()
	hub := broadcast.NewHub(broadcast.HubConfig{Ring: broadcast.NewRing(0, 0), Tick: time.Millisecond})
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		hub.Run(hubCtx)
	}()
	<-hub.Running()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if wrap != nil {
		l = wrap(l)
	}
	c.Hub = hub
	srv := tcpxml.New(c)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	s := &server{hub: hub, srv: srv, addr: addr}
	var once atomic.Bool
	s.shutdown = func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		stopHub()
		<-hubDone
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve()=%v", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Serve did not return within %v of the shutdown", waitFor)
			srv.CloseAll()
		}
	}
	t.Cleanup(s.shutdown)
	return s
}

// tlsWrap puts l under TLS as weblogd does: handshakes in the listener,
// over connections that fail fast.
func tlsWrap(t *testing.T) (func(net.Listener) net.Listener, *tls.Config) {
	t.Helper()
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(l net.Listener) net.Listener {
		return certs.NewListener(l, certs.ListenerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{pair}}})
	}
	return wrap, &tls.Config{RootCAs: cert.Pool, ServerName: "localhost"}
}

type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string, tc *tls.Config) *client {
	t.Helper()
	var c net.Conn
	var err error
	if tc != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", addr, tc)
	} else {
		c, err = net.DialTimeout("tcp", addr, waitFor)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

func (c *client) line(t *testing.T) string {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(waitFor))
	l, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\n")
}

// closed checks that the server closed the connection (a reset is a
// close too: the client's unread input may still be in the server's
// buffer).
func (c *client) closed(t *testing.T) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(waitFor))
	if b, err := c.r.ReadString('\n'); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read %q, %v; want the connection closed", b, err)
	}
}

// goroutinesSettle returns the number of goroutines once it stops going
// down (the ones that served a handshake or a write end soon after).
func goroutinesSettle() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// idleConns is how many idle connections the goroutine counts are taken
// over; a goroutine each would be that many more, far above the bound.
const idleConns = 40

// A client that must send AUTH and sends nothing holds no goroutine while
// it is silent, and is refused, with the one line, once AuthTimeout is up.
func TestAuthThatNeverComesIsClosedAtAuthTimeout(t *testing.T) {
	var failures atomic.Int32
	const authTimeout = 2 * time.Second
	s := start(t, tcpxml.Config{
		Authenticate:  func(string) (*transports.Grant, bool) { return nil, false },
		AuthTimeout:   authTimeout,
		OnAuthFailure: func() { failures.Add(1) },
	}, nil)
	warm := dial(t, s.addr, nil) // the poller's goroutine and the listener's exist
	before := goroutinesSettle()
	began := time.Now()
	clients := []*client{warm}
	for range idleConns {
		clients = append(clients, dial(t, s.addr, nil))
	}
	for s.srv.Conns() < len(clients) {
		time.Sleep(time.Millisecond)
	}
	if during := goroutinesSettle(); during-before > idleConns/4 {
		t.Errorf("%d goroutines with %d silent clients waiting to authenticate, %d before: want none each", during, idleConns, before)
	}
	if time.Since(began) >= authTimeout {
		t.Fatalf("the clients took %v to connect, longer than AuthTimeout: the count above proves nothing", time.Since(began))
	}
	for _, c := range clients {
		if got := c.line(t); got != `<error reason="unauthorized"/>` {
			t.Fatalf("a silent client got %q, want the refusal", got)
		}
		c.closed(t)
	}
	if took := time.Since(began); took < authTimeout-50*time.Millisecond {
		t.Errorf("silent clients refused after %v, before AuthTimeout (%v)", took, authTimeout)
	}
	if n := failures.Load(); n != int32(len(clients)) {
		t.Errorf("%d authentication failures counted, want %d", n, len(clients))
	}
}

// A client that sends its AUTH line is let in, and its timer is stopped:
// once past AuthTimeout it still gets its records, and no refusal.
func TestAuthStopsTheClock(t *testing.T) {
	const authTimeout = 200 * time.Millisecond
	s := start(t, tcpxml.Config{
		Authenticate: func(tok string) (*transports.Grant, bool) { return &transports.Grant{Name: "t"}, tok == "good" },
		AuthTimeout:  authTimeout,
	}, nil)
	c := dial(t, s.addr, nil)
	io.WriteString(c.c, "AUTH good\n")
	if got := c.line(t); got != "<hits>" {
		t.Fatalf("after AUTH: %q, want <hits>", got)
	}
	time.Sleep(2 * authTimeout)
	s.hub.Publish(&broadcast.Record{Line: "after the timeout"})
	if got := c.line(t); !strings.HasPrefix(got, `<hit seq="1"`) {
		t.Fatalf("after AuthTimeout: %q, want the record", got)
	}
	s.shutdown()
	if got := c.line(t); got != "</hits>" {
		t.Fatalf("at shutdown: %q, want </hits>", got)
	}
}

// Idle raw TCP subscribers over TLS wait in the poller as plain ones do:
// no goroutine each. They still get the records and the goodbye.
func TestTLSIdleSubscribersHoldNoGoroutine(t *testing.T) {
	wrap, tc := tlsWrap(t)
	s := start(t, tcpxml.Config{}, wrap)
	warm := dial(t, s.addr, tc)
	if got := warm.line(t); got != "<hits>" {
		t.Fatalf("first line %q, want <hits>", got)
	}
	before := goroutinesSettle()
	clients := []*client{warm}
	for range idleConns {
		c := dial(t, s.addr, tc)
		if got := c.line(t); got != "<hits>" {
			t.Fatalf("first line %q, want <hits>", got)
		}
		clients = append(clients, c)
	}
	if during := goroutinesSettle(); during-before > idleConns/4 {
		t.Errorf("%d goroutines with %d idle TLS subscribers, %d before: want none each", during, idleConns, before)
	}
	s.hub.Publish(&broadcast.Record{Line: "to every idle subscriber"})
	for _, c := range clients {
		if got := c.line(t); !strings.HasPrefix(got, `<hit seq="1"`) {
			t.Fatalf("an idle TLS subscriber got %q, want the record", got)
		}
	}
	s.shutdown()
	for _, c := range clients {
		if got := c.line(t); got != "</hits>" {
			t.Fatalf("at shutdown: %q, want </hits>", got)
		}
	}
}

// A client whose input ends before its AUTH line is whole (nc with a
// script that forgot the newline) is refused at once, not at AuthTimeout.
func TestAuthInputEndsBeforeTheLine(t *testing.T) {
	var failures atomic.Int32
	s := start(t, tcpxml.Config{
		Authenticate:  func(tok string) (*transports.Grant, bool) { return &transports.Grant{Name: "t"}, tok == "good" },
		AuthTimeout:   waitFor,
		OnAuthFailure: func() { failures.Add(1) },
	}, nil)
	c := dial(t, s.addr, nil)
	io.WriteString(c.c, "AUTH good")
	c.c.(*net.TCPConn).CloseWrite()
	began := time.Now()
	if got := c.line(t); got != `<error reason="unauthorized"/>` {
		t.Fatalf("got %q, want the refusal", got)
	}
	c.closed(t)
	if took := time.Since(began); took > waitFor/2 {
		t.Errorf("refused after %v, want at once", took)
	}
	if n := failures.Load(); n != 1 {
		t.Errorf("%d authentication failures counted, want 1", n)
	}
}
