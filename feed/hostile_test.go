package feed_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// garbage returns n random bytes without a newline (so it stays one line),
// with NULs and bytes that are not UTF-8 among them; the seed makes every
// run the same.
func garbage(seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		if b[i] = byte(r.UintN(256)); b[i] == '\n' {
			b[i] = 0
		}
	}
	return string(b)
}

// What a log may hold: binary garbage, NULs, invalid UTF-8, lines of a
// MiB. Every line is a record, delivered to every transport in seq order,
// cut at MaxLineBytes, in streams that stay well-formed; and the heap
// holds on to the cut records only, never the whole lines.
func TestHostileLogLines(t *testing.T) {
	log := tempLog(t)
	const maxLine, ring = 64 << 10, 16
	srv := startServer(t, feed.Config{Logs: []string{log}, MaxLineBytes: maxLine, Ring: ring, Tick: 5 * time.Millisecond})
	raw := dialRaw(t, srv)
	var streams []*liveStream
	for _, k := range []string{kindXML, kindNDJSON, kindSSE, kindWS} {
		streams = append(streams, dialLive(t, srv, k, "", nil))
	}
	before := liveHeap()

	hostile := []string{
		garbage(1, 300),
		"\x00\x00\x00",
		"invalid utf-8 \xff\xfe\xc3\x28 \xed\xa0\x80 surrogate and a lone \xe2\x82",
		garbage(2, 100<<10), // over MaxLineBytes, binary
		combined,
		"<hits></hits>]]>&amp;\x1b[2J\x7f",
	}
	mib := strings.Repeat("M", 1<<20)
	const longLines = 24 // 24 MiB of log: more than the heap may keep (bound below)
	want := len(hostile) + longLines
	writeLines(t, log, hostile...)
	for i := 0; i < longLines; i++ {
		writeLines(t, log, mib)
	}

	// Every transport gets every line, in order, each a well-formed record.
	for i, h := range raw.hits(t, want) { // decodeHit fails on XML that is not well-formed
		if h.Seq != uint64(i+1) {
			t.Fatalf("raw: hit %d has seq %d", i, h.Seq)
		}
		if i >= len(hostile) && h.Raw != mib[:maxLine] {
			t.Fatalf("raw: seq %d has %d bytes of raw, want the MiB line cut to %d", h.Seq, len(h.Raw), maxLine)
		}
		if !utf8.ValidString(h.Raw) {
			t.Fatalf("raw: seq %d is not valid UTF-8 after decoding", h.Seq)
		}
	}
	for _, s := range streams {
		for i := 0; i < want; i++ {
			it := s.mustNext(t) // JSON that does not decode, or SSE framing broken by a byte, fails here
			if it.Gap || it.Seq != uint64(i+1) {
				t.Fatalf("%s: item %d is %+v, want seq %d", s.kind, i, it, i+1)
			}
			if i >= len(hostile) && len(it.Raw) != maxLine {
				t.Fatalf("%s: seq %d has %d bytes of raw, want %d", s.kind, it.Seq, len(it.Raw), maxLine)
			}
		}
	}
	if v := metric(t, srv, "weblogd_lines_truncated_total", "source", "access.log"); v != longLines+1 {
		t.Errorf("weblogd_lines_truncated_total=%v, want %d", v, longLines+1)
	}
	// The ring keeps `ring` records; every subscriber has taken all it was
	// given, so no queue holds any.
	bound := uint64(ring)*recordFootprint(maxLine) + 8<<20 // + the tailer's and connections' buffers
	after := liveHeap()
	grew := uint64(max(int64(after)-int64(before), 0))
	t.Logf("heap in use grew by %.1f MiB for %d MiB of log (bound %.1f MiB)", float64(grew)/(1<<20), longLines, float64(bound)/(1<<20))
	if grew > bound {
		t.Fatalf("heap in use grew by %d bytes, want at most %d", grew, bound)
	}
}

