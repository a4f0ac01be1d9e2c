package feed_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/feed"
)

// attrRecorder keeps every message with its level and attributes.
type attrRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *attrRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *attrRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *attrRecorder) WithGroup(string) slog.Handler            { return h }

func (h *attrRecorder) Handle(_ context.Context, r slog.Record) error {
	m := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		m += fmt.Sprintf(" %s=%v", a.Key, a.Value.Any())
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m)
	return nil
}

func (h *attrRecorder) find(prefix string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			return m, true
		}
	}
	return "", false
}

// readyz returns /readyz's status and body.
func readyz(t *testing.T, srv *feed.Server) (int, string) {
	t.Helper()
	return httpGet(t, "http://"+srv.HTTPAddr().String()+"/readyz")
}

// TestMissingLogIsSaid: a log that does not exist at start (a mistyped
// path) is named in a warning at start, /readyz and /api/status say it is
// waited for, and once it exists it is followed.
func TestMissingLogIsSaid(t *testing.T) {
	dir := t.TempDir()
	present := tempLog(t, "here")
	typo := filepath.Join(dir, "acces.log")
	logs := &attrRecorder{}
	srv := startServer(t, feed.Config{Logs: []string{present, typo, filepath.Join(dir, "*.gz")}, Logger: slog.New(logs)})
	m, ok := logs.find("WARN logs that do not exist yet are waited for")
	if !ok || !strings.Contains(m, typo) || !strings.Contains(m, "*.gz") || strings.Contains(m, present) {
		t.Fatalf("start warning %q (found %v), want one naming %s and the pattern, not %s", m, ok, typo, present)
	}
	waitUntil(t, func() bool {
		code, body := readyz(t, srv)
		return code == 503 && body == "no file matches "+filepath.Join(dir, "*.gz")+"\nwaiting for "+typo+" to exist\n"
	})
	for _, s := range statusSources(t, srv) {
		if want := map[bool]string{true: "waiting for " + typo + " to exist", false: ""}[s.Path == typo]; s.Reason != want {
			t.Errorf("/api/status source %s: reason %q, want %q", s.Path, s.Reason, want)
		}
	}
	writeLines(t, typo, "late")
	writeLines(t, filepath.Join(dir, "old.gz"), "x")
	waitUntil(t, func() bool { code, _ := readyz(t, srv); return code == 200 })
}

// TestUnopenableLogIsNamed: a path that exists but cannot be followed is
// not "waiting for it to exist": /readyz names the cause, at start (the
// tailer fails, and is retried) and when the path turns bad later.
func TestUnopenableLogIsNamed(t *testing.T) {
	const loop = "too many levels of symbolic links"
	t.Run("AtStart", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "access.log")
		if err := os.Symlink("access.log", log); err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, feed.Config{Logs: []string{log}})
		// Through the first failure, the wait for its retry and the
		// retry: every answer names the cause.
		deadline := time.Now().Add(1500 * time.Millisecond)
		for n := 0; time.Now().Before(deadline); n++ {
			code, body := readyz(t, srv)
			if code != 503 || !strings.Contains(body, log+": ") || !strings.Contains(body, loop) {
				t.Fatalf("/readyz answer %d: %d %q, want 503 naming %s and %q", n, code, body, log, loop)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if r := statusSources(t, srv)[0].Reason; !strings.Contains(r, loop) {
			t.Fatalf("/api/status reason %q, want it to name %q", r, loop)
		}
	})
	t.Run("Later", func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "access.log")
		srv := startServer(t, feed.Config{Logs: []string{log}})
		waitUntil(t, func() bool { _, body := readyz(t, srv); return strings.Contains(body, "waiting for "+log) })
		if err := os.Symlink("access.log", log); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool {
			code, body := readyz(t, srv)
			return code == 503 && body == log+": stat "+log+": "+loop+"\n"
		})
	})
	t.Run("PermissionDenied", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root opens any file; the symbolic link loop covers root")
		}
		dir := t.TempDir()
		log := filepath.Join(dir, "access.log")
		if err := os.WriteFile(log, []byte("secret\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, feed.Config{Logs: []string{log}})
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if code, body := readyz(t, srv); code != 503 || !strings.Contains(body, "permission denied") {
				t.Fatalf("/readyz: %d %q, want 503 naming permission denied", code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
