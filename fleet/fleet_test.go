package fleet_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/fleet/fleettest"
	"github.com/weblogd/weblogd/record"
)

// runNATS starts a NATS server with JetStream on loopback, its store in
// dir; port 0 means a free one. The test stops it at the end.
func runNATS(tb testing.TB, dir string, port int) *server.Server {
	tb.Helper()
	return fleettest.Run(tb, &server.Options{StoreDir: dir, Port: port})
}

// fastReconnect makes the client retry every 20 ms, so that a NATS
// restart in a test costs little.
var fastReconnect = []nats.Option{nats.ReconnectWait(20 * time.Millisecond), nats.ReconnectJitter(0, 0)}

// run runs f in a goroutine until the returned stop is called; stop
// cancels it, waits for it and fails the test if it returned an error.
func run(tb testing.TB, f func(context.Context) error) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- f(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					tb.Errorf("Run()=%v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				tb.Error("Run did not return within 5s of cancel")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// collector is an edge handler that keeps what it is given.
type collector struct {
	mu   sync.Mutex
	recs []*record.Record
}

func (c *collector) handle(r *record.Record) {
	c.mu.Lock()
	c.recs = append(c.recs, r)
	c.mu.Unlock()
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

func (c *collector) all() []*record.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*record.Record(nil), c.recs...)
}

// waitFor polls cond until it holds or d passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// makeRecord is the seq-th record of source: a parsed line.
func makeRecord(source string, seq uint64) *record.Record {
	return &record.Record{
		Seq: seq, Source: source, Parsed: true,
		Time: time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("", 3600)),
		Host: "203.0.113.9", Ident: "-", User: "-", Method: "GET",
		Path: fmt.Sprintf("/page/%d", seq), Proto: "HTTP/1.1", Status: 200, Bytes: int64(seq),
		Line: fmt.Sprintf(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /page/%d HTTP/1.1" 200 %d`, seq, seq),
	}
}

func newPublisher(tb testing.TB, url, node string) *fleet.Publisher {
	tb.Helper()
	p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, Node: node, Options: fastReconnect, AckTimeout: time.Second})
	if err != nil {
		tb.Fatalf("NewPublisher()=%v", err)
	}
	return p
}

func newEdge(tb testing.TB, url, durable string, c *collector) *fleet.Edge {
	tb.Helper()
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Durable: durable, Options: fastReconnect}, c.handle)
	if err != nil {
		tb.Fatalf("NewEdge()=%v", err)
	}
	return e
}

// checkOnceInOrder checks that recs hold, for each node, the seqs 1..n
// once each and in order, with the node and source they were published
// with.
func checkOnceInOrder(tb testing.TB, recs []*record.Record, n uint64, nodes ...string) {
	tb.Helper()
	next := map[string]uint64{}
	for _, node := range nodes {
		next[node] = 1
	}
	for i, r := range recs {
		want, ok := next[r.Node]
		if !ok {
			tb.Fatalf("record %d: node %q, want one of %v", i, r.Node, nodes)
		}
		if r.Seq != want {
			tb.Fatalf("record %d of node %s: seq %d, want %d (lost, duplicated or out of order)", i, r.Node, r.Seq, want)
		}
		if r.Source != r.Node+".log" || r.Path != fmt.Sprintf("/page/%d", r.Seq) || r.Line == "" {
			tb.Fatalf("record %d: %+v, want source %s.log and its fields", i, r, r.Node)
		}
		next[r.Node] = want + 1
	}
	for _, node := range nodes {
		if next[node] != n+1 {
			tb.Fatalf("node %s: %d records, want %d", node, next[node]-1, n)
		}
	}
}

