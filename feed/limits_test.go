package feed_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

// metric scrapes /metrics and returns one sample's value (0 if absent).
func metric(t *testing.T, srv *feed.Server, name string, labels ...string) float64 {
	t.Helper()
	mfs, _ := scrape(t, srv)
	v, _ := value(mfs, name, labels...)
	return v
}

// waitMetric waits until a sample has the value want.
func waitMetric(t *testing.T, srv *feed.Server, want float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := metric(t, srv, name, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v=%v, want %v", name, labels, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var (
	disconnectReasons = []string{"closed", "shutdown", "slow", "write_timeout", "pong_timeout", "protocol", "admin", "revoked"}
	refuseReasons     = []string{"max_subscribers", "max_subscribers_per_ip", "shutdown", "max_subscribers_per_token"}
)

// The new counters are there from the start, every transport with every
// reason at zero, and pass promtool.
func TestLimitMetricsFromTheStart(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}})
	mfs, body := scrape(t, srv)
	for name, reasons := range map[string][]string{"weblogd_disconnects_total": disconnectReasons, "weblogd_refused_total": refuseReasons} {
		if n, want := len(mfs[name].GetMetric()), len(allTransports)*len(reasons); n != want {
			t.Errorf("%s has %d samples, want %d (every transport × every reason)", name, n, want)
		}
		for _, tr := range allTransports {
			for _, r := range reasons {
				if v, ok := value(mfs, name, "transport", tr, "reason", r); !ok || v != 0 {
					t.Errorf("%s{transport=%q,reason=%q}=%v (present %v), want 0", name, tr, r, v, ok)
				}
			}
		}
	}
	promtool(t, body)
}

