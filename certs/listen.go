package certs

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weblogd/weblogd/internal/nowait"
)

const (
	// DefaultHandshakeTimeout bounds a handshake when ListenerConfig gives
	// none: a real client finishes in a few round trips, so this only
	// ever cuts clients that are not speaking TLS or not speaking at all.
	DefaultHandshakeTimeout = 10 * time.Second
	// maxHandshakes bounds the handshakes under way at once (a goroutine
	// and a socket each). A flood of clients that never finish one then
	// delays new ones by at most the handshake timeout instead of growing
	// without bound.
	maxHandshakes = 1024
	// plainReplyTimeout bounds the plain-text reply to a client that is
	// not speaking TLS, and the reading of what it sent meanwhile.
	plainReplyTimeout = time.Second
	// plainDrainBytes is how much of a plain-text client's input is read
	// (and dropped) after the reply, so that closing with unread input
	// does not reset the connection before the client reads the reply.
	plainDrainBytes = 64 << 10
)

// ListenerConfig configures a Listener.
type ListenerConfig struct {
	// TLS is the server configuration; required.
	TLS *tls.Config
	// HandshakeTimeout bounds each handshake. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// PlainTextReply is written, unencrypted, to a client whose first
	// bytes are not a TLS handshake, before its connection is closed. Nil
	// writes nothing.
	PlainTextReply []byte
	// Logger receives failed handshakes at Debug. Nil discards.
	Logger *slog.Logger
}

// Listener is a TLS listener whose Accept returns only connections whose
// handshake succeeded within HandshakeTimeout (as *tls.Conn). Handshakes run
// in goroutines of their own, so a slow one holds up no other client.
type Listener struct {
	inner   net.Listener
	tls     *tls.Config
	timeout time.Duration
	plain   []byte
	log     *slog.Logger

	handshaken chan *tls.Conn
	slots      chan struct{} // one per handshake under way
	done       chan struct{} // closed by Close
	failed     chan struct{} // closed when inner's Accept failed
	err        error         // why; set before failed is closed
	wg         sync.WaitGroup

	mu      sync.Mutex
	started bool
	closed  bool
	pending map[net.Conn]struct{} // connections in their handshake
}

// NewListener returns a Listener over inner. It starts nothing: the first
// Accept does.
func NewListener(inner net.Listener, c ListenerConfig) *Listener {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		inner:      inner,
		tls:        c.TLS,
		timeout:    c.HandshakeTimeout,
		plain:      c.PlainTextReply,
		log:        c.Logger,
		handshaken: make(chan *tls.Conn),
		slots:      make(chan struct{}, maxHandshakes),
		done:       make(chan struct{}),
		failed:     make(chan struct{}),
		pending:    map[net.Conn]struct{}{},
	}
}

// Accept returns the next connection whose handshake succeeded, or
// net.ErrClosed once the listener is closed, or the error that stopped the
// underlying listener.
func (l *Listener) Accept() (net.Conn, error) {
	if !l.start() {
		return nil, net.ErrClosed
	}
	select {
	case c := <-l.handshaken:
		return c, nil
	case <-l.failed:
		return nil, l.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Addr is the underlying listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Close stops accepting, cuts the handshakes under way and waits for every
// goroutine of the listener; so does every later call, which makes Close
// the way to wait for a listener that someone else closed. Connections
// already returned by Accept are the caller's.
func (l *Listener) Close() error {
	var err error
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.done)
		err = l.inner.Close()
		for c := range l.pending {
			c.Close()
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// start runs the accept loop once; false if the listener is closed.
// Under mu with closed, so that Close's Wait never misses the loop.
func (l *Listener) start() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if !l.started {
		l.started = true
		l.wg.Add(1)
		go l.acceptLoop()
	}
	return true
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.slots
			select {
			case <-l.done:
			default:
				l.err = err
				close(l.failed)
			}
			return
		}
		if !l.track(c, true) {
			c.Close()
			<-l.slots
			return
		}
		l.wg.Add(1) // the loop's own count is held: Close's Wait cannot have returned
		go l.handshake(c)
	}
}

