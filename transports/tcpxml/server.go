// Package tcpxml serves the raw XML stream of `nc host 8888`: on connect
// "<hits>" and a newline, then one <hit> element per line, flushed once per
// hub batch, and "</hits>" when the server shuts down, so a saved session is
// a well-formed XML document.
//
// A client may switch to polling by sending "NEW?" (each later "NEW?" is
// answered with what arrived since the previous answer, or <none/>), or
// resume with "SINCE <seq>". Any other line gets <error reason="..."/>;
// blank lines are ignored. The end of a client's input is not the end of
// its stream: nc closes its side for writing when its standard input
// ends, and still reads; the stream goes on until a write fails or the
// server shuts down. A newline written at once tells such a client from
// one that has gone, whose kernel answers it with a reset.
//
// With authentication on (Config.Authenticate), a client's first line must
// be "AUTH <token>", sent within AuthTimeout; nothing is written to it
// before. Anything else, a wrong token, or silence gets one line,
// <error reason="unauthorized"/>, and the connection is closed. A token
// limited to a filter gets only the records it passes, SINCE included.
//
// A client the server cannot take (too many subscribers in all, from its
// address or with its token, or a shutdown under way) gets one line,
// <error reason="..."/>, and the connection is closed. A client ended for
// being too slow gets <error reason="too slow"/> and "</hits>", as at
// shutdown; one whose token was revoked (Hub.End with
// broadcast.ReasonRevoked) gets <error reason="revoked"/> and "</hits>".
//
// Concurrency: Serve tracks every connection until it has ended (its
// WaitGroup), and no goroutine waits on an idle one. A client without
// authentication is let in by the accept loop itself, which never waits on
// it; one that must send AUTH first gets a goroutine until it is in. Once
// in, a connection is waiting in a transports.Poller, and a reader goroutine
// is started when the client sends something (or goes), reads what is
// there, answers it, and lets it wait again (after the end of the client's
// input, for its hang-up only); the reader that finds the connection over
// ends it. Writes go through a transports.Writer: a writer goroutine
// exists only while there is something to write, and the reader takes the
// writer role to answer a command, so writes never overlap. Reads never
// wait, and every write has a deadline. A TLS
// connection, which cannot wait in the poller, is read by a goroutine of its own,
// with a read deadline; after the end of the client's input, the TCP
// connection under it is waiting for its hang-up, and the goroutine ends.
package tcpxml

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

const (
	// readIdle is the read deadline of a connection: clients usually send
	// nothing at all, and the read just starts again; the connection ends
	// when it is closed.
	readIdle = 30 * time.Second
	// readBufferBytes is what one read takes: commands are short.
	readBufferBytes = 128
	// maxCommand bounds one input line: the longest command is a SINCE
	// with a 20-digit seq, or an AUTH with a long token; 1 KiB leaves room
	// and stops a flood early.
	maxCommand = 1024
	// DefaultAuthTimeout is how long a client has to send its AUTH line:
	// a script sends it at once, and a silent connection must not hold a
	// socket and a goroutine for long.
	DefaultAuthTimeout = 10 * time.Second
)

// Config configures a Server.
type Config struct {
	Hub *broadcast.Hub // required
	// WriteTimeout bounds each write; zero means transports.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger gets per-connection events at Debug; nil discards.
	Logger *slog.Logger
	// Counters receive this transport's numbers; nil keeps them private.
	Counters *transports.Counters
	// Limiter bounds the subscribers, shared by every transport; nil
	// allows any number.
	Limiter *transports.Limiter
	// Drain bounds the write deadlines at shutdown; nil leaves them to
	// WriteTimeout.
	Drain *transports.Drain
	// Authenticate, if set, turns authentication on: it is given the token
	// of the client's "AUTH <token>" line and returns what the token
	// allows, or false. Nil means no authentication.
	Authenticate func(token string) (*transports.Grant, bool)
	// AuthTimeout bounds the wait for the AUTH line. Zero means
	// DefaultAuthTimeout.
	AuthTimeout time.Duration
	// OnAuthFailure, if set, is called for every client refused for its
	// credentials (to count it).
	OnAuthFailure func()
	// Tokens bounds the subscribers per token; nil allows any number.
	Tokens *transports.TokenLimiter
}

