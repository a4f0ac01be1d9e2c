//go:build linux

package transports_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

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
	rc, ok := transports.Parkable(server)
	if !ok {
		t.Fatal("a TCP connection cannot wait in a Poller")
	}
	ready := make(chan struct{}, 10)
	k := poller.Add(rc, func() { ready <- struct{}{} })
	defer k.Remove()
	buf := make([]byte, 16)

	if _, err := transports.ReadNow(rc, buf); !errors.Is(err, transports.ErrWouldBlock) {
		t.Fatalf("ReadNow() on a silent connection: %v, want ErrWouldBlock", err)
	}
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, false, "waiting, nothing sent")
	client.Write([]byte("NEW?\n"))
	fired(t, ready, true, "the peer sent a line")
	if n, err := transports.ReadNow(rc, buf); err != nil || string(buf[:n]) != "NEW?\n" {
		t.Fatalf("ReadNow()=%q, %v, want the line", buf[:n], err)
	}
	client.Write([]byte("again\n"))
	fired(t, ready, false, "not waiting again: one event per WaitInput")

	// Waiting again: what is already there fires at once.
	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, true, "waiting with bytes there")
	transports.ReadNow(rc, buf)

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
	if _, err := transports.ReadNow(rc, buf); err != io.EOF {
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
	rc, _ := transports.Parkable(server)
	ready := make(chan struct{}, 1)
	k := poller.Add(rc, func() { ready <- struct{}{} })
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
	rc, _ := transports.Parkable(server)
	ready := make(chan struct{}, 10)
	k := poller.Add(rc, func() { ready <- struct{}{} })
	defer k.Remove()
	buf := make([]byte, 16)

	if err := k.WaitInput(); err != nil {
		t.Fatal(err)
	}
	client.(*net.TCPConn).CloseWrite()
	fired(t, ready, true, "the peer closed its side")
	if _, err := transports.ReadNow(rc, buf); err != io.EOF {
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
