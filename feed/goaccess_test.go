package feed_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/stats"
)

// TestGoAccessAgreement runs Debian's goaccess and weblogd on the same
// real logs and checks that they tell the same story: requests, bytes,
// status codes, the most requested paths, the 404 paths and the clients.
// Where the two count differently by design the test checks the relation
// docs/goaccess.md explains instead of equality:
//
//   - GoAccess decodes percent escapes in the request before it counts
//     it ("/a%20b" is "/a b") and so merges the spellings of one path;
//     weblogd counts the path as logged. A path with one spelling in the
//     log has the same count in both; one with several has GoAccess's
//     count the sum of weblogd's.
//   - GoAccess splits requests into three panels (requested files,
//     static files, not found) and keys each row by method and protocol
//     too; weblogd's path list is all of them by path.
//   - GoAccess's unique visitors are distinct (client, date, agent) among
//     the requests not answered 4xx; weblogd's visitors are distinct
//     client addresses, which is GoAccess's count of hosts.
//
// The logs are years old and weblogd's statistics count the window ending
// now, so the test first moves every line's time by one constant, the
// newest line to a minute ago (order and spacing kept), and gives both
// programs that log.
func TestGoAccessAgreement(t *testing.T) {
	goaccess := tool(t, "goaccess", "goaccess")
	for _, c := range []struct {
		name, log string
		window    time.Duration // covers the whole log
	}{
		// Apache combined over four days, 10,000 lines.
		{"apache-10k", "../format/testdata/apache_combined_10k.log", 96 * time.Hour},
		// nginx combined plus a field, three minutes, percent-encoded
		// UTF-8 paths.
		{"nginx-1k", "../format/testdata/nginx_combined_extra_1k.log", time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "access.log")
			lines := shiftLog(t, c.log, log, time.Now().Add(-time.Minute))

			ga := runGoAccess(t, goaccess, log, dir)
			t.Logf("goaccess: %d requests (%d valid, %d failed), %d bytes, %d unique visitors, %d hosts",
				ga.General.TotalRequests, ga.General.ValidRequests, ga.General.FailedRequests,
				ga.General.Bandwidth, ga.General.UniqueVisitors, len(ga.Hosts.Data))

			// The first answer names the browser of every agent of the
			// log, which under the race detector takes longer than the
			// default write deadline.
			srv := startServer(t, feed.Config{Logs: []string{log}, TCPAddr: feed.NoListen,
				History: c.window, StatsWindow: c.window, WriteTimeout: time.Minute})
			url := fmt.Sprintf("http://%s/api/stats?window=%s&top=100", srv.HTTPAddr(), fmtWindow(c.window))
			w := statsOnce(t, url, uint64(lines))
			t.Logf("weblogd: %d requests (%d parse errors), %d bytes, %d visitors, top exact %v",
				w.Requests, w.ParseErrors, w.Bytes, w.Visitors, w.TopExact)

			if !w.TopExact {
				t.Fatalf("weblogd's top lists are not exact over %d lines; the comparison needs them exact", lines)
			}
			compareTotals(t, ga, w)
			compareStatus(t, ga, w)
			keys := logPaths(t, log)
			comparePaths(t, "path", w.Top["path"], ga.paths(ga.Requests, ga.Static, ga.NotFound), keys)
			comparePaths(t, "not_found", w.Top["not_found"], ga.paths(ga.NotFound), keys)
			compareVisitors(t, ga, w)
		})
	}
}

// gaReport is the part of GoAccess's JSON report (-o report.json) the
// test reads.
type gaReport struct {
	General struct {
		TotalRequests  uint64 `json:"total_requests"`
		ValidRequests  uint64 `json:"valid_requests"`
		FailedRequests uint64 `json:"failed_requests"`
		UniqueVisitors uint64 `json:"unique_visitors"`
		Bandwidth      uint64 `json:"bandwidth"`
	} `json:"general"`
	Requests    gaPanel `json:"requests"`
	Static      gaPanel `json:"static_requests"`
	NotFound    gaPanel `json:"not_found"`
	Hosts       gaPanel `json:"hosts"`
	StatusCodes gaPanel `json:"status_codes"`
}

