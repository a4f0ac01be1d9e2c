package feed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weblogd/weblogd/format"
)

// Syslog limits, for the zero values of Config.
const (
	// DefaultSyslogMaxConns bounds the TCP connections of one syslog
	// listener: a fleet of relays keeps one each, and each costs a
	// goroutine and a read buffer of MaxLineBytes at most.
	DefaultSyslogMaxConns = 256
	// DefaultSyslogIdleTimeout closes a TCP syslog connection that has
	// sent nothing for this long: a sender that went away without a FIN
	// must not hold a connection slot for ever, and rsyslog and
	// syslog-ng reconnect by themselves.
	DefaultSyslogIdleTimeout = 5 * time.Minute
)

// syslogReadBuffer is the receive buffer asked of a UDP or unix datagram
// socket: bursts of a busy nginx wait in it while a record is made. The
// kernel caps it at net.core.rmem_max; what the kernel still drops is
// counted (SO_RXQ_OVFL) and shown.
const syslogReadBuffer = 8 << 20

// syslogSource names the source of a message whose header names neither
// host nor tag, and of one that has no header that can be read.
const syslogSource = "syslog"

// syslogListener is one --syslog URL: a UDP or unix datagram socket, or a
// TCP listener and its connections.
type syslogListener struct {
	url     string // as given
	network string // udp, tcp or unixgram
	address string

	s    *Server
	pc   net.PacketConn // udp, unixgram
	ln   net.Listener   // tcp
	addr net.Addr

	messages   atomic.Uint64 // messages taken (records made)
	unreadable atomic.Uint64 // messages with no syslog header (still records)
	dropped    atomic.Uint64 // datagrams the kernel dropped, full receive buffer (UDP), as the last datagram said
	conns      atomic.Int64  // TCP connections open now
	refused    atomic.Uint64 // TCP connections closed at once: too many
	inode      uint64        // the UDP socket's, for its drop count in /proc; 0 if none
	failure    atomic.Pointer[string]

	mu          sync.Mutex
	open        map[net.Conn]struct{} // closed at shutdown
	wg          sync.WaitGroup        // connection goroutines
	kernelDrops uint32                // the kernel's last drop count (SO_RXQ_OVFL)
}

// CheckSyslogURL says what is wrong with a syslog listener's URL (see
// Config.Syslog); nil if nothing.
func CheckSyslogURL(raw string) error {
	_, _, err := parseSyslogURL(raw)
	return err
}

// parseSyslogURL checks a --syslog URL and returns its network and
// address.
func parseSyslogURL(raw string) (network, address string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("syslog %q: %v", raw, err)
	}
	switch u.Scheme {
	case "udp", "tcp":
		if u.Path != "" || u.RawQuery != "" || u.User != nil {
			return "", "", fmt.Errorf("syslog %q: want %s://HOST:PORT, nothing after the port", raw, u.Scheme)
		}
		_, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			return "", "", fmt.Errorf("syslog %q: want %s://HOST:PORT", raw, u.Scheme)
		}
		if _, err := net.LookupPort(u.Scheme, port); err != nil {
			return "", "", fmt.Errorf("syslog %q: port %q is not a port number (0 to 65535) or a service name", raw, port)
		}
		return u.Scheme, u.Host, nil
	case "unix":
		if u.Host != "" || u.Path == "" {
			return "", "", fmt.Errorf("syslog %q: want unix:///path/to/socket", raw)
		}
		return "unixgram", u.Path, nil
	}
	return "", "", fmt.Errorf("syslog %q: want udp://HOST:PORT, tcp://HOST:PORT or unix:///path", raw)
}

