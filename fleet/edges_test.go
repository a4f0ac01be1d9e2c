package fleet_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// nodeEdge is an edge of node with its default durable name.
func nodeEdge(tb testing.TB, url, node string, c *collector) *fleet.Edge {
	tb.Helper()
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Node: node, Options: fastReconnect}, c.handle)
	if err != nil {
		tb.Fatalf("NewEdge()=%v", err)
	}
	return e
}

// order is what an edge got, as node/seq pairs.
func order(recs []*record.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Node + "/" + r.Line
	}
	return out
}

// TestTwoEdgesEachGetEveryRecord: two edges of different nodes, with the
// default durable names, each get every record of two publishers, once,
// in the same order (the stream's); one of them, restarted midway,
// resumes where it stopped.
func TestTwoEdgesEachGetEveryRecord(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	const n = 400
	pubs := []*fleet.Publisher{newPublisher(t, url, "web-1"), newPublisher(t, url, "web-2")}
	for _, p := range pubs {
		run(t, p.Run)
	}
	publish := func(from, to uint64) {
		var wg sync.WaitGroup
		for _, p := range pubs {
			wg.Go(func() {
				for i := from; i <= to; i++ {
					p.Publish(makeRecord(p.Node()+".log", i))
				}
			})
		}
		wg.Wait()
	}
	var a, b1, b2 collector
	ea := nodeEdge(t, url, "edge-a", &a)
	eb := nodeEdge(t, url, "edge-b", &b1)
	if ea.Durable() != "weblogd-edge-edge-a" || eb.Durable() != "weblogd-edge-edge-b" {
		t.Fatalf("durable names %q and %q, want weblogd-edge-<node>", ea.Durable(), eb.Durable())
	}
	run(t, ea.Run)
	stopB := run(t, eb.Run)
	publish(1, n/2)
	waitFor(t, 10*time.Second, "the first half at both edges", func() bool { return a.len() >= n && b1.len() >= n })
	stopB()
	publish(n/2+1, n)
	run(t, nodeEdge(t, url, "edge-b", &b2).Run)
	waitFor(t, 10*time.Second, "every record at both edges", func() bool { return a.len() >= 2*n && b1.len()+b2.len() >= 2*n })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	b := append(b1.all(), b2.all()...)
	checkOnceInOrder(t, a.all(), n, "web-1", "web-2")
	checkOnceInOrder(t, b, n, "web-1", "web-2")
	if !slices.Equal(order(a.all()), order(b)) {
		t.Error("the two edges got the records in different orders")
	}
	if b2.len() != n {
		t.Errorf("the restarted edge got %d records, want the %d published while it was away", b2.len(), n)
	}
}

// TestDefaultDurable: the default durable name is per node, made a valid
// consumer name; an invalid explicit one is refused.
func TestDefaultDurable(t *testing.T) {
	for node, want := range map[string]string{
		"web-1":              "weblogd-edge-web-1",
		"edge.example.com":   "weblogd-edge-edge_example_com",
		"a b/c\\d*e>f\tg":    "weblogd-edge-a_b_c_d_e_f_g",
		"\u00e9dge-\u00fcml": "weblogd-edge-\u00e9dge-\u00fcml",
	} {
		if got := fleet.DefaultDurable(node); got != want {
			t.Errorf("DefaultDurable(%q)=%q, want %q", node, got, want)
		}
	}
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: "nats://127.0.0.1:4222"}, func(*record.Record) {})
	if err != nil {
		t.Fatal(err)
	}
	if e.Durable() != fleet.DefaultDurable(host) {
		t.Errorf("Durable()=%q without a node, want %q (the host name's)", e.Durable(), fleet.DefaultDurable(host))
	}
	if _, err := fleet.NewEdge(fleet.EdgeConfig{URL: "nats://127.0.0.1:4222", Durable: "a.b"}, func(*record.Record) {}); err == nil {
		t.Error("NewEdge(Durable: a.b)=nil error, want one")
	}
}