// getFrom GETs url over a connection from the local address ip (nil: any).
func getFrom(t *testing.T, ip net.IP, url string, hdr http.Header) *http.Response {
	t.Helper()
	d := &net.Dialer{}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// checkRefused checks an HTTP refusal: 503, a Retry-After, and a one-line
// reason.
func checkRefused(t *testing.T, what string, resp *http.Response, reason string) {
	t.Helper()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || string(body) != reason+"\n" {
		t.Fatalf("%s: %s Retry-After %q body %q, want 503 with a Retry-After and %q",
			what, resp.Status, resp.Header.Get("Retry-After"), body, reason+"\n")
	}
}

// dialRawFrom connects to the raw port from ip and returns the client and
// the first line it gets.
func dialRawFrom(t *testing.T, srv *feed.Server, ip net.IP) (*rawClient, string) {
	t.Helper()
	d := &net.Dialer{Timeout: waitFor}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	c, err := d.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawClient{c: c, r: bufio.NewReader(c)}
	return rc, rc.line(t)
}

// The subscriber limit holds across all transports together; a refused
// client is told why in its transport's way and counted; a freed slot can
// be taken again; the subscribers inside lose nothing.
func TestMaxSubscribers(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, MaxSubscribers: 4, MaxSubscribersPerIP: -1})
	raw := dialRaw(t, srv)
	in := []*liveStream{dialLive(t, srv, kindXML, "", nil), dialLive(t, srv, kindSSE, "", nil), dialLive(t, srv, kindWS, "", nil)}

	// Raw TCP: one <error/> line, then the connection is closed.
	rc, first := dialRawFrom(t, srv, nil)
	if first != `<error reason="too many subscribers"/>` {
		t.Fatalf("raw client over the limit got %q, want the error line", first)
	}
	rc.c.SetReadDeadline(time.Now().Add(waitFor))
	if rest, err := io.ReadAll(rc.r); err != nil || len(rest) > 0 {
		t.Fatalf("after the refusal: %q, %v; want the connection closed", rest, err)
	}
	// HTTP: 503 with a Retry-After and a one-line reason.
	base := "http://" + srv.HTTPAddr().String()
	checkRefused(t, "/hits", getFrom(t, nil, base+"/hits", nil), "too many subscribers")
	checkRefused(t, "/events", getFrom(t, nil, base+"/events", nil), "too many subscribers")
	_, resp, err := wsDialer.Dial(streamURL(srv, kindWS, ""), nil)
	if err == nil {
		t.Fatal("/ws over the limit: connected, want refused")
	}
	checkRefused(t, "/ws", resp, "too many subscribers")
	// Snapshots and HEAD are no subscribers.
	if resp, _ := apiGet(t, srv, "/api/hits"); resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/hits at the limit: %s, want 200", resp.Status)
	}
	for tr, n := range map[string]float64{"tcp": 1, "hits": 1, "events": 1, "ws": 1} {
		waitMetric(t, srv, n, "weblogd_refused_total", "transport", tr, "reason", "max_subscribers")
	}
	// /api/status says the same, and shows the limits.
	_, body := apiGet(t, srv, "/api/status")
	var st struct {
		Transports map[string]struct {
			Refused     map[string]uint64 `json:"refused"`
			Disconnects map[string]uint64 `json:"disconnects"`
		} `json:"transports"`
		Limits struct {
			MaxSubscribers      int `json:"max_subscribers"`
			MaxSubscribersPerIP int `json:"max_subscribers_per_ip"`
		} `json:"limits"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if tc := st.Transports["tcp"]; tc.Refused["max_subscribers"] != 1 || len(tc.Refused) != len(refuseReasons) ||
		len(tc.Disconnects) != len(disconnectReasons) || st.Limits.MaxSubscribers != 4 || st.Limits.MaxSubscribersPerIP != 0 {
		t.Fatalf("/api/status: tcp %+v, limits %+v; want 1 refusal of max_subscribers, every reason listed, limits 4 and 0 (none)", tc, st.Limits)
	}

	// The four inside still get every record.
	writeLines(t, log, combined, combined)
	if got := raw.hits(t, 2); got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("raw: seqs %d %d, want 1 2", got[0].Seq, got[1].Seq)
	}
	for _, s := range in {
		if seqs, err := readSeqs(s, 2); err != nil || !slices.Equal(seqs, []uint64{1, 2}) {
			t.Fatalf("%s: %v %v, want 1 2", s.kind, seqs, err)
		}
	}

	// A slot freed is a slot to take.
	in[2].close()
	waitUntil(t, func() bool { return getStatus(t, srv).Totals.Subscribers == 3 })
	waitMetric(t, srv, 1, "weblogd_disconnects_total", "transport", "ws", "reason", "closed")
	late := dialRaw(t, srv)
	writeLines(t, log, combined)
	if h := late.hits(t, 1)[0]; h.Seq != 3 {
		t.Fatalf("admitted after a slot freed: seq %d, want 3", h.Seq)
	}
}

// The per-address limit counts the TCP peer, never X-Forwarded-For, and
// other addresses are not affected by it.
func TestMaxSubscribersPerIP(t *testing.T) {
	other := net.IPv4(127, 0, 0, 2) // Linux answers for all of 127/8
	if l, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no second loopback address here: %v", err)
	} else {
		l.Close()
	}
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, MaxSubscribersPerIP: 2})
	dialRaw(t, srv)
	dialLive(t, srv, kindWS, "", nil)

	// A third from 127.0.0.1, whatever it says it forwards for, is refused.
	base := "http://" + srv.HTTPAddr().String()
	xff := http.Header{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-Ip": {"198.51.100.1"}}
	checkRefused(t, "/hits with X-Forwarded-For", getFrom(t, nil, base+"/hits", xff), "too many subscribers from this address")
	if _, first := dialRawFrom(t, srv, nil); first != `<error reason="too many subscribers from this address"/>` {
		t.Fatalf("third raw client from 127.0.0.1 got %q, want refused", first)
	}
	// Another address has its own two.
	if resp := getFrom(t, other, base+"/events", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("/events from 127.0.0.2: %s, want 200", resp.Status)
	}
	if _, first := dialRawFrom(t, srv, other); first != "<hits>" {
		t.Fatalf("raw from 127.0.0.2: %q, want <hits>", first)
	}
	if _, first := dialRawFrom(t, srv, other); !strings.Contains(first, "from this address") {
		t.Fatalf("third from 127.0.0.2: %q, want refused", first)
	}
	waitMetric(t, srv, 1, "weblogd_refused_total", "transport", "hits", "reason", "max_subscribers_per_ip")
	waitMetric(t, srv, 2, "weblogd_refused_total", "transport", "tcp", "reason", "max_subscribers_per_ip")
	st := getStatus(t, srv)
	if st.Totals.Subscribers != 4 {
		t.Fatalf("/api/status counts %d subscribers, want 4", st.Totals.Subscribers)
	}
}

// A WebSocket refused at the limit is refused before the upgrade: the
// client sees a plain HTTP answer, not a half-open socket.
func TestWebSocketRefusalIsPlainHTTP(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, MaxSubscribers: 1})
	dialRaw(t, srv)
	conn, resp, err := wsDialer.Dial(streamURL(srv, kindWS, ""), nil)
	if conn != nil {
		conn.Close()
	}
	if err != websocket.ErrBadHandshake || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("Dial=%v (status %s), want a bad handshake with 503", err, statusOf(resp))
	}
}