// Server serves the raw XML stream.
type Server struct {
	hub          *broadcast.Hub
	writeTimeout time.Duration
	log          *slog.Logger
	counters     *transports.Counters
	limiter      *transports.Limiter
	drain        *transports.Drain
	auth         func(string) (*transports.Grant, bool)
	authTimeout  time.Duration
	onAuthFail   func()
	tokens       *transports.TokenLimiter
	writers      transports.WriterPool // write for the connections

	mu    sync.Mutex
	conns map[*conn]struct{}
}

// New returns a server; it starts nothing.
func New(c Config) *Server {
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = transports.DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Counters == nil {
		c.Counters = new(transports.Counters)
	}
	s := &Server{hub: c.Hub, writeTimeout: c.WriteTimeout, log: c.Logger, counters: c.Counters,
		limiter: c.Limiter, drain: c.Drain, conns: make(map[*conn]struct{})}
	s.setAuth(c) // auth.go
	return s
}

// Serve accepts connections on l until ctx is done, then closes l and waits
// for every connection to end. Connections end when the hub ends their
// subscriptions (they write the rest and "</hits>"), when the peer goes,
// or when CloseAll cuts them.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	poller, err := transports.NewPoller()
	if err != nil {
		s.log.Warn("idle connections each keep a goroutine", "err", err)
	} else {
		defer poller.Close() // after every connection has ended
	}
	defer s.writers.Close() // likewise
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isTimeout(err) {
				continue
			}
			return err
		}
		cn := &conn{s: s, c: c, deadline: s.drain.Track(c.SetWriteDeadline)}
		s.track(cn, true)
		wg.Add(1)
		cn.done = func() {
			s.track(cn, false)
			wg.Done()
		}
		if s.openWaiting(ctx, cn, poller) {
			continue
		}
		go s.serveConn(ctx, cn, poller)
	}
}

// CloseAll cuts every connection at once: the last resort of a shutdown
// whose grace period ran out.
func (s *Server) CloseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cn := range s.conns {
		cn.close()
	}
}

// Conns returns how many connections are open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) track(c *conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// conn is one client: its subscription, its mode, and the pending output.
// Nothing waits on an idle connection: it is waiting in the server's Poller,
// and a goroutine starts to read when the client sends something (or goes).
// What is written goes through the Writer, whose role the reader takes to
// answer a command. A TLS connection, which cannot wait there, is read by
// a goroutine of its own.
type conn struct {
	s        *Server
	c        net.Conn
	deadline *transports.Deadline
	w        *transports.Writer
	done     func() // Serve's hold on the connection
	release  func() // the subscriber slot

	wait atomic.Pointer[transports.Waiting]
	// gone is what a reader that cannot wait waits on once the client's
	// input has ended: close closes it. closedMark: close came first.
	gone atomic.Pointer[chan struct{}]

	// The command being read, touched by one reader at a time.
	line      []byte
	skipping  bool // an over-long line: skipped up to its end
	inputDone bool // the client closed its side: parked for its hang-up only

	// Set before the writer starts, read-only after.
	scope *transports.Filter // the token's fixed filter; nil: everything
	meta  *transports.Peer

	// Touched only by the holder of the writer role.
	sub     *broadcast.Subscription
	polling bool
	hello   bool // "<hits>" is still to be written, before anything else
	out     net.Buffers
}

// Lines the server writes on its own account.
var (
	hitsStart = []byte("<hits>\n")
	hitsEnd   = []byte("</hits>\n")
	none      = []byte("<none/>\n")
	newline   = []byte("\n")
	// unauthorized is the one answer to every failed authentication: it
	// says nothing of what was wrong.
	unauthorized = []byte(`<error reason="unauthorized"/>` + "\n")
)

// openWaiting lets a plain TCP client in without a goroutine of its own,
// when nothing about it can wait: no authentication to read, a connection
// that can wait in the poller. It subscribes it, leaves "<hits>" to the
// writer's first write (on the pool), and lets it wait; the Poller starts
// a reader when the client sends something. A connection accepted in a burst of thousands
// then costs no goroutine at all: the runtime keeps every goroutine's
// descriptor it ever made, so one started per connection would stay with
// the process. It reports false, having done nothing, when the connection
// needs serveConn.
func (s *Server) openWaiting(ctx context.Context, cn *conn, poller *transports.Poller) bool {
	if s.auth != nil || poller == nil {
		return false
	}
	if _, ok := cn.c.(*tls.Conn); ok {
		return false
	}
	k, err := poller.Add(cn.c, func() { go cn.readAvailable(ctx) })
	if err != nil {
		return false
	}
	cn.admit() // without authentication: at once
	if err := cn.subscribe(ctx, nil); err != nil {
		k.Remove()
		go cn.turnAway(err) // its one line could wait on the client: not here
		return true
	}
	cn.wait.Store(k)
	cn.w.Start()
	if err := k.WaitInput(); err != nil {
		go cn.finish(err) // it waits for the writer's write
	}
	return true
}

