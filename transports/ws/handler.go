// Package ws serves GET /ws over WebSocket: one text message per batch,
// {"type":"hits","hits":[...]}, and {"type":"gap",...} for gaps. Browser
// connections from another origin are refused unless allowed. A
// subscriber ended for being too slow gets a close frame with 1008
// (policy violation) and the reason "too slow"; at shutdown the code is
// 1001 (going away).
//
// A connection's life, in the order of this file: the handler takes a
// subscriber slot and subscribes before the upgrade (a refusal is still a
// plain 503), gorilla/websocket does the handshake, and the handler's
// goroutine returns, leaving the connection in a transports.Poller with
// no goroutine. When the peer sends something (a pong, a ping, its close)
// or goes, a reader reads what is there with this package's frame parser
// (read.go), which answers pings and a close, and the connection waits
// again. The hub's news and the heartbeat's pings go out as frames
// (write.go) through a transports.Writer on the handler's WriterPool,
// every write with a deadline; a peer silent for longer than PongWait is
// ended at the next heartbeat. The goodbye is a close frame. The reader
// that finds the connection over ends it. Hijacked connections are not
// tracked by http.Server.Shutdown: Wait, CloseAll and Close are the
// shutdown's handles on them, and the Drain bounds their writes, the
// handshake's included.
//
// The frames are this package's own, not gorilla's *websocket.Conn: that
// would cost an idle subscriber about 0.7 KiB more (its 336-byte struct, a
// read buffer, its handlers), above the margin that the weblogbench row
// "idle memory per WebSocket subscriber" leaves under its 8 KiB target
// (7.5 KiB, docs/performance.md).
package ws

import (
	"context"
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
	// Tokens bounds the subscribers per token (the request's
	// transports.Grant); nil allows any number.
	Tokens *transports.TokenLimiter
}

// Handler serves /ws.
type Handler struct {
	c        Config
	upgrader websocket.Upgrader

	mu     sync.Mutex
	conns  map[*conn]struct{}
	empty  chan struct{}      // closed when conns becomes empty; nil while empty
	poller *transports.Poller // the connections wait in it; made at the first
	ended  bool               // Close was called: no more connections
	// writers write for the connections.
	writers transports.WriterPool
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
	poller, err := h.pollerOnce()
	if err != nil {
		transports.Refuse(w, err, h.c.Counters)
		return
	}
	release, err := h.slots(r)
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
	var raw net.Conn
	var dl *transports.Deadline
	hw := transports.HijackWith(w, func(nc net.Conn) net.Conn {
		raw, dl = nc, h.c.Drain.Track(nc.SetWriteDeadline)
		return nc
	})
	// gorilla's *websocket.Conn is dropped at once: reads and writes are
	// this package's own (read.go, write.go).
	if _, err := h.upgrader.Upgrade(hw, r, nil); err != nil {
		sub.Close()
		if dl != nil {
			dl.Release()
		}
		release()
		return // the upgrader has answered
	}
	c.sink = &sink{conn: &wire{conn: raw, dl: dl, timeout: h.c.WriteTimeout}, f: req.Filter}
	c.seen.Store(time.Now().UnixNano())
	h.track(c, true)
	h.c.Counters.Subscribers.Add(1)
	// The request's goroutine ends here, and with it what net/http holds
	// for the connection (its buffers, the request): the connection waits
	// in the poller, and a write is queued on the pool when there is
	// something to write.
	k, err := poller.Add(raw, func() { go c.readAvailable() })
	if err != nil {
		c.finish(err)
		return
	}
	c.wait.Store(k)
	c.w.Start()
	// The first read: the peer may have sent something already, or
	// crypto/tls read it with the handshake; then the connection waits.
	c.readAvailable()
}

// slots takes the subscriber slots of r: of its token, if it has one, and
// of its address. The release it returns gives both back.
func (h *Handler) slots(r *http.Request) (func(), error) {
	var releaseToken func()
	if g := transports.GrantOf(r.Context()); g != nil {
		var err error
		if releaseToken, err = h.c.Tokens.Acquire(g.Key); err != nil {
			return nil, err
		}
	}
	release, err := h.c.Limiter.Acquire(r.RemoteAddr)
	if releaseToken == nil || err != nil {
		if releaseToken != nil {
			releaseToken()
		}
		return release, err
	}
	return func() {
		release()
		releaseToken()
	}, nil
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
	release func() // the subscriber slot

	wait atomic.Pointer[transports.Waiting]
	seen atomic.Int64 // when the peer last sent anything, Unix ns
	// frames is the reader's state, touched by one reader at a time; nil
	// between whole frames, which is nearly always: an idle connection
	// holds none.
	frames *frames
}

// readAvailable reads what the peer has sent and lets the connection wait
// again, or ends it.
func (c *conn) readAvailable() {
	if err := c.wait.Load().ReadAvailable(readBytes, c.input); err != nil {
		c.finish(err)
	}
}

// input takes what a read brought (the peer is alive) to the frame
// parser, made for the read, and kept only while a frame is incomplete.
func (c *conn) input(data []byte) error {
	c.seen.Store(time.Now().UnixNano())
	if c.frames == nil {
		c.frames = new(frames)
	}
	err := c.frames.feed(data, c.sink.conn)
	if c.frames.between() {
		c.frames = nil
	}
	return err
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

type sink struct {
	conn *wire
	f    *transports.Filter
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
	if err := s.conn.write(frames...); err != nil {
		return 0, err
	}
	return total, nil
}

func (s *sink) Heartbeat() error {
	return s.conn.control(websocket.PingMessage, nil)
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
	if err := s.conn.control(websocket.CloseMessage, msg); err != nil {
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

// close is the Writer's end, and CloseAll's: the connection is closed and,
// if it is waiting, woken, since epoll does not report a descriptor closed
// under it; its reader then finds it closed and ends it.
func (c *conn) close() {
	c.sink.conn.Close()
	if k := c.wait.Load(); k != nil {
		k.Wake()
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
	ws.dl.Release()
	c.release()
	h.track(c, false)
}

// readError wraps the error that ended the reader with the reason it
// means: the poller closed under it (shutdown), the peer closed or went
// (its close frame, the end of the stream, a reset), or else it broke the
// protocol (read.go).
func readError(err error) error {
	r := transports.DisconnectProtocol
	var ce *websocket.CloseError
	var oe *net.OpError
	switch {
	case errors.Is(err, transports.ErrEnded):
		r = transports.DisconnectShutdown
	case errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.As(err, &oe):
		r = transports.DisconnectClosed
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
// call, so that a Handler that serves nobody starts nothing. After Close it
// refuses: the server is shutting down.
func (h *Handler) pollerOnce() (*transports.Poller, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return nil, transports.ErrShuttingDown
	}
	if h.poller == nil {
		p, err := transports.NewPoller()
		if err != nil {
			return nil, err
		}
		h.poller = p
	}
	return h.poller, nil
}

// Close stops the Poller the connections wait in, waking any still
// waiting (they find their connections closed), and the writers. Call it
// after Wait, or CloseAll.
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
