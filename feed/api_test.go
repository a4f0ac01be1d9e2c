package feed_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/feed"
)

// statusDoc is /api/status as a client reads it.
type statusDoc struct {
	Version       string    `json:"version"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Sources       []struct {
		Name        string `json:"name"`
		Path        string `json:"path"`
		State       string `json:"state"`
		Offset      int64  `json:"offset"`
		Size        int64  `json:"size"`
		LagBytes    int64  `json:"lag_bytes"`
		Records     uint64 `json:"records"`
		ParseErrors uint64 `json:"parse_errors"`
	} `json:"sources"`
	Ring struct {
		Capacity int    `json:"capacity"`
		Records  uint64 `json:"records"`
		FirstSeq uint64 `json:"first_seq"`
		LastSeq  uint64 `json:"last_seq"`
	} `json:"ring"`
	Subscribers map[string]int64 `json:"subscribers"`
	Transports  map[string]struct {
		Sent    uint64 `json:"sent"`
		Dropped uint64 `json:"dropped"`
		Gaps    uint64 `json:"gaps"`
	} `json:"transports"`
	Totals struct {
		Records     uint64 `json:"records"`
		ParseErrors uint64 `json:"parse_errors"`
		Sent        uint64 `json:"sent"`
		Dropped     uint64 `json:"dropped"`
		Gaps        uint64 `json:"gaps"`
		Subscribers int64  `json:"subscribers"`
	} `json:"totals"`
}

// oneShot makes requests on connections of their own, closed after each
// response, so that it leaves no idle connection (nor its goroutines)
// behind.
var oneShot = &http.Client{Timeout: waitFor, Transport: &http.Transport{DisableKeepAlives: true}}

// apiGet GETs path on srv and returns the response with its whole body.
func apiGet(t *testing.T, srv *feed.Server, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := oneShot.Get("http://" + srv.HTTPAddr().String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read the body: %v", path, err)
	}
	return resp, body
}

func getStatus(t *testing.T, srv *feed.Server) statusDoc {
	t.Helper()
	resp, body := apiGet(t, srv, "/api/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/status: %d %q, want 200", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET /api/status: Content-Type %q, want application/json", ct)
	}
	var st statusDoc
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("GET /api/status: %v in %s", err, body)
	}
	return st
}

// apiHits GETs /api/hits?query and checks that it is a JSON array.
func apiHits(t *testing.T, srv *feed.Server, query string) []liveItem {
	t.Helper()
	resp, body := apiGet(t, srv, "/api/hits?"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/hits?%s: %d %q, want 200", query, resp.StatusCode, body)
	}
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); ct != "application/json" {
		t.Fatalf("GET /api/hits?%s: Content-Type %q, want application/json", query, resp.Header.Get("Content-Type"))
	}
	if !json.Valid(body) || !utf8.Valid(body) {
		t.Fatalf("GET /api/hits?%s: not valid UTF-8 JSON: %q", query, body)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		t.Fatalf("GET /api/hits?%s: %q is not a JSON array (%v)", query, body, err)
	}
	var items []liveItem
	for _, r := range raw {
		it, err := decodeWireJSON(r)
		if err != nil {
			t.Fatalf("GET /api/hits?%s: %v", query, err)
		}
		items = append(items, it)
	}
	return items
}

func TestAPIHits(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Ring: 1000, TCPAddr: feed.NoListen})
	const n = 250
	statuses := []int{200, 404, 200, 500, 301, 404, 200}
	var lines []string
	var notFound []uint64
	for i := 1; i <= n; i++ {
		st := statuses[i%len(statuses)]
		if st == 404 {
			notFound = append(notFound, uint64(i))
		}
		lines = append(lines, accessLine("192.0.2.1", "GET", fmt.Sprintf("/a/%d", i), st, "api"))
	}
	writeLines(t, log, lines...)
	waitUntil(t, func() bool { return srv.LastSeq() >= n })

	cases := []struct {
		query string
		want  []uint64
	}{
		{"", seqRange(151, 250)}, // the last 100
		{"limit=10", seqRange(241, 250)},
		{"limit=1", []uint64{250}},
		{"limit=1000", seqRange(1, 250)},
		{"since=0", seqRange(1, 100)}, // the first 100 after it
		{"since=0&limit=5", seqRange(1, 5)},
		{"since=100&limit=3", seqRange(101, 103)},
		{"since=240", seqRange(241, 250)},
		{"since=250", nil},
		{"since=9999", nil},
		{"status=404", notFound},
		{"status=404&limit=3", notFound[len(notFound)-3:]},
		{"status=404&since=0&limit=4", notFound[:4]},
		{"status=404&since=" + fmt.Sprint(notFound[4]) + "&limit=2", notFound[5:7]},
		{"status=418", nil},
		{"path=/a/24&method=GET", []uint64{24, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249}},
		{"_=123&limit=2", seqRange(249, 250)},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var got []uint64
			for _, it := range apiHits(t, srv, c.query) {
				if it.Gap {
					t.Fatalf("gap %d-%d in a ring that holds everything", it.From, it.To)
				}
				got = append(got, it.Seq)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("seqs %v, want %v", got, c.want)
			}
		})
	}

	// Paging forward by passing the last seq back: no overlap, no hole.
	for _, filter := range []string{"", "status=404"} {
		t.Run("pages "+filter, func(t *testing.T) {
			want := seqRange(1, n)
			if filter != "" {
				want = notFound
			}
			var got []uint64
			var since uint64
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				page := apiHits(t, srv, joinQuery(filter, fmt.Sprintf("since=%d&limit=37", since)))
				if len(page) == 0 {
					break
				}
				if len(page) > 37 {
					t.Fatalf("page of %d, want at most 37", len(page))
				}
				for _, it := range page {
					got = append(got, it.Seq)
				}
				since = page[len(page)-1].Seq
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages gave %v, want %v", got, want)
			}
		})
	}
}

func TestAPIHitsGap(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Ring: 5, TCPAddr: feed.NoListen})
	writeHistory(t, log, historyStatuses[:8]) // the ring keeps 4..8; the 404s are 2, 5, 7
	waitUntil(t, func() bool { return srv.LastSeq() >= 8 })
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"4", "5", "6", "7", "8"}},
		{"since=1", []string{"gap 2-3", "4", "5", "6", "7", "8"}},
		{"since=0", []string{"gap 1-3", "4", "5", "6", "7", "8"}},
		{"since=1&limit=2", []string{"gap 2-3", "4", "5"}},
		{"since=3", []string{"4", "5", "6", "7", "8"}},
		{"since=1&status=404", []string{"gap 2-3", "5", "7"}},
		{"since=8", nil},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			if got := describeItems(apiHits(t, srv, c.query)); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// Whatever bytes a log holds, /api/hits is valid UTF-8 JSON.
func TestAPIHitsHostileLines(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, TCPAddr: feed.NoListen})
	hostile := []string{"\x00\x01 \xff\xfe invalid", `"quotes" \ and </script>`, "\u2028\u2029", combined}
	writeLines(t, log, hostile...)
	waitUntil(t, func() bool { return srv.LastSeq() >= uint64(len(hostile)) })
	items := apiHits(t, srv, "")
	if len(items) != len(hostile) {
		t.Fatalf("%d records, want %d", len(items), len(hostile))
	}
	if items[1].Raw != hostile[1] || items[3].Status != 200 {
		t.Fatalf("records %+v, want the raw line kept and the combined line parsed", items)
	}
}

func TestAPIStatus(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Ring: 100, Version: "1.2.3-test", Tick: 5 * time.Millisecond})

	st := getStatus(t, srv)
	if st.Version != "1.2.3-test" || st.Started.IsZero() || st.UptimeSeconds <= 0 {
		t.Fatalf("version %q started %v uptime %v, want 1.2.3-test, a start time and a positive uptime", st.Version, st.Started, st.UptimeSeconds)
	}
	for _, name := range []string{"tcp", "hits", "events", "ws"} {
		if v, ok := st.Subscribers[name]; !ok || v != 0 {
			t.Fatalf("subscribers[%s]=%d (present %v), want 0 from the start", name, v, ok)
		}
	}

	rc := dialRaw(t, srv)
	sse := dialLive(t, srv, kindSSE, "", nil)
	waitUntil(t, func() bool {
		st := getStatus(t, srv)
		return st.Subscribers["tcp"] == 1 && st.Subscribers["events"] == 1
	})
	st = getStatus(t, srv)
	want := map[string]int64{"tcp": 1, "hits": 0, "events": 1, "ws": 0}
	for name, n := range want {
		if st.Subscribers[name] != n {
			t.Fatalf("subscribers=%v, want %v", st.Subscribers, want)
		}
	}
	if st.Totals.Subscribers != 2 {
		t.Fatalf("totals.subscribers=%d, want 2", st.Totals.Subscribers)
	}

	writeLines(t, log, combined, combined, "a garbage line", combined, combined)
	rc.hits(t, 5)
	if seqs, err := readSeqs(sse, 5); err != nil {
		t.Fatalf("events: %v %v", seqs, err)
	}
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		st := getStatus(t, srv)
		return len(st.Sources) == 1 && st.Sources[0].Offset == fi.Size() &&
			st.Transports["tcp"].Sent == 5 && st.Transports["events"].Sent == 5
	})
	st = getStatus(t, srv)
	src := st.Sources[0]
	if src.Name != "access.log" || src.Path != log || src.State != "following" {
		t.Fatalf("source %+v, want access.log at %s, following", src, log)
	}
	if src.Offset != fi.Size() || src.Size != fi.Size() || src.LagBytes != 0 {
		t.Fatalf("source offset %d size %d lag %d, want %d %d 0", src.Offset, src.Size, src.LagBytes, fi.Size(), fi.Size())
	}
	if src.Records != 5 || src.ParseErrors != 1 {
		t.Fatalf("source records %d parse_errors %d, want 5 and 1", src.Records, src.ParseErrors)
	}
	if r := st.Ring; r.Capacity != 100 || r.FirstSeq != 1 || r.LastSeq != 5 || r.Records != 5 {
		t.Fatalf("ring %+v, want capacity 100, seqs 1..5, 5 records", r)
	}
	if tt := st.Totals; tt.Records != 5 || tt.ParseErrors != 1 || tt.Sent != 10 || tt.Subscribers != 2 || tt.Gaps != 0 || tt.Dropped != 0 {
		t.Fatalf("totals %+v, want 5 records, 1 parse error, 10 sent, 2 subscribers", tt)
	}

	// The ring wraps: first_seq moves on.
	var lines []string
	for range 120 {
		lines = append(lines, combined)
	}
	writeLines(t, log, lines...)
	waitUntil(t, func() bool { return getStatus(t, srv).Ring.LastSeq == 125 })
	if r := getStatus(t, srv).Ring; r.FirstSeq != 26 || r.Records != 100 {
		t.Fatalf("ring after 125 records %+v, want seqs 26..125, 100 records", r)
	}
	if resp, body := apiGet(t, srv, "/api/status?x=1"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("/api/status?x=1: %d %q, want 400", resp.StatusCode, body)
	}
}

// /api/status keeps the connection alive: a dashboard polling it does
// not open a connection per request.
func TestAPIStatusKeepAlive(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: waitFor}
	var reused []bool
	for i := 0; i < 3; i++ {
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet,
			"http://"+srv.HTTPAddr().String()+"/api/status", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st statusDoc
		err = json.NewDecoder(resp.Body).Decode(&st)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, err)
		}
	}
	if !slices.Equal(reused, []bool{false, true, true}) {
		t.Fatalf("connections reused %v, want [false true true]: one connection for all", reused)
	}
}