// listenSyslog opens every --syslog listener; on an error it closes those
// it opened.
func (s *Server) listenSyslog() ([]*syslogListener, error) {
	var out []*syslogListener
	for _, raw := range s.cfg.Syslog {
		network, address, _ := parseSyslogURL(raw) // checked by New
		l := &syslogListener{url: raw, network: network, address: address, s: s, open: map[net.Conn]struct{}{}}
		var err error
		switch network {
		case "tcp":
			if l.ln, err = net.Listen("tcp", address); err == nil {
				l.addr = l.ln.Addr()
			}
		case "unixgram":
			removeStaleSocket(address)
			if l.pc, err = net.ListenPacket("unixgram", address); err == nil {
				l.addr = l.pc.LocalAddr()
				l.pc.(*net.UnixConn).SetReadBuffer(syslogReadBuffer)
			}
		default:
			var c *net.UDPConn
			if c, err = net.ListenUDP("udp", mustResolveUDP(address)); err == nil {
				l.pc, l.addr = c, c.LocalAddr()
				c.SetReadBuffer(syslogReadBuffer)
				watchDrops(c)
				l.inode = socketInode(c)
			}
		}
		if err != nil {
			for _, o := range out {
				o.close()
			}
			return nil, fmt.Errorf("listen for syslog on %s: %w", raw, err)
		}
		out = append(out, l)
	}
	return out, nil
}

func mustResolveUDP(address string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return &net.UDPAddr{} // ListenUDP then fails with its own error
	}
	return a
}

// removeStaleSocket removes a socket file left by a weblogd that did not
// shut down, so that the path can be bound again; anything else at the
// path is left for the bind to fail on.
func removeStaleSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSocket != 0 {
		os.Remove(path)
	}
}

// close closes the listening socket (a read or accept in progress
// returns) and every connection.
func (l *syslogListener) close() {
	if l.pc != nil {
		l.pc.Close()
	}
	if l.ln != nil {
		l.ln.Close()
	}
	l.mu.Lock()
	for c := range l.open {
		c.Close()
	}
	l.mu.Unlock()
}

// run serves the listener until ctx is done, then closes it and waits for
// its connections.
func (l *syslogListener) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, l.close)
	defer stop()
	var err error
	if l.ln != nil {
		err = l.accept(ctx)
	} else {
		err = l.readDatagrams(ctx)
	}
	l.close()
	l.wg.Wait()
	if l.network == "unixgram" {
		os.Remove(l.address)
	}
	if err != nil && err != errStopped && ctx.Err() == nil {
		msg := err.Error()
		l.failure.Store(&msg)
		l.s.log.Error("syslog listener failed; its messages are no longer received", "syslog", l.url, "err", err)
	}
}

// readDatagrams takes one message a datagram.
func (l *syslogListener) readDatagrams(ctx context.Context) error {
	limit := l.s.cfg.MaxLineBytes
	udp, _ := l.pc.(*net.UDPConn)
	var m syslogMessages
	if udp != nil {
		if br := newBatchReader(udp, limit+1); br != nil {
			for {
				n, err := br.read()
				if err != nil {
					if err := l.readError(ctx, err); err != nil {
						return err
					}
					continue
				}
				for i := range n {
					l.countDrops(br.oob(i))
					b := br.msg(i)
					l.take(&m, string(b[:min(len(b), limit)]), len(b) > limit)
				}
			}
		}
	}
	buf := make([]byte, limit+1) // one more: a longer datagram is cut, and counted
	oob := make([]byte, 64)
	for {
		var n, oobn int
		var err error
		if udp != nil {
			n, oobn, _, _, err = udp.ReadMsgUDP(buf, oob)
			l.countDrops(oob[:oobn])
		} else {
			n, _, err = l.pc.ReadFrom(buf)
		}
		if err != nil {
			if err := l.readError(ctx, err); err != nil {
				return err
			}
			continue
		}
		l.take(&m, string(buf[:min(n, limit)]), n > limit)
	}
}

// readError is nil for the error a read gets at shutdown, which ends
// reading, and for a timeout, after which reading goes on; else err.
func (l *syslogListener) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return errStopped
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return err
}

// errStopped ends a listener's reads at shutdown.
var errStopped = errors.New("stopped")

// countDrops reads the kernel's drop count from a datagram's control
// messages (SO_RXQ_OVFL).
func (l *syslogListener) countDrops(oob []byte) {
	if d, ok := dropCount(oob); ok && d != l.kernelDrops {
		l.dropped.Add(uint64(d - l.kernelDrops)) // wraps as the kernel's counter does
		l.kernelDrops = d
	}
}

