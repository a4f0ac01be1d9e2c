package ws

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/transports"
)

const waitFor = 10 * time.Second

// testServer is a Handler on loopback over a hub of its own, plain or
// over TLS as weblogd serves it (net/http's TLS over certs.FailFast).
type testServer struct {
	addr string
	hub  *broadcast.Hub
	tls  *tls.Config // a client's, trusting the server; nil for plain
	// shutdown ends the hub (every connection gets its goodbye) and waits
	// for the connections to end.
	shutdown func()
}

func startServer(t *testing.T, useTLS bool) *testServer {
	t.Helper()
	return startServerWith(t, useTLS, Config{}, nil)
}

// startServerWith serves a Handler of c (its Hub set here), behind wrap
// if not nil.
func startServerWith(t *testing.T, useTLS bool, c Config, wrap func(http.Handler) http.Handler) *testServer {
	t.Helper()
	hub := broadcast.NewHub(broadcast.HubConfig{Ring: broadcast.NewRing(10, 0), Tick: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(ctx) }()
	<-hub.Running()
	c.Hub = hub
	h := New(c)
	var handler http.Handler = h
	if wrap != nil {
		handler = wrap(h)
	}
	srv := httptest.NewUnstartedServer(handler)
	s := &testServer{hub: hub}
	if useTLS {
		srv.Listener = certs.FailFast(srv.Listener)
		srv.StartTLS()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		s.tls = &tls.Config{RootCAs: pool}
	} else {
		srv.Start()
	}
	s.addr = srv.Listener.Addr().String()
	var once atomic.Bool
	s.shutdown = func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		cancel()
		<-hubDone
		wctx, wcancel := context.WithTimeout(context.Background(), waitFor)
		defer wcancel()
		if err := h.Wait(wctx); err != nil {
			t.Errorf("Wait()=%v", err)
			h.CloseAll()
		}
		h.Close()
		srv.Close()
	}
	t.Cleanup(s.shutdown)
	return s
}

// dial opens a TCP or TLS connection to s.
func (s *testServer) dial(t *testing.T) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if s.tls != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", s.addr, s.tls)
	} else {
		c, err = net.DialTimeout("tcp", s.addr, waitFor)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// goroutinesSettle returns the number of goroutines once it stops going
// down (those that served a handshake or a write end soon after).
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

// Idle WebSocket subscribers over TLS wait in the poller as plain ones do:
// no goroutine each. They still get the records, and the close frame
// (1001) at shutdown.
func TestTLSIdleSubscribersHoldNoGoroutine(t *testing.T) {
	const idle = 40 // a goroutine each would be far above the bound
	s := startServer(t, true)
	d := &websocket.Dialer{TLSClientConfig: s.tls, HandshakeTimeout: waitFor}
	dial := func() *websocket.Conn {
		c, _, err := d.Dial("wss://"+s.addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	clients := []*websocket.Conn{dial()} // the poller and the pool exist
	before := goroutinesSettle()
	for range idle {
		clients = append(clients, dial())
	}
	for s.hub.Subscribers() < len(clients) {
		time.Sleep(time.Millisecond)
	}
	if during := goroutinesSettle(); during-before > idle/4 {
		t.Errorf("%d goroutines with %d idle TLS WebSocket subscribers, %d before: want none each", during, idle, before)
	}
	s.hub.Publish(&broadcast.Record{Line: "to every idle subscriber"})
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(waitFor))
		_, msg, err := c.ReadMessage()
		if err != nil || !strings.Contains(string(msg), `"seq":1`) {
			t.Fatalf("an idle TLS subscriber read %q, %v; want the record", msg, err)
		}
	}
	go s.shutdown()
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(waitFor))
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("at shutdown: %v, want a close frame 1001", err)
		}
	}
}

// A subscriber with a token holds a slot of the token's from its upgrade
// until its connection ends, and waits in the poller all the while: it
// gets the records.
func TestTokenSlotLastsAsLongAsTheConnection(t *testing.T) {
	grant := &transports.Grant{Name: "t", Key: "t"}
	withGrant := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(transports.WithGrant(r.Context(), grant)))
		})
	}
	s := startServerWith(t, false, Config{Tokens: transports.NewTokenLimiter(1)}, withGrant)
	u := "ws://" + s.addr + "/ws"
	first, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, resp, err := websocket.DefaultDialer.Dial(u, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a second subscriber with the token: %v, %v; want 503", err, resp)
	}
	s.hub.Publish(&broadcast.Record{Line: "to the token's subscriber"})
	first.SetReadDeadline(time.Now().Add(waitFor))
	if _, msg, err := first.ReadMessage(); err != nil || !strings.Contains(string(msg), `"seq":1`) {
		t.Fatalf("the token's subscriber read %q, %v; want the record", msg, err)
	}
	first.Close()
	deadline := time.Now().Add(waitFor)
	for {
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token's slot is still held %v after its connection closed: %v", waitFor, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
