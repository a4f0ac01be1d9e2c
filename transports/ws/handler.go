// Package ws serves GET /ws over WebSocket: one text message per batch,
// {"type":"hits","hits":[...]}, and {"type":"gap",...} for gaps.
// gorilla/websocket does the handshake; the frames are this package's own
// (read.go, write.go), so that an idle connection keeps no more than it
// needs. Subscribers without a filter share one frame per batch, built
// once for all of them. Browser connections from another origin are
// refused unless allowed.
//
// Concurrency: once upgraded, the handler's goroutine returns (net/http
// lets go of the request and its buffers) and the connection waits with
// no goroutine at all, waiting in a transports.Poller: when the peer sends
// something (a pong, its close) or goes, a reader goroutine reads what is
// there with this package's own frame reader (read.go), answers pings and
// a close, and lets the connection wait again; the reader that finds it over
// ends it. Writes, pings included, go through a transports.Writer: a
// writer goroutine exists only while there is something to write, and it
// writes everything pending in one write (a writev of shared frames). A
// silent peer is found by the heartbeat: no frame for longer than the pong
// wait ends it. A TLS connection, which cannot wait in the poller, is read by a
// goroutine of its own with a read deadline. Hijacked connections are not
// tracked by http.Server.Shutdown: Wait, CloseAll and Close are the
// shutdown's handles on them, and the Drain bounds their writes, gorilla's
// handshake's deadlines included.
//
// A subscriber ended for being too slow gets a close frame with 1008
// (policy violation) and the reason "too slow"; at shutdown the code is
// 1001 (going away).
package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

const (
	// DefaultPongWait is how long a peer may stay silent (no pong, no
	// message) before it is taken for dead.
	DefaultPongWait = 60 * time.Second
	// maxMessageSize bounds what a client may send in one message:
	// clients send nothing but control frames, so a small limit stops
	// floods early.
	maxMessageSize = 4096
	// gorillaBufferBytes sizes the buffers of gorilla's *websocket.Conn,
	// which is dropped after the handshake (reads and writes are ours):
	// the smallest, the least garbage.
	gorillaBufferBytes = 1
	// readBytes is what one read of the peer takes; it is allocated for
	// the read only.
	readBytes = 512
	// closeGrace is how long the handler waits for the peer to answer its
	// close frame before it closes the connection anyway.
	closeGrace = time.Second
)

// Config configures a Handler.
type Config struct {
	Hub *broadcast.Hub // required
	// WriteTimeout bounds each write; zero means transports.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// PongWait is how long a silent peer lives; pings go out every 9/10 of
	// it. Zero means DefaultPongWait.
	PongWait time.Duration
	// AllowOrigins lists the browser origins (scheme://host[:port]) allowed
	// besides the server's own; "*" allows every origin. Clients that send
	// no Origin (not browsers) are always allowed.
	AllowOrigins []string
	// Counters receive this transport's numbers; nil keeps them private.
	Counters *transports.Counters
	// Limiter bounds the subscribers, shared by every transport; nil
	// allows any number.
	Limiter *transports.Limiter
	// Drain bounds the write deadlines at shutdown; nil leaves them to
	// WriteTimeout.
	Drain *transports.Drain
}

// Handler serves /ws.
type Handler struct {
	c        Config
	upgrader websocket.Upgrader

	mu     sync.Mutex
	conns  map[*conn]struct{}
	empty  chan struct{}      // closed when conns becomes empty; nil while empty
	poller *transports.Poller // made at the first connection; nil if it cannot be
	// writers write for the connections.
	writers transports.WriterPool
	tried   bool // making park was tried
	ended   bool // Close was called: no more parking
}