// serveConn lets cn in (reading its AUTH line, if authentication is on),
// subscribes it and leaves it to be read: waiting in the poller, or read by this
// goroutine when it cannot wait there (TLS, or no Poller).
func (s *Server) serveConn(ctx context.Context, cn *conn, poller *transports.Poller) {
	grant, pending, ok := cn.admit() // AUTH first, when authentication is on (auth.go)
	if !ok {
		cn.abandon()
		return
	}
	if err := cn.subscribe(ctx, grant); err != nil {
		cn.turnAway(err)
		return
	}
	if len(pending) > 0 {
		// What came after the AUTH line, in its read.
		if err := cn.input(ctx, pending); err != nil {
			cn.finish(err)
			return
		}
	}
	if _, isTLS := cn.c.(*tls.Conn); !isTLS && poller != nil {
		if k, err := poller.Add(cn.c, func() { go cn.readAvailable(ctx) }); err == nil {
			cn.wait.Store(k)
			cn.w.Start()
			cn.readAvailable(ctx) // it may have sent something already; then it waits
			return
		}
	}
	cn.w.Start()
	if err := cn.readBlocking(ctx, poller); !errors.Is(err, errWaiting) {
		cn.finish(err)
	}
}

// subscribe takes a subscriber slot for cn (of its address, and of its
// token, grant, if any) and subscribes it; "<hits>" is then due first.
// An error says why the client cannot be served: turn it away.
func (cn *conn) subscribe(ctx context.Context, grant *transports.Grant) error {
	s := cn.s
	release, err := s.limiter.Acquire(cn.meta.Addr)
	if err == nil {
		release, err = cn.tokenSlot(grant, release)
	}
	if err != nil {
		return err
	}
	cn.w = transports.NewWriter(cn.flush, cn.close, 0, &s.writers)
	sub, err := s.hub.Subscribe(ctx, broadcast.SubscribeOptions{DropCounter: &s.counters.Dropped, Notify: cn.w.Notify, Meta: cn.meta})
	if err != nil {
		release()
		return transports.ErrShuttingDown
	}
	cn.release, cn.sub, cn.hello = release, sub, true
	s.counters.Subscribers.Add(1)
	cn.debug("raw tcp subscriber connected")
	return nil
}

// turnAway tells a client that could not subscribe why, and ends it.
func (cn *conn) turnAway(err error) {
	cn.refuse(err)
	cn.debug("raw tcp subscriber refused", "err", err)
	cn.abandon()
}

// debug logs at Debug with the client's address and token, put together
// only when it is logged: a logger made With them would be kept by every
// idle connection.
func (cn *conn) debug(msg string, args ...any) {
	if !cn.s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	args = append(args, "remote", cn.meta.Addr)
	if cn.meta.Token != "" {
		args = append(args, "token", cn.meta.Token)
	}
	cn.s.log.Debug(msg, args...)
}

// abandon ends a connection that never subscribed.
func (cn *conn) abandon() {
	cn.c.Close()
	cn.deadline.Release()
	cn.done()
}

// close closes the connection, and wakes its reader if it is waiting
// (epoll does not report a descriptor closed under it) or waiting after
// the end of the client's input: that reader ends it.
func (cn *conn) close() {
	cn.c.Close()
	if k := cn.wait.Load(); k != nil {
		k.Wake()
	}
	if g := cn.gone.Swap(closedMark); g != nil && g != closedMark {
		close(*g)
	}
}

// closedMark in conn.gone says the connection was closed before a reader
// waited for it.
var closedMark = new(chan struct{})

// errHungUp ends a client that had ended its input and is now gone too.
var errHungUp = errors.New("the client hung up")

// errWaiting says the reader's role went to the Poller with the connection.
var errWaiting = errors.New("waiting for its hang-up")

