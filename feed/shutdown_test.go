package feed_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// Shutdown with a stalled client of every transport (including a
// WebSocket peer that never reads and never answers the close frame), the
// write deadline a minute away: every healthy stream still gets all that
// was read and its proper end, the stalled ones are cut when the goodbyes'
// time (half the shutdown timeout) is up, and Run returns nil well within
// the shutdown timeout.
func TestShutdownWithStalledClientsOfEveryTransport(t *testing.T) {
	log := tempLog(t)
	const shutdownTimeout = 2 * time.Second
	srv, stop := stopServerFunc(t, feed.Config{Logs: []string{log}, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		WriteTimeout: time.Minute, SlowTimeout: -1, ShutdownTimeout: shutdownTimeout, Tick: 5 * time.Millisecond,
		Queue: 10}) // small, so that a blocked writer shows in the dropped counts soon

	// Stalled clients, their writers blocked by a burst.
	stalledRaw(t, srv)
	stalledHTTP(t, srv, "/hits")
	stalledHTTP(t, srv, "/hits?format=ndjson")
	stalledHTTP(t, srv, "/events")
	stalledWS(t, srv)
	waitSubscribers(t, srv, map[string]int64{"tcp": 1, "hits": 2, "events": 1, "ws": 1})
	const size = 8 << 10
	n := uint64(writeBurst(t, srv, log, burstBytes/size, size, dropping(t, srv, "tcp", "hits", "events", "ws")))

	// Healthy clients, connected now (reading the burst would only cost
	// time), read to the end in goroutines.
	raw := dialRaw(t, srv)
	streams := map[string]*liveStream{}
	for _, k := range []string{kindXML, kindNDJSON, kindSSE, kindWS} {
		streams[k] = dialLive(t, srv, k, "", nil)
	}
	type ending struct {
		kind        string
		first, last uint64
		end         string
		err         error
	}
	ends := make(chan ending, 5)
	readEnd := func(kind string, read func(*seqCheck) (string, error)) {
		var c seqCheck
		end, err := read(&c)
		ends <- ending{kind, c.first, c.last, end, err}
	}
	go readEnd("tcp", func(c *seqCheck) (string, error) {
		raw.c.SetReadDeadline(time.Now().Add(2 * waitFor))
		tail, err := readXMLToEnd(raw.r, c)
		return fmt.Sprint(tail), err
	})
	go readEnd(kindXML, func(c *seqCheck) (string, error) {
		tail, err := readXMLToEnd(streams[kindXML].r, c)
		return fmt.Sprint(tail), err
	})
	go readEnd(kindNDJSON, func(c *seqCheck) (string, error) {
		tail, err := readJSONLinesToEnd(streams[kindNDJSON].r, c)
		return fmt.Sprint(tail), err
	})
	go readEnd(kindSSE, func(c *seqCheck) (string, error) {
		tail, err := readSSEToEnd(streams[kindSSE], c)
		return fmt.Sprint(tail), err
	})
	go readEnd(kindWS, func(c *seqCheck) (string, error) {
		ce, err := readWSToEnd(streams[kindWS], c)
		if ce == nil {
			return "", err
		}
		return fmt.Sprint(ce.Code), err
	})
	waitSubscribers(t, srv, map[string]int64{"tcp": 2, "hits": 4, "events": 2, "ws": 2})
	// Read by the tailer, perhaps not yet flushed when the shutdown starts:
	// it is drained to the healthy ones all the same.
	writeLines(t, log, combined, combined, combined)
	waitUntil(t, func() bool { return srv.LastSeq() >= n+3 })

	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v, want nil: stalled clients are cut by the drain, not by the shutdown timeout", err)
	}
	took := time.Since(start)
	t.Logf("Run returned %v after the cancel", took.Round(time.Millisecond))
	if took >= shutdownTimeout {
		t.Fatalf("Run returned %v after the cancel, want within the shutdown timeout (%v)", took, shutdownTimeout)
	}
	want := map[string]string{"tcp": "[</hits>]", kindXML: "[</hits>]", kindNDJSON: "[]", kindSSE: "[]",
		kindWS: fmt.Sprint(websocket.CloseGoingAway)}
	for range 5 {
		select {
		case e := <-ends:
			if e.err != nil || e.first != n+1 || e.last != n+3 || e.end != want[e.kind] {
				t.Errorf("%s: got seqs %d-%d then %q (%v); want %d-%d, then %s", e.kind, e.first, e.last, e.end, e.err, n+1, n+3, want[e.kind])
			}
		case <-time.After(waitFor):
			t.Fatal("a healthy stream did not end")
		}
	}
}
