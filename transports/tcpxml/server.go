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
// A connection's life, in the order of this file: the accept loop lets it
// in (open) and leaves it in a transports.Poller, with no goroutine; when
// the client sends something (or goes), a reader reads what is there
// (readAvailable): its AUTH line first, if authentication is on, then its
// commands, each answered through the transports.Writer (Writer.Do), so
// that writes never overlap; then the connection waits again. The hub's
// news queues a write on the server's WriterPool; every write has a
// deadline. At the end of the client's input the connection waits for its
// hang-up only (inputEnded). The goodbye, "</hits>", is the last write once
// the hub has ended the subscription (flush); the reader that finds the
// connection over ends it (finish). Serve tracks every connection until it
// has ended.
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
	// readBufferBytes is what one read takes: commands are short.
	readBufferBytes = 128
	// maxCommand bounds one input line: the longest command is a SINCE
	// with a 20-digit seq, or an AUTH with a long token; 1 KiB leaves room
	// and stops a flood early.
	maxCommand = 1024
	// DefaultAuthTimeout is how long a client has to send its AUTH line:
	// a script sends it at once, and a silent connection must not hold a
	// socket for long.
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
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.OnAuthFailure == nil {
		c.OnAuthFailure = func() {}
	}
	return &Server{hub: c.Hub, writeTimeout: c.WriteTimeout, log: c.Logger, counters: c.Counters,
		limiter: c.Limiter, drain: c.Drain, auth: c.Authenticate, authTimeout: c.AuthTimeout,
		onAuthFail: c.OnAuthFailure, tokens: c.Tokens, conns: make(map[*conn]struct{})}
}

// Serve accepts connections on l until ctx is done, then closes l and waits
// for every connection to end. Connections end when the hub ends their
// subscriptions (they write the rest and "</hits>"), when the peer goes,
// or when CloseAll cuts them.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	poller, err := transports.NewPoller()
	if err != nil {
		return err
	}
	defer poller.Close()    // after every connection has ended
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
		wg.Add(1)
		s.open(ctx, c, poller, &wg)
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
type conn struct {
	s        *Server
	c        net.Conn
	deadline *transports.Deadline
	w        *transports.Writer
	held     *sync.WaitGroup // Serve's, which waits for the connection to end
	release  func()          // the subscriber slot; nil until it has one

	wait atomic.Pointer[transports.Waiting] // its place in the poller
	// authTimer refuses a client that has not sent its AUTH line in time;
	// stopped at the AUTH line, and nil from then on.
	authTimer *time.Timer

	// The command being read, touched by one reader at a time.
	line      []byte
	skipping  bool // an over-long line: skipped up to its end
	inputDone bool // the client closed its side: waiting for its hang-up only

	// Set before the writer starts, read-only after.
	scope *transports.Filter // the token's fixed filter; nil: everything
	meta  *transports.Peer

	// Touched only by the holder of the writer role.
	sub     *broadcast.Subscription // nil until it is let in
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
	// unauthorizedLine is the one answer to every failed authentication:
	// it says nothing of what was wrong.
	unauthorizedLine = []byte(`<error reason="unauthorized"/>` + "\n")
)

// open lets a client in from the accept loop, which never waits on it: it
// subscribes it at once (or, with authentication on, starts the clock for
// its AUTH line) and leaves it in the poller, which starts a reader when
// the client sends something. A connection accepted in a burst of
// thousands then costs no goroutine at all: the runtime keeps every
// goroutine's descriptor it ever made, so one started per connection would
// stay with the process.
func (s *Server) open(ctx context.Context, c net.Conn, poller *transports.Poller, wg *sync.WaitGroup) {
	cn := &conn{s: s, c: c, deadline: s.drain.Track(c.SetWriteDeadline), held: wg,
		meta: &transports.Peer{Addr: c.RemoteAddr().String(), Transport: "tcp"}}
	cn.w = transports.NewWriter(cn.flush, cn.close, 0, &s.writers)
	s.track(cn, true)
	if s.auth == nil {
		if err := cn.subscribe(ctx, nil); err != nil {
			go cn.turnAway(err) // its one line could wait on the client: not here
			return
		}
	} else {
		cn.authTimer = time.AfterFunc(s.authTimeout, cn.authTimedOut)
	}
	k, err := poller.Add(c, func() { go cn.readAvailable(ctx) })
	if err != nil {
		go cn.finish(err) // it waits for the writer
		return
	}
	cn.wait.Store(k)
	if _, isTLS := c.(*tls.Conn); isTLS {
		// crypto/tls may hold input it read with the handshake, which
		// epoll would never report: the first read looks.
		go cn.readAvailable(ctx)
		return
	}
	if err := k.WaitInput(); err != nil {
		go cn.finish(err)
	}
}