// accept serves TCP connections, at most Config.SyslogMaxConns at once.
func (l *syslogListener) accept(ctx context.Context) error {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // out of file descriptors for a moment, say
			}
			return err
		}
		l.mu.Lock()
		full := l.s.cfg.SyslogMaxConns > 0 && len(l.open) >= l.s.cfg.SyslogMaxConns
		if !full && ctx.Err() == nil {
			l.open[c] = struct{}{}
		}
		l.mu.Unlock()
		if full || ctx.Err() != nil {
			l.refused.Add(1)
			l.s.log.Debug("syslog connection refused: too many", "syslog", l.url, "peer", c.RemoteAddr(), "max", l.s.cfg.SyslogMaxConns)
			c.Close()
			continue
		}
		l.conns.Add(1)
		l.wg.Go(func() {
			defer func() {
				c.Close()
				l.mu.Lock()
				delete(l.open, c)
				l.mu.Unlock()
				l.conns.Add(-1)
			}()
			if err := l.serveConn(c); err != nil {
				l.s.log.Debug("syslog connection ended", "syslog", l.url, "peer", c.RemoteAddr(), "err", err)
			}
		})
	}
}

// serveConn reads the messages of one TCP connection: octet counted
// ("LEN SP MSG", RFC 6587) when its first byte is a digit, else one a
// line. A connection that sends nothing for SyslogIdleTimeout is closed.
func (l *syslogListener) serveConn(c net.Conn) error {
	limit := l.s.cfg.MaxLineBytes
	r := bufio.NewReaderSize(c, min(limit+1, 64<<10))
	var m syslogMessages
	l.idle(c)
	first, err := r.Peek(1)
	if err != nil {
		return err
	}
	counted := first[0] >= '0' && first[0] <= '9'
	var line []byte
	for {
		l.idle(c)
		var (
			msg       string
			truncated bool
		)
		if counted {
			msg, truncated, err = readCounted(r, limit, &line)
		} else {
			msg, truncated, err = readLine(r, limit, &line)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		l.take(&m, msg, truncated)
	}
}

// idle sets c's read deadline: SyslogIdleTimeout from now.
func (l *syslogListener) idle(c net.Conn) {
	if d := l.s.cfg.SyslogIdleTimeout; d > 0 {
		c.SetReadDeadline(time.Now().Add(d))
	}
}

// readLine reads one message ending in "\n" (or "\r\n", or a NUL, which
// some senders use), cut at max bytes; the rest of a longer one is read
// and dropped. buf is reused between calls.
func readLine(r *bufio.Reader, limit int, buf *[]byte) (msg string, truncated bool, err error) {
	b := (*buf)[:0]
	defer func() { *buf = b }()
	for {
		part, err := r.ReadSlice('\n')
		end := err == nil
		if end {
			part = part[:len(part)-1]
		}
		if room := limit - len(b); len(part) > room {
			b, truncated = append(b, part[:max(room, 0)]...), true
		} else {
			b = append(b, part...)
		}
		switch {
		case end:
		case err == bufio.ErrBufferFull:
			continue
		case errors.Is(err, io.EOF) && len(b) > 0:
			// A last message without "\n".
		default:
			return "", false, err
		}
		return strings.TrimRight(string(b), "\r\x00"), truncated, nil
	}
}

// readCounted reads one octet-counted message: "LEN SP MSG". LEN past
// what a message may hold is read and dropped past max; a LEN that is no
// number ends the connection (the framing is lost).
func readCounted(r *bufio.Reader, limit int, buf *[]byte) (msg string, truncated bool, err error) {
	n := 0
	for digits := 0; ; digits++ {
		c, err := r.ReadByte()
		if err != nil {
			return "", false, err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || digits == 9 {
			return "", false, fmt.Errorf("octet-counted framing: %q is not a length", c)
		}
		n = n*10 + int(c-'0')
	}
	keep := min(n, limit)
	if cap(*buf) < keep {
		*buf = make([]byte, keep)
	}
	b := (*buf)[:keep]
	if _, err := io.ReadFull(r, b); err != nil {
		return "", false, noEOF(err)
	}
	if n > keep {
		if _, err := r.Discard(n - keep); err != nil {
			return "", false, noEOF(err)
		}
	}
	return strings.TrimRight(string(b), "\n"), n > keep, nil
}

// noEOF makes an end of stream inside a message an error: it was cut.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// syslogMessages remembers the last source a reader took a message for:
// a sender sends many in a row, and finding its source again costs a
// map lookup and a string concatenation otherwise.
type syslogMessages struct {
	host, tag string
	name      string
	st        *stream
}

// take turns one syslog message into a record: its header names the
// source (HOSTNAME/TAG, or TAG, or the host alone), its body is the line.
// A message with no header that can be read is a record as it is, of the
// source "syslog", and counted as unreadable.
func (l *syslogListener) take(m *syslogMessages, msg string, truncated bool) {
	l.messages.Add(1)
	host, tag, body, ok := format.Syslog(msg)
	if !ok {
		l.unreadable.Add(1)
		body = msg
	}
	if m.st == nil || host != m.host || tag != m.tag {
		name := syslogSource
		switch {
		case host != "" && tag != "":
			name = host + "/" + tag
		case tag != "":
			name = tag
		case host != "":
			name = host
		}
		name = cleanName(name)
		st, ok := l.s.streams.get(kindSyslog, name)
		if !ok {
			return // shutting down
		}
		// Copies: host and tag are substrings of this message.
		m.host, m.tag, m.name, m.st = strings.Clone(host), strings.Clone(tag), name, st
	}
	m.st.takeAs(m.name, body, truncated)
}

// syslogStatus is a listener in /api/status.
type syslogStatus struct {
	URL         string `json:"url"`
	Address     string `json:"address"`
	Messages    uint64 `json:"messages"`
	Unreadable  uint64 `json:"unreadable"`            // no syslog header: records as they came
	Dropped     uint64 `json:"dropped"`               // UDP: datagrams the kernel dropped (full receive buffer)
	Connections int64  `json:"connections,omitempty"` // TCP: open now
	Refused     uint64 `json:"refused,omitempty"`     // TCP: closed at once, too many
	Failure     string `json:"failure,omitempty"`
}

// drops is how many datagrams the kernel dropped on the socket: from
// /proc when it can be read there (current at any time), else as the
// last datagram read said it (SO_RXQ_OVFL).
func (l *syslogListener) drops() uint64 {
	d := l.dropped.Load()
	if n, ok := procDrops(l.inode); ok {
		d = max(d, n)
	}
	return d
}

func (l *syslogListener) status() syslogStatus {
	st := syslogStatus{URL: l.url, Address: l.addr.String(), Messages: l.messages.Load(), Unreadable: l.unreadable.Load(),
		Dropped: l.drops(), Connections: l.conns.Load(), Refused: l.refused.Load()}
	if f := l.failure.Load(); f != nil {
		st.Failure = *f
	}
	return st
}

// beyondLoopbackSyslog lists the listeners other machines can reach.
func beyondLoopbackSyslog(ls []*syslogListener) []string {
	var out []string
	for _, l := range ls {
		switch a := l.addr.(type) {
		case *net.UDPAddr:
			if !a.IP.IsLoopback() {
				out = append(out, l.url)
			}
		case *net.TCPAddr:
			if !a.IP.IsLoopback() {
				out = append(out, l.url)
			}
		}
	}
	return out
}

// checkSyslog checks the --syslog URLs and limits for New.
func (c *Config) checkSyslog() []error {
	var errs []error
	for _, raw := range c.Syslog {
		if _, _, err := parseSyslogURL(raw); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SyslogMaxConns == 0 {
		c.SyslogMaxConns = DefaultSyslogMaxConns
	}
	if c.SyslogIdleTimeout == 0 {
		c.SyslogIdleTimeout = DefaultSyslogIdleTimeout
	}
	return errs
}
