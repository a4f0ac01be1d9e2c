package fleet_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/record"
)

// BenchmarkPublishToEdge measures publishers to one edge through an
// in-process NATS server on loopback (file storage), b.N records per
// publisher: records/s from the first Publish to the last record in the
// edge's handler ("acked-records/s": to the last acknowledgement of the
// stream), and the time each record took from Publish to the
// handler (p50, p99). "burst" publishes as fast as it can, so its times
// include the wait in the buffer; "paced" publishes 2000 records/s, far
// below what the publisher sustains, so its times are the added latency
// of the trip itself. "buffer-file" keeps the buffer on disk too
// (--state). Run it without -race, e.g.
//
//	go test -run '^$' -bench PublishToEdge -benchtime 20000x -count 3 ./fleet/
func BenchmarkPublishToEdge(b *testing.B) {
	for _, bc := range []struct {
		name       string
		publishers int
		window     int // 0: DefaultWindow
		rate       int // records/s per publisher; 0: as fast as Publish goes
		file       bool
	}{
		{"burst/1-publisher/window-1", 1, 1, 0, false},
		{"burst/1-publisher/window-16", 1, 16, 0, false},
		{"burst/1-publisher/window-default", 1, 0, 0, false},
		{"burst/1-publisher/window-256", 1, 256, 0, false},
		{"burst/1-publisher/window-1024", 1, 1024, 0, false},
		{"burst/2-publishers/window-1", 2, 1, 0, false},
		{"burst/2-publishers/window-default", 2, 0, 0, false},
		{"paced-2000/s/window-1", 1, 1, 2000, false},
		{"paced-2000/s/window-default", 1, 0, 2000, false},
		{"burst/1-publisher/window-default-buffer-file", 1, 0, 0, true},
		{"paced-2000/s/window-default-buffer-file", 1, 0, 2000, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchPublishToEdge(b, bc.publishers, bc.window, bc.rate, bc.file) })
	}
}

func benchPublishToEdge(b *testing.B, publishers, window, rate int, file bool) {
	s := runNATS(b, b.TempDir(), 0)
	url := s.ClientURL()
	n := b.N
	total := publishers * n
	// sent[p][i] and got[p][i]: when record i+1 of publisher p was
	// published and handled, in ns since start.
	sent := make([][]atomic.Int64, publishers)
	got := make([][]atomic.Int64, publishers)
	nodes := make([]string, publishers)
	index := map[string]int{}
	for p := range publishers {
		sent[p], got[p] = make([]atomic.Int64, n), make([]atomic.Int64, n)
		nodes[p] = fmt.Sprintf("web-%d", p+1)
		index[nodes[p]] = p
	}
	start := time.Now()
	var handled atomic.Int64
	done := make(chan struct{})
	var warmed atomic.Bool
	e, err := fleet.NewEdge(fleet.EdgeConfig{URL: url, Durable: "bench"}, func(r *record.Record) {
		if r.Node == "warm-up" {
			warmed.Store(true)
			return
		}
		got[index[r.Node]][r.Seq-1].Store(int64(time.Since(start)))
		if handled.Add(1) == int64(total) {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	pubs := make([]*fleet.Publisher, publishers)
	for p := range pubs {
		c := fleet.PublisherConfig{URL: url, Node: nodes[p], Window: window}
		if file {
			c.BufferFile = filepath.Join(b.TempDir(), "state.json.nats")
		}
		pubs[p], err = fleet.NewPublisher(c)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pubs[p].Close() })
		run(b, pubs[p].Run)
	}
	run(b, e.Run)
	// One record through first, so that the stream and the consumer exist
	// and the connections are warm before the clock starts.
	warm := newPublisher(b, url, "warm-up")
	stopWarm := run(b, warm.Run)
	warm.Publish(makeRecord("warm-up.log", 1))
	waitFor(b, 10*time.Second, "the warm-up record in the stream", func() bool { return warm.Stats().Published == 1 })
	stopWarm()
	waitFor(b, 10*time.Second, "the warm-up record at the edge", warmed.Load)

	recs := make([]*record.Record, n)
	for i := range recs {
		recs[i] = makeRecord("bench.log", uint64(i+1))
	}
	b.ResetTimer()
	start = time.Now()
	var wg sync.WaitGroup
	for p, pub := range pubs {
		wg.Go(func() {
			for i, r := range recs {
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
						time.Sleep(d)
					}
				}
				sent[p][i].Store(int64(time.Since(start)))
				pub.Publish(r)
			}
		})
	}
	wg.Wait()
	// The publishers' own rate: until the stream has acknowledged all.
	for {
		all := true
		for _, pub := range pubs {
			all = all && pub.Stats().Published == uint64(n)
		}
		if all {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	acked := time.Since(start)
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d records at the edge after a minute", handled.Load(), total)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	lat := make([]time.Duration, 0, total)
	for p := range publishers {
		for i := range n {
			lat = append(lat, time.Duration(got[p][i].Load()-sent[p][i].Load()))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(total)/acked.Seconds(), "acked-records/s")
	b.ReportMetric(float64(lat[total/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[total*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op") // the figures above say it; ns per record would repeat records/s
}