// inputEnded is the reader's answer to the end of the client's input. A
// client that stops sending (nc closes its side for writing when its
// standard input ends) still reads, so the stream goes on until a write
// fails or the server ends it. A client that has gone sends the same end
// of input, and only a write tells them apart: its kernel answers with a
// reset. So a newline, which means nothing between the document's
// elements, is written at once, and the connection is waiting for its
// hang-up only (its input, over, would be readable for good): a reset,
// or the wake of a close from this side, ends it. A TLS connection's
// input is over too, so the TCP connection under it is waiting the same
// way, and its reader returns errWaiting. Without a Poller, the reader
// waits for the connection to be closed.
func (cn *conn) inputEnded(poller *transports.Poller) error {
	cn.inputDone = true
	if err := cn.w.Do(func() error {
		cn.out = append(cn.out, newline)
		return cn.write()
	}); err != nil {
		return err
	}
	if k := cn.wait.Load(); k != nil {
		return k.WaitHangup()
	}
	if poller != nil {
		if k, err := poller.Add(underlying(cn.c), func() { go cn.finish(errHungUp) }); err == nil {
			cn.wait.Store(k)
			if err := k.WaitHangup(); err != nil {
				return err
			}
			return errWaiting
		}
	}
	g := make(chan struct{})
	if cn.gone.CompareAndSwap(nil, &g) {
		<-g
	}
	return errHungUp
}

// finish ends the connection, once, from its reader: err is why it stopped
// reading.
func (cn *conn) finish(err error) {
	cn.c.Close() // a write stuck on a client that stopped reading fails now
	err = cn.w.Stop(err)
	if k := cn.wait.Load(); k != nil {
		k.Remove()
	}
	cn.sub.Close() // the writer is done: the subscription is the reader's again
	s := cn.s
	s.counters.Subscribers.Add(-1)
	reason := transports.ReasonOf(cn.sub, err)
	s.counters.Disconnected(reason)
	cn.debug("raw tcp subscriber ended", "reason", reason)
	cn.release()
	cn.deadline.Release()
	cn.done()
}

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

// readAvailable reads what the client has sent, answers it, and lets the
// connection wait again, or ends it if the client went.
func (cn *conn) readAvailable(ctx context.Context) {
	if cn.inputDone {
		// Parked for its hang-up only: the peer reset the connection,
		// or it was closed from this side.
		cn.finish(errHungUp)
		return
	}
	input := func(b []byte) error { return cn.input(ctx, b) }
	err := cn.wait.Load().ReadAvailable(readBufferBytes, input)
	if errors.Is(err, io.EOF) {
		err = cn.inputEnded(nil)
	}
	if err != nil {
		cn.finish(err)
	}
}

// readBlocking reads and answers the client's lines until the connection
// ends, and returns the error that ended it, or errWaiting when its input
// ended and the connection was waiting (inputEnded).
func (cn *conn) readBlocking(ctx context.Context, poller *transports.Poller) error {
	buf := make([]byte, readBufferBytes)
	for {
		cn.c.SetReadDeadline(time.Now().Add(readIdle))
		n, err := cn.c.Read(buf)
		if n > 0 {
			if err := cn.input(ctx, buf[:n]); err != nil {
				return err
			}
		}
		switch {
		case err == nil:
		case isTimeout(err):
			// Clients usually send nothing: look again.
		case errors.Is(err, io.EOF):
			return cn.inputEnded(poller)
		default:
			return err
		}
	}
}

// flush is the connection's transports.Writer flush: it writes what the
// subscription has (nothing while the client polls), and the end of the
// stream once the hub has ended it.
func (cn *conn) flush(bool) (over bool, err error) {
	done := cn.sub.Ended()
	if why := transports.EndReason(cn.sub.Reason()); done && why != "" {
		// What it missed is not worth writing to a client that cannot
		// keep up, nor owed to one whose credentials were revoked: only
		// the goodbye.
		cn.out = append(cn.out, []byte(`<error reason="`+why+`"/>`+"\n"), hitsEnd)
		return true, cn.write()
	}
	if !cn.polling {
		if err := cn.queueAll(); err != nil {
			return true, err
		}
	}
	if done {
		cn.out = append(cn.out, hitsEnd)
	}
	err = cn.write()
	return done || err != nil, err
}

// refuse tells a client it cannot be served, in one line, before the
// connection is closed.
func (cn *conn) refuse(err error) {
	cn.s.counters.Refused(transports.RefuseReasonOf(err))
	cn.out = append(cn.out, []byte(`<error reason="`+err.Error()+`"/>`+"\n"))
	cn.write()
}