type gaPanel struct {
	Data []gaItem `json:"data"`
}

type gaItem struct {
	Hits     gaCount  `json:"hits"`
	Visitors gaCount  `json:"visitors"`
	Data     string   `json:"data"`
	Method   string   `json:"method"`
	Items    []gaItem `json:"items"`
}

type gaCount struct {
	Count uint64 `json:"count"`
}

// paths sums the hits of the panels' rows by request path (GoAccess keys
// a row by path, method and protocol).
func (r *gaReport) paths(panels ...gaPanel) map[string]uint64 {
	m := map[string]uint64{}
	for _, p := range panels {
		for _, it := range p.Data {
			m[it.Data] += it.Hits.Count
		}
	}
	return m
}

// runGoAccess runs goaccess on log with its defaults (crawlers counted,
// query strings kept, every row of every panel written) and reads its
// JSON report.
func runGoAccess(t *testing.T, goaccess, log, dir string) *gaReport {
	t.Helper()
	out := filepath.Join(dir, "goaccess.json")
	cmd := exec.Command(goaccess, log, "--no-global-config", "--log-format=COMBINED",
		"--max-items=1000000", "-o", out)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goaccess: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// GoAccess writes decoded paths' bytes as they are, not always UTF-8:
	// the decoder makes each bad byte U+FFFD, as gaDecode does.
	var r gaReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("goaccess's report: %v", err)
	}
	if r.General.TotalRequests == 0 {
		t.Fatalf("goaccess counted nothing in %s", log)
	}
	return &r
}

// weblogdStats is the part of GET /api/stats the test reads.
type weblogdStats struct {
	Requests    uint64                `json:"requests"`
	Bytes       uint64                `json:"bytes"`
	ParseErrors uint64                `json:"parse_errors"`
	Status      map[string]uint64     `json:"status"`
	Visitors    uint64                `json:"visitors"`
	TopExact    bool                  `json:"top_exact"`
	Top         map[string][]topCount `json:"top"`
}

type topCount struct {
	Value string `json:"value"`
	Count uint64 `json:"count"`
}

// statsOnce asks url until the statistics hold all lines (the history is
// read after the server is ready) and returns that answer.
func statsOnce(t *testing.T, url string, lines uint64) *weblogdStats {
	t.Helper()
	deadline := time.Now().Add(4 * waitFor)
	for {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var w weblogdStats
		err = json.NewDecoder(resp.Body).Decode(&w)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
		}
		if w.Requests == lines {
			return &w
		}
		if w.Requests > lines || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d requests, want the log's %d lines", url, w.Requests, lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func compareTotals(t *testing.T, ga *gaReport, w *weblogdStats) {
	t.Helper()
	if w.Requests != ga.General.TotalRequests {
		t.Errorf("requests: weblogd %d, goaccess %d", w.Requests, ga.General.TotalRequests)
	}
	if w.ParseErrors != ga.General.FailedRequests {
		t.Errorf("lines that do not parse: weblogd %d, goaccess %d", w.ParseErrors, ga.General.FailedRequests)
	}
	if w.Bytes != ga.General.Bandwidth {
		t.Errorf("bytes: weblogd %d, goaccess %d", w.Bytes, ga.General.Bandwidth)
	}
}

func compareStatus(t *testing.T, ga *gaReport, w *weblogdStats) {
	t.Helper()
	want := map[string]uint64{}
	for _, class := range ga.StatusCodes.Data {
		for _, it := range class.Items {
			code, _, _ := strings.Cut(it.Data, " ") // "404 - Not Found: ..."
			want[code] += it.Hits.Count
		}
	}
	if len(want) == 0 {
		t.Fatal("goaccess reports no status codes")
	}
	for code, n := range want {
		if w.Status[code] != n {
			t.Errorf("status %s: weblogd %d, goaccess %d", code, w.Status[code], n)
		}
	}
	for code, n := range w.Status {
		if _, ok := want[code]; !ok {
			t.Errorf("status %s: weblogd %d, goaccess none", code, n)
		}
	}
}

