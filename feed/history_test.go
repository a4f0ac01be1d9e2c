package feed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/geoip/geoiptest"
	"github.com/weblogd/weblogd/stats"
)

// timedFormat is nginx's combined with the time served at the end, so
// that records have a duration.
const timedFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time`

// timedLine is a line of timedFormat written at t.
func timedLine(t time.Time, host, path string, status int, size int, seconds float64) string {
	return fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" %d %d "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0" %.3f`,
		host, t.Format("02/Jan/2006:15:04:05 -0700"), path, status, size, seconds)
}

// spanLog is a log of lines every step over the span before now, with no
// line within two minutes of the window's start (the server takes its
// own now a moment later). It returns the lines and which are within the
// window.
type spanLog struct {
	lines    []string
	inWindow []bool
	status   []int
	size     []int
}

func makeSpanLog(now time.Time, span, window, step time.Duration, pad int) *spanLog {
	l := &spanLog{}
	from := now.Add(-window)
	path := "/page" + strings.Repeat("x", pad)
	for i, t := 0, now.Add(-span); t.Before(now.Add(-time.Second)); i, t = i+1, t.Add(step) {
		if d := t.Sub(from); d > -2*time.Minute && d < 2*time.Minute {
			continue
		}
		status := 200
		switch {
		case i%7 == 0:
			status = 404
		case i%11 == 0:
			status = 503
		}
		size := 100 + i%50
		l.lines = append(l.lines, timedLine(t, fmt.Sprintf("198.51.100.%d", i%200), fmt.Sprintf("%s/%d", path, i%13), status, size, 0.010+float64(i%5)/100))
		l.inWindow = append(l.inWindow, !t.Before(from))
		l.status = append(l.status, status)
		l.size = append(l.size, size)
	}
	return l
}

// want is what the statistics should count of the window's lines.
func (l *spanLog) want() (requests int, bytes uint64, status map[string]uint64) {
	status = map[string]uint64{}
	for i, in := range l.inWindow {
		if in {
			requests++
			bytes += uint64(l.size[i])
			status[strconv.Itoa(l.status[i])]++
		}
	}
	return requests, bytes, status
}

func (l *spanLog) write(t *testing.T) string {
	t.Helper()
	return tempLog(t, l.lines...)
}

// getStats GETs /api/stats?query and decodes it, failing on anything but
// a 200 with JSON.
func getStats(t *testing.T, srv *feed.Server, query string) *stats.Result {
	t.Helper()
	resp, body := apiGet(t, srv, "/api/stats?"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/stats?%s: %d %q, want 200", query, resp.StatusCode, body)
	}
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); ct != "application/json" {
		t.Fatalf("GET /api/stats?%s: Content-Type %q", query, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Fatalf("GET /api/stats?%s: Cache-Control %q, want no-cache", query, cc)
	}
	var r stats.Result
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("GET /api/stats?%s: %v in %s", query, err, body)
	}
	return &r
}

// waitStats waits until /api/stats?query counts want requests; the
// statistics fold what they are given off the ingest path, a moment later.
func waitStats(t *testing.T, srv *feed.Server, query string, want uint64) *stats.Result {
	t.Helper()
	var r *stats.Result
	deadline := time.Now().Add(waitFor)
	for {
		r = getStats(t, srv, query)
		if r.Requests == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.Requests != want {
		t.Fatalf("/api/stats?%s: %d requests, want %d", query, r.Requests, want)
	}
	return r
}

// The last hour of a log of three goes into the statistics at start,
// exactly; the newest --backfill of it into the ring; live lines add to
// it.
func TestHistoryAtStart(t *testing.T) {
	l := makeSpanLog(time.Now(), 3*time.Hour, time.Hour, 10*time.Second, 0)
	log := l.write(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Format: timedFormat, Backfill: 50})
	requests, size, status := l.want()
	r := waitStats(t, srv, "window=24h", uint64(requests))
	if r.Bytes != size {
		t.Errorf("bytes %d, want %d", r.Bytes, size)
	}
	if fmt.Sprint(r.Status) != fmt.Sprint(status) {
		t.Errorf("status %v, want %v", r.Status, status)
	}
	if r.Duration == nil || r.Duration.Count != uint64(requests) {
		t.Errorf("duration %+v, want a count of %d", r.Duration, requests)
	}
	// The newest 50 are in the ring, and only they.
	hits := apiHits(t, srv, "limit=1000")
	if len(hits) != 50 {
		t.Fatalf("/api/hits: %d records, want the 50 of --backfill", len(hits))
	}
	for i, h := range hits {
		line := l.lines[len(l.lines)-50+i]
		if !strings.Contains(line, `"GET `+h.Path+` `) || h.Seq != uint64(i+1) {
			t.Fatalf("/api/hits[%d] = %+v, want seq %d of %q", i, h, i+1, line)
		}
	}
	// Live lines count once, with their seqs after the backfill's.
	now := time.Now()
	writeLines(t, log, timedLine(now, "192.0.2.1", "/live", 200, 10, 0.5), timedLine(now, "192.0.2.1", "/live", 500, 10, 1.5))
	r = waitStats(t, srv, "window=24h", uint64(requests+2))
	if r.Status["500"] != 1 {
		t.Errorf("status %v after a live 500, want one", r.Status)
	}
	// A one-hour window holds the history and the live lines too.
	waitStats(t, srv, "window=1h", uint64(requests+2))
	waitStats(t, srv, "", uint64(requests+2))
}