// New returns a handler.
func New(c Config) *Handler {
	if c.Counters == nil {
		c.Counters = new(transports.Counters)
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = transports.DefaultWriteTimeout
	}
	if c.PongWait <= 0 {
		c.PongWait = DefaultPongWait
	}
	h := &Handler{c: c, conns: map[*conn]struct{}{}}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: c.WriteTimeout,
		ReadBufferSize:   gorillaBufferBytes,
		WriteBufferSize:  gorillaBufferBytes,
		CheckOrigin:      h.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	return h
}

// checkOrigin allows non-browser clients, the server's own origin, and
// the configured ones.
func (h *Handler) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range h.c.AllowOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := transports.ParseRequest(r)
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "bad request: this is a WebSocket endpoint; connect with a WebSocket client", http.StatusBadRequest)
		return
	}
	// Take a slot and subscribe before the upgrade: a refusal can still be
	// answered with a plain 503.
	release, err := h.c.Limiter.Acquire(r.RemoteAddr)
	if err != nil {
		transports.Refuse(w, err, h.c.Counters)
		return
	}
	opts := req.Start
	opts.DropCounter = &h.c.Counters.Dropped
	c := &conn{h: h, release: release}
	c.w = transports.NewWriter(c.flush, c.close, h.c.PongWait*9/10, &h.writers)
	opts.Notify = c.w.Notify
	sub, err := h.c.Hub.Subscribe(r.Context(), opts)
	if err != nil {
		release()
		if errors.Is(err, broadcast.ErrClosed) {
			transports.Refuse(w, transports.ErrShuttingDown, h.c.Counters)
		}
		return
	}
	c.sub = sub
	hw := transports.HijackWith(w, func(nc net.Conn) net.Conn {
		c.raw, c.dl = nc, h.c.Drain.Track(nc.SetWriteDeadline)
		return nc
	})
	// gorilla's *websocket.Conn is dropped at once: reads and writes are
	// this package's own (read.go, write.go).
	if _, err := h.upgrader.Upgrade(hw, r, nil); err != nil {
		sub.Close()
		c.done()
		return // the upgrader has answered
	}
	c.sink = &sink{conn: &wire{conn: c.raw, dl: c.dl}, f: req.Filter, timeout: h.c.WriteTimeout}
	c.seen.Store(time.Now().UnixNano())
	h.track(c, true)
	h.c.Counters.Subscribers.Add(1)
	// The request's goroutine ends here, and with it what net/http holds
	// for the connection (its buffers, the request). An idle subscriber
	// is waiting with no goroutine at all (transports.Poller); a writer exists
	// only while there is something to write (transports.Writer).
	if _, isTLS := c.raw.(*tls.Conn); !isTLS {
		if poller := h.pollerOnce(); poller != nil {
			if k, err := poller.Add(c.raw, func() { go c.readAvailable() }); err == nil {
				c.wait.Store(k)
				c.w.Start()
				c.readAvailable() // the peer may have sent something already; then it waits
				return
			}
		}
	}
	go c.readBlocking() // TLS, or a connection that cannot wait: its own goroutine
	c.w.Start()
}

// conn is one WebSocket subscriber once upgraded. Whichever goroutine is
// reading it when the peer goes (or the writer closes the connection after
// its goodbye) ends it (finish): it stops the writer and releases
// everything.
type conn struct {
	h       *Handler
	sub     *broadcast.Subscription
	sink    *sink
	w       *transports.Writer
	release func()               // the subscriber slot
	dl      *transports.Deadline // the write deadline, under the drain; nil before the hijack
	raw     net.Conn             // the hijacked connection: the reader reads it, the wire writes it

	wait atomic.Pointer[transports.Waiting]
	seen atomic.Int64 // when the peer last sent anything, Unix ns
	// frames is the reader's state, touched by one reader at a time; nil
	// between whole frames, which is nearly always: an idle connection
	// holds none.
	frames *frames
}

