package ws

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
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
// keeps their frames whole. Every write call has a deadline, timeout
// away.
type wire struct {
	mu      sync.Mutex
	conn    net.Conn             // a *net.TCPConn (writev) or a *tls.Conn
	dl      *transports.Deadline // its write deadline, bounded by the drain at shutdown
	timeout time.Duration
	// until is the write deadline last set; guarded by mu.
	until time.Time
}

// maxWriteBytes bounds one write call. The write timeout is how long a
// peer may take to accept one call's bytes: a writer far behind (many
// frames queued, or one frame of a batch of thousands of records) must
// not put megabytes in one call and cut a peer that reads, only slower
// than its backlog grew. Small frames go together, up to this, in one
// writev; a bigger one is written in pieces of this, each with its
// deadline.
const maxWriteBytes = 64 << 10

// write writes frames, each whole, in calls of at most maxWriteBytes.
func (w *wire) write(frames ...[]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(frames) == 1 && len(frames[0]) <= maxWriteBytes { // nearly always
		if err := w.deadline(); err != nil {
			return err
		}
		_, err := w.conn.Write(frames[0])
		return err
	}
	backing := make(net.Buffers, 0, len(frames))
	call, size := backing, 0
	for i := 0; i < len(frames); {
		f := frames[i]
		if room := maxWriteBytes - size; len(f) > room {
			call, size = append(call, f[:room]), maxWriteBytes
			frames[i] = f[room:] // the rest in the next call
		} else {
			call, size = append(call, f), size+len(f)
			i++
		}
		if size < maxWriteBytes && i < len(frames) {
			continue
		}
		if err := w.deadline(); err != nil {
			return err
		}
		if _, err := call.WriteTo(w.conn); err != nil { // a writev; it consumes call
			return err
		}
		call, size = backing[:0], 0
	}
	return nil
}

// deadline makes sure the write deadline is at least 7/8 of the timeout
// away; w.mu is held. Moving the deadline costs a timer update in the
// runtime, and a connection written to at every flush would pay it 20
// times a second: a deadline still far enough away is kept (with the
// default 10 s, it moves about once a second). At shutdown the Drain
// moves it earlier under us, which this can only keep.
func (w *wire) deadline() error {
	now := time.Now()
	if w.until.Sub(now) >= w.timeout-w.timeout/8 {
		return nil
	}
	w.until = now.Add(w.timeout)
	return w.dl.Set(w.until)
}

// control writes a control frame of op (gorilla's message types): a ping,
// a pong, a close.
func (w *wire) control(op int, payload []byte) error {
	return w.write(appendFrame(nil, byte(op), payload))
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
func recordsFrame(recs []*record.Record) []byte {
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