// TestTwoPublishersOneEdge: every record of two publishers reaches the
// edge once, each publisher's in order, and reports the throughput.
func TestTwoPublishersOneEdge(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	const n = 3000
	var c collector
	pubs := []*fleet.Publisher{newPublisher(t, url, "web-1"), newPublisher(t, url, "web-2")}
	for _, p := range pubs {
		run(t, p.Run)
	}
	run(t, newEdge(t, url, "edge", &c).Run)
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Go(func() {
			for i := uint64(1); i <= n; i++ {
				if !p.Publish(makeRecord(p.Node()+".log", i)) {
					t.Errorf("Publish() dropped a record")
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, 15*time.Second, "every record at the edge", func() bool { return c.len() >= 2*n })
	elapsed := time.Since(start)
	time.Sleep(100 * time.Millisecond) // room for a duplicate to show
	checkOnceInOrder(t, c.all(), n, "web-1", "web-2")
	t.Logf("%d records from 2 publishers to the edge in %v: %.0f records/s", 2*n, elapsed, float64(2*n)/elapsed.Seconds())
	for _, p := range pubs {
		if st := p.Stats(); st.Published != n || st.Pending != 0 || st.Dropped != 0 {
			t.Errorf("%s Stats()=%+v, want %d published, none pending or dropped", p.Node(), st, n)
		}
	}
}

// TestNATSRestartDuringBurst: NATS stops and comes back in the middle of
// a burst; the publisher buffers and catches up, and the edge gets every
// record once, in order.
func TestNATSRestartDuringBurst(t *testing.T) {
	dir := t.TempDir()
	s := runNATS(t, dir, 0)
	url := s.ClientURL()
	port := s.Addr().(*net.TCPAddr).Port
	const n = 4000
	var c collector
	p := newPublisher(t, url, "web-1")
	run(t, p.Run)
	run(t, newEdge(t, url, "edge", &c).Run)
	// The second half of the burst is written once NATS is down, so that
	// the outage falls in the middle of it however fast the first half
	// went out.
	down := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := uint64(1); i <= n; i++ {
			if i == n/2+1 {
				<-down
			}
			p.Publish(makeRecord("web-1.log", i))
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond) // a burst over ~200 ms
			}
		}
	})
	waitFor(t, 10*time.Second, "the first records at the edge", func() bool { return c.len() >= 500 })
	s.Shutdown()
	s.WaitForShutdown()
	close(down)
	time.Sleep(300 * time.Millisecond) // an outage, while the burst goes on
	if st := p.Stats(); st.Connected {
		t.Errorf("Stats().Connected=true while NATS is down")
	}
	runNATS(t, dir, port)
	wg.Wait()
	waitFor(t, 15*time.Second, "every record at the edge", func() bool { return c.len() >= n })
	time.Sleep(200 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n, "web-1")
	st := p.Stats()
	if st.Pending != 0 || st.Dropped != 0 || st.Errors == 0 {
		t.Errorf("Stats()=%+v, want nothing pending or dropped, and the outage's errors counted", st)
	}
	t.Logf("publisher %+v", st)
}

// TestEdgeRestartResumes: an edge restarted with the same durable name
// starts after the last record it handled, not from the start.
func TestEdgeRestartResumes(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	const n = 500
	p := newPublisher(t, url, "web-1")
	run(t, p.Run)
	var c1 collector
	stop := run(t, newEdge(t, url, "edge", &c1).Run)
	for i := uint64(1); i <= n; i++ {
		p.Publish(makeRecord("web-1.log", i))
	}
	waitFor(t, 10*time.Second, "the first half at the edge", func() bool { return c1.len() >= n })
	stop()
	for i := uint64(n + 1); i <= 2*n; i++ {
		p.Publish(makeRecord("web-1.log", i))
	}
	waitFor(t, 10*time.Second, "the second half in the stream", func() bool { return p.Stats().Published == 2*n })
	var c2 collector
	run(t, newEdge(t, url, "edge", &c2).Run)
	waitFor(t, 10*time.Second, "the second half at the restarted edge", func() bool { return c2.len() >= n })
	time.Sleep(200 * time.Millisecond)
	all := append(c1.all(), c2.all()...)
	checkOnceInOrder(t, all, 2*n, "web-1")
	if got := c2.all()[0].Seq; got != n+1 {
		t.Errorf("restarted edge began at seq %d, want %d", got, n+1)
	}
}

// TestRepublishAfterRestart: a publisher with a buffer file that starts
// again and is given the same lines again (a restart that reads from a
// checkpoint older than its buffer) adds nothing to the stream; only the
// new lines get through.
func TestRepublishAfterRestart(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	file := filepath.Join(t.TempDir(), "state.json.nats")
	const n = 300
	publish := func(p *fleet.Publisher, from, to uint64) {
		for i := from; i <= to; i++ {
			p.PublishWait(context.Background(), makeRecord("web-1.log", i), "dev1:ino7:fp", int64(i*100))
		}
	}
	p1 := diskPublisher(t, url, file, nil)
	stop := run(t, p1.Run)
	publish(p1, 1, n)
	waitFor(t, 10*time.Second, "the first run published", func() bool { return p1.Stats().Published == n })
	stop()
	p1.Close()
	p2 := diskPublisher(t, url, file, nil)
	run(t, p2.Run)
	publish(p2, n/2, n+100)
	waitFor(t, 10*time.Second, "the second run published", func() bool { return p2.Stats().Published == 100 })
	var c collector
	run(t, newEdge(t, url, "edge", &c).Run)
	waitFor(t, 10*time.Second, "every record at the edge", func() bool { return c.len() >= n+100 })
	time.Sleep(200 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n+100, "web-1")
}