func (l *Listener) handshake(raw net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	tc := tls.Server(&failFast{Conn: raw}, l.tls)
	raw.SetDeadline(time.Now().Add(l.timeout))
	if err := tc.Handshake(); err != nil {
		l.refuse(raw, err)
		l.track(raw, false)
		raw.Close()
		return
	}
	l.track(raw, false)
	raw.SetDeadline(time.Time{}) // from now on the protocol sets its own
	select {
	case l.handshaken <- tc:
	case <-l.done:
		raw.Close()
	}
}

// refuse tells a client that is not speaking TLS (its first bytes are no
// TLS record) what this port is, in plain text, then reads what it sent
// meanwhile so that the close does not reset the connection before the
// reply is read.
func (l *Listener) refuse(raw net.Conn, err error) {
	l.log.Debug("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
	var rh tls.RecordHeaderError
	if l.plain == nil || !errors.As(err, &rh) || rh.Conn == nil {
		return
	}
	raw.SetDeadline(time.Now().Add(plainReplyTimeout))
	if _, err := raw.Write(l.plain); err != nil {
		return
	}
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(raw, plainDrainBytes))
}

// track adds c to (or removes it from) the connections that Close cuts;
// false if the listener is closed.
func (l *Listener) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !add {
		delete(l.pending, c)
		return true
	}
	if l.closed {
		return false
	}
	l.pending[c] = struct{}{}
	return true
}

// FailFast returns a listener whose connections fail every write after the
// first one that failed. Put under TLS, it keeps a connection whose peer
// stopped reading from being held open 5 s longer: crypto/tls's Close sends
// close_notify with a 5 s deadline of its own, even after a write timed out.
func FailFast(l net.Listener) net.Listener { return failFastListener{l} }

type failFastListener struct{ net.Listener }

func (l failFastListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &failFast{Conn: c}, nil
}

// failFast is a connection whose writes all fail once one has. After a
// failed write the byte stream may be cut mid-record: nothing written
// after it could be read by the peer anyway. Under a TLS connection that
// NoWait switched, its reads never wait either.
type failFast struct {
	net.Conn
	err    atomic.Pointer[error]
	noWait atomic.Bool
}

// NetConn returns the connection under c (as tls.Conn's NetConn does),
// for those that wait on its descriptor.
func (c *failFast) NetConn() net.Conn { return c.Conn }

// SyscallConn is the descriptor of the connection under c: a poller waits
// on it, and the reads of NoWait use it.
func (c *failFast) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errNoDescriptor
	}
	return sc.SyscallConn()
}

var errNoDescriptor = errors.New("the connection has no descriptor")

func (c *failFast) Read(b []byte) (int, error) {
	if !c.noWait.Load() {
		return c.Conn.Read(b)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	return nowait.Read(rc, b)
}

func (c *failFast) Write(b []byte) (int, error) {
	if err := c.err.Load(); err != nil {
		return 0, *err
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		c.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

// NoWait switches c, a TLS connection from a Listener or a FailFast
// listener whose handshake is done, to reads that never wait: a Read with
// nothing to read returns at once, with nowait.ErrWouldBlock (a net.Error
// whose Timeout is true); crypto/tls keeps a record of which only part
// has come for the next Read. Its owner then waits for the descriptor of
// the connection under c (c.NetConn(), a syscall.Conn) to be readable,
// with no goroutine. It reports false, changing nothing, for any other
// connection, or one whose handshake is not done (a handshake must be
// able to wait). Set no read deadline on c then: one that has passed
// fails its reads.
func NoWait(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	if !ok || !tc.ConnectionState().HandshakeComplete {
		return false
	}
	ff, ok := tc.NetConn().(*failFast)
	if !ok {
		return false
	}
	if _, err := ff.SyscallConn(); err != nil {
		return false
	}
	ff.noWait.Store(true)
	return true
}
