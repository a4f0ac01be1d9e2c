//go:build linux

package transports_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/internal/nowait"
	"github.com/weblogd/weblogd/transports"
)

// pair returns both ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// add adds c to poller, its readiness sent on ready, and removes it when
// the test ends.
func add(t *testing.T, poller *transports.Poller, c net.Conn, ready chan<- struct{}) *transports.Waiting {
	t.Helper()
	k, err := poller.Add(c, func() { ready <- struct{}{} })
	if err != nil {
		t.Fatalf("Add(%T): %v", c, err)
	}
	t.Cleanup(k.Remove)
	return k
}

// readToEnd reads k, where no data is wanted, until the connection's end,
// waiting for ready whenever it would block, and returns that end.
func readToEnd(t *testing.T, k *transports.Waiting, ready <-chan struct{}, what string) error {
	t.Helper()
	for {
		err := k.ReadAvailable(64, func(b []byte) error { return fmt.Errorf("read %q %s", b, what) })
		if err != nil {
			return err
		}
		fired(t, ready, true, "the rest came "+what)
	}
}

func fired(t *testing.T, ready <-chan struct{}, want bool, what string) {
	t.Helper()
	wait := 2 * time.Second
	if !want {
		wait = 50 * time.Millisecond
	}
	select {
	case <-ready:
		if !want {
			t.Fatalf("%s: ready called, want not", what)
		}
	case <-time.After(wait):
		if want {
			t.Fatalf("%s: ready not called within %v", what, wait)
		}
	}
}

func TestPoller(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	server, client := pair(t)
	ready := make(chan struct{}, 10)
	k := add(t, poller, server, ready)
	buf := make([]byte, 16)

	if _, err := k.ReadNow(buf); !errors.Is(err, nowait.ErrWouldBlock) {
		t.Fatalf("ReadNow() on a silent connection: %v, want ErrWouldBlock", err)
	}
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, false, "waiting, nothing sent")
	client.Write([]byte("NEW?\n"))
	fired(t, ready, true, "the peer sent a line")
	if n, err := k.ReadNow(buf); err != nil || string(buf[:n]) != "NEW?\n" {
		t.Fatalf("ReadNow()=%q, %v, want the line", buf[:n], err)
	}
	client.Write([]byte("again\n"))
	fired(t, ready, false, "not waiting again: one event per WaitInput")

	// Waiting again: what is already there fires at once.
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, true, "waiting with bytes there")
	k.ReadNow(buf)

	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	if !k.Wake() {
		t.Fatal("Wake() on a waiting connection: false")
	}
	fired(t, ready, true, "woken")
	if k.Wake() {
		t.Fatal("Wake() on a connection no longer waiting: true")
	}

	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	client.Close()
	fired(t, ready, true, "the peer closed")
	if _, err := k.ReadNow(buf); err != io.EOF {
		t.Fatalf("ReadNow() after the peer closed: %v, want EOF", err)
	}
	server.Close()
	if err := k.WaitInput(); err == nil {
		t.Fatal("WaitInput() on a closed connection: nil")
	}
}

// Close wakes what is waiting, and nothing waits after it.
func TestPollerClose(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := pair(t)
	ready := make(chan struct{}, 1)
	k := add(t, poller, server, ready)
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	poller.Close()
	fired(t, ready, true, "waiting at Close")
	if err := k.WaitInput(); !errors.Is(err, transports.ErrEnded) {
		t.Fatalf("WaitInput() after Close: %v, want ErrEnded", err)
	}
}

