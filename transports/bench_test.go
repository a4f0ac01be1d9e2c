package transports_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
	"github.com/weblogd/weblogd/transports/httpchunk"
	"github.com/weblogd/weblogd/transports/sse"
	"github.com/weblogd/weblogd/transports/tcpxml"
	"github.com/weblogd/weblogd/transports/ws"
)

const (
	// benchTick batches like a busy server does (one flush per tick per
	// subscriber) while adding little to the time of a run.
	benchTick = time.Millisecond
	// benchLag bounds how far the publisher runs ahead of the slowest
	// client, so that memory stays bounded whatever b.N is; benchQueue is
	// far above it, so a dropped record is a bug, not the benchmark's doing.
	benchLag   = 20000
	benchQueue = 8 * benchLag
	// benchReadBuf is each client's read buffer: big enough that the
	// clients are not what is measured.
	benchReadBuf = 64 << 10
	// benchTimeout fails a run that stops making progress.
	benchTimeout = time.Minute
	// benchQuiet keeps heartbeats and pings out of the counted streams.
	benchQuiet = time.Hour
)

// BenchmarkTransports measures records/s from hub.Publish to real loopback
// clients of each transport, and the allocations of the whole process per
// record and subscriber. The tailer is left out: records are parsed from
// the real Apache log beforehand and published straight into the hub.
//
// One op is one published record, which every subscriber receives; the
// standard allocs/op counts the record itself too, allocs/record/sub does
// not. MB/s counts the bytes all subscribers receive.
func BenchmarkTransports(b *testing.B) {
	pool := parseLog(b, apacheLog)
	for _, tr := range benchTransports {
		for _, subs := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/subs=%d", tr.name, subs), func(b *testing.B) {
				before := runtime.NumGoroutine()
				runTransport(b, tr, subs, pool)
				waitGoroutinesGone(b, before)
			})
		}
	}
}