// comparePaths checks weblogd's top list of a path field against
// GoAccess's counts by its key (ga). Where a weblogd value and a GoAccess
// key stand for the same paths of the log, their counts are equal;
// where one program counts together what the other counts apart, the
// weblogd count is at most the sum of GoAccess's for the same paths.
func comparePaths(t *testing.T, field string, top []topCount, ga map[string]uint64, keys *pathKeys) {
	t.Helper()
	if len(top) == 0 {
		t.Fatalf("weblogd has no top %s", field)
	}
	listed := map[string]bool{}
	merged := 0
	var mergedValues []string
	for _, v := range top {
		listed[v.Value] = true
		gks := keys.ga[v.Value]
		if d, ok := keys.same(v.Value); ok {
			if v.Count != ga[d] {
				t.Errorf("top %s %q: weblogd %d, goaccess %d", field, v.Value, v.Count, ga[d])
			}
			continue
		}
		if len(gks) == 0 {
			t.Errorf("top %s %q: not a path of the log", field, v.Value)
			continue
		}
		var sum uint64
		for d := range gks {
			sum += ga[d]
		}
		if v.Count > sum {
			t.Errorf("top %s %q: weblogd %d, goaccess %d for the same paths", field, v.Value, v.Count, sum)
		}
		merged++
		if len(mergedValues) < 3 {
			mergedValues = append(mergedValues, fmt.Sprintf("%.80q", v.Value))
		}
	}
	// Every path GoAccess counts more often than weblogd's last listed
	// value, and counts as weblogd does, is in weblogd's list.
	last := top[len(top)-1].Count
	for d, n := range ga {
		if v, ok := keys.sameGA(d); ok && n > last && !listed[v] {
			t.Errorf("top %s: %q (goaccess %d) missing from weblogd's list of %d, which ends at %d", field, d, n, len(top), last)
		}
	}
	t.Logf("top %s: %d values agree; %d stand for paths that one program counts together and the other apart (%s)",
		field, len(top)-merged, merged, strings.Join(mergedValues, ", "))
}

// pathKeys says, for the request paths of a log, under which value each
// program counts them: weblogd under the path as logged (cut to
// stats.MaxValue bytes), GoAccess under the path decoded (gaDecode).
type pathKeys struct {
	ga  map[string]map[string]bool // weblogd value -> GoAccess keys
	weg map[string]map[string]bool // GoAccess key -> weblogd values
}

// same returns the GoAccess key that counts exactly the paths weblogd
// counts under v.
func (k *pathKeys) same(v string) (string, bool) {
	if len(k.ga[v]) != 1 {
		return "", false
	}
	for d := range k.ga[v] {
		if len(k.weg[d]) == 1 {
			return d, true
		}
	}
	return "", false
}

// sameGA is same the other way.
func (k *pathKeys) sameGA(d string) (string, bool) {
	if len(k.weg[d]) != 1 {
		return "", false
	}
	for v := range k.weg[d] {
		if len(k.ga[v]) == 1 {
			return v, true
		}
	}
	return "", false
}

// logPaths reads the log's request paths with weblogd's parser.
func logPaths(t *testing.T, log string) *pathKeys {
	t.Helper()
	k := &pathKeys{ga: map[string]map[string]bool{}, weg: map[string]map[string]bool{}}
	add := func(m map[string]map[string]bool, a, b string) {
		if m[a] == nil {
			m[a] = map[string]bool{}
		}
		m[a][b] = true
	}
	eachLine(t, log, func(line string) {
		r := format.Parse(line)
		if r.Path == "" {
			return
		}
		v, d := cutValue(r.Path), gaDecode(r.Path)
		add(k.ga, v, d)
		add(k.weg, d, v)
	})
	return k
}