// A peer that has ended its input but still reads waits for its
// hang-up only: the end of its input, which stays readable, is not
// reported again, the wake of its owner and its reset are.
func TestPollerWaitHangup(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	server, client := pair(t)
	ready := make(chan struct{}, 10)
	k := add(t, poller, server, ready)
	buf := make([]byte, 16)

	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	client.(*net.TCPConn).CloseWrite()
	fired(t, ready, true, "the peer closed its side")
	if _, err := k.ReadNow(buf); err != io.EOF {
		t.Fatalf("ReadNow() after CloseWrite: %v, want EOF", err)
	}
	if err := k.WaitHangup(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, false, "waiting for the hang-up after the end of input")
	if _, err := server.Write([]byte("hit\n")); err != nil {
		t.Fatalf("write to a half-closed peer: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := client.Read(buf); err != nil || string(buf[:n]) != "hit\n" {
		t.Fatalf("the half-closed peer read %q, %v", buf[:n], err)
	}
	fired(t, ready, false, "waiting for the hang-up, written to")
	if !k.Wake() {
		t.Fatal("Wake() on a connection waiting for its hang-up: false")
	}
	fired(t, ready, true, "woken")

	if err := k.WaitHangup(); err != nil {
		t.Fatal(err)
	}
	client.Close()
	server.Write([]byte("hit\n")) // the peer's kernel answers with a reset
	fired(t, ready, true, "the peer went away")
}

// halves is the client's side of a TCP connection that writes each TLS
// record it is given in two halves: the second once release is closed (or
// after pause, when release is nil), so that the server's socket holds
// half a record meanwhile.
type halves struct {
	net.Conn
	sent    chan struct{} // a first half is on the wire; nil: nobody asks
	release chan struct{}
	pause   time.Duration
}

func (h *halves) Write(b []byte) (int, error) {
	half := len(b) / 2
	if _, err := h.Conn.Write(b[:half]); err != nil {
		return 0, err
	}
	if h.sent != nil {
		h.sent <- struct{}{}
	}
	if h.release != nil {
		<-h.release
	} else {
		time.Sleep(h.pause)
	}
	n, err := h.Conn.Write(b[half:])
	return half + n, err
}

// tlsPair returns both ends of a loopback TLS connection: the server's
// from certs.Listener, as weblogd's raw TCP port makes it, the client's
// over h (whose Conn it sets), which splits the records it writes once
// the handshake is done.
func tlsPair(t *testing.T, h *halves) (server, client *tls.Conn) {
	t.Helper()
	certPEM, keyPEM, cert := certstest.Generate(t, "localhost")
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := certs.NewListener(inner, certs.ListenerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{pair}}})
	defer l.Close()
	raw, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	plain := &halves{Conn: raw} // written whole until the handshake is done
	client = tls.Client(plain, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	client.SetDeadline(time.Now().Add(10 * time.Second))
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		t.Fatal("Accept failed")
	}
	server = c.(*tls.Conn)
	t.Cleanup(func() { server.Close(); raw.Close() })
	*plain = halves{Conn: raw, sent: h.sent, release: h.release, pause: h.pause}
	h.Conn = raw
	return server, client
}

// A TLS connection waits in the poller like a plain one: half a record
// wakes it, the read of it would block rather than wait (crypto/tls keeps
// the half), the other half completes it, and the end of the stream
// (close_notify) is read as such.
func TestPollerTLSPartialRecord(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	h := &halves{sent: make(chan struct{}, 1), release: make(chan struct{})}
	server, client := tlsPair(t, h)
	ready := make(chan struct{}, 10)
	k := add(t, poller, server, ready)
	buf := make([]byte, 64)

	if n, err := k.ReadNow(buf); n != 0 || !errors.Is(err, nowait.ErrWouldBlock) {
		t.Fatalf("ReadNow() on a silent TLS connection: %d, %v; want ErrWouldBlock", n, err)
	}
	var ne net.Error
	if _, err := k.ReadNow(buf); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the would-block error %v is not a net.Error with Timeout", err)
	}
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, false, "waiting, nothing sent")

	wrote := make(chan error, 1)
	go func() {
		_, err := client.Write([]byte("NEW?\n"))
		wrote <- err
	}()
	<-h.sent
	fired(t, ready, true, "half a record came")
	if n, err := k.ReadNow(buf); n != 0 || !errors.Is(err, nowait.ErrWouldBlock) {
		t.Fatalf("ReadNow() with half a record: %q, %v; want ErrWouldBlock", buf[:n], err)
	}
	if err := k.WaitInput(); err != nil {
		t.Fatalf("WaitInput() after half a record: %v", err)
	}
	fired(t, ready, false, "waiting with half a record read")
	close(h.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	fired(t, ready, true, "the other half came")
	if n, err := k.ReadNow(buf); err != nil || string(buf[:n]) != "NEW?\n" {
		t.Fatalf("ReadNow() with the record whole: %q, %v; want the line", buf[:n], err)
	}

	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	client.Close() // close_notify, in halves too
	fired(t, ready, true, "close_notify came")
	err = readToEnd(t, k, ready, "after close_notify") // it may come in halves too
	if err != io.EOF {
		t.Fatalf("ReadAvailable() after close_notify: %v, want EOF", err)
	}
}