// waitGoroutinesGone fails b unless the goroutines of a run are gone: some,
// like a client connection's, end a moment after their connection closes.
func waitGoroutinesGone(b *testing.B, want int) {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			b.Fatalf("%d goroutines left after the run, want %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// benchClient is one subscriber's connection as a minimal reader sees it.
type benchClient interface {
	// read reads what has arrived and returns how many records it held
	// and how many bytes.
	read() (records, n int, err error)
	close()
}

// benchServer is one transport's server on a loopback listener.
type benchServer struct {
	counters transports.Counters
	// dial connects a client and returns once its subscription exists, so
	// that it receives every record published after.
	dial func(ctx context.Context) (benchClient, error)
	// stop stops the server and waits for every goroutine it started; the
	// clients are closed by then.
	stop func()
}

type benchTransport struct {
	name  string
	start func(b *testing.B, hub *broadcast.Hub, s *benchServer)
}

var benchTransports = []benchTransport{
	{"tcp", startTCP},
	{"hits-xml", startHTTP("/hits", "<hits>\n", newLineCounter)},
	{"hits-ndjson", startHTTP("/hits?format=ndjson", "", newLineCounter)},
	{"sse", startHTTP("/events", "retry: 2000\n\n", newSSECounter)},
	{"ws", startWS},
}

func runTransport(b *testing.B, tr benchTransport, subs int, pool []*record.Record) {
	// The hub, with its ring, runs until the end of this run.
	hub := broadcast.NewHub(broadcast.HubConfig{Ring: broadcast.NewRing(0, 0), Tick: benchTick, Queue: benchQueue})
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		hub.Run(hubCtx)
	}()
	<-hub.Running()
	defer func() {
		stopHub()
		<-hubDone
	}()

	srv := new(benchServer)
	tr.start(b, hub, srv)
	defer srv.stop()

	// The clients: each counts what it reads, and says once when it has
	// all b.N records.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	want := int64(b.N)
	counts := make([]atomic.Int64, subs)
	nbytes := make([]atomic.Int64, subs)
	finished := make(chan int, subs)
	var readers sync.WaitGroup
	var clients []benchClient
	defer func() {
		cancel()
		for _, c := range clients {
			c.close()
		}
		readers.Wait()
	}()
	for i := range subs {
		c, err := srv.dial(ctx)
		if err != nil {
			b.Fatalf("dial subscriber %d: %v", i, err)
		}
		clients = append(clients, c)
		readers.Add(1)
		go func() {
			defer readers.Done()
			var n, nb int64
			for {
				recs, k, err := c.read()
				n, nb = n+int64(recs), nb+int64(k)
				counts[i].Store(n)
				nbytes[i].Store(nb)
				if n >= want && n-int64(recs) < want {
					finished <- i
				}
				if err != nil {
					return
				}
			}
		}()
	}
	if hub.Subscribers() != subs {
		b.Fatalf("%d subscribers, want %d", hub.Subscribers(), subs)
	}
	slowest := func() int64 {
		m := want
		for i := range counts {
			m = min(m, counts[i].Load())
		}
		return m
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	deadline := time.NewTimer(benchTimeout)
	defer deadline.Stop()
	for i := range b.N {
		if i%1024 == 0 {
			for int64(i)-slowest() > benchLag {
				select {
				case <-deadline.C:
					b.Fatalf("after %v, %d records published and the slowest subscriber has %d", benchTimeout, i, slowest())
				default:
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		r := new(record.Record) // one malloc, taken off below
		*r = *pool[i%len(pool)]
		hub.Publish(r)
	}
	check := time.NewTicker(10 * time.Millisecond)
	defer check.Stop()
	for done := 0; done < subs; {
		select {
		case <-finished:
			done++
		case <-check.C:
			if d, g := srv.counters.Dropped.Load(), srv.counters.Gaps.Load(); d > 0 || g > 0 {
				b.Fatalf("%d records dropped, %d gaps: a subscriber fell behind", d, g)
			}
		case <-deadline.C:
			b.Fatalf("after %v, %d of %d subscribers have all %d records; the slowest has %d", benchTimeout, done, subs, b.N, slowest())
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)

	if d, g := srv.counters.Dropped.Load(), srv.counters.Gaps.Load(); d > 0 || g > 0 {
		b.Fatalf("%d records dropped, %d gaps: a subscriber fell behind", d, g)
	}
	var total int64
	for i := range counts {
		if n := counts[i].Load(); n != want {
			b.Fatalf("subscriber %d counted %d records, want %d", i, n, want)
		}
		total += nbytes[i].Load()
	}
	// A writer counts what it sent after its write returns, which can be
	// after the client has read it.
	for sent := srv.counters.Sent.Load(); sent != uint64(b.N*subs); sent = srv.counters.Sent.Load() {
		select {
		case <-check.C:
		case <-deadline.C:
			b.Fatalf("the transport counts %d records sent, want %d", sent, b.N*subs)
		}
	}
	elapsed := b.Elapsed()
	mallocs := float64(after.Mallocs-before.Mallocs) - float64(b.N)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(mallocs/float64(b.N*subs), "allocs/record/sub")
	b.SetBytes(total / int64(b.N))
}

// startTCP serves the raw XML stream on a loopback listener.
func startTCP(b *testing.B, hub *broadcast.Hub, s *benchServer) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := tcpxml.New(tcpxml.Config{Hub: hub, Counters: &s.counters})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	s.stop = func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("Serve()=%v", err)
		}
	}
	s.dial = func(ctx context.Context) (benchClient, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", l.Addr().String())
		if err != nil {
			return nil, err
		}
		if err := readPreamble(c, "<hits>\n"); err != nil {
			c.Close()
			return nil, err
		}
		return newLineCounter(c), nil
	}
}

// readPreamble reads what a stream writes once its subscription exists.
func readPreamble(r io.Reader, want string) error {
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(r, buf); err != nil {
		return fmt.Errorf("read the stream's start: %w", err)
	}
	if string(buf) != want {
		return fmt.Errorf("the stream starts with %q, want %q", buf, want)
	}
	return nil
}

// httpBench serves one handler on an httptest server, and waits for every
// call of it at stop (hijacked WebSockets included, which the httptest
// server does not wait for).
func httpBench(b *testing.B, s *benchServer, path string, h http.Handler) *httptest.Server {
	var calls sync.WaitGroup
	mux := http.NewServeMux()
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		defer calls.Done()
		h.ServeHTTP(w, r)
	}))
	ts := httptest.NewServer(mux)
	s.stop = func() {
		ts.Close()
		calls.Wait()
	}
	return ts
}

// startHTTP serves one of the streaming HTTP handlers; a client GETs
// path, reads the preamble, and counts with newClient.
func startHTTP(path, preamble string, newClient func(io.ReadCloser) benchClient) func(*testing.B, *broadcast.Hub, *benchServer) {
	return func(b *testing.B, hub *broadcast.Hub, s *benchServer) {
		var h http.Handler
		route, _, _ := strings.Cut(path, "?")
		switch route {
		case "/hits":
			h = httpchunk.New(transports.StreamConfig{Hub: hub, Heartbeat: benchQuiet, Counters: &s.counters})
		case "/events":
			h = sse.New(transports.StreamConfig{Hub: hub, Heartbeat: benchQuiet, Counters: &s.counters})
		}
		ts := httpBench(b, s, "GET "+route, h)
		tr := &http.Transport{ReadBufferSize: benchReadBuf, DisableCompression: true}
		stop := s.stop
		s.stop = func() {
			tr.CloseIdleConnections()
			stop()
		}
		s.dial = func(ctx context.Context) (benchClient, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
			if err != nil {
				return nil, err
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
			}
			if err := readPreamble(resp.Body, preamble); err != nil {
				resp.Body.Close()
				return nil, err
			}
			return newClient(resp.Body), nil
		}
	}
}