// queueAll takes everything the subscription has and queues it, writing
// as it goes: history comes a page per Take.
func (cn *conn) queueAll() error {
	for items := cn.sub.Take(); len(items) > 0; items = cn.sub.Take() {
		cn.queueItems(items)
		if len(cn.out) > 64 {
			if err := cn.write(); err != nil {
				return err
			}
		}
	}
	return nil
}

// queueItems adds items to the pending output. Batches are the hub's
// shared encoding: written as they are, never copied.
func (cn *conn) queueItems(items []broadcast.Item) {
	c := cn.s.counters
	for _, it := range items {
		if it.Batch == nil {
			cn.out = append(cn.out, append(transports.AppendXMLGap(nil, it.Gap.From, it.Gap.To), '\n'))
			c.Gaps.Add(1)
			continue
		}
		b, n := transports.Render(it.Batch, cn.scope, transports.XMLLines, transports.AppendXMLLines)
		if n > 0 {
			cn.out = append(cn.out, b)
		}
		c.Sent.Add(uint64(n))
	}
}

// write writes the pending output, with a deadline, in one writev.
func (cn *conn) write() error {
	if len(cn.out) == 0 && !cn.hello {
		return nil
	}
	if cn.hello {
		cn.out = slices.Insert(cn.out, 0, hitsStart)
		cn.hello = false
	}
	cn.deadline.Set(time.Now().Add(cn.s.writeTimeout))
	_, err := cn.out.WriteTo(cn.c)
	clear(cn.out[:cap(cn.out)]) // let go of the batches' encodings
	cn.out = cn.out[:0]
	return err
}

// command answers one command line; it runs holding the writer role.
func (cn *conn) command(ctx context.Context, line string) error {
	switch {
	case line == "NEW?":
		if !cn.polling {
			cn.polling = true
			cn.sub.SetPolling(true)
		}
		before := len(cn.out)
		for items := cn.sub.Take(); len(items) > 0; items = cn.sub.Take() {
			cn.queueItems(items)
		}
		if len(cn.out) == before {
			cn.out = append(cn.out, none)
		}
	case strings.HasPrefix(line, "SINCE "):
		seq, err := strconv.ParseUint(strings.TrimSpace(line[len("SINCE "):]), 10, 64)
		if err != nil {
			cn.out = append(cn.out, []byte(`<error reason="SINCE takes a sequence number"/>`+"\n"))
			break
		}
		// A new subscription resumes exactly after seq; what the old one
		// had queued is after seq too, so nothing is lost or repeated.
		sub, err := cn.s.hub.Subscribe(ctx, broadcast.SubscribeOptions{Resume: true, Since: seq,
			DropCounter: &cn.s.counters.Dropped, Notify: cn.w.Notify, Meta: cn.meta})
		if err != nil {
			return err
		}
		cn.sub.Close()
		cn.sub, cn.polling = sub, false
		// What it has is written as the role is let go (Writer.Do).
	case line == "":
	default:
		cn.out = append(cn.out, []byte(`<error reason="unknown command: send NEW? or SINCE &lt;seq&gt;"/>`+"\n"))
	}
	return cn.write()
}

// input takes bytes the client sent and answers each complete line.
// Over-long lines are answered once and skipped without being held. Each
// answer is written before more is read, so a client that floods commands
// is held back by its own answers' write deadline, and its memory by
// maxCommand.
func (cn *conn) input(ctx context.Context, data []byte) error {
	for len(data) > 0 {
		part, rest, found := bytes.Cut(data, []byte{'\n'})
		data = rest
		if !cn.skipping {
			cn.line = append(cn.line, part...)
			if len(cn.line) > maxCommand {
				cn.line, cn.skipping = nil, true // and let go of its memory
				if err := cn.w.Do(func() error {
					cn.out = append(cn.out, []byte(`<error reason="line too long"/>`+"\n"))
					return cn.write()
				}); err != nil {
					return err
				}
			}
		}
		if !found {
			break
		}
		if !cn.skipping {
			cmd := string(bytes.TrimRight(cn.line, "\r"))
			if err := cn.w.Do(func() error { return cn.command(ctx, cmd) }); err != nil {
				return err
			}
		}
		cn.line, cn.skipping = cn.line[:0], false
	}
	if len(cn.line) == 0 {
		cn.line = nil // an idle connection holds no buffer
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