// --history 0 reads none; the backfill still goes into the ring, not into
// the statistics.
func TestHistoryOff(t *testing.T) {
	l := makeSpanLog(time.Now(), 3*time.Hour, time.Hour, 10*time.Second, 0)
	srv := startServer(t, feed.Config{Logs: []string{l.write(t)}, Format: timedFormat, History: -1})
	if hits := apiHits(t, srv, "limit=1000"); len(hits) != feed.DefaultBackfill {
		t.Fatalf("/api/hits: %d records, want the %d of the default backfill", len(hits), feed.DefaultBackfill)
	}
	if r := getStats(t, srv, "window=24h"); r.Requests != 0 {
		t.Fatalf("%d requests with --history 0, want none", r.Requests)
	}
}

// With fewer lines in the window than --backfill, the backfill is still
// the log's last --backfill lines: those older than the window go into
// the ring only.
func TestHistoryShorterThanTheBackfill(t *testing.T) {
	now := time.Now()
	var lines []string
	for i := range 30 {
		lines = append(lines, timedLine(now.Add(-5*time.Hour+time.Duration(i)*time.Minute), "192.0.2.7", "/old", 200, 1, 0.01))
	}
	for i := range 5 {
		lines = append(lines, timedLine(now.Add(-30*time.Minute+time.Duration(i)*time.Minute), "192.0.2.7", "/new", 200, 1, 0.01))
	}
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t, lines...)}, Format: timedFormat, Backfill: 20})
	if hits := apiHits(t, srv, "limit=1000"); len(hits) != 20 || hits[0].Path != "/old" || hits[19].Path != "/new" {
		t.Fatalf("/api/hits: %d records (%+v ... ), want the last 20 lines", len(hits), hits[0])
	}
	r := waitStats(t, srv, "window=24h", 5)
	if len(r.Top["path"]) != 1 || r.Top["path"][0].Value != "/new" {
		t.Fatalf("top paths %v, want only /new", r.Top["path"])
	}
}

// A restart with --state reads the history up to where it stopped into
// the statistics only, and what was written while it was down as new
// records: every line of the window is counted once.
func TestHistoryWithStateCountsEachLineOnce(t *testing.T) {
	l := makeSpanLog(time.Now(), 3*time.Hour, time.Hour, 10*time.Second, 0)
	log := l.write(t)
	state := filepath.Join(t.TempDir(), "state.json")
	c := feed.Config{Logs: []string{log}, Format: timedFormat, StatePath: state, Backfill: 20}
	requests, _, _ := l.want()

	srv, stop := stopServerFunc(t, c)
	now := time.Now()
	writeLines(t, log, timedLine(now, "192.0.2.1", "/live", 200, 10, 0.5))
	waitStats(t, srv, "window=24h", uint64(requests+1))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	last := srv.LastSeq()

	writeLines(t, log, timedLine(now, "192.0.2.2", "/while-down", 200, 10, 0.5))
	srv = startServer(t, c)
	waitStats(t, srv, "window=24h", uint64(requests+2))
	// Only the line written while it was down is a new record.
	hits := apiHits(t, srv, "limit=1000")
	if len(hits) != 1 || hits[0].Path != "/while-down" || hits[0].Seq <= last {
		t.Fatalf("/api/hits after the restart: %+v, want only /while-down, after seq %d", hits, last)
	}
	// Once a later line is counted, everything before it is: each of
	// the lines once.
	writeLines(t, log, timedLine(time.Now(), "192.0.2.3", "/after", 200, 10, 0.5))
	r := waitStats(t, srv, "window=24h&top=100", uint64(requests+3))
	counts := map[string]uint64{}
	for _, p := range r.Top["path"] {
		counts[p.Value] = p.Count
	}
	for _, p := range []string{"/live", "/while-down", "/after"} {
		if counts[p] != 1 {
			t.Errorf("%s counted %d times, want once (top paths %v)", p, counts[p], r.Top["path"])
		}
	}
}