// TestBufferWhileNATSIsDown: a publisher started before NATS exists keeps
// at most Buffer records, drops (and counts) the oldest beyond that, and
// sends the rest, in order, once NATS is up.
func TestBufferWhileNATSIsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	p, err := fleet.NewPublisher(fleet.PublisherConfig{URL: url, Node: "web-1", Options: fastReconnect, Buffer: 10})
	if err != nil {
		t.Fatal(err)
	}
	run(t, p.Run)
	for i := uint64(1); i <= 15; i++ {
		if ok := p.Publish(makeRecord("web-1.log", i)); ok != (i <= 10) {
			t.Errorf("Publish(%d)=%v, want %v", i, ok, i <= 10)
		}
	}
	if st := p.Stats(); st.Pending != 10 || st.Dropped != 5 || st.Connected || !p.Full() {
		t.Errorf("Stats()=%+v, Full()=%v; want 10 pending, 5 dropped, not connected, full", st, p.Full())
	}
	// A line that can be read again waits for room; its reader's ctx ends
	// the wait, and the record is queued all the same.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	p.PublishWait(ctx, makeRecord("web-1.log", 16), "dev1:ino7:fp", 1600)
	cancel()
	if st := p.Stats(); st.Pending != 11 || st.Dropped != 5 {
		t.Errorf("after PublishWait: Stats()=%+v, want 11 pending, 5 dropped", st)
	}
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		p.PublishWait(context.Background(), makeRecord("web-1.log", 17), "dev1:ino7:fp", 1700)
	}()
	select {
	case <-waited:
		t.Fatal("PublishWait returned while the buffer is full")
	case <-time.After(50 * time.Millisecond):
	}

	runNATS(t, t.TempDir(), port)
	<-waited // NATS took some: room
	var c collector
	run(t, newEdge(t, url, "edge", &c).Run)
	waitFor(t, 10*time.Second, "the buffered records at the edge", func() bool { return c.len() >= 12 })
	time.Sleep(100 * time.Millisecond)
	recs := c.all()
	var seqs []uint64
	for _, r := range recs {
		seqs = append(seqs, r.Seq)
	}
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17}; !slices.Equal(seqs, want) {
		t.Fatalf("edge got seqs %v, want %v: the first 10, then the two that waited", seqs, want)
	}
}

// TestEdgeFillsRecordsLostInFlight: records the consumer delivered but
// the edge never got (a pull lost in an outage, here taken and never
// acked by another client) are read from the stream, so that the edge
// still hands on every record once and in order, without waiting for
// their redelivery.
func TestEdgeFillsRecordsLostInFlight(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	const n = 20
	p := newPublisher(t, url, "web-1")
	run(t, p.Run)
	for i := uint64(1); i <= n; i++ { // a message each
		p.Publish(makeRecord("web-1.log", i))
		waitFor(t, 10*time.Second, "the record in the stream", func() bool { return p.Stats().Published == i })
	}

	// The edge's durable, opened as the Edge opens it, loses its first 5
	// deliveries.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := js.CreateOrUpdateConsumer(ctx, fleet.DefaultStream, jetstream.ConsumerConfig{
		Durable: "edge", FilterSubject: fleet.DefaultPrefix + ".>", DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxAckPending: 4 * 32,
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(5, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for range batch.Messages() {
		lost++
	}
	if lost != 5 {
		t.Fatalf("took %d deliveries, want 5", lost)
	}

	var c collector
	e := newEdge(t, url, "edge", &c)
	run(t, e.Run)
	waitFor(t, 10*time.Second, "every record at the edge", func() bool { return c.len() >= n })
	time.Sleep(100 * time.Millisecond)
	checkOnceInOrder(t, c.all(), n, "web-1")
	t.Logf("edge %+v", e.Stats())
}

// TestLatency reports how long one record takes from Publish to the
// edge's handler when traffic is sparse (one record at a time).
func TestLatency(t *testing.T) {
	s := runNATS(t, t.TempDir(), 0)
	url := s.ClientURL()
	p := newPublisher(t, url, "web-1")
	run(t, p.Run)
	got := make(chan *record.Record, 1) // one record in flight at a time
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Durable: "edge"}, func(r *record.Record) { got <- r })
	if err != nil {
		t.Fatal(err)
	}
	run(t, e.Run)
	const n = 200
	lat := make([]time.Duration, 0, n)
	for i := uint64(1); i <= n; i++ {
		start := time.Now()
		p.Publish(makeRecord("web-1.log", i))
		select {
		case r := <-got:
			lat = append(lat, time.Since(start))
			if r.Seq != i {
				t.Fatalf("got seq %d, want %d", r.Seq, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("record %d did not reach the edge", i)
		}
	}
	slices.Sort(lat)
	t.Logf("publisher to edge handler, one record at a time: median %v, p99 %v, max %v", lat[n/2], lat[n*99/100], lat[n-1])
}
