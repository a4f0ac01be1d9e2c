package feed_test

// Durations and fields on a real edge: records with them are published
// through NATS (the wire form carries them; no local format gives them
// yet), and the edge filters on min_duration= and serves the fields on
// every stream, its XML a <hit> with <field> children.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/fleet/fleettest"
	"github.com/weblogd/weblogd/record"
)

// durationRecords are what the edge of startDurationEdge serves, seq 1
// to 6, in this order.
var durationRecords = []record.Record{
	{Duration: record.Took(23 * time.Millisecond), UpstreamDuration: record.Took(20 * time.Millisecond)},
	{Duration: record.Took(250 * time.Millisecond)},
	{}, // the line does not say
	{Duration: record.Took(1500 * time.Millisecond), Fields: []record.Pair{{Name: "ssl_protocol", Value: "TLSv1.3"}, {Name: "request_id", Value: `a<b&"c"`}}},
	{Duration: record.Took(0)},
	{Duration: record.Took(time.Hour)},
}

// durationFleet is an edge that takes records from NATS, and a publisher
// of hand-made records to it: the real way in for records with durations
// and fields until a local format gives them.
type durationFleet struct {
	edge *feed.Server
	pub  *fleet.Publisher
	sent uint64
}

// startDurationFleet starts the edge with edgeCfg (its Subscribe set
// here) and the publisher.
func startDurationFleet(t *testing.T, edgeCfg feed.Config) *durationFleet {
	t.Helper()
	ns := fleettest.Run(t, nil)
	edgeCfg.Subscribe = ns.ClientURL()
	edgeCfg.NATSOptions = []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	f := &durationFleet{edge: startServer(t, edgeCfg)}
	var err error
	f.pub, err = fleet.NewPublisher(fleet.PublisherConfig{URL: ns.ClientURL(), Node: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.pub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; f.pub.Close() })
	return f
}

// publish sends records, unless they carry a raw line parsed GET
// requests of /<n> (n counting the records published), status 200 unless
// they say, and waits until the edge has them.
func (f *durationFleet) publish(t *testing.T, recs ...record.Record) {
	t.Helper()
	want := f.edge.LastSeq() + uint64(len(recs))
	for _, r := range recs {
		f.sent++
		r.Seq, r.Source = f.sent, "access.log"
		if r.Line == "" {
			r.Parsed = true
			if r.Status == 0 {
				r.Status = 200
			}
			r.Host, r.Method, r.Path, r.Proto = "203.0.113.9", "GET", fmt.Sprintf("/%d", f.sent), "HTTP/1.1"
		}
		f.pub.Publish(&r)
	}
	waitUntil(t, func() bool { return f.edge.LastSeq() >= want })
}

// startDurationEdge is an edge with durationRecords (seq 1 to 6) and one
// line that did not parse (seq 7).
func startDurationEdge(t *testing.T) *feed.Server {
	t.Helper()
	f := startDurationFleet(t, feed.Config{})
	f.publish(t, durationRecords...)
	f.publish(t, record.Record{Line: "not a log line 5s"})
	return f.edge
}

func TestMinDurationFilter(t *testing.T) {
	edge := startDurationEdge(t)
	seqs := func(items []liveItem) []uint64 {
		var s []uint64
		for _, it := range items {
			s = append(s, it.Seq)
		}
		return s
	}
	for _, c := range []struct {
		query string
		want  []uint64
	}{
		{"min_duration=0s", []uint64{1, 2, 4, 5, 6}},
		{"min_duration=250ms", []uint64{2, 4, 6}},
		{"min_duration=0.25s", []uint64{2, 4, 6}},
		{"min_duration=251ms", []uint64{4, 6}},
		{"min_duration=1h", []uint64{6}},
		{"min_duration=1h1ns", nil},
		{"min_duration=20ms&path=/1", []uint64{1}},
	} {
		t.Run(c.query, func(t *testing.T) {
			if got := seqs(apiHits(t, edge, c.query)); !slices.Equal(got, c.want) {
				t.Fatalf("/api/hits?%s: records %v, want %v", c.query, got, c.want)
			}
			if len(c.want) == 0 {
				return
			}
			for _, kind := range liveKinds {
				s := dialLive(t, edge, kind, c.query+"&backlog=10", nil)
				var got []uint64
				for len(got) < len(c.want) {
					it, err := s.next()
					if err != nil {
						t.Fatalf("%s?%s: after %v: %v", kind, c.query, got, err)
					}
					got = append(got, it.Seq)
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s?%s&backlog=10: records %v, want %v", kind, c.query, got, c.want)
				}
			}
		})
	}
	for _, c := range []struct{ query, want string }{
		{"min_duration=", `bad min_duration ""`},
		{"min_duration=250", `bad min_duration "250": want a duration such as 250ms, 1.5s or 2m`},
		{"min_duration=-1s", `bad min_duration "-1s": want 0 or more`},
		{"min_duration=1s&min_duration=2s", "min_duration is given twice"},
	} {
		t.Run(c.query, func(t *testing.T) { refusedEverywhere(t, edge, c.query, c.want) })
	}
}

// TestFieldsOnEveryStream: the record with fields arrives whole on the
// JSON streams, and as <hit ...><field name="...">...</field></hit> on
// one line of the raw TCP stream, which with the others is a well-formed
// document.
func TestFieldsOnEveryStream(t *testing.T) {
	edge := startDurationEdge(t)
	_, body := apiGet(t, edge, "/api/hits?path=/4")
	if !strings.Contains(string(body), `"duration":1.5,`) ||
		!strings.Contains(string(body), `"fields":{"ssl_protocol":"TLSv1.3","request_id":"a<b&\"c\""}}`) {
		t.Errorf("/api/hits?path=/4: %s, want the duration and the fields", body)
	}
	_, body = apiGet(t, edge, "/api/hits?path=/1")
	if !strings.Contains(string(body), `"duration":0.023,"upstream_duration":0.02`) {
		t.Errorf("/api/hits?path=/1: %s, want both durations", body)
	}

	conn, err := net.Dial("tcp", edge.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitFor))
	fmt.Fprintf(conn, "SINCE 0\n")
	r := bufio.NewReader(conn)
	doc := ""
	for !strings.Contains(doc, `<hit seq="7"`) {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("raw TCP: %v after %q", err, doc)
		}
		doc += l
	}
	wantHit := `<hit seq="4" source="access.log" node="web-1" host="203.0.113.9" method="GET" path="/4" proto="HTTP/1.1" status="200" bytes="0" duration="1.5">` +
		`<field name="ssl_protocol">TLSv1.3</field><field name="request_id">a&lt;b&amp;&quot;c&quot;</field></hit>` + "\n"
	if !strings.Contains(doc, "\n"+wantHit) {
		t.Errorf("raw TCP stream:\n%s\nwant the line\n%s", doc, wantHit)
	}
	xmllint(t, []byte(doc+"</hits>\n"))
}
