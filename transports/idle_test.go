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

func TestIdle(t *testing.T) {
	idle, err := transports.NewIdle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	server, client := pair(t)
	rc, ok := transports.Parkable(server)
	if !ok {
		t.Fatal("a TCP connection is not parkable")
	}
	ready := make(chan struct{}, 10)
	k := idle.Add(rc, func() { ready <- struct{}{} })
	defer k.Remove()
	buf := make([]byte, 16)

	if _, err := transports.ReadNow(rc, buf); !errors.Is(err, transports.ErrWouldBlock) {
		t.Fatalf("ReadNow() on a silent connection: %v, want ErrWouldBlock", err)
	}
	if err := k.Wait(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, false, "parked, nothing sent")
	client.Write([]byte("NEW?\n"))
	fired(t, ready, true, "the peer sent a line")
	if n, err := transports.ReadNow(rc, buf); err != nil || string(buf[:n]) != "NEW?\n" {
		t.Fatalf("ReadNow()=%q, %v, want the line", buf[:n], err)
	}
	client.Write([]byte("again\n"))
	fired(t, ready, false, "not parked again: one event per Wait")

	// Parked again: what is already there fires at once.
	if err := k.Wait(); err != nil {
		t.Fatal(err)
	}
	fired(t, ready, true, "parked with bytes waiting")
	transports.ReadNow(rc, buf)

	if err := k.Wait(); err != nil {
		t.Fatal(err)
	}
	if !k.Wake() {
		t.Fatal("Wake() on a parked connection: false")
	}
	fired(t, ready, true, "woken")
	if k.Wake() {
		t.Fatal("Wake() on a connection no longer parked: true")
	}

	if err := k.Wait(); err != nil {
		t.Fatal(err)
	}
	client.Close()
	fired(t, ready, true, "the peer closed")
	if _, err := transports.ReadNow(rc, buf); err != io.EOF {
		t.Fatalf("ReadNow() after the peer closed: %v, want EOF", err)
	}
	server.Close()
	if err := k.Wait(); err == nil {
		t.Fatal("Wait() on a closed connection: nil")
	}
}

// Close wakes what is parked, and nothing parks after it.
func TestIdleClose(t *testing.T) {
	idle, err := transports.NewIdle()
	if err != nil {
		t.Fatal(err)
	}
	server, _ := pair(t)
	rc, _ := transports.Parkable(server)
	ready := make(chan struct{}, 1)
	k := idle.Add(rc, func() { ready <- struct{}{} })
	if err := k.Wait(); err != nil {
		t.Fatal(err)
	}
	idle.Close()
	fired(t, ready, true, "parked at Close")
	if err := k.Wait(); !errors.Is(err, transports.ErrEnded) {
		t.Fatalf("Wait() after Close: %v, want ErrEnded", err)
	}
}

// A peer that has ended its input but still reads is parked for its
// hang-up only: the end of its input, which stays readable, is not
// reported again, the wake of its owner and its reset are.
func TestIdleWaitHangup(t *testing.T) {
	idle, err := transports.NewIdle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	server, client := pair(t)
	rc, _ := transports.Parkable(server)
	ready := make(chan struct{}, 10)
	k := idle.Add(rc, func() { ready <- struct{}{} })
	defer k.Remove()
	buf := make([]byte, 16)

	if err := k.Wait(); err != nil {
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
	fired(t, ready, false, "parked for the hang-up after the end of input")
	if _, err := server.Write([]byte("hit\n")); err != nil {
		t.Fatalf("write to a half-closed peer: %v", err)
	}
	client.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := client.Read(buf); err != nil || string(buf[:n]) != "hit\n" {
		t.Fatalf("the half-closed peer read %q, %v", buf[:n], err)
	}
	fired(t, ready, false, "parked for the hang-up, written to")
	if !k.Wake() {
		t.Fatal("Wake() on a connection parked for its hang-up: false")
	}
	fired(t, ready, true, "woken")

	if err := k.WaitHangup(); err != nil {
		t.Fatal(err)
	}
	client.Close()
	server.Write([]byte("hit\n")) // the peer's kernel answers with a reset
	fired(t, ready, true, "the peer went away")
}