// TestEdgeNotReady: an edge says why it does not take records, in one
// line: NATS is unreachable, then the stream does not exist yet; and
// nothing once a publisher has made the stream.
func TestEdgeNotReady(t *testing.T) {
	url, port := freeURL(t)
	var c collector
	e := nodeEdge(t, url, "edge", &c)
	if why := e.NotReady(); !strings.HasPrefix(why, "nats: not connected to "+url) {
		t.Errorf("NotReady() before Run=%q, want not connected", why)
	}
	run(t, e.Run)
	waitFor(t, 5*time.Second, "the connection's error in the reason", func() bool { return strings.Contains(e.NotReady(), "connection refused") })
	runNATS(t, t.TempDir(), port)
	want := "nats: waiting for consumer weblogd-edge-edge on stream WEBLOGD: "
	waitFor(t, 10*time.Second, "the missing stream as the reason", func() bool {
		why := e.NotReady()
		return strings.HasPrefix(why, want) && strings.Contains(why, "stream not found")
	})
	if st := e.Stats(); !st.Connected || st.Ready {
		t.Errorf("Stats()=%+v, want connected, not ready", st)
	}
	p := newPublisher(t, url, "web-1")
	run(t, p.Run)
	p.Publish(makeRecord("web-1.log", 1))
	waitFor(t, 10*time.Second, "the edge ready", func() bool { return e.NotReady() == "" })
	waitFor(t, 10*time.Second, "the record at the edge", func() bool { return c.len() == 1 })
	if st := e.Stats(); !st.Ready || st.StreamSeq != 1 || st.Lag != 0 {
		t.Errorf("Stats()=%+v, want ready, at stream seq 1, no lag", st)
	}
}

// stallingProxy forwards TCP connections to a server; while stalled,
// what clients send is held back, not lost, as on a network that stalls.
type stallingProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	stall  bool
	deaf   bool // what the server sends is dropped
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newStallingProxy(tb testing.TB, target string) *stallingProxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &stallingProxy{l: l, target: target}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Go(p.accept)
	tb.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		p.stall = false
		p.cond.Broadcast()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *stallingProxy) url() string { return "nats://" + p.l.Addr().String() }

func (p *stallingProxy) setDeaf(on bool) {
	p.mu.Lock()
	p.deaf = on
	p.mu.Unlock()
}

func (p *stallingProxy) setStall(on bool) {
	p.mu.Lock()
	p.stall = on
	p.cond.Broadcast()
	p.mu.Unlock()
}

// drop closes every connection; what a stall held back is lost, as with
// a network that fails.
func (p *stallingProxy) drop() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

