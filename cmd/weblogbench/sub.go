package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// transports are the kinds of subscriber; mixed cycles through them.
var transports = []string{"tcp", "hits", "ndjson", "sse", "ws"}

// benchMark starts the path of every line the tool writes:
// /bench/<n>/<unixnano>. Warm-up lines use /bench/w/<unixnano>.
var benchMark = []byte("/bench/")

// sub is one subscriber. Its goroutine (started and waited for by run) is
// the only one that touches the fields below the atomics; run reads them
// after that goroutine returned.
type sub struct {
	id        int
	transport string
	hist      *histogram

	delivered atomic.Int64 // distinct lines of the run received
	warm      atomic.Bool  // has seen a warm-up line: the server feeds it

	seen       []uint64 // bitset of sequence numbers received
	maxSeen    int64
	dups       int64
	reordered  int64
	unexpected int64 // /bench/ lines numbered beyond what was planned
	gaps       int64
	err        error
}

func newSub(id int, transport string, planned int64, h *histogram) *sub {
	return &sub{id: id, transport: transport, hist: h, seen: make([]uint64, (planned+63)/64), maxSeen: -1}
}

// scan finds every /bench/ path in b (a line or a WebSocket message) and
// accounts for it; now is when b was read.
func (s *sub) scan(b []byte, now int64) {
	for {
		i := bytes.Index(b, benchMark)
		if i < 0 {
			return
		}
		b = b[i+len(benchMark):]
		if len(b) > 0 && b[0] == 'w' {
			s.warm.Store(true)
			continue
		}
		n, rest, ok := digits(b)
		if !ok || len(rest) == 0 || rest[0] != '/' {
			continue
		}
		t, rest, ok := digits(rest[1:])
		if !ok {
			continue
		}
		b = rest
		s.account(n, now-t)
	}
}

func (s *sub) account(n, latency int64) {
	if n < 0 || n >= int64(len(s.seen))*64 {
		s.unexpected++
		return
	}
	w, bit := n/64, uint64(1)<<(n%64)
	if s.seen[w]&bit != 0 {
		s.dups++
		return
	}
	s.seen[w] |= bit
	if n < s.maxSeen {
		s.reordered++
	} else {
		s.maxSeen = n
	}
	s.delivered.Add(1)
	s.hist.add(s.id, time.Duration(latency))
}

// digits parses a decimal number at the start of b without allocating.
func digits(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}

// isGap tells a gap marker in any of the encodings.
func isGap(b []byte) bool {
	return bytes.Contains(b, []byte("<gap ")) || bytes.Contains(b, []byte(`"type":"gap"`)) ||
		bytes.HasPrefix(b, []byte("event: gap"))
}

// endpoints says where subscribers connect.
type endpoints struct {
	tcp, http string // host:port; tcp may be empty when no subscriber needs it
	wsPath    string
}

// conn is an open subscription: its connection (closed by run to end the
// read loop) and the loop itself.
type conn struct {
	c    io.Closer
	loop func(s *sub)
}

// dial opens s's subscription, up to the point where data flows. The
// deadline bounds the whole run's reads: run closes the connections before
// it, but the deadline is the backstop.
func dial(ctx context.Context, s *sub, ep endpoints, deadline time.Time) (*conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	switch s.transport {
	case "tcp":
		c, err := d.DialContext(ctx, "tcp", ep.tcp)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", ep.tcp, err)
		}
		c.SetDeadline(deadline)
		br := bufio.NewReaderSize(c, 16<<10)
		return &conn{c: c, loop: func(s *sub) { s.readLines(br, false) }}, nil
	case "hits", "ndjson", "sse":
		path := map[string]string{"hits": "/hits", "ndjson": "/hits?format=ndjson", "sse": "/events"}[s.transport]
		c, err := d.DialContext(ctx, "tcp", ep.http)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", ep.http, err)
		}
		c.SetDeadline(deadline)
		// A hand-written request on our own connection, rather than
		// http.Client: one connection per subscriber that run can close,
		// and nothing pooled.
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: weblogbench\r\n\r\n", path, ep.http); err != nil {
			c.Close()
			return nil, fmt.Errorf("request %s: %w", path, err)
		}
		br := bufio.NewReaderSize(c, 16<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			c.Close()
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		body := bufio.NewReaderSize(resp.Body, 16<<10)
		return &conn{c: c, loop: func(s *sub) { s.readLines(body, s.transport == "sse") }}, nil
	case "ws":
		wd := websocket.Dialer{NetDialContext: d.DialContext, HandshakeTimeout: 10 * time.Second,
			ReadBufferSize: 16 << 10, WriteBufferSize: 1 << 10}
		u := "ws://" + ep.http + ep.wsPath
		c, _, err := wd.DialContext(ctx, u, nil)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", u, err)
		}
		c.SetReadDeadline(deadline)
		c.SetReadLimit(64 << 20)
		return &conn{c: c.NetConn(), loop: func(s *sub) { s.readWS(c) }}, nil
	}
	return nil, fmt.Errorf("unknown transport %q", s.transport)
}

// readLines reads a line-oriented stream until its connection is closed.
// For SSE only data: lines carry records.
func (s *sub) readLines(br *bufio.Reader, sse bool) {
	for {
		line, err := br.ReadSlice('\n')
		now := time.Now().UnixNano()
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: account for what is here;
			// a /bench/ path cut at the boundary is the only loss, and
			// the tool's own lines are far shorter than 16 KiB.
			err = nil
		}
		if len(line) > 0 {
			switch {
			case isGap(line):
				s.gaps++
			case !sse || bytes.HasPrefix(line, []byte("data:")):
				s.scan(line, now)
			}
		}
		if err != nil {
			s.setErr(err)
			return
		}
	}
}

func (s *sub) readWS(c *websocket.Conn) {
	for {
		_, msg, err := c.ReadMessage()
		now := time.Now().UnixNano()
		if err != nil {
			s.setErr(err)
			return
		}
		if isGap(msg) {
			s.gaps++
		}
		s.scan(msg, now)
	}
}

// setErr keeps why the stream ended: at the end of the run, that is run
// closing the connection; before it, the server's doing.
func (s *sub) setErr(err error) { s.err = err }

// itoa is strconv.AppendInt into a fresh string, for table cells.
func itoa(n int64) string { return string(strconv.AppendInt(nil, n, 10)) }
