package transports

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"

	"github.com/weblogd/weblogd/certs"
	"github.com/weblogd/weblogd/internal/nowait"
)

// Poller holds connections that have nothing to read, so that an idle
// subscriber costs no goroutine at all: on Linux one goroutine waits on
// epoll for every waiting connection; elsewhere a waiting connection waits
// in a goroutine of its own, on the runtime's poller, a few frames deep.
// When a waiting connection becomes readable (bytes, end of stream, an
// error) or is woken, its ready function is called, once: it starts the
// goroutine that reads what is there (Waiting.ReadAvailable), which lets
// the connection wait again.
//
// A connection's owner adds it once (Add), reads what it has with
// ReadAvailable, which then makes it wait (WaitInput; WaitHangup once the
// peer has ended its input but may still read), wakes it when it closes
// the connection from its side (Wake: the kernel drops a closed descriptor
// from epoll, so nothing else would), and removes it when it is done
// (Remove). Close wakes every waiting connection and stops the poller's
// goroutine.
//
// Plain and TLS connections alike: a TLS connection (certs' Listener, or
// net/http's TLS over certs.FailFast) is switched by Add to reads that
// never wait (certs.NoWait) and waits on the descriptor of the TCP
// connection under it. ReadAvailable reads through crypto/tls until the
// socket has nothing more, so that no record it holds is out of epoll's
// sight.
type Poller struct {
	p *platformPoller
}

// NewPoller returns a Poller with its goroutine started; Close stops it.
func NewPoller() (*Poller, error) {
	p, err := newPlatformPoller()
	if err != nil {
		return nil, err
	}
	return &Poller{p: p}, nil
}

// Close wakes every waiting connection and stops waiting; it returns when
// the poller's goroutine has.
func (pl *Poller) Close() { pl.p.close() }

// ErrCannotWait says that Add was given a connection that cannot wait in a
// Poller: one with no descriptor (net.Pipe), or a TLS connection that is
// not certs' (its reads would wait). Its owner reads it some other way, or
// closes it; weblogd's servers never make one.
var ErrCannotWait = errors.New("the connection cannot wait in a poller")

// Add registers c, whose readiness is then reported to ready. It does not
// make c wait: the owner does, and its first call for a TLS connection is
// ReadAvailable, not WaitInput, since crypto/tls may hold input it read
// with the handshake, which epoll would never report. ready is called
// from the Poller's goroutine and must not block: it starts a goroutine.
//
// c is a connection with a descriptor (syscall.Conn: TCP, Unix), a
// *tls.Conn over one (switched by certs.NoWait), or a wrapper of either
// with a NetConn method, as tls.Conn has, whose reads are those of the
// connection under it: they are read directly.
func (pl *Poller) Add(c net.Conn, ready func()) (*Waiting, error) {
	var tc *tls.Conn
	for {
		if t, ok := c.(*tls.Conn); ok {
			if !certs.NoWait(t) {
				return nil, ErrCannotWait
			}
			tc, c = t, t.NetConn()
		}
		if sc, ok := c.(syscall.Conn); ok {
			rc, err := sc.SyscallConn()
			if err != nil {
				return nil, ErrCannotWait
			}
			return pl.p.add(rc, tc, ready), nil
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, ErrCannotWait
		}
		c = u.NetConn()
	}
}

// ReadAvailable reads what the connection has, handing each piece (at most
// size bytes) to input, until there is nothing more, when it makes the
// connection wait again and returns nil, or the connection is over: then
// it returns why (input's error, the read's, or the failed wait), and the
// caller ends it. It is what a waiting connection's ready starts.
func (k *Waiting) ReadAvailable(size int, input func([]byte) error) error {
	buf := make([]byte, size)
	for {
		n, err := k.read(buf)
		if n > 0 {
			if err := input(buf[:n]); err != nil {
				return err
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, nowait.ErrWouldBlock):
			return k.WaitInput()
		default:
			return err
		}
	}
}

// read reads what the connection has without waiting: through crypto/tls
// for a TLS connection (its reads were switched by Add), from the socket
// otherwise. Both may return data and an error together.
func (k *Waiting) read(b []byte) (int, error) {
	if k.tls != nil {
		return k.tls.Read(b)
	}
	return nowait.Read(k.rc, b)
}
