package feed_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// TestStdinLog: "-" as a log reads standard input (a pipe here) as a
// stream named stdin, beside a file: lines written slowly arrive one by
// one, a long line is cut at the maximum length and counted, a last line
// without "\n" is a line when the input ends; then the server goes on
// serving, and /readyz (503) and /api/status say that stdin ended.
func TestStdinLog(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	file := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{file, feed.StdinLog}, Stdin: r, MaxLineBytes: 100, Backfill: -1})
	base := "http://" + srv.HTTPAddr().String()
	if code, body := httpGet(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz while stdin is open: %d %s", code, body)
	}
	c := collect(t, srv, 0)
	line := `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /slow HTTP/1.1" 200 12 "-" "curl/8.5.0"`
	for i := 1; i <= 3; i++ {
		if _, err := w.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
		got := waitRecords(t, c, i) // each arrives before the next is written
		if rec := got[i-1]; rec.Source != "stdin" || !rec.Parsed || rec.Path != "/slow" {
			t.Fatalf("record %d: %+v", i, rec)
		}
	}
	if code, _ := httpGet(t, base+"/readyz"); code != 200 {
		t.Fatal("/readyz not ready while stdin is open")
	}
	w.WriteString(strings.Repeat("x", 250) + "\n" + "half a line, then the end")
	w.Close()
	got := waitRecords(t, c, 5)
	if got[3].Line != strings.Repeat("x", 100) || got[4].Line != "half a line, then the end" {
		t.Fatalf("cut line %q, last line %q", got[3].Line, got[4].Line)
	}
	var code int
	var body string
	waitUntil(t, func() bool { code, body = httpGet(t, base+"/readyz"); return code == 503 })
	if !strings.Contains(body, "stdin ended") || !strings.Contains(body, "after 5 records") {
		t.Fatalf("/readyz after the end: %d %q", code, body)
	}
	var row *sourceStatus
	for _, s := range statusSources(t, srv) {
		if s.Name == "stdin" {
			row = &s
		}
	}
	if row == nil || row.State != "ended" || !strings.Contains(row.Reason, "stdin ended") {
		t.Fatalf("status row of stdin: %+v", row)
	}
	code, metrics := httpGet(t, base+"/metrics")
	if !strings.Contains(metrics, `weblogd_lines_truncated_total{source="stdin"} 1`) || !strings.Contains(metrics, `weblogd_parse_errors_total{source="stdin"} 2`) {
		t.Fatalf("/metrics %d: stdin's counts missing", code)
	}
	// Still serving: the file is followed on.
	writeLines(t, file, line)
	if got := waitRecords(t, c, 6); got[5].Source == "stdin" {
		t.Fatalf("file record after stdin ended: %+v", got[5])
	}
}

// TestStdinShutdown: a quiet standard input that never ends does not hold
// the shutdown.
func TestStdinShutdown(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	_, stop := stopServerFunc(t, feed.Config{Logs: []string{feed.StdinLog}, Stdin: r, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen})
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("shutdown took %v with stdin open", took)
	}
}