// logBuffer collects a server's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The last hour at the end of a large log is found without reading the
// whole file: the server says how much it read.
func TestHistoryOfALargeLogReadsLittle(t *testing.T) {
	// About 20 MB over four days: the hour is about 1% of it.
	l := makeSpanLog(time.Now(), 96*time.Hour, time.Hour, 4*time.Second, 50)
	log := l.write(t)
	var logs logBuffer
	srv := startServer(t, feed.Config{Logs: []string{log}, Format: timedFormat,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	requests, _, _ := l.want()
	waitStats(t, srv, "window=24h", uint64(requests))
	m := regexp.MustCompile(`read a log's history into the statistics.*bytes_read=(\d+) size=(\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no log line says what the history read:\n%s", logs.String())
	}
	read, _ := strconv.ParseInt(m[1], 10, 64)
	size, _ := strconv.ParseInt(m[2], 10, 64)
	if size < 15<<20 {
		t.Fatalf("the log has %d bytes: the test wants a large one", size)
	}
	if read > size/20 {
		t.Errorf("read %d of %d bytes for an hour that is about 1%% of the log", read, size)
	}
}

// A shutdown that comes while the history is read does not wait for the
// rest of it (an hour of a busy log is gigabytes): Run, given a context
// already cancelled, stops after the first line.
func TestHistoryStopsAtShutdown(t *testing.T) {
	l := makeSpanLog(time.Now(), time.Hour, time.Hour, time.Second, 50)
	log := l.write(t)
	var logs logBuffer
	srv, err := feed.New(feed.Config{Logs: []string{log}, Format: timedFormat, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Run(ctx); err != nil {
		t.Logf("Run: %v", err)
	}
	m := regexp.MustCompile(`stopped reading a log's history: shutting down.* records=(\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no log line says the history was cut short:\n%s", logs.String())
	}
	if n, _ := strconv.Atoi(m[1]); n > 1 {
		t.Errorf("%d records of the history read after the shutdown began, want at most 1", n)
	}
}

func TestAPIStatsBadParameters(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, StatsWindow: 2 * time.Hour, History: time.Hour})
	for _, q := range []string{"window=0s", "window=-1h", "window=3h", "window=soon", "window=1h&window=2h",
		"top=0", "top=101", "top=ten", "status=abc", "min_duration=fast", "nope=1", "backlog=5", "since=3"} {
		resp, body := apiGet(t, srv, "/api/stats?"+q)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/api/stats?%s: %d %q, want 400", q, resp.StatusCode, body)
			continue
		}
		if msg := strings.TrimSuffix(string(body), "\n"); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "bad request: ") {
			t.Errorf("/api/stats?%s: %q, want one line saying why", q, body)
		}
	}
	resp, body := apiGet(t, srv, "/api/stats?window=3h")
	if !strings.Contains(string(body), "at most 2h") {
		t.Errorf("/api/stats?window=3h: %d %q, want it to name the longest window", resp.StatusCode, body)
	}
	// The streams' own errors, word for word.
	_, hitsBody := apiGet(t, srv, "/api/hits?status=abc")
	if _, body := apiGet(t, srv, "/api/stats?status=abc"); string(body) != string(hitsBody) {
		t.Errorf("/api/stats?status=abc says %q, /api/hits %q: want the same", body, hitsBody)
	}
	for _, q := range []string{"window=2h", "window=1m", "top=100", "top=1&window=90m", "_=123"} {
		getStats(t, srv, q)
	}
}

// Filters are the streams' filters: a filtered answer counts what they
// accept.
func TestAPIStatsFilters(t *testing.T) {
	l := makeSpanLog(time.Now(), 2*time.Hour, time.Hour, 10*time.Second, 0)
	srv := startServer(t, feed.Config{Logs: []string{l.write(t)}, Format: timedFormat})
	requests, _, status := l.want()
	waitStats(t, srv, "window=24h", uint64(requests))
	r := waitStats(t, srv, "window=24h&status=404", status["404"])
	if r.Covers == nil || r.Covers.Records != uint64(requests) {
		t.Errorf("covers %+v, want all %d records of the window held in detail", r.Covers, requests)
	}
	waitStats(t, srv, "window=24h&status=5xx", status["503"])
	waitStats(t, srv, "window=24h&status=4xx&status=5xx", status["404"]+status["503"])
	r = getStats(t, srv, "window=24h&path=/page/3")
	var want uint64
	for i, line := range l.lines {
		if l.inWindow[i] && strings.Contains(line, "GET /page/3 ") {
			want++
		}
	}
	if r.Requests != want || want == 0 {
		t.Errorf("path=/page/3: %d requests, want %d", r.Requests, want)
	}
	r = getStats(t, srv, "window=24h&top=3")
	if n := len(r.Top["path"]); n != 3 {
		t.Errorf("top=3: %d paths, want 3", n)
	}
	if r = getStats(t, srv, "window=24h&source=other.log"); r.Requests != 0 {
		t.Errorf("source=other.log: %d requests, want none", r.Requests)
	}
}

