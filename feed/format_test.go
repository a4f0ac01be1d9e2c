package feed_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/weblogd/weblogd/feed"
)

// lockedBuffer is a log destination that the server's goroutines and the
// test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sourceFormat is what /api/status says of a source's format.
type sourceFormat struct {
	Name        string `json:"name"`
	Format      string `json:"format"`
	Records     uint64 `json:"records"`
	ParseErrors uint64 `json:"parse_errors"`
	Warning     *struct {
		Line    string `json:"line"`
		At      int    `json:"at"`
		Near    string `json:"near"`
		Misfits uint64 `json:"misfits"`
		Lines   uint64 `json:"lines"`
		Since   string `json:"since"`
	} `json:"warning"`
}

func sourceFormats(t *testing.T, srv *feed.Server) []sourceFormat {
	t.Helper()
	resp, body := apiGet(t, srv, "/api/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/status: %d %q", resp.StatusCode, body)
	}
	var st struct {
		Sources []sourceFormat `json:"sources"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /api/status: %v\n%s", err, body)
	}
	return st.Sources
}

// A log of the wrong format says so in /api/status and, once, in the
// server's log; the warning goes once the lines fit again.
func TestFormatWarning(t *testing.T) {
	var logs lockedBuffer
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Format: "common",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := sourceFormats(t, srv)[0].Format; got != "common" {
		t.Fatalf("format %q, want common", got)
	}
	bad := `{"level":"info","msg":"handled request","status":200}`
	for range 3 {
		writeLines(t, log, bad, bad, bad, bad, bad)
	}
	var st sourceFormat
	waitUntil(t, func() bool { st = sourceFormats(t, srv)[0]; return st.Records == 15 })
	w := st.Warning
	if w == nil || w.Line != bad || w.At != len(bad) || w.Near != "" || w.Misfits < 10 || w.Lines < w.Misfits || w.Since == "" {
		t.Fatalf("status of a JSON log read as Common: %+v (warning %+v)", st, w)
	}
	if st.ParseErrors != 15 {
		t.Fatalf("parse_errors=%d, want 15", st.ParseErrors)
	}
	if n := strings.Count(logs.String(), "do not fit its format"); n != 1 {
		t.Fatalf("%d warnings in the server log, want one:\n%s", n, logs.String())
	}
	var good []string
	for range 300 {
		good = append(good, dashLine(200, "/fits"))
	}
	writeLines(t, log, good...)
	waitUntil(t, func() bool { st = sourceFormats(t, srv)[0]; return st.Records == 315 })
	if st.Warning != nil {
		t.Fatalf("warning still there after 300 lines that fit: %+v", st.Warning)
	}
	if !strings.Contains(logs.String(), "fit its format again") {
		t.Fatalf("no all-clear in the server log:\n%s", logs.String())
	}
}

// Under auto (the default), /api/status says which format it recognised.
func TestFormatAutoStatus(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}})
	if got := sourceFormats(t, srv)[0].Format; got != "auto" {
		t.Fatalf("format before any line %q, want auto", got)
	}
	writeLines(t, log, dashLine(200, "/"))
	waitUntil(t, func() bool { return sourceFormats(t, srv)[0].Format == "auto: combined" })
}

func TestFormatBad(t *testing.T) {
	_, err := feed.New(feed.Config{Logs: []string{"access.log"}, Format: "nginx"})
	if err == nil || !strings.Contains(err.Error(), `format: unknown format "nginx"`) {
		t.Fatalf("New with format nginx: %v, want the reason", err)
	}
}
