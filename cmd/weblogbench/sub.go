package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// transports are the kinds of subscriber, in the order reports list them.
// ws-lines is a WebSocket whose every text message is one raw log line
// (websocketd); socketio is a socket.io client over the engine.io
// WebSocket transport (frontail).
var transports = []string{"tcp", "hits", "ndjson", "sse", "ws", "ws-lines", "socketio"}

// transportSets are the names --transport accepts for several kinds at
// once; subscriber i gets kind i mod len.
var transportSets = map[string][]string{
	"mixed":  {"tcp", "hits", "ndjson", "sse", "ws"}, // every weblogd stream
	"mixed4": {"tcp", "hits", "sse", "ws"},           // the four streams, one per endpoint (no ndjson)
}

// parseTransports turns --transport (a kind, a set, or a comma list of
// kinds) into the kinds subscribers cycle through.
func parseTransports(s string) ([]string, error) {
	if set, ok := transportSets[s]; ok {
		return set, nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if !isTransport(t) {
			return nil, fmt.Errorf("--transport %q: want one of %s, mixed, mixed4, or a comma list of kinds", s, strings.Join(transports, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}

func isTransport(t string) bool {
	for _, k := range transports {
		if k == t {
			return true
		}
	}
	return false
}

// isWebSocket tells the kinds that connect to --ws-path.
func isWebSocket(t string) bool { return t == "ws" || t == "ws-lines" || t == "socketio" }

// defaultWSPath is where a WebSocket kind connects unless --ws-path says.
func defaultWSPath(t string) string {
	switch t {
	case "ws-lines":
		return "/"
	case "socketio":
		return "/socket.io/"
	}
	return "/ws"
}

// benchMark starts the path of every line the tool writes:
// /bench/<n>/<unixnano>. Warm-up lines use /bench/w/<unixnano>.
var benchMark = []byte("/bench/")

// Gap markers of each encoding, counted wherever they appear.
var (
	gapXML  = []byte("<gap ")
	gapJSON = []byte(`"type":"gap"`)
	gapSSE  = []byte("event: gap")
)

// sub is one subscriber. Its goroutine (started and waited for by bench)
// is the only one that touches the fields below the atomics; bench reads
// them after that goroutine returned.
type sub struct {
	id        int
	transport string
	hist      *histogram
	planned   int64

	delivered atomic.Int64 // distinct lines of the run received
	warm      atomic.Bool  // has seen a warm-up line: the server feeds it
	lastLine  atomic.Int64 // when (unix ns) the run's last line was read; 0 before

	seen       []uint64 // bitset of sequence numbers received
	maxSeen    int64
	dups       int64
	reordered  int64
	unexpected int64 // /bench/ lines numbered beyond what was planned
	gaps       int64
	err        error
}

func newSub(id int, transport string, planned int64, h *histogram) *sub {
	return &sub{id: id, transport: transport, hist: h, planned: planned, seen: make([]uint64, (planned+63)/64), maxSeen: -1}
}

// scan finds every /bench/ path in b (whole lines, or a whole WebSocket
// message) and accounts for it; now is when b was read. It parses only the
// two numbers after the marker, whatever the encoding around them (XML,
// JSON, SSE, a raw line, a socket.io event), and allocates nothing.
func (s *sub) scan(b []byte, now int64) { s.scanTo(b, len(b), now) }

// scanTo is scan for the markers that start before limit; the numbers
// after them may run past it.
func (s *sub) scanTo(b []byte, limit int, now int64) {
	var got, maxLat int64
	pos := 0
	for {
		i := indexMarker(b[pos:])
		if i < 0 || pos+i >= limit {
			break
		}
		pos += i + len(benchMark)
		if pos < len(b) && b[pos] == 'w' {
			if !s.warm.Load() {
				s.warm.Store(true)
			}
			continue
		}
		n, rest, ok := digits(b[pos:])
		if !ok || len(rest) == 0 || rest[0] != '/' {
			continue
		}
		t, rest, ok := digits(rest[1:])
		if !ok {
			continue
		}
		pos = len(b) - len(rest)
		if s.account(n, now-t) {
			got++
			maxLat = max(maxLat, now-t)
		}
	}
	if got > 0 {
		s.delivered.Add(got)
		s.hist.noteMax(maxLat)
		if s.lastLine.Load() == 0 && s.maxSeen == s.planned-1 {
			s.lastLine.Store(now)
		}
	}
}

// markerMax is the longest a marker with its numbers can be, and a byte:
// /bench/<19 digits>/<19 digits> and what follows.
const markerMax = len("/bench/") + 19 + 1 + 19 + 1

// indexMarker is bytes.Index(b, benchMark), faster on records full of
// '/' (JSON and XML records, user agents): it looks for the 'b', which is
// rare in them, then checks around it.
func indexMarker(b []byte) int {
	for off := 1; off < len(b); {
		j := bytes.IndexByte(b[off:], 'b')
		if j < 0 {
			return -1
		}
		i := off + j
		if b[i-1] == '/' && bytes.HasPrefix(b[i:], benchMark[1:]) {
			return i - 1
		}
		off = i + 1
	}
	return -1
}

// account records line n, received latency ns after it was written, and
// says whether it was new.
func (s *sub) account(n, latency int64) bool {
	if n < 0 || n >= s.planned {
		s.unexpected++
		return false
	}
	w, bit := n/64, uint64(1)<<(n%64)
	if s.seen[w]&bit != 0 {
		s.dups++
		return false
	}
	s.seen[w] |= bit
	if n < s.maxSeen {
		s.reordered++
	} else {
		s.maxSeen = n
	}
	s.hist.count(s.id, latency)
	return true
}

// digits parses a decimal number of at most 19 digits at the start of b
// without allocating, eight digits at a time where it can (the write times
// in the lines have 19).
func digits(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for i+8 <= len(b) && i+8 <= 19 {
		v := binary.LittleEndian.Uint64(b[i:])
		if !eightDigits(v) {
			break
		}
		n = n*100_000_000 + int64(parseEight(v))
		i += 8
	}
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}

// eightDigits tells whether the eight bytes of v (little endian) are all
// ASCII digits.
func eightDigits(v uint64) bool {
	return (v&0xF0F0F0F0F0F0F0F0)|(((v+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4) == 0x3333333333333333
}

// parseEight is the value of eight ASCII digits, the first in the lowest
// byte of v (SWAR: pairs, then fours, then the eight).
func parseEight(v uint64) uint64 {
	const mask = 0x000000FF000000FF
	const mul1 = 100 + 1000000<<32
	const mul2 = 1 + 10000<<32
	v -= 0x3030303030303030
	v = v*10 + v>>8
	return ((v&mask)*mul1 + ((v>>16)&mask)*mul2) >> 32
}

// endpoints says where subscribers connect.
type endpoints struct {
	tcp, http string // host:port; tcp may be empty when no subscriber needs it
	wsPath    string // "" for each kind's default
	sio       sioConfig
	bufSize   int // each subscriber's read buffer
}

func (ep endpoints) pathFor(t string) string {
	if ep.wsPath != "" {
		return ep.wsPath
	}
	return defaultWSPath(t)
}

// conn is an open subscription: its connection (closed by bench to end
// the read loop) and the loop itself.
type conn struct {
	c    io.Closer
	loop func(s *sub)
	sio  *sioConn // for socket.io subscribers, which the pinger serves
}

// stalledRcvBuf is the receive buffer of a stalled subscriber's socket
// (the kernel doubles it, and keeps a minimum), so that the server sees it
// stall after kilobytes rather than megabytes of loopback autotuning.
const stalledRcvBuf = 4 << 10

// wsReadBuf is gorilla's read buffer for WebSocket subscribers.
const wsReadBuf = 8 << 10

func netDialer(stalled bool) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if stalled {
		// Set before connect, so the window advertised is small from the
		// start.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stalledRcvBuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	return d
}

// dial opens s's subscription, up to the point where data flows. The
// deadline bounds the whole run's reads: bench closes the connections
// before it, but the deadline is the backstop. A stalled subscriber gets a
// small receive buffer; its loop is never run.
func dial(ctx context.Context, s *sub, ep endpoints, deadline time.Time, stalled bool) (*conn, error) {
	d := netDialer(stalled)
	bufSize := max(ep.bufSize, 4<<10)
	switch s.transport {
	case "tcp":
		c, err := d.DialContext(ctx, "tcp", ep.tcp)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", ep.tcp, err)
		}
		c.SetDeadline(deadline)
		return &conn{c: c, loop: func(s *sub) { s.readStream(c, make([]byte, bufSize), gapXML) }}, nil
	case "hits", "ndjson", "sse":
		path := map[string]string{"hits": "/hits", "ndjson": "/hits?format=ndjson", "sse": "/events"}[s.transport]
		gap := map[string][]byte{"hits": gapXML, "ndjson": gapJSON, "sse": gapSSE}[s.transport]
		c, err := d.DialContext(ctx, "tcp", ep.http)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", ep.http, err)
		}
		c.SetDeadline(deadline)
		// A hand-written request on our own connection, rather than
		// http.Client: one connection per subscriber that bench can close,
		// and nothing pooled.
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: weblogbench\r\n\r\n", path, ep.http); err != nil {
			c.Close()
			return nil, fmt.Errorf("request %s: %w", path, err)
		}
		// The bufio.Reader holds the response head; the body's reads of
		// a whole buffer bypass it, straight into the scan buffer.
		br := bufio.NewReaderSize(c, 4<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			c.Close()
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return &conn{c: c, loop: func(s *sub) { s.readStream(resp.Body, make([]byte, bufSize), gap) }}, nil
	case "ws", "ws-lines", "socketio":
		// gorilla reads frame headers through its bufio.Reader, but a
		// payload bigger than it goes straight into the reader's own
		// buffer, so a small one saves copying weblogd's big batches; a
		// stream of one-line messages still gets many per read.
		wd := websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 10 * time.Second,
			ReadBufferSize: wsReadBuf, WriteBufferSize: 1 << 10}
		u := "ws://" + ep.http + ep.pathFor(s.transport)
		if s.transport == "socketio" {
			u += "?EIO=" + strconv.Itoa(ep.sio.eio) + "&transport=websocket"
		}
		c, _, err := wd.DialContext(ctx, u, nil)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", u, err)
		}
		c.SetReadDeadline(deadline)
		c.SetReadLimit(64 << 20)
		switch s.transport {
		case "ws":
			return &conn{c: c.NetConn(), loop: func(s *sub) { s.readWS(c, true, bufSize) }}, nil
		case "ws-lines":
			return &conn{c: c.NetConn(), loop: func(s *sub) { s.readWS(c, false, bufSize) }}, nil
		}
		sc, err := sioHandshake(c, ep.sio, deadline)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("socket.io %s: %w", u, err)
		}
		return &conn{c: c.NetConn(), loop: func(s *sub) { s.readSocketIO(sc, bufSize) }, sio: sc}, nil
	}
	return nil, fmt.Errorf("unknown transport %q", s.transport)
}

// readStream reads a line-oriented stream (raw TCP, or an HTTP body) in
// big reads until its connection is closed, and scans the whole lines of
// each read at once; a partial last line waits for the next read. gap is
// the encoding's gap marker.
func (s *sub) readStream(r io.Reader, buf []byte, gap []byte) {
	kept := 0 // bytes of a partial line carried over
	for {
		if kept == len(buf) {
			// One line longer than the buffer: scan it as it is; a
			// /bench/ path cut at the boundary is the only loss, and
			// the tool's own lines are far shorter.
			s.scanLines(buf, time.Now().UnixNano(), gap)
			kept = 0
		}
		n, err := r.Read(buf[kept:])
		now := time.Now().UnixNano()
		if n > 0 {
			end := bytes.LastIndexByte(buf[kept:kept+n], '\n')
			if end < 0 {
				kept += n
			} else {
				end += kept + 1
				s.scanLines(buf[:end], now, gap)
				kept = copy(buf, buf[end:kept+n])
			}
		}
		if err != nil {
			if kept > 0 {
				s.scanLines(buf[:kept], now, gap)
			}
			s.err = err
			return
		}
	}
}

func (s *sub) scanLines(b []byte, now int64, gap []byte) {
	if g := bytes.Count(b, gap); g > 0 {
		s.gaps += int64(g)
	}
	s.scan(b, now)
}

// readWS reads WebSocket messages through one fixed buffer. weblogd's
// messages (json) may be gap markers; ws-lines messages are raw lines.
func (s *sub) readWS(c *websocket.Conn, json bool, bufSize int) {
	buf := make([]byte, bufSize)
	for {
		_, r, err := c.NextReader()
		if err != nil {
			s.err = err
			return
		}
		n, done, err := readHead(r, buf, 40)
		now := time.Now().UnixNano()
		if err == nil {
			if json && bytes.Contains(buf[:min(n, 40)], gapJSON) {
				s.gaps++
			}
			err = s.scanMessage(r, buf, 0, n, done, now)
		}
		if err != nil {
			s.err = err
			return
		}
	}
}

// readHead reads the start of a message into buf: at least want bytes,
// unless the message is shorter (done then says it has ended).
func readHead(r io.Reader, buf []byte, want int) (n int, done bool, err error) {
	n, err = io.ReadAtLeast(r, buf, want)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return n, true, nil
	}
	return n, false, err
}

// scanMessage scans the message whose unscanned part so far is
// buf[start:n] (done: all of it), reading the rest from r through buf: a
// message bigger than buf is scanned a bufferful at a time, keeping the
// tail where a marker may be cut, so the tool's memory does not grow with
// the server's messages. now is when the bytes scanned were read.
func (s *sub) scanMessage(r io.Reader, buf []byte, start, n int, done bool, now int64) error {
	for !done {
		if n == len(buf) {
			cut := n - markerMax
			s.scanTo(buf[start:n], cut-start, now)
			n = copy(buf, buf[cut:n])
			start = 0
		}
		m, err := r.Read(buf[n:])
		if m > 0 {
			n += m
			now = time.Now().UnixNano()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	s.scan(buf[start:n], now)
	return nil
}

// itoa is strconv.AppendInt into a fresh string, for table cells.
func itoa(n int64) string { return string(strconv.AppendInt(nil, n, 10)) }