// /api/stats needs a token as the rest of /api/*, and a token limited to a
// filter sees only what it allows.
func TestAPIStatsAuth(t *testing.T) {
	l := makeSpanLog(time.Now(), 2*time.Hour, time.Hour, 10*time.Second, 0)
	tokens := writeTokenFile(t, "all-secret-token-0123456789", "errors-secret-token-012345 status=5xx")
	srv := startServer(t, feed.Config{Logs: []string{l.write(t)}, Format: timedFormat, TokenFile: tokens})
	requests, _, status := l.want()
	get := func(token string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", "http://"+srv.HTTPAddr().String()+"/api/stats?window=24h", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := oneShot.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.Bytes()
	}
	if resp, body := get(""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d %q, want 401", resp.StatusCode, body)
	}
	if resp, _ := get("wrong-token-0123456789abcdef"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d, want 401", resp.StatusCode)
	}
	count := func(token string) uint64 {
		resp, body := get(token)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %q, want 200", resp.StatusCode, body)
		}
		var r stats.Result
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return r.Requests
	}
	waitUntil(t, func() bool { return count("all-secret-token-0123456789") == uint64(requests) })
	if got := count("errors-secret-token-012345"); got != status["503"] {
		t.Fatalf("a token limited to 5xx: %d requests, want the %d 503s", got, status["503"])
	}
}

// Records of every way in are counted: standard input here.
func TestStatsCountStreams(t *testing.T) {
	now := time.Now()
	var b strings.Builder
	for i := range 25 {
		b.WriteString(timedLine(now, "192.0.2.3", fmt.Sprintf("/in/%d", i), 200, 5, 0.02) + "\n")
	}
	srv := startServer(t, feed.Config{Logs: []string{feed.StdinLog}, Stdin: strings.NewReader(b.String()), Format: timedFormat})
	r := waitStats(t, srv, "window=5m", 25)
	if src := r.Top["source"]; len(src) != 1 || src[0].Value != "stdin" || src[0].Count != 25 {
		t.Fatalf("top sources %v, want stdin 25", src)
	}
}

// A log that does not exist at start has no history; its lines are
// counted once it appears.
func TestHistoryOfAMissingLog(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "later.log")
	srv := startServer(t, feed.Config{Logs: []string{missing}, Format: timedFormat})
	if err := os.WriteFile(missing, []byte(timedLine(time.Now(), "192.0.2.4", "/first", 200, 1, 0.1)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitStats(t, srv, "window=1h", 1)
}

// With a GeoIP database, the statistics count clients by country, the
// history's too.
func TestStatsCountries(t *testing.T) {
	db := filepath.Join(t.TempDir(), "countries.mmdb")
	if err := geoiptest.Write(db, geoiptest.Network{CIDR: "198.51.100.0/25", Country: "NL"},
		geoiptest.Network{CIDR: "198.51.100.128/25", Country: "JP"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var lines []string
	for i := range 30 {
		lines = append(lines, timedLine(now.Add(-10*time.Minute), fmt.Sprintf("198.51.100.%d", 100+i), "/", 200, 1, 0.01))
	}
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t, lines...)}, Format: timedFormat, GeoIP: db, Backfill: 5})
	r := waitStats(t, srv, "window=1h", 30)
	// 100..127 are in the first half, 128..129 in the second.
	want := []stats.Count{{Value: "NL", Count: 28}, {Value: "JP", Count: 2}}
	if fmt.Sprint(r.Top["country"]) != fmt.Sprint(want) {
		t.Fatalf("top countries %v, want %v", r.Top["country"], want)
	}
	// A file that is not a database is a configuration error.
	if _, err := feed.New(feed.Config{Logs: []string{db + ".missing"}, GeoIP: tempLog(t, "not a database")}); err == nil || !strings.Contains(err.Error(), "geoip") {
		t.Fatalf("New with a bad database: %v, want an error naming it", err)
	}
}
