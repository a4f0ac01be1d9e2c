package feed_test

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// waitFor is how long a test waits for something that should happen at
// once; generous so a loaded CI machine does not flake, never a sleep.
const waitFor = 10 * time.Second

// startServer runs a server on loopback ports and stops it when the test
// ends, checking that Run returns nil within 2 s of the cancel (the leak
// check: every goroutine of Run has returned by then).
func startServer(t *testing.T, c feed.Config) *feed.Server {
	t.Helper()
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:0"
	}
	if c.TCPAddr == "" {
		c.TCPAddr = "127.0.0.1:0"
	}
	srv, stop := runServer(t, c, 2*time.Second)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run()=%v, want nil", err)
		}
	})
	return srv
}

// stopServerFunc runs a server and returns its stop function, for tests
// that check what happens at shutdown; it is called again (a no-op) when
// the test ends.
func stopServerFunc(t *testing.T, c feed.Config) (*feed.Server, func() error) {
	t.Helper()
	return runServer(t, c, 5*time.Second)
}

// runServer starts c and returns a stop function that cancels Run and
// returns its error, or an error if Run takes longer than within.
func runServer(t *testing.T, c feed.Config, within time.Duration) (*feed.Server, func() error) {
	t.Helper()
	srv, err := feed.New(c)
	if err != nil {
		t.Fatalf("New()=%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run()=%v before Ready", err)
	case <-time.After(waitFor):
		cancel()
		t.Fatal("server not ready")
	}
	var (
		once   sync.Once
		result error
	)
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(within):
				result = fmt.Errorf("Run did not return within %v of cancel", within)
			}
		})
		return result
	}
	t.Cleanup(func() { stop() })
	return srv, stop
}

func tempLog(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "access.log")
	writeLines(t, p, lines...)
	return p
}

// writeLines appends lines to the file at path, each with its newline, in
// one write.
func writeLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// rawClient is `nc host 8888`.
type rawClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, srv *feed.Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{c: c, r: bufio.NewReader(c)}
	if got := rc.line(t); got != "<hits>" {
		t.Fatalf("first line %q, want <hits>", got)
	}
	return rc
}

func (rc *rawClient) line(t *testing.T) string {
	t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(waitFor))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line: %v (got %q)", err, l)
	}
	return strings.TrimSuffix(l, "\n")
}

func (rc *rawClient) send(t *testing.T, s string) {
	t.Helper()
	if _, err := rc.c.Write([]byte(s + "\n")); err != nil {
		t.Fatal(err)
	}
}

// hit is a <hit/> element as a client decodes it.
type hit struct {
	XMLName xml.Name
	Seq     uint64 `xml:"seq,attr"`
	Source  string `xml:"source,attr"`
	Time    string `xml:"time,attr"`
	Host    string `xml:"host,attr"`
	Ident   string `xml:"ident,attr"`
	User    string `xml:"user,attr"`
	Method  string `xml:"method,attr"`
	Path    string `xml:"path,attr"`
	Proto   string `xml:"proto,attr"`
	Status  int    `xml:"status,attr"`
	Bytes   int64  `xml:"bytes,attr"`
	Referer string `xml:"referer,attr"`
	Agent   string `xml:"agent,attr"`
	Raw     string `xml:"raw,attr"`
	From    uint64 `xml:"from,attr"`
	To      uint64 `xml:"to,attr"`
}

func decodeHit(t *testing.T, line string) hit {
	t.Helper()
	var h hit
	if err := xml.Unmarshal([]byte(line), &h); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	return h
}

func (rc *rawClient) hits(t *testing.T, n int) []hit {
	t.Helper()
	var out []hit
	for len(out) < n {
		out = append(out, decodeHit(t, rc.line(t)))
	}
	return out
}

const combined = `203.0.113.9 - frank [21/Nov/2026:10:00:00 +0100] "GET /index.html?q=1 HTTP/1.1" 200 2326 "http://example.com/" "curl/8.5.0"`