// cutValue cuts v as the statistics cut the values they keep: to
// stats.MaxValue bytes, on a rune boundary.
func cutValue(v string) string {
	if len(v) <= stats.MaxValue {
		return v
	}
	i := stats.MaxValue
	for i > 0 && !utf8.RuneStart(v[i]) {
		i--
	}
	return v[:i]
}

// compareVisitors checks the relation between the two visitor counts:
// weblogd's visitors are distinct client addresses, GoAccess's hosts
// panel has one row per distinct client, so they agree within weblogd's
// 2%. GoAccess's unique visitors are the sum, over hosts, of each host's
// distinct (date, agent) pairs among its requests not answered 4xx: at
// least one for each host that had such a request.
func compareVisitors(t *testing.T, ga *gaReport, w *weblogdStats) {
	t.Helper()
	hosts := float64(len(ga.Hosts.Data))
	if math.Abs(float64(w.Visitors)-hosts) > 0.02*hosts {
		t.Errorf("visitors: weblogd %d, goaccess %v hosts (want within 2%%)", w.Visitors, hosts)
	}
	var sum, active uint64
	for _, h := range ga.Hosts.Data {
		sum += h.Visitors.Count
		if h.Visitors.Count > 0 {
			active++
		}
	}
	if sum != ga.General.UniqueVisitors || sum < active {
		t.Errorf("goaccess: %d unique visitors, %d over its hosts, %d hosts with a request not answered 4xx",
			ga.General.UniqueVisitors, sum, active)
	}
	t.Logf("visitors: weblogd %d distinct clients; goaccess %v hosts, %d of them with a request not answered 4xx, %d unique visitors (client, date, agent)",
		w.Visitors, hosts, active, ga.General.UniqueVisitors)
}

// gaDecode makes of a request path what GoAccess counts it under: its
// percent escapes decoded (a '%' not followed by two hex digits stays,
// '+' stays), CR and LF taken out, white space trimmed at both ends; then
// each byte that is not UTF-8 made U+FFFD, as reading GoAccess's JSON
// does.
func gaDecode(p string) string {
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			c = unhex(p[i+1])<<4 | unhex(p[i+2])
			i += 2
		}
		if c == 0 { // the end of GoAccess's C string
			break
		}
		if c != '\r' && c != '\n' {
			b = append(b, c)
		}
	}
	return string([]rune(strings.TrimSpace(string(b))))
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// clfTime is the time layout of Common and Combined lines.
const clfTime = "02/Jan/2006:15:04:05 -0700"

// shiftLog copies the log at src to dst with every line's time moved by
// one constant, so that its newest line is at newest (to the second);
// each line keeps its own offset, and the lines their order and
// spacing. It returns the number of lines.
func shiftLog(t *testing.T, src, dst string, newest time.Time) int {
	t.Helper()
	type stamp struct {
		at, end int // the time's place in the line
		t       time.Time
	}
	var lines []string
	var stamps []stamp
	var max time.Time
	eachLine(t, src, func(line string) {
		// The time is the first bracketed field: "host ident user [time]".
		at := strings.Index(line, " [")
		n := strings.IndexByte(line[at+1:], ']')
		if at < 0 || n < 0 {
			t.Fatalf("%s: no time in %q", src, line)
		}
		end := at + 1 + n
		ts, err := time.Parse(clfTime, line[at+2:end])
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		lines = append(lines, line)
		stamps = append(stamps, stamp{at + 2, end, ts})
		if ts.After(max) {
			max = ts
		}
	})
	shift := newest.Truncate(time.Second).Sub(max)
	var b strings.Builder
	for i, l := range lines {
		s := stamps[i]
		b.WriteString(l[:s.at])
		b.WriteString(s.t.Add(shift).Format(clfTime))
		b.WriteString(l[s.end:])
		b.WriteByte('\n')
	}
	if err := os.WriteFile(dst, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return len(lines)
}

func eachLine(t *testing.T, path string, f func(line string)) {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		f(s.Text())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

// fmtWindow writes a whole number of hours as /api/stats takes it.
func fmtWindow(d time.Duration) string {
	return fmt.Sprintf("%dh", int(d/time.Hour))
}
