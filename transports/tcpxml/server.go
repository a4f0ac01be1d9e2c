// Package tcpxml serves the raw XML stream of `nc host 8888`: on connect
// "<hits>" and a newline, then one <hit/> element per line, flushed once per
// hub batch, and "</hits>" when the server shuts down, so a saved session is
// a well-formed XML document.
//
// A client may switch to polling by sending "NEW?" (each later "NEW?" is
// answered with what arrived since the previous answer, or <none/>), or
// resume with "SINCE <seq>". Any other line gets <error reason="..."/>;
// blank lines are ignored.
//
// A client the server cannot take (too many subscribers in all or from its
// address, or a shutdown under way) gets one line, <error reason="..."/>,
// and the connection is closed. A client ended for being too slow gets
// <error reason="too slow"/> and "</hits>", as at shutdown.
//
// Concurrency: Serve owns one goroutine per connection, which reads its
// commands and releases it at the end. Writes go through a
// transports.Writer: a writer goroutine exists only while there is
// something to write, and the reader takes the writer role to answer a
// command, so writes never overlap. Every read and write has a deadline.
package tcpxml

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
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
	// with a 20-digit seq, so 1 KiB leaves room and stops a flood early.
	maxCommand = 1024
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
}

// Server serves the raw XML stream.
type Server struct {
	hub          *broadcast.Hub
	writeTimeout time.Duration
	log          *slog.Logger
	counters     *transports.Counters
	limiter      *transports.Limiter
	drain        *transports.Drain

	mu    sync.Mutex
	conns map[net.Conn]struct{}
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
	return &Server{hub: c.Hub, writeTimeout: c.WriteTimeout, log: c.Logger, counters: c.Counters,
		limiter: c.Limiter, drain: c.Drain, conns: make(map[net.Conn]struct{})}
}

// Serve accepts connections on l until ctx is done, then closes l and waits
// for every connection to end. Connections end when the hub ends their
// subscriptions (they write the rest and "</hits>"), when the peer goes,
// or when CloseAll cuts them.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
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
		s.track(c, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.track(c, false)
			s.serveConn(ctx, c)
		}()
	}
}

// CloseAll cuts every connection at once: the last resort of a shutdown
// whose grace period ran out.
func (s *Server) CloseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Conns returns how many connections are open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) track(c net.Conn, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
}

// conn is one client: its subscription, its mode, and the pending output.
// Its goroutine (serveConn) reads the client's commands; what is written
// goes through the Writer, whose role the reader takes to answer them.
type conn struct {
	s        *Server
	c        net.Conn
	deadline *transports.Deadline
	w        *transports.Writer

	// Touched only by the holder of the writer role.
	sub     *broadcast.Subscription
	polling bool
	out     net.Buffers
}

// Lines the server writes on its own account.
var (
	hitsStart = []byte("<hits>\n")
	hitsEnd   = []byte("</hits>\n")
	tooSlow   = []byte(`<error reason="` + transports.TooSlow + `"/>` + "\n")
	none      = []byte("<none/>\n")
)

// serveConn is the connection's goroutine: it subscribes, reads commands
// until the connection ends, and then releases everything. A writer
// goroutine exists only while there is something to write, so an idle
// subscriber costs this goroutine and little else.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	log := s.log.With("remote", c.RemoteAddr().String())
	cn := &conn{s: s, c: c, deadline: s.drain.Track(c.SetWriteDeadline)}
	defer cn.deadline.Release()
	release, err := s.limiter.Acquire(c.RemoteAddr().String())
	if err != nil {
		cn.refuse(err)
		log.Debug("raw tcp subscriber refused", "err", err)
		return
	}
	defer release()
	cn.w = transports.NewWriter(cn.flush, func() { c.Close() }, 0)
	sub, err := s.hub.Subscribe(ctx, broadcast.SubscribeOptions{DropCounter: &s.counters.Dropped, Notify: cn.w.Kick})
	if err != nil {
		cn.refuse(transports.ErrShuttingDown)
		return
	}
	cn.sub = sub
	s.counters.Subscribers.Add(1)
	defer s.counters.Subscribers.Add(-1)
	log.Debug("raw tcp subscriber connected")

	err = cn.w.Do(func() error {
		cn.out = append(cn.out, hitsStart)
		return cn.write()
	})
	if err == nil {
		cn.w.Start()
		err = cn.readCommands(ctx)
	}
	c.Close() // a write stuck on a client that stopped reading fails now
	err = cn.w.Stop(err)
	cn.sub.Close() // the writer is done: the subscription is the reader's again
	reason := transports.ReasonOf(cn.sub, err)
	s.counters.Disconnected(reason)
	log.Debug("raw tcp subscriber ended", "reason", reason)
}

// flush is the connection's transports.Writer flush: it writes what the
// subscription has (nothing while the client polls), and the end of the
// stream once the hub has ended it.
func (cn *conn) flush(bool) (over bool, err error) {
	var done bool
	select {
	case <-cn.sub.Done():
		done = true
	default:
	}
	if done && cn.sub.Reason() == broadcast.ReasonSlow {
		// What it missed is not worth writing to a client that cannot
		// keep up: only the goodbye.
		cn.out = append(cn.out, tooSlow, hitsEnd)
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
		cn.out = append(cn.out, transports.XMLLines(it.Batch))
		c.Sent.Add(uint64(len(it.Batch.Records)))
	}
}

// write writes the pending output, with a deadline, in one writev.
func (cn *conn) write() error {
	if len(cn.out) == 0 {
		return nil
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
			DropCounter: &cn.s.counters.Dropped, Notify: cn.w.Kick})
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

// readCommands reads the client's lines and answers each, until the
// connection ends; it returns the error that ended it. Over-long lines
// are answered once and skipped without being held. Each answer is
// written before the next line is read, so a client that floods commands
// is held back by its own answers' write deadline, and its memory by
// maxCommand.
func (cn *conn) readCommands(ctx context.Context) error {
	buf := make([]byte, readBufferBytes)
	var line []byte
	skipping := false
	for {
		cn.c.SetReadDeadline(time.Now().Add(readIdle))
		n, rerr := cn.c.Read(buf)
		for data := buf[:n]; len(data) > 0; {
			part, rest, found := bytes.Cut(data, []byte{'\n'})
			data = rest
			if !skipping {
				line = append(line, part...)
				if len(line) > maxCommand {
					line, skipping = nil, true // and let go of its memory
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
			if !skipping {
				cmd := string(bytes.TrimRight(line, "\r"))
				if err := cn.w.Do(func() error { return cn.command(ctx, cmd) }); err != nil {
					return err
				}
			}
			line, skipping = line[:0], false
		}
		switch {
		case rerr == nil:
		case isTimeout(rerr):
			// Clients usually send nothing: look again.
		default:
			return rerr
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