func TestRawStreamDeliversRecords(t *testing.T) {
	log := tempLog(t, "old line that is history")
	srv := startServer(t, feed.Config{Logs: []string{log}})
	rc := dialRaw(t, srv)

	writeLines(t, log, combined, "garbage & <not> a \"log\" line", combined)
	got := rc.hits(t, 3)
	want := hit{XMLName: xml.Name{Local: "hit"}, Seq: 2, Source: "access.log", Time: "2026-11-21T10:00:00+01:00",
		Host: "203.0.113.9", Ident: "-", User: "frank", Method: "GET", Path: "/index.html?q=1", Proto: "HTTP/1.1",
		Status: 200, Bytes: 2326, Referer: "http://example.com/", Agent: "curl/8.5.0"}
	if got[0] != want {
		t.Fatalf("first hit\n got %+v\nwant %+v", got[0], want)
	}
	if got[1].Seq != 3 || got[1].Raw != `garbage & <not> a "log" line` || got[1].Status != 0 {
		t.Fatalf("garbage line: got %+v, want seq 3 with only raw", got[1])
	}
	if got[2].Seq != 4 {
		t.Fatalf("third hit seq %d, want 4", got[2].Seq)
	}
}

func TestRawStreamKeepsOrderAndSkipsNothing(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond})
	rc := dialRaw(t, srv)
	const bursts, per = 20, 50
	go func() {
		for b := 0; b < bursts; b++ {
			var lines []string
			for i := 0; i < per; i++ {
				lines = append(lines, fmt.Sprintf(`192.0.2.1 - - [21/Nov/2026:10:00:00 +0000] "GET /n/%d HTTP/1.1" 200 1 "-" "t"`, b*per+i))
			}
			writeLines(t, log, lines...)
			time.Sleep(time.Millisecond)
		}
	}()
	for i, h := range rc.hits(t, bursts*per) {
		if h.Seq != uint64(i+1) || h.Path != fmt.Sprintf("/n/%d", i) {
			t.Fatalf("hit %d: seq %d path %s, want seq %d path /n/%d", i, h.Seq, h.Path, i+1, i)
		}
	}
}

func TestRawStreamPartialAndLongLines(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, MaxLineBytes: 1024})
	rc := dialRaw(t, srv)

	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(combined[:40])
	time.Sleep(200 * time.Millisecond) // the tailer sees the half line first
	f.WriteString(combined[40:] + "\n")
	if h := rc.hits(t, 1)[0]; h.Seq != 1 || h.Agent != "curl/8.5.0" || h.Host != "203.0.113.9" {
		t.Fatalf("line written in two parts: got %+v, want one whole record", h)
	}

	long := strings.Repeat("x", 200<<10)
	writeLines(t, log, long, combined)
	got := rc.hits(t, 2)
	if got[0].Seq != 2 || len(got[0].Raw) != 1024 || got[0].Raw != long[:1024] {
		t.Fatalf("long line: seq %d raw of %d bytes, want seq 2 cut to 1024", got[0].Seq, len(got[0].Raw))
	}
	if got[1].Seq != 3 || got[1].Status != 200 {
		t.Fatalf("line after the long one: %+v, want seq 3 parsed", got[1])
	}
}

func TestRawPollProtocol(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}})
	rc := dialRaw(t, srv)

	writeLines(t, log, combined)
	if h := rc.hits(t, 1)[0]; h.Seq != 1 {
		t.Fatalf("pushed hit seq %d, want 1", h.Seq)
	}
	rc.send(t, "NEW?")
	if got := rc.line(t); got != "<none/>" {
		t.Fatalf("NEW? with nothing new: %q, want <none/>", got)
	}
	writeLines(t, log, combined, combined)
	// Polling: nothing is pushed; the next NEW? gets both.
	waitUntil(t, func() bool { return flushedSeq(t, srv) >= 3 })
	rc.send(t, "NEW?")
	if got := rc.hits(t, 2); got[0].Seq != 2 || got[1].Seq != 3 {
		t.Fatalf("NEW? answer seqs %d,%d, want 2,3", got[0].Seq, got[1].Seq)
	}
	rc.send(t, "NEW?")
	if got := rc.line(t); got != "<none/>" {
		t.Fatalf("second NEW?: %q, want <none/>", got)
	}
	rc.send(t, "HELLO")
	if got := rc.line(t); !strings.HasPrefix(got, `<error reason="`) {
		t.Fatalf("unknown command: %q, want <error reason=.../>", got)
	}
	rc.send(t, "SINCE x")
	if got := rc.line(t); !strings.HasPrefix(got, `<error reason="`) {
		t.Fatalf("SINCE x: %q, want <error reason=.../>", got)
	}
	rc.send(t, strings.Repeat("A", 5000))
	if got := rc.line(t); got != `<error reason="line too long"/>` {
		t.Fatalf("5000-byte line: %q, want the too-long error", got)
	}
	// SINCE resumes and pushing goes on from there.
	rc.send(t, "SINCE 1")
	if got := rc.hits(t, 2); got[0].Seq != 2 || got[1].Seq != 3 {
		t.Fatalf("SINCE 1 seqs %d,%d, want 2,3", got[0].Seq, got[1].Seq)
	}
	writeLines(t, log, combined)
	if h := rc.hits(t, 1)[0]; h.Seq != 4 {
		t.Fatalf("pushed after SINCE: seq %d, want 4", h.Seq)
	}
}

