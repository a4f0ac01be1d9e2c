package feed_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// burstBytes is more than the socket buffers between a server and a client
// that stopped reading can hold on loopback with Linux's defaults (the
// kernel grows the server's send buffer to about 4 MB): after it, the
// server's writer is blocked. Where buffers are bigger, writeBurst goes on
// until the server says so.
const burstBytes = 8 << 20

// dropping returns a condition for writeBurst: every transport named has
// dropped records, so (each having subscribers that stopped reading) their
// writers are blocked.
func dropping(t *testing.T, srv *feed.Server, transports ...string) func() bool {
	return func() bool {
		st := getStatus(t, srv)
		for _, tr := range transports {
			if st.Transports[tr].Dropped == 0 {
				return false
			}
		}
		return true
	}
}

// writeBurst appends at least n lines of size bytes each (a numbered
// prefix, then filler), about 64 KiB at a time, waiting for each piece to
// be flushed to subscribers: a writer that is not blocked takes it all, so
// only the writers of clients that stopped reading fall behind. (All at
// once, most of it would be dropped from every small queue before the
// sockets fill.) After n lines it goes on until until() holds (nil: it
// stops at n), up to 8 n. It returns how many lines it wrote.
func writeBurst(t *testing.T, srv *feed.Server, log string, n, size int, until func() bool) int {
	t.Helper()
	var batch []string
	bytes := 0
	for i := 0; ; i++ {
		if i >= n && (until == nil || until()) {
			return i
		}
		if i >= 8*n {
			t.Fatalf("wrote %d lines of %d bytes and the writers are still not blocked", i, size)
		}
		l := fmt.Sprintf("burst %06d ", i)
		batch = append(batch, l+strings.Repeat("b", size-len(l)))
		if bytes += size; bytes >= 64<<10 || i == n-1 || i >= n {
			want := srv.LastSeq() + uint64(len(batch))
			writeLines(t, log, batch...)
			deadline := time.Now().Add(waitFor)
			for srv.LastSeq() < want { // polled finely: this loop runs a hundred times
				if time.Now().After(deadline) {
					t.Fatalf("flushed up to seq %d, want %d", srv.LastSeq(), want)
				}
				time.Sleep(500 * time.Microsecond)
			}
			batch, bytes = batch[:0], 0
		}
	}
}

// seqCheck follows a stream's records and gaps: every seq once, in order,
// each either delivered or inside a gap marker.
type seqCheck struct {
	next        uint64 // the seq expected next; 0 before the first
	hits, gaps  int
	first, last uint64
}

func (c *seqCheck) hit(seq uint64) error {
	if c.next != 0 && seq != c.next {
		return fmt.Errorf("hit seq %d, want %d", seq, c.next)
	}
	if c.first == 0 {
		c.first = seq
	}
	c.next, c.last = seq+1, seq
	c.hits++
	return nil
}

func (c *seqCheck) gap(from, to uint64) error {
	if (c.next != 0 && from != c.next) || to < from {
		return fmt.Errorf("gap %d-%d, want one from %d", from, to, c.next)
	}
	c.next = to + 1
	c.gaps++
	return nil
}

var (
	xmlHitRE = regexp.MustCompile(`^<hit seq="(\d+)" `)
	xmlGapRE = regexp.MustCompile(`^<gap from="(\d+)" to="(\d+)"/>$`)
)

func atoi(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }

// readXMLToEnd reads an XML stream (raw TCP or /hits) to its end and
// returns what it ended with after the last record or gap.
func readXMLToEnd(r *bufio.Reader, c *seqCheck) ([]string, error) {
	var tail []string
	for {
		l, err := r.ReadString('\n')
		if errors.Is(err, io.EOF) && l == "" {
			return tail, nil
		}
		if err != nil {
			return tail, fmt.Errorf("read: %w", err)
		}
		l = strings.TrimSuffix(l, "\n")
		if m := xmlHitRE.FindStringSubmatch(l); m != nil {
			err = c.hit(atoi(m[1]))
		} else if m := xmlGapRE.FindStringSubmatch(l); m != nil {
			err = c.gap(atoi(m[1]), atoi(m[2]))
		} else if l != "" && l != "<hits>" {
			tail = append(tail, l)
			continue
		}
		if err != nil {
			return tail, err
		}
		if len(tail) > 0 {
			return tail, fmt.Errorf("%q after %v", l, tail)
		}
	}
}

// readJSONLinesToEnd reads an ndjson stream to its end.
func readJSONLinesToEnd(r *bufio.Reader, c *seqCheck) ([]string, error) {
	var tail []string
	for {
		l, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(l) == 0 {
			return tail, nil
		}
		if err != nil {
			return tail, fmt.Errorf("read: %w", err)
		}
		var w struct {
			Type     string
			Seq      uint64
			From, To uint64
		}
		if err := json.Unmarshal(l, &w); err != nil {
			return tail, fmt.Errorf("%q: %v", l, err)
		}
		switch w.Type {
		case "":
			err = c.hit(w.Seq)
		case "gap":
			err = c.gap(w.From, w.To)
		default:
			tail = append(tail, strings.TrimSuffix(string(l), "\n"))
			continue
		}
		if err == nil && len(tail) > 0 {
			err = fmt.Errorf("%q after %v", l, tail)
		}
		if err != nil {
			return tail, err
		}
	}
}