func (p *stallingProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() {
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				p.mu.Lock()
				deaf := p.deaf
				p.mu.Unlock()
				if n > 0 && !deaf {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		p.wg.Go(func() {
			defer s.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				p.mu.Lock()
				for p.stall {
					p.cond.Wait()
				}
				p.mu.Unlock()
				if n > 0 {
					if _, werr := s.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// TestAckTimeoutsResendInOrder: while the way to NATS stalls, publishes
// in flight get no acknowledgement and time out; the publisher waits for
// all of them, then sends again from the oldest. When the stall ends NATS
// gets the first sends and the resends, in order, and drops the
// duplicates: the stream has every record once, in order.
func TestAckTimeoutsResendInOrder(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	proxy := newStallingProxy(t, s.Addr().String())
	p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: proxy.url(), Node: "web-1", Options: fastReconnect,
		AckTimeout: 100 * time.Millisecond, Window: 32})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.Run)
	var c collector
	run(t, newEdge(t, s.ClientURL(), "edge", &c).Run)
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= n; i++ {
			p.Publish(makeRecord("web-1.log", i))
			if i%100 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	for range 2 {
		waitFor(t, 10*time.Second, "records flowing", func() bool { return p.Stats().Published > 0 })
		proxy.setStall(true)
		time.Sleep(400 * time.Millisecond) // several ack timeouts and resends
		proxy.setStall(false)
		time.Sleep(100 * time.Millisecond)
	}
	<-done
	waitFor(t, 20*time.Second, "every record at the edge", func() bool { return c.len() >= n })
	time.Sleep(200 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n, "web-1")
	if st := p.Stats(); st.Errors == 0 || st.Pending != 0 {
		t.Errorf("Stats()=%+v, want the timeouts counted as errors, nothing pending", st)
	}
}

// TestConnectionLostWithPublishesInFlight: the connection to NATS breaks
// while a window of publishes is on its way and never arrives; the client
// reconnects, the publisher sends them again from the oldest, and the
// stream has every record once, in order.
func TestConnectionLostWithPublishesInFlight(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	proxy := newStallingProxy(t, s.Addr().String())
	p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: proxy.url(), Node: "web-1", Options: fastReconnect, Window: 32})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.Run)
	var c collector
	run(t, newEdge(t, s.ClientURL(), "edge", &c).Run)
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= n; i++ {
			p.Publish(makeRecord("web-1.log", i))
			if i%100 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	for round := uint64(1); round <= 2; round++ {
		waitFor(t, 10*time.Second, "records flowing", func() bool { return p.Stats().Published > round*500 })
		proxy.setStall(true)
		time.Sleep(50 * time.Millisecond) // a window sent, held back
		proxy.drop()
		proxy.setStall(false)
	}
	<-done
	waitFor(t, 20*time.Second, "every record at the edge", func() bool { return c.len() >= n })
	time.Sleep(200 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n, "web-1")
	if st := p.Stats(); st.Errors == 0 || st.Pending != 0 || st.OutOfOrder != 0 {
		t.Errorf("Stats()=%+v, want the lost publishes counted as errors, nothing pending, nothing out of order", st)
	}
}

// TestEdgeUnknownVersion: batches of a wire format version the edge does
// not know are skipped, their records counted, the version logged once;
// the records around them, in the JSON form of versions before batches
// and in batches, are handed on.
func TestEdgeUnknownVersion(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	p := newPublisher(t, url, "web-1")
	run(t, p.Run)
	p.Publish(makeRecord("web-1.log", 1)) // creates the stream
	waitFor(t, 10*time.Second, "the first record in the stream", func() bool { return p.Stats().Published == 1 })
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := fleet.Subject(fleet.DefaultPrefix, "web-1", "web-1.log")
	for _, data := range [][]byte{
		{9, 4, 'f', 'u', 't', 'u', 'r', 'e'},
		func() []byte {
			r := makeRecord("web-1.log", 2)
			r.Node = "web-1"
			return transports.AppendJSONRaw(nil, r)
		}(),
		{9, 6},
	} {
		if err := nc.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p.Publish(makeRecord("web-1.log", 3))
	var logs logBuffer
	var c collector
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Durable: "edge", Options: fastReconnect, Logger: logs.logger()}, c.handle)
	if err != nil {
		t.Fatal(err)
	}
	run(t, e.Run)
	waitFor(t, 10*time.Second, "the records at the edge", func() bool { return c.len() >= 3 })
	time.Sleep(100 * time.Millisecond)
	checkOnceInOrder(t, c.all(), 3, "web-1")
	if st := e.Stats(); st.Unknown != 10 || st.BadRecords != 0 || st.Handled != 3 {
		t.Errorf("Stats()=%+v, want 10 unknown, 0 bad, 3 handled", st)
	}
	if n := strings.Count(logs.String(), "version 9"); n != 1 {
		t.Errorf("version 9 logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestBatchesSentAgainAfterRestart: batches that reached the stream but
// whose acknowledgements were lost wait in the buffer file; a restarted
// publisher sends them again as the same batches, with the same ids, so
// that the stream stores each record once, although all of them wait at
// once now and would make one batch.
func TestBatchesSentAgainAfterRestart(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	proxy := newStallingProxy(t, s.Addr().String())
	file := filepath.Join(t.TempDir(), "state.json.nats")
	p1 := diskPublisher(t, proxy.url(), file, nil)
	stop := run(t, p1.Run)
	p1.Publish(makeRecord("web-1.log", 1))
	waitFor(t, 10*time.Second, "the first record acknowledged", func() bool { return p1.Stats().Published == 1 })
	proxy.setDeaf(true)
	const n = 20
	for i := uint64(2); i <= n; i++ { // a batch each
		p1.Publish(makeRecord("web-1.log", i))
		time.Sleep(10 * time.Millisecond)
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, fleet.DefaultStream)
		if err != nil {
			t.Fatal(err)
		}
		return st.CachedInfo().State.Msgs
	}
	waitFor(t, 10*time.Second, "every batch stored", func() bool { return stored() == n })
	stop()
	p1.Close()
	if st := p1.Stats(); st.Pending != n-1 {
		t.Fatalf("first run: %+v, want %d waiting (their acknowledgements lost)", st, n-1)
	}

	p2 := diskPublisher(t, s.ClientURL(), file, nil)
	run(t, p2.Run)
	waitFor(t, 10*time.Second, "the batches sent again", func() bool { return p2.Stats().Published == n-1 })
	if got := stored(); got != n {
		t.Errorf("the stream holds %d batches, want %d: the same batches sent again are dropped", got, n)
	}
	var c collector
	run(t, newEdge(t, s.ClientURL(), "edge", &c).Run)
	waitFor(t, 10*time.Second, "every record at the edge", func() bool { return c.len() >= n })
	time.Sleep(100 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n, "web-1")
}
