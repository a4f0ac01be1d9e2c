package ws

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

// wire is a connection's writing side. A server's frames are simple (no
// mask, no compression: RFC 6455, 5.2), so they are written here rather
// than through a *websocket.Conn, which gorilla only hands out with a read
// buffer and some 700 bytes of state that an idle subscriber would keep
// for nothing (its reads are ours, read.go). Owning the writes also lets
// frames that queued up while the previous write was in flight go out in
// one writev instead of a write each. gorilla still does the handshake.
//
// Two goroutines may write: the Writer role's holder (records, gaps,
// pings, the goodbye) and the reader (a pong, the answer to a close); mu
// keeps their frames whole. Every write has a deadline.
type wire struct {
	mu   sync.Mutex
	conn net.Conn // the drain's wrapper: its deadlines are bounded at shutdown
	tcp  net.Conn // the TCP connection under it (writev), or conn with TLS
	// until is the write deadline last set; guarded by mu.
	until time.Time
}

func newWire(conn net.Conn) *wire {
	w := &wire{conn: conn, tcp: conn}
	if u, ok := conn.(interface{ Unwrap() net.Conn }); ok {
		if tc, ok := u.Unwrap().(*net.TCPConn); ok {
			w.tcp = tc
		}
	}
	return w
}

// write writes frames, each whole, within timeout; several in one writev.
func (w *wire) write(timeout time.Duration, frames ...[]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Moving the deadline costs a timer update in the runtime, and a
	// connection written to at every flush would pay it 20 times a
	// second: a deadline still 7/8 of a timeout away is kept (with the
	// default 10 s, it moves about once a second), so each write has at
	// least that. (At shutdown the Drain moves it earlier under us, which
	// this can only keep.)
	if now := time.Now(); w.until.Sub(now) < timeout-timeout/8 {
		w.until = now.Add(timeout)
		if err := w.conn.SetWriteDeadline(w.until); err != nil {
			return err
		}
	}
	if len(frames) == 1 {
		_, err := w.tcp.Write(frames[0])
		return err
	}
	bufs := make(net.Buffers, len(frames)) // WriteTo consumes it; frames is the caller's
	copy(bufs, frames)
	_, err := bufs.WriteTo(w.tcp)
	return err
}

// WriteControl writes a control frame (gorilla's message types), for the
// reader's answers (read.go's controller).
func (w *wire) WriteControl(messageType int, data []byte, deadline time.Time) error {
	return w.write(time.Until(deadline), appendFrame(nil, byte(messageType), data))
}

// Close closes the connection.
func (w *wire) Close() error { return w.conn.Close() }

// maxHeader is the longest header of a server's frame: 2 bytes and an
// 8-byte length.
const maxHeader = 10

// putHeader writes the header of a final frame of opcode op with n bytes
// of payload at the end of dst (len maxHeader) and returns where it
// starts, so that a payload encoded after dst needs no copy.
func putHeader(dst []byte, op byte, n int) int {
	var start int
	switch {
	case n < 126:
		start = maxHeader - 2
		dst[start+1] = byte(n)
	case n <= 0xffff:
		start = maxHeader - 4
		dst[start+1] = 126
		binary.BigEndian.PutUint16(dst[start+2:], uint16(n))
	default:
		start = 0
		dst[1] = 127
		binary.BigEndian.PutUint64(dst[2:], uint64(n))
	}
	dst[start] = 0x80 | op // FIN
	return start
}

// appendFrame appends a whole frame of op carrying payload.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	var h [maxHeader]byte
	start := putHeader(h[:], op, len(payload))
	dst = append(dst, h[start:]...)
	return append(dst, payload...)
}

// recordsFrame encodes recs as one text frame, {"type":"hits",...}.
func recordsFrame(recs []*broadcast.Record) []byte {
	buf := make([]byte, maxHeader, maxHeader+512*len(recs))
	buf = transports.AppendWSMessage(buf, recs)
	start := putHeader(buf[:maxHeader], websocket.TextMessage, len(buf)-maxHeader)
	return buf[start:]
}

// frameKey names the shared frame in broadcast.Batch.Memo.
type frameKey struct{}

// sharedFrame is b's frame for every subscriber without a filter, built
// once. Do not modify it.
func sharedFrame(b *broadcast.Batch) []byte {
	return b.Memo(frameKey{}, func(b *broadcast.Batch) any { return recordsFrame(b.Records) }).([]byte)
}
