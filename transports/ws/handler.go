// Package ws serves GET /ws over WebSocket (gorilla/websocket): one text
// message per batch, {"type":"hits","hits":[...]}, and {"type":"gap",...}
// for gaps. Subscribers without a filter share one PreparedMessage per
// batch, so the frame is built once for all of them. Browser connections
// from another origin are refused unless allowed.
//
// Concurrency: once upgraded, a connection is owned by one reader
// goroutine, started by the handler (whose own goroutine then returns, so
// that net/http lets go of the request and its buffers). The reader
// discards data and handles control frames: pongs push the read deadline
// forward, so a peer that stops answering pings is found and dropped.
// Writes, pings included, go through a transports.Writer: a writer
// goroutine exists only while there is something to write, so an idle
// subscriber costs one goroutine and a few hundred bytes of buffers. When
// the peer goes the reader stops the writer, waits for it, and releases
// the subscription. Hijacked connections are not tracked by
// http.Server.Shutdown: Wait and CloseAll are the shutdown's handles on
// them, and the Drain bounds their writes, gorilla's own deadlines
// included.
//
// A subscriber ended for being too slow gets a close frame with 1008
// (policy violation) and the reason "too slow"; at shutdown the code is
// 1001 (going away).
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
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

const (
	// DefaultPongWait is how long a peer may stay silent (no pong, no
	// message) before it is taken for dead.
	DefaultPongWait = 60 * time.Second
	// maxMessageSize bounds what a client may send: clients send nothing
	// but control frames, so a small limit stops floods early.
	maxMessageSize = 4096
	// readBufferBytes is the read buffer of a connection: a frame header
	// and a control frame's payload fit.
	readBufferBytes = 256
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

// writeBuffers lends write buffers to connections while they write.
var writeBuffers sync.Pool

// Handler serves /ws.
type Handler struct {
	c        Config
	upgrader websocket.Upgrader

	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
	idle  chan struct{} // closed when conns becomes empty; nil while empty
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
	h := &Handler{c: c, conns: map[*websocket.Conn]struct{}{}}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: c.WriteTimeout,
		// Clients send nothing but control frames (at most 125 bytes of
		// payload): a small read buffer is enough, and writes borrow a
		// buffer from the pool only while they write. An idle subscriber
		// then holds no buffer it does not use.
		ReadBufferSize:  readBufferBytes,
		WriteBufferPool: &writeBuffers,
		CheckOrigin:     h.checkOrigin,
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
	c := &conn{h: h, release: release, readerDone: make(chan struct{})}
	c.w = transports.NewWriter(c.flush, c.close, h.c.PongWait*9/10)
	opts.Notify = c.w.Kick
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
		wrapped, untrack := h.c.Drain.Conn(nc)
		c.untrack = untrack
		return wrapped
	})
	ws, err := h.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		sub.Close()
		c.done()
		return // the upgrader has answered
	}
	c.sink = &sink{conn: ws, f: req.Filter, timeout: h.c.WriteTimeout, readerDone: c.readerDone}
	// The request's goroutine ends here, and with it what net/http holds
	// for the connection (its buffers, the request): an idle subscriber
	// keeps only the reader below, and a writer exists only while there is
	// something to write (transports.Writer).
	h.track(ws, true)
	h.c.Counters.Subscribers.Add(1)
	go c.read()
	c.w.Start()
}

// conn is one WebSocket subscriber once upgraded. Its reader goroutine
// owns it: when the peer goes (or the writer closes the connection after
// its goodbye), the reader stops the writer and releases everything.
type conn struct {
	h          *Handler
	sub        *broadcast.Subscription
	sink       *sink
	w          *transports.Writer
	release    func() // the subscriber slot
	untrack    func() // the drain's hold on the connection; nil before the hijack
	readerDone chan struct{}
}

func (c *conn) flush(beat bool) (bool, error) {
	return transports.Flush(c.sub, c.sink, c.h.c.Counters, beat)
}

// close is the Writer's end: the stream is over, so the reader must return.
func (c *conn) close() { c.sink.conn.Close() }

