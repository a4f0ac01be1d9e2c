package feed

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// runInternal runs a server with c (on loopback) for a test of the
// package's own parts; it stops when the test ends.
func runInternal(t *testing.T, c Config) *Server {
	t.Helper()
	c.HTTPAddr, c.TCPAddr = "127.0.0.1:0", NoListen
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run()=%v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run()=%v before Ready", err)
	}
	return s
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStreamsTake: a line taken by a named stream source is in the ring
// when take returns, parsed and named; the source has its status row and
// metrics; past the bound, new names share the overflow source while
// their records keep their names; a stream named like a log shares its
// metric line instead of breaking the scrape.
func TestStreamsTake(t *testing.T) {
	log := filepath.Join(t.TempDir(), "web1")
	s := runInternal(t, Config{Logs: []string{log}, MaxSources: 2})
	line := `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "curl/8.5.0"`
	if !s.streams.take(kindIngest, "web1", line, false) {
		t.Fatal("take refused a line while running")
	}
	recs := s.ring.Tail(1, s.ring.Last(), nil)
	if len(recs) != 1 || recs[0].Source != "web1" || !recs[0].Parsed || recs[0].Path != "/a" {
		t.Fatalf("ring after take: %+v", recs)
	}
	s.streams.take(kindSyslog, "h1/nginx", line, false)
	for i := range 3 {
		s.streams.take(kindSyslog, "invented"+string(rune('a'+i))+"/nginx", "not an access line", false)
	}
	recs = s.ring.Tail(5, s.ring.Last(), nil)
	if got := recs[len(recs)-1].Source; got != "inventedc/nginx" {
		t.Fatalf("an overflowed record's source %q, want its own name", got)
	}

	base := "http://" + s.HTTPAddr().String()
	_, body := getBody(t, base+"/api/status")
	var st struct {
		Sources []sourceStatus `json:"sources"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	rows := map[string]sourceStatus{}
	for _, r := range st.Sources {
		rows[r.Name+" "+r.Kind] = r
	}
	if r := rows["web1 ingest"]; r.Records != 1 || r.State != "following" || r.LastLine == nil || r.Path != "" {
		t.Errorf("ingest row %+v", r)
	}
	if r := rows["(overflow) syslog"]; r.Records != 3 || r.ParseErrors != 3 {
		t.Errorf("overflow row %+v; rows %v", r, rows)
	}
	if _, ok := rows["web1 file"]; !ok || len(rows) != 4 {
		t.Errorf("rows %v: want the log, two sources and the overflow", rows)
	}
	code, metrics := getBody(t, base+"/metrics")
	for _, want := range []string{`weblogd_records_ingested_total{source="web1"} 1`, `weblogd_records_ingested_total{source="(overflow)"} 3`,
		`weblogd_parse_errors_total{source="h1/nginx"} 0`} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics %d lacks %s", code, want)
		}
	}

	s.streams.stop()
	if s.streams.take(kindIngest, "web1", line, false) {
		t.Error("take took a line after stop")
	}
}

// A name that could not be a metric's label value (invalid UTF-8, control
// characters) or is too long is cleaned; a clean one is kept as it is.
func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"web1/nginx":             "web1/nginx",
		"caf\xe9/nginx":          "caf\uFFFD/nginx",
		"a\x00b\x1bc":            "a\uFFFDb\uFFFDc",
		strings.Repeat("é", 200): strings.Repeat("é", 127),
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q)=%q, want %q", in, got, want)
		}
	}
}

// A sender's name that is not UTF-8 still scrapes: the metric's label is
// the cleaned name.
func TestStreamsBadNameScrapes(t *testing.T) {
	s := runInternal(t, Config{Syslog: []string{"udp://127.0.0.1:0"}})
	s.streams.take(kindSyslog, "caf\xe9/\x01", "x", false)
	code, metrics := getBody(t, "http://"+s.HTTPAddr().String()+"/metrics")
	if code != 200 || !strings.Contains(metrics, `weblogd_records_ingested_total{source="caf`+"\uFFFD/\uFFFD"+`"} 1`) {
		t.Fatalf("/metrics %d:\n%s", code, metrics)
	}
}
