package feed_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/weblogd/weblogd/feed"
)

// timedClient is a live subscriber that notes when each seq arrives. It
// extracts seqs by hand, not with encoding/xml or encoding/json: under
// -race a full decode of every record by 20 clients would measure the
// test's own CPU more than the server.
type timedClient struct {
	kind string
	done chan struct{}

	mu   sync.Mutex
	recv []time.Time // by seq
	err  error
}

// has reports whether seq has arrived, or the error that stopped the
// client.
func (c *timedClient) has(seq uint64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.recv[seq].IsZero(), c.err
}

// seqAfter parses the decimal number at the start of b.
func seqAfter(b []byte) (uint64, bool) {
	end := 0
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	n, err := strconv.ParseUint(string(b[:end]), 10, 64)
	return n, err == nil
}

// note records seq's arrival; records must come in order, each once.
func (c *timedClient) note(seq uint64, at time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(seq) >= len(c.recv) {
		return fmt.Errorf("seq %d beyond the test's %d", seq, len(c.recv)-1)
	}
	if seq > 1 && c.recv[seq-1].IsZero() {
		return fmt.Errorf("seq %d before seq %d: a gap or disorder", seq, seq-1)
	}
	if !c.recv[seq].IsZero() {
		return fmt.Errorf("seq %d twice", seq)
	}
	c.recv[seq] = at
	return nil
}