// readSSEToEnd reads an event stream to its end; the tail is the comments
// after the last event.
func readSSEToEnd(s *liveStream, c *seqCheck) ([]string, error) {
	var tail []string
	for {
		f, err := s.frame()
		if errors.Is(err, io.EOF) {
			return tail, nil
		}
		if err != nil {
			return tail, err
		}
		switch f.event {
		case "hit":
			it, err := decodeWireJSON([]byte(f.data[0]))
			if err == nil {
				err = c.hit(it.Seq)
			}
			if err != nil {
				return tail, err
			}
			tail = nil
		case "gap":
			it, err := decodeWireJSON([]byte(f.data[0]))
			if err == nil {
				err = c.gap(it.From, it.To)
			}
			if err != nil {
				return tail, err
			}
			tail = nil
		default:
			tail = append(tail, f.comments...)
		}
	}
}

// readWSToEnd reads WebSocket messages until the close frame, which it
// returns.
func readWSToEnd(s *liveStream, c *seqCheck) (*websocket.CloseError, error) {
	for {
		it, err := s.next()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce, nil
		}
		if err != nil {
			return nil, err
		}
		if it.Gap {
			err = c.gap(it.From, it.To)
		} else {
			err = c.hit(it.Seq)
		}
		if err != nil {
			return nil, err
		}
	}
}

// A client that cannot keep up is told so in its transport's way and
// disconnected after SlowTimeout, although its write deadline is far off;
// what it got before is exact (records in order, each once, gaps for any
// it missed while connected).
func TestSlowSubscribersAreToldAndDisconnected(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Queue: 10, SlowTimeout: 300 * time.Millisecond,
		WriteTimeout: time.Minute, Tick: 5 * time.Millisecond})
	raw := dialRaw(t, srv)
	streams := map[string]*liveStream{}
	for _, k := range []string{kindXML, kindNDJSON, kindSSE, kindWS} {
		streams[k] = dialLive(t, srv, k, "", nil)
	}
	// Nobody reads now. The burst blocks every writer; the trickle after
	// it overflows their queues at every flush for longer than SlowTimeout.
	const size = 8 << 10
	n := uint64(writeBurst(t, srv, log, burstBytes/size, size, dropping(t, srv, "tcp", "hits", "events", "ws")))
	const trickle = 10 // lines, one every 60 ms: past SlowTimeout however early they fell behind
	for i := 0; i < trickle; i++ {
		writeLines(t, log, combined)
		time.Sleep(60 * time.Millisecond)
	}
	waitUntil(t, func() bool { return srv.LastSeq() >= n+trickle })
	if got := metric(t, srv, "weblogd_disconnects_total", "transport", "tcp", "reason", "slow"); got != 0 {
		t.Fatalf("slow disconnects counted while every writer is still blocked: %v", got)
	}

	// Now each reads what it was sent, to the end.
	type result struct {
		kind string
		err  error
	}
	results := make(chan result, 5)
	check := func(kind string, c *seqCheck, tail any, want any, err error) {
		if err == nil && fmt.Sprint(tail) != fmt.Sprint(want) {
			err = fmt.Errorf("ends with %v, want %v", tail, want)
		}
		// It got the start of the feed, in order, and then the goodbye
		// instead of the rest: what was queued for it is not written to a
		// client that cannot keep up (it resumes after c.last if it wants).
		if err == nil && (c.hits == 0 || c.last >= n+trickle) {
			err = fmt.Errorf("%d hits up to seq %d: want some, then the cut before seq %d", c.hits, c.last, n+trickle)
		}
		results <- result{kind, err}
	}
	go func() {
		var c seqCheck
		raw.c.SetReadDeadline(time.Now().Add(waitFor))
		tail, err := readXMLToEnd(raw.r, &c)
		check("tcp", &c, tail, []string{`<error reason="too slow"/>`, `</hits>`}, err)
	}()
	go func() {
		var c seqCheck
		tail, err := readXMLToEnd(streams[kindXML].r, &c)
		check(kindXML, &c, tail, []string{`<error reason="too slow"/>`, `</hits>`}, err)
	}()
	go func() {
		var c seqCheck
		tail, err := readJSONLinesToEnd(streams[kindNDJSON].r, &c)
		check(kindNDJSON, &c, tail, []string{`{"type":"error","reason":"too slow"}`}, err)
	}()
	go func() {
		var c seqCheck
		tail, err := readSSEToEnd(streams[kindSSE], &c)
		check(kindSSE, &c, tail, []string{" disconnected: too slow"}, err)
	}()
	go func() {
		var c seqCheck
		ce, err := readWSToEnd(streams[kindWS], &c)
		var got string
		if ce != nil {
			got = fmt.Sprintf("close %d %q", ce.Code, ce.Text)
		}
		check(kindWS, &c, got, fmt.Sprintf("close %d %q", websocket.ClosePolicyViolation, "too slow"), err)
	}()
	for range 5 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("%s: %v", r.kind, r.err)
			}
		case <-time.After(2 * waitFor):
			t.Fatal("a slow stream did not end")
		}
	}
	for tr, want := range map[string]float64{"tcp": 1, "hits": 2, "events": 1, "ws": 1} {
		waitMetric(t, srv, want, "weblogd_disconnects_total", "transport", tr, "reason", "slow")
		if got := metric(t, srv, "weblogd_disconnects_total", "transport", tr, "reason", "write_timeout"); got != 0 {
			t.Errorf("%s: %v write timeouts, want 0 (the deadline was a minute away)", tr, got)
		}
	}
}