// flush is the Writer's flush. With the heartbeat it finds a peer that has
// been silent (no pong, nothing) for longer than PongWait: dead.
func (c *conn) flush(beat bool) (bool, error) {
	if beat && time.Since(time.Unix(0, c.seen.Load())) > c.h.c.PongWait {
		return true, &transports.DisconnectError{Reason: transports.DisconnectPongTimeout, Err: errSilent}
	}
	return transports.Flush(c.sub, c.sink, c.h.c.Counters, beat)
}

var errSilent = errors.New("no pong from the peer")

// close is the Writer's end, and CloseAll's: the connection is closed and,
// if it is waiting, woken, since epoll does not report a descriptor closed
// under it; its reader then finds it closed and ends it.
func (c *conn) close() {
	c.sink.conn.Close()
	if k := c.wait.Load(); k != nil {
		k.Wake()
	}
}

// readAvailable reads what the peer has sent and lets the connection wait
// again, or ends it.
func (c *conn) readAvailable() {
	if err := c.wait.Load().ReadAvailable(readBytes, c.input); err != nil {
		c.finish(err)
	}
}

// input takes what a read brought: the peer is alive.
func (c *conn) input(data []byte) error {
	c.seen.Store(time.Now().UnixNano())
	return c.feed(data)
}

// feed hands what was read to the frame reader, made for the read, and kept
// only while a frame is incomplete.
func (c *conn) feed(data []byte) error {
	if c.frames == nil {
		c.frames = new(frames)
	}
	err := c.frames.feed(data, c.sink.conn)
	if c.frames.between() {
		c.frames = nil
	}
	return err
}

// readBlocking is the reader of a connection that cannot wait in the poller: a
// goroutine of its own, in Read with a deadline of PongWait.
func (c *conn) readBlocking() {
	buf := make([]byte, readBytes)
	for {
		c.raw.SetReadDeadline(time.Now().Add(c.h.c.PongWait))
		n, err := c.raw.Read(buf)
		if n > 0 {
			if err := c.input(buf[:n]); err != nil {
				c.finish(err)
				return
			}
		}
		if err != nil {
			c.finish(err)
			return
		}
	}
}

// finish ends the connection, once, from its reader: err is why the
// reading stopped (the peer went, fell silent or broke the protocol).
func (c *conn) finish(err error) {
	h, ws := c.h, c.sink.conn
	cause := readError(err)
	c.sink.readerEnded()
	ws.Close() // a write stuck on a peer that stopped reading fails now
	err = c.w.Stop(cause)
	if k := c.wait.Load(); k != nil {
		k.Remove()
	}
	c.sub.Close()
	h.c.Counters.Subscribers.Add(-1)
	h.c.Counters.Disconnected(transports.ReasonOf(c.sub, err))
	c.done()
	h.track(c, false)
}

// done gives back the subscriber slot and the drain's hold.
func (c *conn) done() {
	if c.dl != nil {
		c.dl.Release()
	}
	c.release()
}

// readError wraps the error that ended the reader with the reason it
// means.
func readError(err error) error {
	r := transports.DisconnectProtocol // gorilla's protocol errors have no type of their own
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
	case errors.Is(err, transports.ErrEnded): // the poller closed under it: shutdown
		r = transports.DisconnectShutdown
	case transports.IsTimeout(err):
		r = transports.DisconnectPongTimeout
	case errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed):
		r = transports.DisconnectClosed
	default:
		var oe *net.OpError
		if errors.As(err, &oe) { // a reset: the peer is gone
			r = transports.DisconnectClosed
		}
	}
	return &transports.DisconnectError{Reason: r, Err: err}
}

func (h *Handler) track(c *conn, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		if len(h.conns) == 0 {
			h.empty = make(chan struct{})
		}
		h.conns[c] = struct{}{}
		return
	}
	delete(h.conns, c)
	if len(h.conns) == 0 {
		close(h.empty)
		h.empty = nil
	}
}

// pollerOnce returns the Poller the connections wait in, made at the first
// call; nil if it cannot be made, or after Close.
func (h *Handler) pollerOnce() *transports.Poller {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.tried && !h.ended {
		h.tried = true
		p, err := transports.NewPoller()
		if err == nil {
			h.poller = p
		}
	}
	if h.ended {
		return nil
	}
	return h.poller
}