// Records that come in halves, 30 ms apart, are read whole, every byte,
// by readers that the poller starts: ReadAvailable reads through crypto/tls
// until the socket has nothing more, so nothing waits out of epoll's
// sight.
func TestPollerTLSStream(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	server, client := tlsPair(t, &halves{pause: 30 * time.Millisecond})
	want := make([]byte, 64<<10)
	rand.Read(want)

	var got []byte
	done := make(chan error, 1)
	var k *transports.Waiting
	read := func() {
		if err := k.ReadAvailable(1000, func(b []byte) error {
			got = append(got, b...) // one reader at a time: the poller wakes once per wait
			if len(got) == len(want) {
				return io.EOF
			}
			return nil
		}); err != nil {
			done <- err
		}
	}
	k, err = poller.Add(server, func() { go read() })
	if err != nil {
		t.Fatal(err)
	}
	defer k.Remove()
	go read()

	go client.Write(want) // 4 records of 16 KiB, each in halves
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("read %d of %d bytes: %v", len(got), len(want), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not come whole within 10 s")
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read differ from those written")
	}
}

// A TLS peer that goes without close_notify, in the middle of a record,
// ends the connection with an error, not a read that would block.
func TestPollerTLSAbruptClose(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	h := &halves{sent: make(chan struct{}, 1), release: make(chan struct{})}
	server, client := tlsPair(t, h)
	ready := make(chan struct{}, 10)
	k := add(t, poller, server, ready)
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	go client.Write([]byte("NEW?\n"))
	<-h.sent
	fired(t, ready, true, "half a record came")
	h.Conn.Close() // gone, half a record sent
	close(h.release)
	err = readToEnd(t, k, ready, "from half a record") // woken by the half: the close comes next
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadAvailable() after the peer went mid-record: %v, want unexpected EOF", err)
	}
}

// A connection with no descriptor cannot wait in a poller; Add says so.
func TestPollerRefusesPipe(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := poller.Add(a, func() {}); !errors.Is(err, transports.ErrCannotWait) {
		t.Fatalf("Add(net.Pipe()): %v, want ErrCannotWait", err)
	}
}

// A TLS connection its owner closes is woken, and its reader finds it
// closed rather than a read that would block.
func TestPollerTLSClosedByOwner(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	server, _ := tlsPair(t, &halves{})
	ready := make(chan struct{}, 1)
	k := add(t, poller, server, ready)
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if !k.Wake() {
		t.Fatal("Wake() on a waiting TLS connection: false")
	}
	fired(t, ready, true, "woken")
	if err := k.ReadAvailable(64, func([]byte) error { return nil }); err == nil || errors.Is(err, nowait.ErrWouldBlock) {
		t.Fatalf("ReadAvailable() on a closed TLS connection: %v, want it closed", err)
	}
}

// wrapped is a connection wrapper, as feed's token slots make: it adds to
// Close, reads as the connection under it, and names it with NetConn.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// Add sees through wrappers with a NetConn method, to a plain connection
// or a TLS one, and reads the connection under them.
func TestPollerUnwraps(t *testing.T) {
	poller, err := transports.NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	plainServer, plainClient := pair(t)
	tlsServer, tlsClient := tlsPair(t, &halves{})
	for _, c := range []struct {
		name           string
		server, client net.Conn
	}{{"plain", plainServer, plainClient}, {"TLS", tlsServer, tlsClient}} {
		ready := make(chan struct{}, 1)
		k := add(t, poller, wrapped{c.server}, ready)
		if err := k.WaitInput(); err != nil {
			t.Fatal(err)
		}
		c.client.Write([]byte("NEW?\n"))
		fired(t, ready, true, c.name+": the peer sent a line")
		var got []byte
		if err := k.ReadAvailable(64, func(b []byte) error { got = append(got, b...); return nil }); err != nil || string(got) != "NEW?\n" {
			t.Fatalf("%s: ReadAvailable() read %q, %v; want the line", c.name, got, err)
		}
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := poller.Add(wrapped{a}, func() {}); !errors.Is(err, transports.ErrCannotWait) {
		t.Fatalf("Add(a wrapped net.Pipe()): %v, want ErrCannotWait", err)
	}
}
