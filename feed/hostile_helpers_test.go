package feed_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// follower is a live client that must get every record in seq order, each
// once and without a gap, for as long as a test runs: the proof that
// whatever the test does to the server, everyone else is still served.
type follower struct {
	s *liveStream

	mu   sync.Mutex
	last uint64 // the newest seq received
	err  error
	done chan struct{}
}

// follow reads s in a goroutine that the test's cleanup waits for.
func follow(t *testing.T, s *liveStream) *follower {
	t.Helper()
	f := &follower{s: s, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			it, err := s.next()
			f.mu.Lock()
			switch {
			case err != nil:
				f.err = err
			case it.Gap:
				f.err = fmt.Errorf("gap %d-%d after seq %d: a live client fell behind", it.From, it.To, f.last)
			case f.last != 0 && it.Seq != f.last+1:
				f.err = fmt.Errorf("seq %d after %d", it.Seq, f.last)
			default:
				f.last = it.Seq
			}
			stop := f.err != nil
			f.mu.Unlock()
			if stop {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.close()
		<-f.done
	})
	return f
}

// upTo waits until the follower has every record up to seq, failing on
// anything else.
func (f *follower) upTo(t *testing.T, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		f.mu.Lock()
		last, err := f.last, f.err
		f.mu.Unlock()
		switch {
		case last >= seq:
			return
		case err != nil:
			t.Fatalf("%s follower: %v", f.s.kind, err)
		case time.Now().After(deadline):
			t.Fatalf("%s follower: got up to seq %d, want %d", f.s.kind, last, seq)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stalledRaw connects to the raw port and never reads.
func stalledRaw(t *testing.T, srv *feed.Server) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stalledHTTP sends a stream request on a bare connection and never reads
// the response. Unlike an http.Client, it leaves no goroutine in the test
// process, so goroutine counts see only the server's.
func stalledHTTP(t *testing.T, srv *feed.Server, target string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.HTTPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	return c
}

// stalledWS opens a WebSocket and never reads from it (so it never
// answers a ping, nor a close frame). gorilla starts no goroutine.
func stalledWS(t *testing.T, srv *feed.Server) *websocket.Conn {
	t.Helper()
	conn, _, err := wsDialer.Dial(streamURL(srv, kindWS, ""), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitSubscribers waits until /api/status counts want subscribers of
// each transport named.
func waitSubscribers(t *testing.T, srv *feed.Server, want map[string]int64) {
	t.Helper()
	waitUntil(t, func() bool {
		st := getStatus(t, srv)
		for k, n := range want {
			if st.Subscribers[k] != n {
				return false
			}
		}
		return true
	})
}

// liveHeap is the heap still in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // the first may leave finalizer work for the second
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// recordFootprint bounds the heap one record of lineBytes can hold on to:
// its line and parsed fields (which mostly share the line's bytes), and
// the encodings of the batch it is in (XML, JSON, SSE, a WebSocket
// message and its prepared frame), counted at 8 times the line to allow
// for escaping (a byte that is not UTF-8 becomes U+FFFD, 3 bytes), plus
// the Record struct and slice slots.
func recordFootprint(lineBytes int) uint64 { return uint64(8*lineBytes + 1024) }

// settleGoroutines waits until the process has at most limit goroutines
// (plus a little runtime noise), failing with a dump otherwise.
func settleGoroutines(t *testing.T, limit int, what string) {
	t.Helper()
	const tolerance = 2 // runtime and test-framework noise
	deadline := time.Now().Add(waitFor)
	for {
		n := runtime.NumGoroutine()
		if n <= limit+tolerance {
			return
		}
		if time.Now().After(deadline) {
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%s: %d goroutines, want at most %d+%d\n%s", what, n, limit, tolerance, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readLinesInto reads lines from r into out until r fails, then closes out.
func readLinesInto(r *bufio.Reader, out chan<- string) {
	defer close(out)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		out <- l[:len(l)-1]
	}
}