// Close stops the Poller idle connections wait in, waking any still
// waiting (they find their connections closed or read on in a goroutine of
// their own). Call it after Wait, or CloseAll.
func (h *Handler) Close() {
	h.mu.Lock()
	p := h.poller
	h.ended = true
	h.mu.Unlock()
	if p != nil {
		p.Close()
	}
	h.writers.Close()
}

// Wait returns nil when no WebSocket connection is open, or ctx's error.
// At shutdown the hub ends their subscriptions and each handler sends a
// close frame and returns.
func (h *Handler) Wait(ctx context.Context) error {
	for {
		h.mu.Lock()
		empty := h.empty
		h.mu.Unlock()
		if empty == nil {
			return nil
		}
		select {
		case <-empty:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Conns returns how many WebSocket connections are open.
func (h *Handler) Conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// CloseAll cuts every connection: the last resort when Wait takes longer
// than the shutdown allows.
func (h *Handler) CloseAll() {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

type sink struct {
	conn    *wire
	f       *transports.Filter
	timeout time.Duration
	// reader is what End waits on for the peer's answer to its close:
	// made by End, closed by the reader when it ends the connection, or
	// readerGone if the reader ended first. Made only when needed, since
	// an idle connection would keep it for nothing.
	reader atomic.Pointer[chan struct{}]
}

// readerGone marks a reader that ended before anyone waited for it.
var readerGone = new(chan struct{})

// readerEnded is called by the reader when it ends the connection.
func (s *sink) readerEnded() {
	if !s.reader.CompareAndSwap(nil, readerGone) {
		close(*s.reader.Load())
	}
}

// Send writes items as frames, in one write however many there are: a
// writer that fell behind catches up with one writev, not a write per
// batch.
func (s *sink) Send(items []broadcast.Item) (int, error) {
	total := 0
	var one [1][]byte // the usual case, without an allocation
	frames := one[:0]
	if len(items) > 1 {
		frames = make([][]byte, 0, len(items))
	}
	for _, it := range items {
		if it.Batch == nil {
			frames = append(frames, appendFrame(nil, websocket.TextMessage, transports.AppendJSONGap(nil, it.Gap.From, it.Gap.To)))
			continue
		}
		recs, all := transports.Matching(it.Batch, s.f)
		switch {
		case all: // the frame every unfiltered subscriber shares
			frames = append(frames, sharedFrame(it.Batch))
		case len(recs) > 0:
			frames = append(frames, recordsFrame(recs))
		}
		total += len(recs)
	}
	if len(frames) == 0 {
		return 0, nil
	}
	if err := s.conn.write(s.timeout, frames...); err != nil {
		return 0, err
	}
	return total, nil
}

func (s *sink) Heartbeat() error {
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.timeout))
}

// End sends a close frame, 1001 (going away) at shutdown or when an
// operator disconnected the subscriber, 1008 (policy violation) for a
// subscriber too slow ("too slow") or whose credentials were revoked
// ("revoked"), and gives the peer a moment to answer it, as the
// protocol asks.
func (s *sink) End(reason broadcast.Reason) error {
	var msg []byte
	switch reason {
	case broadcast.ReasonSlow, broadcast.ReasonRevoked:
		msg = websocket.FormatCloseMessage(websocket.ClosePolicyViolation, transports.EndReason(reason))
	case broadcast.ReasonKicked:
		msg = websocket.FormatCloseMessage(websocket.CloseGoingAway, "disconnected by an operator")
	default:
		msg = websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
	}
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.timeout)); err != nil {
		return err
	}
	wait := make(chan struct{})
	if s.reader.CompareAndSwap(nil, &wait) {
		select {
		case <-wait:
		case <-time.After(closeGrace):
		}
	}
	return nil
}