// startTimed connects a client of kind (tcp, hits, events or ws) that
// reads until the test ends.
func startTimed(t *testing.T, srv *feed.Server, kind string, maxSeq int) *timedClient {
	t.Helper()
	c := &timedClient{kind: kind, recv: make([]time.Time, maxSeq+1), done: make(chan struct{})}
	var (
		r     *bufio.Reader
		wsc   interface{ ReadMessage() (int, []byte, error) }
		close func()
	)
	switch kind {
	case "tcp":
		conn, err := net.Dial("tcp", srv.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		r, close = bufio.NewReaderSize(conn, 64<<10), func() { conn.Close() }
	case "hits", "events":
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.HTTPAddr().String()+"/"+kind, nil)
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			cancel()
			t.Fatalf("GET /%s: %v %v", kind, err, statusOf(resp))
		}
		r, close = bufio.NewReaderSize(resp.Body, 64<<10), func() { cancel(); resp.Body.Close(); tr.CloseIdleConnections() }
	case "ws":
		conn, _, err := wsDialer.Dial(streamURL(srv, kindWS, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		wsc, close = conn, func() { conn.Close() }
	}
	go func() {
		defer func() { c.done <- struct{}{} }()
		err := c.read(r, wsc)
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	}()
	t.Cleanup(func() {
		close()
		<-c.done
	})
	return c
}

var (
	xmlSeq  = []byte(`<hit seq="`)
	sseID   = []byte("id: ")
	jsonSeq = []byte(`{"seq":`)
)

func (c *timedClient) read(r *bufio.Reader, wsc interface{ ReadMessage() (int, []byte, error) }) error {
	for {
		if wsc != nil {
			_, msg, err := wsc.ReadMessage()
			if err != nil {
				return nil // the test ended
			}
			now := time.Now()
			if bytes.HasPrefix(msg, []byte(`{"type":"gap"`)) {
				return fmt.Errorf("gap %s", msg)
			}
			for i := bytes.Index(msg, jsonSeq); i >= 0; i = bytes.Index(msg, jsonSeq) {
				msg = msg[i+len(jsonSeq):]
				seq, ok := seqAfter(msg)
				if !ok {
					return fmt.Errorf("bad seq in %q", msg[:min(len(msg), 40)])
				}
				if err := c.note(seq, now); err != nil {
					return err
				}
			}
			continue
		}
		l, err := r.ReadSlice('\n')
		if err != nil {
			return nil // the test ended
		}
		now := time.Now()
		var prefix []byte
		switch {
		case bytes.HasPrefix(l, xmlSeq):
			prefix = xmlSeq
		case bytes.HasPrefix(l, sseID):
			prefix = sseID
		case bytes.HasPrefix(l, []byte("<gap")), bytes.HasPrefix(l, []byte("event: gap")):
			return fmt.Errorf("gap %q", l)
		default:
			continue
		}
		seq, ok := seqAfter(l[len(prefix):])
		if !ok {
			return fmt.Errorf("bad seq in %q", l)
		}
		if err := c.note(seq, now); err != nil {
			return err
		}
	}
}

// latencies are write-to-receive times of one phase over every client.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	s := slices.Sorted(slices.Values(l))
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (l latencies) String() string {
	return fmt.Sprintf("p50 %v, p99 %v, max %v", l.pct(0.5).Round(10*time.Microsecond), l.pct(0.99).Round(10*time.Microsecond), l.pct(1).Round(10*time.Microsecond))
}

// One stalled raw TCP client and one stalled WebSocket client among 20
// live ones: the live ones get every line, in order, about as fast as
// without them; no flush of the hub waits on anyone; the heap stays under
// what the flags allow.
func TestStalledSubscribersDoNotHoldUpOthers(t *testing.T) {
	const (
		queue, ring = 100, 500
		perPhase    = 1000    // lines written in each measured phase
		burst       = 20      // lines per write, one write every tick
		lineSize    = 500     // bytes per line in the measured phases
		fillerSize  = 8 << 10 // bytes per line of the filler that stalls the two
		fillerLines = 6 << 20 / fillerSize
		maxSeq      = 2*perPhase + 8*fillerLines // writeBurst writes at most 8 times what it is asked
		liveN       = 5                          // of each transport
		tick        = 10 * time.Millisecond
	)
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Queue: queue, Ring: ring, Tick: tick,
		WriteTimeout: time.Minute, SlowTimeout: -1, MaxSubscribersPerIP: -1})
	var clients []*timedClient
	for _, kind := range []string{"tcp", "hits", "events", "ws"} {
		for range liveN {
			clients = append(clients, startTimed(t, srv, kind, maxSeq))
		}
	}
	waitSubscribers(t, srv, map[string]int64{"tcp": liveN, "hits": liveN, "events": liveN, "ws": liveN})
	baseHeap := liveHeap()

	writes := make([]time.Time, maxSeq+1) // by seq: when its line was written
	// phase writes perPhase lines, burst per tick, and returns their
	// latencies once every client has them all.
	phase := func(first uint64) latencies {
		line := func(i int) string {
			l := fmt.Sprintf("203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] \"GET /p/%d HTTP/1.1\" 200 1 \"-\" \"", i)
			return l + string(bytes.Repeat([]byte("a"), lineSize-len(l)-1)) + `"`
		}
		for i := 0; i < perPhase; i += burst {
			var lines []string
			now := time.Now()
			for j := i; j < i+burst; j++ {
				lines = append(lines, line(j))
				writes[first+uint64(j)] = now
			}
			writeLines(t, log, lines...)
			time.Sleep(tick)
		}
		last := first + perPhase - 1
		waitUntil(t, func() bool {
			for _, c := range clients {
				got, err := c.has(last)
				if err != nil {
					t.Fatalf("%s client: %v", c.kind, err)
				}
				if !got {
					return false
				}
			}
			return true
		})
		var l latencies
		for _, c := range clients {
			c.mu.Lock()
			for seq := first; seq <= last; seq++ {
				l = append(l, c.recv[seq].Sub(writes[seq]))
			}
			c.mu.Unlock()
		}
		return l
	}

	base := phase(1)

	// Two clients that never read, pushed until their writers are blocked:
	// from here on their queues overflow at every flush.
	stalledRaw(t, srv)
	stalledWS(t, srv)
	waitSubscribers(t, srv, map[string]int64{"tcp": liveN + 1, "ws": liveN + 1})
	filled := writeBurst(t, srv, log, fillerLines, fillerSize, dropping(t, srv, "tcp", "ws"))
	droppedBefore := getStatus(t, srv).Totals.Dropped

	var peak uint64
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() { // the heap as it is, garbage and all, every 20 ms
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-sampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	stalled := phase(1 + perPhase + uint64(filled))
	close(sampling)
	<-sampled
	heldHeap := liveHeap() // the stalled two still hold full queues

	st := getStatus(t, srv)
	if st.Subscribers["tcp"] != liveN+1 || st.Subscribers["ws"] != liveN+1 {
		t.Fatalf("subscribers %v: the stalled clients are gone, the test proves nothing", st.Subscribers)
	}
	if d := st.Totals.Dropped - droppedBefore; d < 2*perPhase/2 {
		t.Fatalf("%d records dropped during the stalled phase: the stalled clients were not behind", d)
	}

	t.Logf("latency without stalled clients: %v", base)
	t.Logf("latency with 2 stalled clients:  %v", stalled)
	// Generous: -race on 2 shared cores is noisy, and what matters is that
	// nobody waits for a write deadline (a minute here).
	if b, s := base.pct(0.99), stalled.pct(0.99); s > 4*b+100*time.Millisecond {
		t.Errorf("p99 latency %v with stalled clients, %v without: the stalled ones hold up the others", s, b)
	}

	// The hub never waited for a stalled client: a flush that did would
	// take up to the write deadline (a minute here). A loaded machine may
	// deschedule the hub for a moment, so a few flushes over 100 ms are
	// the scheduler's, not a wait; all of them together stay far below a
	// single deadline.
	mfs, _ := scrape(t, srv)
	h := mfs["weblogd_broadcast_flush_duration_seconds"].GetMetric()[0].GetHistogram()
	n := h.GetSampleCount()
	if under, le := bucketCount(h, 0.1); n == 0 || n-under > n/50 {
		t.Errorf("%d of %d flushes took at most %v, want all but 2%%", under, n, le)
	}
	if sum := time.Duration(h.GetSampleSum() * float64(time.Second)); sum > 10*time.Second {
		t.Errorf("the flushes took %v in all: the hub waited for a write", sum)
	}
	under, le := bucketCount(h, 0.001)
	t.Logf("flushes: %d, %d of them in at most %v, mean %v", n, under, le,
		time.Duration(h.GetSampleSum()/float64(n)*float64(time.Second)).Round(time.Microsecond))

	// Memory. The flags' bound: the ring, plus for each subscriber its
	// queue and what its writer took before it blocked (at most a queue
	// more), records of the largest line. Tighter, since subscribers share
	// the records of one batch and the live ones hold no more than the
	// ring: the ring plus the two stalled subscribers' two queues each.
	subs := uint64(len(clients) + 2)
	fp := recordFootprint(fillerSize)
	flagsBound := (ring + 2*queue*subs) * fp
	sharedBound := (ring + 2*queue*2) * fp
	grew := uint64(max(int64(heldHeap)-int64(baseHeap), 0))
	t.Logf("heap in use: %.1f MiB before, %.1f MiB with the stalled queues full (+%.1f MiB); peak %.1f MiB before collection",
		mib(baseHeap), mib(heldHeap), mib(grew), mib(peak))
	t.Logf("bounds: flags %.1f MiB, shared batches %.1f MiB; peak allowed %.1f MiB",
		mib(flagsBound), mib(sharedBound), mib(2*(baseHeap+sharedBound)))
	if grew > sharedBound {
		t.Errorf("heap in use grew by %.1f MiB, over the bound of %.1f MiB", mib(grew), mib(sharedBound))
	}
	if peak > 2*(baseHeap+sharedBound) { // GOGC=100 lets garbage double the heap
		t.Errorf("heap peaked at %.1f MiB, over twice the bound", mib(peak))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// bucketCount is how many observations of h fell in the buckets up to the
// first whose bound is about le or more, and that bound.
func bucketCount(h *dto.Histogram, le float64) (uint64, time.Duration) {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() >= le*0.999 { // the bounds are computed in floating point
			return b.GetCumulativeCount(), time.Duration(b.GetUpperBound() * float64(time.Second)).Round(time.Microsecond)
		}
	}
	return h.GetSampleCount(), 0
}