// Slow-loris clients dribble their request headers; ReadHeaderTimeout
// cuts each of them, while a live client keeps getting every record.
func TestSlowLorisIsCut(t *testing.T) {
	log := tempLog(t)
	const headerTimeout = 300 * time.Millisecond
	srv := startServer(t, feed.Config{Logs: []string{log}, ReadHeaderTimeout: headerTimeout, Tick: 5 * time.Millisecond})
	live := follow(t, dialLive(t, srv, kindSSE, "", nil))
	baseline := runtime.NumGoroutine()

	const loris = 10
	request := "GET /hits HTTP/1.1\r\nHost: localhost\r\nUser-Agent: loris\r\nX-Padding: " + strings.Repeat("p", 100) + "\r\n\r\n"
	cut := make(chan time.Duration, loris)
	for range loris {
		c, err := net.Dial("tcp", srv.HTTPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		start := time.Now()
		go func() { // ends when the server closes the connection
			c.SetReadDeadline(time.Now().Add(waitFor))
			io.Copy(io.Discard, c)
			cut <- time.Since(start)
		}()
		go func() { // one byte every 50 ms: forever, were it not cut
			for i := 0; i < len(request); i++ {
				if _, err := c.Write([]byte{request[i]}); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	for i := 0; i < 20; i++ {
		writeLines(t, log, combined)
		time.Sleep(10 * time.Millisecond)
	}
	live.upTo(t, 20)
	for range loris {
		select {
		case d := <-cut:
			if d < headerTimeout/2 || d > headerTimeout+2*time.Second {
				t.Fatalf("a slow-loris connection was closed after %v, want about %v", d, headerTimeout)
			}
		case <-time.After(waitFor):
			t.Fatal("a slow-loris connection is still open")
		}
	}
	writeLines(t, log, combined)
	live.upTo(t, 21)
	settleGoroutines(t, baseline, "after the slow-loris clients were cut") // theirs and the test's dribblers
}

// Clients of every transport that connect and never read are cut by the
// write deadline; their goroutines go with them; the others lose nothing.
func TestClientsThatNeverReadAreCut(t *testing.T) {
	log := tempLog(t)
	// The write timeout is short for the stalled clients' sake, but a
	// second: a live client under -race on a busy 2-core machine was seen
	// not to read for over 300 ms (and was rightly cut: it failed there
	// every time with both cores busy).
	srv := startServer(t, feed.Config{Logs: []string{log}, WriteTimeout: time.Second,
		SlowTimeout: -1, Tick: 5 * time.Millisecond})
	live := follow(t, dialLive(t, srv, kindWS, "", nil))
	waitSubscribers(t, srv, map[string]int64{"ws": 1})
	baseline := runtime.NumGoroutine()

	stalledRaw(t, srv)
	stalledHTTP(t, srv, "/hits")
	stalledHTTP(t, srv, "/hits?format=ndjson")
	stalledHTTP(t, srv, "/events")
	stalledWS(t, srv)
	waitSubscribers(t, srv, map[string]int64{"tcp": 1, "hits": 2, "events": 1, "ws": 2})

	cut := map[string]float64{"tcp": 1, "hits": 2, "events": 1, "ws": 1}
	allCut := func() bool {
		mfs, _ := scrape(t, srv)
		for tr, want := range cut {
			if v, _ := value(mfs, "weblogd_disconnects_total", "transport", tr, "reason", "write_timeout"); v != want {
				return false
			}
		}
		return true
	}
	const size = 8 << 10
	n := uint64(writeBurst(t, srv, log, burstBytes/size, size, allCut))
	live.upTo(t, n)
	for tr, want := range cut {
		waitMetric(t, srv, want, "weblogd_disconnects_total", "transport", tr, "reason", "write_timeout")
	}
	waitSubscribers(t, srv, map[string]int64{"tcp": 0, "hits": 0, "events": 0, "ws": 1})
	settleGoroutines(t, baseline, "after the stalled clients were cut")
	writeLines(t, log, combined)
	live.upTo(t, n+1)
}

// Whatever a raw client sends (binary, a MiB without a newline, a flood
// of lines), it is answered with <error/> lines, it is still pushed every
// record, and the server's memory does not grow with it.
func TestRawGarbageInput(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond})
	rc := dialRaw(t, srv)
	lines := make(chan string, 1024)
	go readLinesInto(rc.r, lines)
	before := liveHeap()

	sendDone := make(chan error, 1)
	const flood = 20000
	go func() {
		var err error
		send := func(b []byte) {
			if err == nil {
				_, err = rc.c.Write(b)
			}
		}
		send([]byte(garbage(3, 64<<10) + "\n")) // binary, over the command limit
		for i := uint64(0); i < 50; i++ {
			send([]byte(garbage(10+i, 200) + "\n"))
		}
		send(bytes.Repeat([]byte{'z'}, 1<<20)) // a MiB without a newline...
		send([]byte("\n"))                     // ...ended at last
		send(bytes.Repeat([]byte("HELLO\n"), flood))
		sendDone <- err
	}()

	var hits, tooLong, unknown int
	var lastSeq uint64
	seen := func(l string) {
		switch {
		case strings.HasPrefix(l, "<hit "):
			h := decodeHit(t, l)
			if h.Seq != lastSeq+1 {
				t.Fatalf("hit seq %d after %d", h.Seq, lastSeq)
			}
			lastSeq = h.Seq
			hits++
		case l == `<error reason="line too long"/>`:
			tooLong++
		case strings.HasPrefix(l, `<error reason="`):
			unknown++
		default:
			t.Fatalf("unexpected line %q", l)
		}
	}
	// Records are pushed while the garbage pours in.
	written := 0
	for unknown < flood || written < 50 {
		if written < 50 {
			writeLines(t, log, combined)
			written++
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the connection ended after %d hits and %d errors", hits, unknown)
			}
			seen(l)
		case <-time.After(waitFor):
			t.Fatalf("stuck after %d hits, %d too long, %d other errors", hits, tooLong, unknown)
		}
	}
	if err := <-sendDone; err != nil {
		t.Fatalf("sending the garbage: %v", err)
	}
	for hits < written {
		select {
		case l := <-lines:
			seen(l)
		case <-time.After(waitFor):
			t.Fatalf("%d hits of %d", hits, written)
		}
	}
	if tooLong != 2 {
		t.Errorf("%d line-too-long errors, want 2 (the 64 KiB of binary and the MiB)", tooLong)
	}
	grew := int64(liveHeap()) - int64(before)
	t.Logf("heap in use grew by %d KiB for 1.1 MiB and %d lines of garbage", grew>>10, flood)
	if grew > 4<<20 {
		t.Fatalf("heap in use grew by %d bytes: input is not bounded", grew)
	}
}

// A WebSocket client that sends more than the read limit is closed with
// 1009 (message too big); the others go on.
func TestWebSocketLargeMessage(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond})
	live := follow(t, dialLive(t, srv, kindWS, "", nil))
	big := dialLive(t, srv, kindWS, "", nil)
	// The server stops reading at the limit and closes: the rest of the
	// write may well fail with a reset, which is fine.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		big.ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 1<<20))
	}()
	t.Cleanup(func() { <-wrote })
	big.ws.SetReadDeadline(time.Now().Add(waitFor))
	_, _, err := big.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("after a 1 MiB message: %v, want a close frame with 1009", err)
	}
	waitMetric(t, srv, 1, "weblogd_disconnects_total", "transport", "ws", "reason", "protocol")
	writeLines(t, log, combined, combined)
	live.upTo(t, 2)
}

// A WebSocket peer that never answers a ping is dropped after PongWait; a
// peer that does answer stays, idle as it is.
func TestWebSocketSilentPeerIsDropped(t *testing.T) {
	log := tempLog(t)
	const pongWait = 200 * time.Millisecond
	srv := startServer(t, feed.Config{Logs: []string{log}, PongWait: pongWait})
	live := follow(t, dialLive(t, srv, kindWS, "", nil)) // reads, so gorilla answers pings
	stalledWS(t, srv)                                    // never reads, so never answers a ping
	start := time.Now()
	waitMetric(t, srv, 1, "weblogd_disconnects_total", "transport", "ws", "reason", "pong_timeout")
	if d := time.Since(start); d > pongWait+2*time.Second {
		t.Fatalf("dropped after %v, want about %v", d, pongWait)
	}
	waitSubscribers(t, srv, map[string]int64{"ws": 1})
	time.Sleep(3 * pongWait) // several rounds of pings for the live one
	writeLines(t, log, combined)
	live.upTo(t, 1)
	if v := metric(t, srv, "weblogd_disconnects_total", "transport", "ws", "reason", "pong_timeout"); v != 1 {
		t.Fatalf("%v pong timeouts, want 1: a peer that answers pings was dropped", v)
	}
}
