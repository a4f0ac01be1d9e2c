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
// Concurrency: Serve owns one goroutine per connection, which is that
// connection's only writer; it starts and waits for one reader goroutine
// that parses commands. Every read and write has a deadline.
package tcpxml

import (
	"bufio"
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
	// readIdle is how long a read waits before it looks again whether the
	// connection is ending; clients usually send nothing at all.
	readIdle = 30 * time.Second
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
type conn struct {
	s        *Server
	c        net.Conn
	deadline *transports.Deadline
	sub      *broadcast.Subscription
	polling  bool
	out      net.Buffers
}

// Lines the server writes on its own account.
var (
	hitsStart = []byte("<hits>\n")
	hitsEnd   = []byte("</hits>\n")
	tooSlow   = []byte(`<error reason="` + transports.TooSlow + `"/>` + "\n")
)

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
	sub, err := s.hub.Subscribe(ctx, broadcast.SubscribeOptions{DropCounter: &s.counters.Dropped})
	if err != nil {
		cn.refuse(transports.ErrShuttingDown)
		return
	}
	cn.sub = sub
	defer func() { cn.sub.Close() }()
	s.counters.Subscribers.Add(1)
	defer s.counters.Subscribers.Add(-1)
	log.Debug("raw tcp subscriber connected")

	cmds := make(chan command)
	readerDone := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(readerDone)
		readCommands(c, cmds, quit)
	}()
	defer func() {
		close(quit)
		c.Close() // unblocks the reader's Read
		<-readerDone
	}()

	reason := cn.serve(ctx, cmds, readerDone)
	s.counters.Disconnected(reason)
	log.Debug("raw tcp subscriber ended", "reason", reason)
}

// serve is the connection's writer loop; it returns why it ended.
func (cn *conn) serve(ctx context.Context, cmds <-chan command, readerDone <-chan struct{}) transports.DisconnectReason {
	cn.out = append(cn.out, hitsStart)
	if err := cn.flush(); err != nil {
		return transports.ReasonOf(cn.sub, err)
	}
	for {
		select {
		case <-cn.sub.Ready():
			if !cn.polling {
				cn.queueItems(cn.sub.Take())
			}
		case cmd := <-cmds:
			if err := cn.command(ctx, cmd); err != nil {
				return transports.DisconnectShutdown
			}
		case <-cn.sub.Done():
			reason := cn.sub.Reason()
			if reason == broadcast.ReasonSlow {
				cn.out = append(cn.out, tooSlow) // Take has nothing more for it
			} else if !cn.polling {
				cn.queueItems(cn.sub.Take())
			}
			cn.out = append(cn.out, hitsEnd)
			return transports.ReasonOf(cn.sub, cn.flush())
		case <-readerDone:
			return transports.DisconnectClosed
		}
		if err := cn.flush(); err != nil {
			return transports.ReasonOf(cn.sub, err)
		}
	}
}

// refuse tells a client it cannot be served, in one line, before the
// connection is closed.
func (cn *conn) refuse(err error) {
	cn.s.counters.Refused(transports.RefuseReasonOf(err))
	cn.out = append(cn.out, []byte(`<error reason="`+err.Error()+`"/>`+"\n"))
	cn.flush()
}

// queueItems adds items to the pending output. Batches are the hub's
// shared encoding: written as they are, never copied.
func (cn *conn) queueItems(items []broadcast.Item) {
	c := cn.s.counters
	for {
		for _, it := range items {
			if it.Batch == nil {
				cn.out = append(cn.out, append(transports.AppendXMLGap(nil, it.Gap.From, it.Gap.To), '\n'))
				c.Gaps.Add(1)
				continue
			}
			cn.out = append(cn.out, transports.XMLLines(it.Batch))
			c.Sent.Add(uint64(len(it.Batch.Records)))
		}
		// History comes a page at a time: keep taking while there is more.
		if len(items) == 0 || len(cn.out) > 64 {
			return
		}
		items = cn.sub.Take()
	}
}

func (cn *conn) flush() error {
	if len(cn.out) == 0 {
		return nil
	}
	cn.deadline.Set(time.Now().Add(cn.s.writeTimeout))
	_, err := cn.out.WriteTo(cn.c)
	cn.out = cn.out[:0]
	return err
}

func (cn *conn) command(ctx context.Context, cmd command) error {
	line := cmd.line
	switch {
	case cmd.tooLong:
		cn.out = append(cn.out, []byte(`<error reason="line too long"/>`+"\n"))
	case line == "NEW?":
		if !cn.polling {
			cn.polling = true
			cn.sub.SetPolling(true)
		}
		before := len(cn.out)
		var items []broadcast.Item
		for more := cn.sub.Take(); len(more) > 0; more = cn.sub.Take() {
			items = append(items, more...)
		}
		cn.queueItems(items)
		if len(cn.out) == before {
			cn.out = append(cn.out, []byte("<none/>\n"))
		}
	case strings.HasPrefix(line, "SINCE "):
		seq, err := strconv.ParseUint(strings.TrimSpace(line[len("SINCE "):]), 10, 64)
		if err != nil {
			cn.out = append(cn.out, []byte(`<error reason="SINCE takes a sequence number"/>`+"\n"))
			return nil
		}
		// A new subscription resumes exactly after seq; what the old one
		// had queued is after seq too, so nothing is lost or repeated.
		sub, err := cn.s.hub.Subscribe(ctx, broadcast.SubscribeOptions{Resume: true, Since: seq, DropCounter: &cn.s.counters.Dropped})
		if err != nil {
			return err
		}
		cn.sub.Close()
		cn.sub, cn.polling = sub, false
		cn.queueItems(cn.sub.Take())
	case line == "":
	default:
		cn.out = append(cn.out, []byte(`<error reason="unknown command: send NEW? or SINCE &lt;seq&gt;"/>`+"\n"))
	}
	return nil
}

// command is one input line, or the news that a line was over maxCommand
// (reported once; the rest of it is skipped).
type command struct {
	line    string
	tooLong bool
}

// readCommands reads lines from c and hands them to cmds until the peer
// goes or quit is closed. Over-long lines are reported once and skipped. A
// line typed slowly across read deadlines is kept, not cut. It waits for
// the writer to take each line, so a client that floods commands is held
// back by its own answers' write deadline, and its memory by maxCommand.
func readCommands(c net.Conn, cmds chan<- command, quit <-chan struct{}) {
	r := bufio.NewReaderSize(c, maxCommand)
	var partial []byte
	skipping := false
	for {
		c.SetReadDeadline(time.Now().Add(readIdle))
		chunk, err := r.ReadSlice('\n')
		if !skipping {
			partial = append(partial, chunk...)
		}
		if len(partial) > maxCommand {
			partial, skipping = partial[:0], true
			if !send(cmds, quit, command{tooLong: true}) {
				return
			}
		}
		switch {
		case err == nil:
			line := string(bytes.TrimRight(partial, "\r\n"))
			wasSkipping := skipping
			partial, skipping = partial[:0], false
			if !wasSkipping && !send(cmds, quit, command{line: line}) {
				return
			}
		case errors.Is(err, bufio.ErrBufferFull):
		case isTimeout(err):
			select {
			case <-quit:
				return
			default:
			}
		default:
			return
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
func send(cmds chan<- command, quit <-chan struct{}, cmd command) bool {
	select {
	case cmds <- cmd:
		return true
	case <-quit:
		return false
	}
}
