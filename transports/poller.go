package transports

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// Poller holds connections that have nothing to read, so that an idle
// subscriber costs no goroutine at all: on Linux one goroutine waits on
// epoll for every waiting connection; elsewhere a waiting connection waits
// in a goroutine of its own, on the runtime's poller, a few frames deep.
// When a waiting connection becomes readable (bytes, end of stream, an
// error) or is woken, its ready function is called, once: it starts the
// goroutine that reads what is there (see ReadNow) and waits again.
//
// A connection's owner adds it once (Add), makes it wait whenever it has
// read everything (Waiting.WaitInput, or Waiting.WaitHangup once the peer
// has ended its input but may still read), wakes it when it closes the
// connection from its side (Waiting.Wake: the kernel drops a closed
// descriptor from epoll, so nothing else would), and removes it when it
// is done (Waiting.Remove).
// Close wakes every waiting connection and stops the poller's goroutine.
//
// Only connections whose reads can be done without waiting qualify (see
// Parkable): a TLS connection's bytes are not its records, so its owner
// reads it in a goroutine of its own, as before.
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
func (i *Poller) Close() { i.p.close() }

// Add registers rc, whose readiness is then reported to ready. ready is
// called from the Poller's goroutine and must not block: it starts a
// goroutine.
func (i *Poller) Add(rc syscall.RawConn, ready func()) *Waiting {
	return i.p.add(rc, ready)
}

// Parkable returns c's raw connection if c can wait in a Poller: a plain
// TCP (or Unix) connection, not a TLS one.
func Parkable(c net.Conn) (syscall.RawConn, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}

// ReadAvailable reads what the connection has, handing each piece (at most
// size bytes) to input, until there is nothing more, when it makes the
// connection wait again and returns nil, or the connection is over: then
// it returns why (input's error, the read's, or the failed wait), and the
// caller ends it. It is what a waiting connection's ready starts.
func (k *Waiting) ReadAvailable(size int, input func([]byte) error) error {
	buf := make([]byte, size)
	for {
		n, err := ReadNow(k.rc, buf)
		if n > 0 {
			if err := input(buf[:n]); err != nil {
				return err
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrWouldBlock):
			return k.WaitInput()
		default:
			return err
		}
	}
}

// ErrWouldBlock says that ReadNow found nothing to read: let the
// connection wait.
var ErrWouldBlock = errors.New("nothing to read now")

// ReadNow reads what rc has without waiting: ErrWouldBlock when there is
// nothing, io.EOF at the end of the stream.
func ReadNow(rc syscall.RawConn, b []byte) (n int, err error) {
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), b)
			if err != syscall.EINTR {
				return true // done, whatever it got: never wait here
			}
		}
	})
	if err != nil {
		n = 0
	}
	switch {
	case cerr != nil:
		return 0, cerr // closed
	case err == syscall.EAGAIN:
		return 0, ErrWouldBlock
	case err != nil:
		return 0, err
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}