// A command sent with the connection, before the server has written
// anything, is answered after "<hits>", however the connection was let in.
func TestRawCommandBeforeHits(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}})
	writeLines(t, log, combined, combined)
	waitUntil(t, func() bool { return flushedSeq(t, srv) >= 2 })
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "SINCE 0\n")
	rc := &rawClient{c: c, r: bufio.NewReader(c)}
	if got := rc.line(t); got != "<hits>" {
		t.Fatalf("first line %q, want <hits>", got)
	}
	if got := rc.hits(t, 2); got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("SINCE 0 sent at once: seqs %d,%d, want 1,2", got[0].Seq, got[1].Seq)
	}
}

// Raw TCP clients without authentication are let in by the accept loop
// itself, and wait in the poller: they start no goroutine each (the
// runtime would keep every goroutine's descriptor it made for good). Each
// client reads its "<hits>" before the next connects, so that the writers'
// pool, which starts another goroutine when writes queue up, has no reason
// to.
func TestRawClientsStartNoGoroutineEach(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, MaxSubscribersPerIP: -1})
	dialRaw(t, srv) // the first writes start the writers' pool
	const n = 200
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := created()
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialRaw(t, srv)
	}
	d := created() - before
	t.Logf("%d goroutines started for %d raw TCP clients", d, n)
	if d > n/4 {
		t.Fatalf("%d goroutines started for %d raw TCP clients, want at most %d", d, n, n/4)
	}
	writeLines(t, log, combined)
	for i, rc := range clients {
		if h := rc.hits(t, 1)[0]; h.Seq != 1 {
			t.Fatalf("client %d: seq %d, want 1", i, h.Seq)
		}
	}
}

func TestRawSinceReportsWhatLeftTheRing(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Ring: 5})
	rc := dialRaw(t, srv)
	for i := 0; i < 8; i++ {
		writeLines(t, log, combined)
	}
	rc.hits(t, 8)
	rc.send(t, "SINCE 1")
	if g := decodeHit(t, rc.line(t)); g.XMLName.Local != "gap" || g.From != 2 || g.To != 3 {
		t.Fatalf("SINCE 1 with the ring at 4..8: got %+v, want <gap from=2 to=3/>", g)
	}
	for i, h := range rc.hits(t, 5) {
		if h.Seq != uint64(4+i) {
			t.Fatalf("after the gap: seq %d, want %d", h.Seq, 4+i)
		}
	}
}

// flushedSeq reads the last seq through the library: a subscriber's
// history of one record.
func flushedSeq(t *testing.T, srv *feed.Server) uint64 {
	t.Helper()
	return srv.LastSeq()
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A client that stops reading loses its oldest records, is told exactly
// which with a gap, and every seq is accounted for once, in order.
func TestRawSlowClientGetsExactGap(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Queue: 10, WriteTimeout: time.Minute})
	rc := dialRaw(t, srv)
	const n = 600
	line := strings.Repeat("z", 16<<10) // 600 × 16 KiB: more than the socket buffers hold
	for i := 0; i < n; i++ {
		writeLines(t, log, line)
	}
	waitUntil(t, func() bool { return srv.LastSeq() >= n })
	var next uint64 = 1
	gaps := 0
	for next <= n {
		h := decodeHit(t, rc.line(t))
		switch h.XMLName.Local {
		case "gap":
			if h.From != next || h.To < h.From {
				t.Fatalf("gap %d-%d, want one starting at %d", h.From, h.To, next)
			}
			next = h.To + 1
			gaps++
		case "hit":
			if h.Seq != next {
				t.Fatalf("hit seq %d, want %d", h.Seq, next)
			}
			next++
		}
	}
	if gaps == 0 {
		t.Fatal("no gap: the client never fell behind, the test proves nothing")
	}
}