// readAvailable is the reader: it reads what the client has sent, answers
// it, and lets the connection wait again, or ends it if the client went.
func (cn *conn) readAvailable(ctx context.Context) {
	if cn.inputDone {
		// Waiting for its hang-up only: the peer reset the connection, or
		// it was closed from this side.
		cn.finish(errHungUp)
		return
	}
	input := func(b []byte) error { return cn.input(ctx, b) }
	err := cn.wait.Load().ReadAvailable(readBufferBytes, input)
	if errors.Is(err, io.EOF) {
		err = cn.inputEnded()
	}
	if err != nil {
		cn.finish(err)
	}
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
				if cn.authTimer != nil {
					return cn.w.Do(cn.unauthorized)
				}
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
			answer := func() error { return cn.command(ctx, cmd) }
			if cn.authTimer != nil {
				answer = func() error { return cn.authenticate(ctx, cmd) }
			}
			if err := cn.w.Do(answer); err != nil {
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

// authenticate answers the client's first line, holding the writer role:
// it must be "AUTH <token>" with a token Authenticate knows; then the
// client is subscribed, with what its token allows.
func (cn *conn) authenticate(ctx context.Context, line string) error {
	cn.authTimer.Stop() // if it has fired meanwhile, it finds the client in
	cn.authTimer = nil
	secret, ok := strings.CutPrefix(line, "AUTH ")
	var g *transports.Grant
	if ok {
		g, ok = cn.s.auth(strings.TrimSpace(secret))
	}
	if !ok {
		return cn.unauthorized()
	}
	cn.scope = g.Scope
	cn.meta.Token, cn.meta.Filter, cn.meta.Grant = g.Name, g.Scope.String(), g
	if err := cn.subscribe(ctx, g); err != nil {
		cn.refuse(err)
		return err
	}
	return nil
}

// authTimedOut is the auth timer's: a client still not let in is refused.
// It takes the writer role, so that it and the reader's AUTH line never
// both answer.
func (cn *conn) authTimedOut() {
	cn.w.Do(func() error {
		if cn.sub != nil {
			return nil
		}
		return cn.unauthorized()
	})
}

// unauthorized refuses a client for its credentials, holding the writer
// role; the error ends the stream, and the writer closes the connection.
func (cn *conn) unauthorized() error {
	cn.s.onAuthFail()
	cn.out = append(cn.out, unauthorizedLine)
	cn.write()
	cn.debug("raw tcp client refused: not authenticated")
	return errUnauthorized
}

var errUnauthorized = errors.New("not authenticated")

// subscribe takes a subscriber slot for cn (of its address, and of its
// token, grant, if any), subscribes it and starts its writer; "<hits>" is
// then due first. An error says why the client cannot be served.
func (cn *conn) subscribe(ctx context.Context, grant *transports.Grant) error {
	s := cn.s
	release, err := s.limiter.Acquire(cn.meta.Addr)
	if err == nil && grant != nil {
		var releaseToken func()
		if releaseToken, err = s.tokens.Acquire(grant.Key); err != nil {
			release()
		} else {
			releaseAddr := release
			release = func() {
				releaseToken()
				releaseAddr()
			}
		}
	}
	if err != nil {
		return err
	}
	sub, err := s.hub.Subscribe(ctx, broadcast.SubscribeOptions{DropCounter: &s.counters.Dropped, Notify: cn.w.Notify, Meta: cn.meta})
	if err != nil {
		release()
		return transports.ErrShuttingDown
	}
	cn.release, cn.sub, cn.hello = release, sub, true
	s.counters.Subscribers.Add(1)
	cn.debug("raw tcp subscriber connected")
	cn.w.Start()
	return nil
}

// turnAway tells a client that could not subscribe why, and ends it.
func (cn *conn) turnAway(err error) {
	cn.refuse(err)
	cn.finish(err)
}

// refuse tells a client it cannot be served, in one line, before the
// connection is closed.
func (cn *conn) refuse(err error) {
	cn.s.counters.Refused(transports.RefuseReasonOf(err))
	cn.out = append(cn.out, []byte(`<error reason="`+err.Error()+`"/>`+"\n"))
	cn.write()
	cn.debug("raw tcp subscriber refused", "err", err)
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

// flush is the connection's transports.Writer flush: it writes what the
// subscription has (nothing while the client polls), and the goodbye once
// the hub has ended it.
func (cn *conn) flush(bool) (over bool, err error) {
	ended := cn.sub.Reason() // read before taking: what came before the end is written
	done := ended != ""
	if why := transports.EndReason(ended); why != "" {
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

// inputEnded is the reader's answer to the end of the client's input. A
// client that stops sending (nc closes its side for writing when its
// standard input ends) still reads, so the stream goes on until a write
// fails or the server ends it. A client that has gone sends the same end
// of input, and only a write tells them apart: its kernel answers with a
// reset. So a newline, which means nothing between the document's
// elements, is written at once, and the connection waits for its hang-up
// only (its input, over, would be readable for good): a reset, or the
// wake of a close from this side, ends it. A client that ends its input
// before its AUTH line is refused.
func (cn *conn) inputEnded() error {
	if cn.authTimer != nil {
		return cn.w.Do(cn.unauthorized)
	}
	cn.inputDone = true
	if err := cn.w.Do(func() error {
		cn.out = append(cn.out, newline)
		return cn.write()
	}); err != nil {
		return err
	}
	return cn.wait.Load().WaitHangup()
}

// errHungUp ends a client that had ended its input and is now gone too.
var errHungUp = errors.New("the client hung up")

// close closes the connection, and wakes its reader if it is waiting
// (epoll does not report a descriptor closed under it): that reader ends
// it.
func (cn *conn) close() {
	cn.c.Close()
	if k := cn.wait.Load(); k != nil {
		k.Wake()
	}
}

// finish ends the connection, once, from its reader: err is why it stopped
// reading.
func (cn *conn) finish(err error) {
	cn.c.Close() // a write stuck on a client that stopped reading fails now
	err = cn.w.Stop(err)
	if k := cn.wait.Load(); k != nil {
		k.Remove()
	}
	if cn.authTimer != nil {
		cn.authTimer.Stop()
	}
	if cn.sub != nil { // it was let in
		cn.sub.Close() // the writer is done: the subscription is the reader's again
		s := cn.s
		s.counters.Subscribers.Add(-1)
		reason := transports.ReasonOf(cn.sub, err)
		s.counters.Disconnected(reason)
		cn.debug("raw tcp subscriber ended", "reason", reason)
		cn.release()
	}
	cn.deadline.Release()
	cn.s.track(cn, false)
	cn.held.Done()
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
