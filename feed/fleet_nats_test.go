package feed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/fleet/fleettest"
)

// fastNATS makes the NATS clients retry every 20 ms, so that NATS coming
// up in a test costs little.
var fastNATS = []nats.Option{nats.ReconnectWait(20 * time.Millisecond), nats.ReconnectJitter(0, 0)}

// natsURL returns the URL of a loopback port nothing listens on yet, for
// a NATS that comes later (runNATSAt), and the port.
func natsURL(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	return fmt.Sprintf("nats://127.0.0.1:%d", port), port
}

// runNATSAt starts NATS with JetStream on loopback at port (0: any), until
// the test ends.
func runNATSAt(t *testing.T, port int) *server.Server {
	t.Helper()
	return fleettest.Run(t, &server.Options{Port: port})
}

// natsDoc is the nats object of /api/status.
type natsDoc struct {
	Publish *struct {
		URL           string  `json:"url"`
		Node          string  `json:"node"`
		Connected     bool    `json:"connected"`
		Published     uint64  `json:"published"`
		Pending       int     `json:"pending"`
		PendingOnDisk int     `json:"pending_on_disk"`
		BufferFile    string  `json:"buffer_file"`
		Dropped       uint64  `json:"dropped"`
		Errors        uint64  `json:"errors"`
		BufferErrors  uint64  `json:"buffer_errors"`
		LagSeconds    float64 `json:"lag_seconds"`
		LastError     string  `json:"last_error"`
	} `json:"publish"`
	Subscribe *struct {
		URL        string `json:"url"`
		Consumer   string `json:"consumer"`
		Connected  bool   `json:"connected"`
		Ready      bool   `json:"ready"`
		NotReady   string `json:"not_ready"`
		Handled    uint64 `json:"handled"`
		Skipped    uint64 `json:"skipped"`
		StreamSeq  uint64 `json:"stream_seq"`
		LagRecords uint64 `json:"lag_records"`
		LastError  string `json:"last_error"`
	} `json:"subscribe"`
}

// natsStatus GETs /api/status and returns its nats object (nil if none).
func natsStatus(t *testing.T, srv *feed.Server) *natsDoc {
	t.Helper()
	resp, body := apiGet(t, srv, "/api/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/status: %d %q", resp.StatusCode, body)
	}
	var doc struct {
		NATS *natsDoc `json:"nats"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET /api/status: %v\n%s", err, body)
	}
	return doc.NATS
}

// eventually polls cond every 10 ms for up to waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitFor, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// edgeRecords is what the edge server holds, oldest first.
type edgeRecord struct {
	Seq  uint64 `json:"seq"`
	Node string `json:"node"`
	Path string `json:"path"`
}

func edgeRecords(t *testing.T, srv *feed.Server) []edgeRecord {
	t.Helper()
	_, body := apiGet(t, srv, "/api/hits?since=0&limit=10000")
	var recs []edgeRecord
	if err := json.Unmarshal(body, &recs); err != nil {
		t.Fatalf("/api/hits: %v\n%s", err, body)
	}
	return recs
}

// line is the i-th access-log line of a test: its path names it.
func line(i int) string {
	return fmt.Sprintf(`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /page/%d HTTP/1.1" 200 %d`, i, i)
}

// checkPages checks that recs are the pages 1..n of node, each once, in
// order.
func checkPages(t *testing.T, recs []edgeRecord, n int, node string) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("edge has %d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if want := fmt.Sprintf("/page/%d", i+1); r.Path != want || r.Node != node {
			t.Fatalf("record %d: %+v, want %s of node %s (lost, duplicated or out of order)", i, r, want, node)
		}
	}
}