// startWS serves /ws; a client counts messages' records by their "seq".
func startWS(b *testing.B, hub *broadcast.Hub, s *benchServer) {
	h := ws.New(ws.Config{Hub: hub, PongWait: benchQuiet, Counters: &s.counters})
	ts := httpBench(b, s, "GET /ws", h)
	stopHTTP := s.stop
	s.stop = func() {
		stopHTTP()
		h.Close() // its idle connections' poller and its writers' pool
	}
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	d := websocket.Dialer{ReadBufferSize: benchReadBuf, HandshakeTimeout: benchTimeout}
	s.dial = func(ctx context.Context) (benchClient, error) {
		c, _, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		// The handler subscribes before it upgrades: once the handshake is
		// done, the subscription exists.
		return &wsCounter{c: c, buf: make([]byte, benchReadBuf)}, nil
	}
}

// lineCounter counts one record per line: the raw TCP and /hits streams
// (XML and ndjson). Gap lines would be counted too; the transport's
// counters catch those.
type lineCounter struct {
	r   io.ReadCloser
	buf []byte
}

func newLineCounter(r io.ReadCloser) benchClient {
	return &lineCounter{r: r, buf: make([]byte, benchReadBuf)}
}

func (c *lineCounter) read() (int, int, error) {
	n, err := c.r.Read(c.buf)
	return bytes.Count(c.buf[:n], lineEnd), n, err
}

func (c *lineCounter) close() { c.r.Close() }

var lineEnd = []byte("\n")

// sseCounter counts events. Every record is one event of exactly four
// lines ("id:", "event:", "data:" with the JSON, which has no raw lineEnd,
// and the blank line that ends it), so events are newlines/4: a count of
// one byte, as cheap as the line clients' (a two-byte "\n\n" search costs
// the client a quarter of the CPU at 100 subscribers). Gap events, three
// lines, would throw the count off; the transport's counters catch those.
type sseCounter struct {
	r        io.ReadCloser
	buf      []byte
	newlines int // since the stream's preamble
}

func newSSECounter(r io.ReadCloser) benchClient {
	return &sseCounter{r: r, buf: make([]byte, benchReadBuf)}
}

// sseLines is how many lines one "hit" event takes, its blank line included.
const sseLines = 4

func (c *sseCounter) read() (int, int, error) {
	n, err := c.r.Read(c.buf)
	before := c.newlines / sseLines
	c.newlines += bytes.Count(c.buf[:n], lineEnd)
	return c.newlines/sseLines - before, n, err
}

func (c *sseCounter) close() { c.r.Close() }

// wsCounter counts the records of each message as it streams through one
// reused buffer. Each record starts with {"seq": and no string value can
// hold that ("\"" is escaped in JSON), so it counts those: found by looking
// for "{", a one-byte search, rarely matched elsewhere. (bytes.Count of
// "seq": costs the client a third of the CPU at 100 subscribers.)
type wsCounter struct {
	c   *websocket.Conn
	buf []byte
}

var recordStart = []byte(`{"seq":`)

func (c *wsCounter) read() (int, int, error) {
	_, r, err := c.c.NextReader()
	if err != nil {
		return 0, 0, err
	}
	records, total, carry := 0, 0, 0
	for {
		n, err := r.Read(c.buf[carry:])
		total += n
		p := c.buf[:carry+n]
		records += countRecordStarts(p)
		// Keep a tail too short to hold a whole {"seq": so that one cut by
		// this read is counted with the next, and none is counted twice.
		carry = min(len(p), len(recordStart)-1)
		copy(c.buf, p[len(p)-carry:])
		if err == io.EOF {
			return records, total, nil
		}
		if err != nil {
			return records, total, err
		}
	}
}

func countRecordStarts(p []byte) int {
	n := 0
	for {
		i := bytes.IndexByte(p, '{')
		if i < 0 {
			return n
		}
		if bytes.HasPrefix(p[i:], recordStart) {
			n++
		}
		p = p[i+1:]
	}
}

func (c *wsCounter) close() { c.c.Close() }
