package feed_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/fleet/fleettest"
)

// combinedLine is the i-th Combined line of a test: its path names it.
func combinedLine(i int) string {
	return fmt.Sprintf(`203.0.113.9 - frank [21/Nov/2026:10:00:00 +0100] "GET /page/%d HTTP/1.1" 200 %d "http://example.com/start" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"`, i, i)
}

// TestFleetBurstWaitsForNATS: a burst of lines many times the publish
// buffer is appended to a log at once, while NATS is up, and then another
// while NATS is down; the publisher reads the log no faster than NATS
// takes the records (the file is the buffer) and drops none, and once
// NATS is back the edge has every line once, in order.
func TestFleetBurstWaitsForNATS(t *testing.T) {
	const buffer, burst = 50, 600
	url, port := natsURL(t)
	store := t.TempDir()
	ns := fleettest.Run(t, &server.Options{Port: port, StoreDir: store})
	log := tempLog(t)
	pub := startServer(t, feed.Config{Logs: []string{log}, Publish: url, Node: "web-1", PublishBuffer: buffer,
		NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	edge := startServer(t, feed.Config{Subscribe: url, Node: "edge-1", Ring: 4 * burst, NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	eventually(t, "the publisher connected", func() bool { return natsStatus(t, pub).Publish.Connected })

	lines := make([]string, 0, 2*burst)
	for i := 1; i <= 2*burst; i++ {
		lines = append(lines, combinedLine(i))
	}
	writeLines(t, log, lines[:burst]...)
	eventually(t, "records published", func() bool { return natsStatus(t, pub).Publish.Published > 0 })
	ns.Shutdown()
	ns.WaitForShutdown()
	writeLines(t, log, lines[burst:]...)
	// While NATS is down the log waits: the buffer holds at most its size
	// (and the line in hand), and nothing is dropped.
	eventually(t, "the buffer full", func() bool { return natsStatus(t, pub).Publish.Pending >= buffer })
	time.Sleep(100 * time.Millisecond)
	if p := natsStatus(t, pub).Publish; p.Pending > buffer+1 || p.Dropped != 0 {
		t.Fatalf("NATS down: %d pending, %d dropped; want at most %d pending, none dropped", p.Pending, p.Dropped, buffer+1)
	}

	fleettest.Run(t, &server.Options{Port: port, StoreDir: store})
	eventually(t, "every line at the edge", func() bool { return len(edgeRecords(t, edge)) >= 2*burst })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	checkPages(t, edgeRecords(t, edge), 2*burst, "web-1")
	eventually(t, "nothing waiting", func() bool { return natsStatus(t, pub).Publish.Pending == 0 })
	if p := natsStatus(t, pub).Publish; p.Dropped != 0 {
		t.Errorf("dropped %d, want 0", p.Dropped)
	}
}

// TestFleetFullBufferDropsStreams: lines that cannot be read again, here
// from /ingest, are dropped when the publish buffer is full (NATS is
// away), counted, and said once in the log.
func TestFleetFullBufferDropsStreams(t *testing.T) {
	const buffer = 10
	url, _ := natsURL(t) // nothing listens: NATS stays away
	var logs logRecorder
	srv := startServer(t, feed.Config{Publish: url, Node: "web-1", PublishBuffer: buffer, NATSOptions: fastNATS,
		IngestTokenFile: writeTokenFile(t, tokIngest+" name=web"), Logger: slog.New(&logs)})
	for round := range 2 {
		var body strings.Builder
		for i := 1; i <= 15; i++ {
			fmt.Fprintln(&body, combinedLine(100*round+i))
		}
		resp, answer := postIngest(t, ingestURL(srv, "source=web"), tokIngest, "text/plain", strings.NewReader(body.String()))
		if resp.StatusCode != http.StatusOK || decodeAnswer(t, answer).Lines != 15 {
			t.Fatalf("POST /ingest: %d %s, want 200 and 15 lines", resp.StatusCode, answer)
		}
	}
	p := natsStatus(t, srv).Publish
	if p.Pending != buffer || p.Dropped != 30-buffer {
		t.Errorf("%d pending, %d dropped; want %d and %d", p.Pending, p.Dropped, buffer, 30-buffer)
	}
	if n := logs.count(slog.LevelWarn, "publish buffer is full"); n != 1 {
		t.Errorf("%d warnings of a full buffer, want 1: %q", n, logs.all())
	}
	if _, metrics := scrape(t, srv); !strings.Contains(string(metrics), fmt.Sprintf("weblogd_nats_publish_dropped_total %d\n", 30-buffer)) {
		t.Errorf("metrics lack weblogd_nats_publish_dropped_total %d", 30-buffer)
	}
}

// TestFleetShutdownWhileLogWaits: a log held up by a full publish buffer
// (NATS away) does not hold up the shutdown; with --state the checkpoint
// stops at the last line queued, so after a restart, and NATS back, the
// edge has every line once, in order.
func TestFleetShutdownWhileLogWaits(t *testing.T) {
	const buffer, lines = 5, 40
	url, port := natsURL(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	writeLines(t, log)
	cfg := feed.Config{Logs: []string{log}, StatePath: filepath.Join(dir, "state.json"), Publish: url, Node: "web-1",
		PublishBuffer: buffer, NATSOptions: fastNATS, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen}
	srv, stop := stopServerFunc(t, cfg)
	var all []string
	for i := 1; i <= lines; i++ {
		all = append(all, line(i))
	}
	writeLines(t, log, all...)
	eventually(t, "the buffer full", func() bool { return natsStatus(t, srv).Publish.Pending >= buffer })
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v, want a prompt shutdown with the log waiting", err)
	}

	srv, _ = stopServerFunc(t, cfg)
	runNATSAt(t, port)
	edge := startServer(t, feed.Config{Subscribe: url, Node: "edge-1", NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	eventually(t, "every line at the edge", func() bool { return len(edgeRecords(t, edge)) >= lines })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	checkPages(t, edgeRecords(t, edge), lines, "web-1")
	if p := natsStatus(t, srv).Publish; p.Dropped != 0 {
		t.Errorf("dropped %d, want 0", p.Dropped)
	}
}
