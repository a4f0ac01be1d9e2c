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
}

// Server serves the raw XML stream.
type Server struct {
	hub          *broadcast.Hub
	writeTimeout time.Duration
	log          *slog.Logger
	counters     *transports.Counters

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
	return &Server{hub: c.Hub, writeTimeout: c.WriteTimeout, log: c.Logger, counters: c.Counters, conns: make(map[net.Conn]struct{})}
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
	s       *Server
	c       net.Conn
	sub     *broadcast.Subscription
	polling bool
	out     net.Buffers
	dropped uint64 // sub.Dropped() already counted
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	log := s.log.With("remote", c.RemoteAddr().String())
	sub, err := s.hub.Subscribe(ctx, broadcast.SubscribeOptions{})
	if err != nil {
		return // shutting down
	}
	cn := &conn{s: s, c: c, sub: sub}
	defer func() { cn.sub.Close() }()
	s.counters.Subscribers.Add(1)
	defer s.counters.Subscribers.Add(-1)
	log.Debug("raw tcp subscriber connected")

	cmds := make(chan string)
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

	cn.out = append(cn.out, []byte("<hits>\n"))
	if cn.flush() != nil {
		return
	}
	for {
		select {
		case <-cn.sub.Ready():
			if !cn.polling {
				cn.queueItems(cn.sub.Take())
			}
		case line := <-cmds:
			if err := cn.command(ctx, line); err != nil {
				return // shutting down
			}
		case <-cn.sub.Done():
			if !cn.polling {
				cn.queueItems(cn.sub.Take())
			}
			cn.out = append(cn.out, []byte("</hits>\n"))
			cn.flush()
			log.Debug("raw tcp subscriber ended", "reason", cn.sub.Reason())
			return
		case <-readerDone:
			log.Debug("raw tcp subscriber left")
			return
		}
		if err := cn.flush(); err != nil {
			log.Debug("raw tcp write failed", "err", err)
			return
		}
	}
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
		if d := cn.sub.Dropped(); d != cn.dropped {
			c.Dropped.Add(d - cn.dropped)
			cn.dropped = d
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
	cn.c.SetWriteDeadline(time.Now().Add(cn.s.writeTimeout))
	_, err := cn.out.WriteTo(cn.c)
	cn.out = cn.out[:0]
	return err
}

func (cn *conn) command(ctx context.Context, line string) error {
	switch {
	case line == "NEW?":
		cn.polling = true
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
		sub, err := cn.s.hub.Subscribe(ctx, broadcast.SubscribeOptions{Resume: true, Since: seq})
		if err != nil {
			return err
		}
		cn.sub.Close()
		cn.sub, cn.polling, cn.dropped = sub, false, 0
		cn.queueItems(cn.sub.Take())
	case line == "":
	case line == errTooLong:
		cn.out = append(cn.out, []byte(`<error reason="line too long"/>`+"\n"))
	default:
		cn.out = append(cn.out, []byte(`<error reason="unknown command: send NEW? or SINCE &lt;seq&gt;"/>`+"\n"))
	}
	return nil
}

// errTooLong stands in the command stream for an input line over
// maxCommand; it cannot be a real line because it holds a NUL.
const errTooLong = "\x00too long"

// readCommands reads lines from c and hands them to cmds until the peer
// goes or quit is closed. Over-long lines are reported once and skipped. A
// line typed slowly across read deadlines is kept, not cut.
func readCommands(c net.Conn, cmds chan<- string, quit <-chan struct{}) {
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
			if !send(cmds, quit, errTooLong) {
				return
			}
		}
		switch {
		case err == nil:
			line := string(bytes.TrimRight(partial, "\r\n"))
			wasSkipping := skipping
			partial, skipping = partial[:0], false
			if !wasSkipping && !send(cmds, quit, line) {
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
func send(cmds chan<- string, quit <-chan struct{}, line string) bool {
	select {
	case cmds <- line:
		return true
	case <-quit:
		return false
	}
}