// read is the connection's goroutine (see conn).
func (c *conn) read() {
	h, ws := c.h, c.sink.conn
	// The peer went, fell silent or broke the protocol: stop writing,
	// and say which.
	cause := readError(h.read(ws))
	close(c.readerDone)
	ws.Close() // a write stuck on a peer that stopped reading fails now
	err := c.w.Stop(cause)
	c.sub.Close()
	h.c.Counters.Subscribers.Add(-1)
	h.c.Counters.Disconnected(transports.ReasonOf(c.sub, err))
	c.done()
	h.track(ws, false)
}

// done gives back the subscriber slot and the drain's hold.
func (c *conn) done() {
	if c.untrack != nil {
		c.untrack()
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

// read discards what the peer sends and keeps control frames flowing,
// until an error, which it returns. A message over maxMessageSize ends it
// (gorilla answers it with a close frame, 1009).
func (h *Handler) read(conn *websocket.Conn) error {
	conn.SetReadLimit(maxMessageSize)
	conn.SetReadDeadline(time.Now().Add(h.c.PongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(h.c.PongWait))
	})
	for {
		// NextReader discards the previous message, read limit applied.
		if _, _, err := conn.NextReader(); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(h.c.PongWait))
	}
}

func (h *Handler) track(c *websocket.Conn, add bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if add {
		if len(h.conns) == 0 {
			h.idle = make(chan struct{})
		}
		h.conns[c] = struct{}{}
		return
	}
	delete(h.conns, c)
	if len(h.conns) == 0 {
		close(h.idle)
		h.idle = nil
	}
}

// Wait returns nil when no WebSocket connection is open, or ctx's error.
// At shutdown the hub ends their subscriptions and each handler sends a
// close frame and returns.
func (h *Handler) Wait(ctx context.Context) error {
	for {
		h.mu.Lock()
		idle := h.idle
		h.mu.Unlock()
		if idle == nil {
			return nil
		}
		select {
		case <-idle:
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
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
}

// preparedKey names the shared PreparedMessage in broadcast.Batch.Memo.
type preparedKey struct{}

func prepared(b *broadcast.Batch) *websocket.PreparedMessage {
	return b.Memo(preparedKey{}, func(b *broadcast.Batch) any {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, transports.WSMessage(b))
		if err != nil {
			return nil // only compression can fail, and it is off
		}
		return pm
	}).(*websocket.PreparedMessage)
}

type sink struct {
	conn       *websocket.Conn
	f          *transports.Filter
	timeout    time.Duration
	readerDone <-chan struct{}
}

func (s *sink) Send(items []broadcast.Item) (int, error) {
	total := 0
	for _, it := range items {
		s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
		if it.Batch == nil {
			if err := s.conn.WriteMessage(websocket.TextMessage, transports.AppendJSONGap(nil, it.Gap.From, it.Gap.To)); err != nil {
				return total, err
			}
			continue
		}
		recs, all := transports.Matching(it.Batch, s.f)
		if all { // the frame every unfiltered subscriber shares
			if err := s.conn.WritePreparedMessage(prepared(it.Batch)); err != nil {
				return total, err
			}
			total += len(it.Batch.Records)
			continue
		}
		if len(recs) == 0 {
			continue
		}
		if err := s.conn.WriteMessage(websocket.TextMessage, transports.AppendWSMessage(nil, recs)); err != nil {
			return total, err
		}
		total += len(recs)
	}
	return total, nil
}

func (s *sink) Heartbeat() error {
	return s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.timeout))
}

// End sends a close frame, 1001 (going away) at shutdown or 1008 (policy
// violation) for a subscriber too slow, and gives the peer a moment to
// answer it, as the protocol asks.
func (s *sink) End(reason broadcast.Reason) error {
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down")
	if reason == broadcast.ReasonSlow {
		msg = websocket.FormatCloseMessage(websocket.ClosePolicyViolation, transports.TooSlow)
	}
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.timeout)); err != nil {
		return err
	}
	select {
	case <-s.readerDone:
	case <-time.After(closeGrace):
	}
	return nil
}
