// Package nowait reads a socket without waiting: what the kernel holds, or
// ErrWouldBlock at once. It is how a connection with no goroutine of its
// own is read (transports' Poller), plain or under crypto/tls (certs'
// NoWait).
package nowait

import (
	"io"
	"syscall"
)

// ErrWouldBlock says that there is nothing to read now: wait for the
// descriptor to be readable, and read again. It is a net.Error whose
// Timeout and Temporary are true, which crypto/tls takes for a passing
// error: a record of which only part has come stays buffered for the next
// read, and the connection is not failed.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "nothing to read now" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Read reads what rc has without waiting: ErrWouldBlock when there is
// nothing, io.EOF at the end of the stream.
func Read(rc syscall.RawConn, b []byte) (n int, err error) {
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