// TestFleetStateKeepsRecordsAcrossARestart: with --state, records read
// while NATS is down wait on disk; the server stops (they are not lost,
// though the checkpoint has moved past their lines), starts again, reads
// more while NATS is still down, and once NATS is up an edge gets every
// line once, in order. /api/status shows what waits, on disk, and the lag.
func TestFleetStateKeepsRecordsAcrossARestart(t *testing.T) {
	url, port := natsURL(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	writeLines(t, log)
	cfg := feed.Config{Logs: []string{log}, StatePath: filepath.Join(dir, "state.json"), Publish: url, Node: "web-1",
		NATSOptions: fastNATS, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen}

	srv, stop := stopServerFunc(t, cfg)
	for i := 1; i <= 30; i++ {
		writeLines(t, log, line(i))
	}
	eventually(t, "30 records waiting for NATS", func() bool {
		n := natsStatus(t, srv)
		return n.Publish.Pending == 30 && n.Publish.PendingOnDisk == 30
	})
	n := natsStatus(t, srv)
	if p := n.Publish; p.Connected || p.LagSeconds <= 0 || p.URL != url || p.Node != "web-1" || p.BufferFile != cfg.StatePath+".nats" || n.Subscribe != nil {
		t.Errorf("status nats=%+v, want the publisher not connected, a lag, its URL, node and file, and no subscribe", *p)
	}
	if resp, body := apiGet(t, srv, "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %d %q, want 200: a publisher without NATS still serves its logs", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v", err)
	}

	srv, _ = stopServerFunc(t, cfg)
	if p := natsStatus(t, srv).Publish; p.Pending != 30 || p.PendingOnDisk != 30 {
		t.Fatalf("after the restart: pending %d (on disk %d), want the 30 of the first run", p.Pending, p.PendingOnDisk)
	}
	for i := 31; i <= 60; i++ {
		writeLines(t, log, line(i))
	}
	eventually(t, "60 records waiting", func() bool { return natsStatus(t, srv).Publish.Pending == 60 })

	runNATSAt(t, port)
	edge := startServer(t, feed.Config{Subscribe: url, Node: "edge-1", NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	eventually(t, "60 records at the edge", func() bool { return len(edgeRecords(t, edge)) >= 60 })
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	checkPages(t, edgeRecords(t, edge), 60, "web-1")
	eventually(t, "nothing waiting", func() bool {
		p := natsStatus(t, srv).Publish
		return p.Pending == 0 && p.PendingOnDisk == 0 && p.Connected && p.Published == 60 && p.LagSeconds == 0
	})
}

// TestFleetReadiness: an edge is not ready, and says why in one line,
// until it is connected to NATS and has its consumer; /api/status shows
// the same.
func TestFleetReadiness(t *testing.T) {
	url, port := natsURL(t)
	edge := startServer(t, feed.Config{Subscribe: url, Node: "edge-1", NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	readyz := func() (int, string) {
		resp, body := apiGet(t, edge, "/readyz")
		return resp.StatusCode, string(body)
	}
	code, body := readyz()
	want := "nats: not connected to " + url
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, want) || strings.Count(body, "\n") != 1 {
		t.Errorf("/readyz without NATS: %d %q, want 503 and one line %q...", code, body, want)
	}
	s := natsStatus(t, edge).Subscribe
	if s == nil || s.Connected || s.Ready || !strings.HasPrefix(s.NotReady, want) || s.Consumer != "weblogd-edge-edge-1" || s.URL != url {
		t.Errorf("status nats.subscribe=%+v, want not connected, not ready and why, consumer weblogd-edge-edge-1", s)
	}

	runNATSAt(t, port) // no stream yet: no publisher has made it
	eventually(t, "the missing stream as the reason", func() bool {
		code, body := readyz()
		return code == http.StatusServiceUnavailable && strings.HasPrefix(body, "nats: waiting for consumer weblogd-edge-edge-1 on stream WEBLOGD: ")
	})

	log := tempLog(t)
	startServer(t, feed.Config{Logs: []string{log}, Publish: url, Node: "web-1", NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	eventually(t, "the edge ready", func() bool { code, _ := readyz(); return code == http.StatusOK })
	writeLines(t, log, line(1))
	eventually(t, "the record at the edge", func() bool { return len(edgeRecords(t, edge)) == 1 })
	// The edge counts a record once it is in the ring, so the status can
	// trail the record by a moment.
	eventually(t, "the status to count it", func() bool {
		s = natsStatus(t, edge).Subscribe
		return s.Connected && s.Ready && s.NotReady == "" && s.Handled == 1 && s.StreamSeq == 1 && s.LagRecords == 0
	})
}

// TestFleetWrongCredential: an edge whose token the server refuses does
// not crash: it keeps trying, and /readyz says why.
func TestFleetWrongCredential(t *testing.T) {
	ns := fleettest.Run(t, &server.Options{Authorization: "right"})
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	edge := startServer(t, feed.Config{Subscribe: ns.ClientURL(), NATSAuth: fleet.Auth{TokenFile: token}, NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	eventually(t, "the refusal in /readyz", func() bool {
		resp, body := apiGet(t, edge, "/readyz")
		return resp.StatusCode == http.StatusServiceUnavailable &&
			string(body) == "nats: not connected to "+ns.ClientURL()+": nats: Authorization Violation\n"
	})
}

// TestFleetConfigErrors: a malformed NATS URL, a credential file that
// cannot be read, a bad consumer name, or NATS settings without NATS are
// errors from New, before anything starts.
func TestFleetConfigErrors(t *testing.T) {
	log := tempLog(t)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		c    feed.Config
		want string
	}{
		{"bad publish URL", feed.Config{Logs: []string{log}, Publish: "nats://host:port"}, "NATS URL"},
		{"bad subscribe scheme", feed.Config{Subscribe: "http://host:4222"}, `scheme "http"`},
		{"password in a bad URL is not repeated", feed.Config{Subscribe: "nats://u:hunter2@host:x"}, "NATS URL"},
		{"unreadable token file", feed.Config{Subscribe: "nats://127.0.0.1:4222", NATSAuth: fleet.Auth{TokenFile: missing}}, "read the NATS token"},
		{"unreadable credentials", feed.Config{Logs: []string{log}, Publish: "nats://127.0.0.1:4222", NATSAuth: fleet.Auth{CredsFile: missing}}, "read the NATS credentials"},
		{"bad consumer name", feed.Config{Subscribe: "nats://127.0.0.1:4222", Consumer: "edge.1"}, `consumer name "edge.1"`},
		{"consumer without subscribe", feed.Config{Logs: []string{log}, Consumer: "edge-1"}, "consumer name is for subscribing"},
		{"credentials without NATS", feed.Config{Logs: []string{log}, NATSAuth: fleet.Auth{TokenFile: missing}}, "no NATS URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := feed.New(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New()=%v, want an error with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("New()=%v shows the password", err)
			}
		})
	}
}

// TestFleetRunError: a NATS client that cannot start at all (here an
// option naming a CA file that is not there) stops Run with that error,
// like a listener that fails, after a proper shutdown.
func TestFleetRunError(t *testing.T) {
	for _, role := range []string{"publish", "subscribe"} {
		t.Run(role, func(t *testing.T) {
			c := feed.Config{NATSOptions: []nats.Option{nats.RootCAs(filepath.Join(t.TempDir(), "missing-ca.pem"))},
				HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen}
			if role == "publish" {
				c.Logs, c.Publish = []string{tempLog(t)}, "nats://127.0.0.1:4222"
			} else {
				c.Subscribe = "nats://127.0.0.1:4222"
			}
			srv, err := feed.New(c)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- srv.Run(context.Background()) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), role+" to NATS") || !strings.Contains(err.Error(), "missing-ca.pem") {
					t.Errorf("Run()=%v, want the NATS client's error", err)
				}
			case <-time.After(waitFor):
				t.Fatal("Run did not return after its NATS client failed")
			}
		})
	}
}

// TestFleetMetrics: with NATS, /metrics has the weblogd_nats_ metrics
// from the start, at zero, for the roles configured (and none without
// NATS); they move with the records.
func TestFleetMetrics(t *testing.T) {
	url, port := natsURL(t)
	log := tempLog(t)
	reg := prometheus.NewRegistry()
	pub := startServer(t, feed.Config{Logs: []string{log}, Publish: url, Node: "web-1", NATSOptions: fastNATS,
		TCPAddr: feed.NoListen, Registry: reg})
	want := strings.TrimPrefix(`
# HELP weblogd_nats_connected 1 while the connection to NATS is up, by role: publish, subscribe.
# TYPE weblogd_nats_connected gauge
weblogd_nats_connected{role="publish"} 0
# HELP weblogd_nats_errors_total Failed NATS operations, each retried, by role: publish (publishes sent again), subscribe (pulls, acks, opening the consumer).
# TYPE weblogd_nats_errors_total counter
weblogd_nats_errors_total{role="publish"} 0
# HELP weblogd_nats_publish_buffer_errors_total Failed writes of the NATS publish buffer file, and damaged ends found in it at start.
# TYPE weblogd_nats_publish_buffer_errors_total counter
weblogd_nats_publish_buffer_errors_total 0
# HELP weblogd_nats_publish_dropped_total Records that cannot be read again (standard input, FIFOs, syslog, /ingest) dropped from a full NATS publish buffer, never published; lines of log files wait instead.
# TYPE weblogd_nats_publish_dropped_total counter
weblogd_nats_publish_dropped_total 0
# HELP weblogd_nats_publish_lag_seconds Age of the oldest record waiting for NATS; 0 when none waits.
# TYPE weblogd_nats_publish_lag_seconds gauge
weblogd_nats_publish_lag_seconds 0
# HELP weblogd_nats_publish_out_of_order_total Records the NATS stream stored after a later one of this node (a publish lost while a clustered stream changed leader).
# TYPE weblogd_nats_publish_out_of_order_total counter
weblogd_nats_publish_out_of_order_total 0
# HELP weblogd_nats_publish_pending_disk_records Of the records waiting for NATS, those in the buffer file (--state).
# TYPE weblogd_nats_publish_pending_disk_records gauge
weblogd_nats_publish_pending_disk_records 0
# HELP weblogd_nats_publish_pending_records Records waiting for the NATS stream's acknowledgement.
# TYPE weblogd_nats_publish_pending_records gauge
weblogd_nats_publish_pending_records 0
# HELP weblogd_nats_published_total Records the NATS stream acknowledged (duplicates it dropped included).
# TYPE weblogd_nats_published_total counter
weblogd_nats_published_total 0
`, "\n")
	if got := gatherText(t, reg, "weblogd_nats_"); got != want {
		t.Errorf("the publisher's NATS metrics at the start:\n%s\nwant:\n%s", got, want)
	}

	edge := startServer(t, feed.Config{Subscribe: url, Node: "edge-1", NATSOptions: fastNATS, TCPAddr: feed.NoListen})
	mfs, body := scrape(t, edge)
	for _, name := range []string{"weblogd_nats_received_total", "weblogd_nats_skipped_total", "weblogd_nats_bad_records_total", "weblogd_nats_unknown_version_records_total",
		"weblogd_nats_consumer_lag_records", "weblogd_nats_consumer_stream_seq"} {
		if v, ok := value(mfs, name); !ok || v != 0 {
			t.Errorf("edge %s=%v (present %v) at the start, want 0", name, v, ok)
		}
	}
	if v, ok := value(mfs, "weblogd_nats_connected", "role", "subscribe"); !ok || v != 0 {
		t.Errorf(`edge weblogd_nats_connected{role="subscribe"}=%v (present %v), want 0`, v, ok)
	}
	if mfs["weblogd_nats_published_total"] != nil {
		t.Error("the edge has the publisher's metrics: only the roles configured belong there")
	}
	promtool(t, body)

	writeLines(t, log, line(1), line(2))
	eventually(t, "the lag while NATS is down", func() bool {
		v, _ := value(scrapeOnly(t, pub), "weblogd_nats_publish_lag_seconds")
		return v > 0
	})
	runNATSAt(t, port)
	writeLines(t, log, line(3))
	eventually(t, "the records through", func() bool {
		p, e := scrapeOnly(t, pub), scrapeOnly(t, edge)
		pv, _ := value(p, "weblogd_nats_published_total")
		pc, _ := value(p, "weblogd_nats_connected", "role", "publish")
		pending, _ := value(p, "weblogd_nats_publish_pending_records")
		ev, _ := value(e, "weblogd_nats_received_total")
		seq, _ := value(e, "weblogd_nats_consumer_stream_seq")
		return pv == 3 && pc == 1 && pending == 0 && ev == 3 && seq >= 1 // one or more batches
	})
	_, body = scrape(t, pub)
	promtool(t, body)

	plain := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	for name := range scrapeOnly(t, plain) {
		if strings.HasPrefix(name, "weblogd_nats_") {
			t.Errorf("%s without NATS, want no NATS metrics", name)
		}
	}
}

func scrapeOnly(t *testing.T, srv *feed.Server) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, _ := scrape(t, srv)
	return mfs
}

// gatherText is the text exposition of reg's families whose names start
// with prefix, sorted by name as the registry gathers them (what
// testutil.GatherAndCompare does, without its extra dependency).
func gatherText(t *testing.T, reg *prometheus.Registry, prefix string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather()=%v", err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), prefix) {
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.String()
}
