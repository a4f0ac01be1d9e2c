package tcpxml

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/weblogd/weblogd/transports"
)

// readIdle is the read deadline of a TLS connection's reader: clients
// usually send nothing at all, and the read just starts again.
const readIdle = 30 * time.Second

// readBlocking is the reader of a TLS connection, which cannot wait in the
// poller: a goroutine of its own, reading with a deadline until the
// connection ends, or its input ends and the TCP connection under it waits
// for its hang-up (inputEnded).
func (cn *conn) readBlocking(ctx context.Context, poller *transports.Poller) {
	buf := make([]byte, readBufferBytes)
	for {
		cn.c.SetReadDeadline(time.Now().Add(readIdle))
		n, err := cn.c.Read(buf)
		if n > 0 {
			if err := cn.input(ctx, buf[:n]); err != nil {
				cn.finish(err)
				return
			}
		}
		switch {
		case err == nil:
		case isTimeout(err):
			// Clients usually send nothing: look again.
		case errors.Is(err, io.EOF):
			if err := cn.inputEnded(poller); !errors.Is(err, errWaiting) {
				cn.finish(err)
			}
			return
		default:
			cn.finish(err)
			return
		}
	}
}

// errWaiting says the reader's role went to the Poller with the connection.
var errWaiting = errors.New("waiting for its hang-up")

// underlying returns the TCP connection under c's layers (TLS, and those
// that wrap it as tls.Conn does, with a NetConn method).
func underlying(c net.Conn) net.Conn {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = u.NetConn()
	}
}
