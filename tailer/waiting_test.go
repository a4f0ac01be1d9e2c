package tailer_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/weblogd/weblogd/tailer"
)

// levelRecorder keeps every message with its level.
type levelRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelRecorder) WithGroup(string) slog.Handler            { return h }

func (h *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Level.String()+" "+r.Message)
	return nil
}

// waitFor waits for a message at level that contains substr.
func (h *levelRecorder) waitFor(tb testing.TB, level slog.Level, substr string) {
	tb.Helper()
	waitUntil(tb, level.String()+" "+substr, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, m := range h.msgs {
			if strings.HasPrefix(m, level.String()+" ") && strings.Contains(m, substr) {
				return true
			}
		}
		return false
	})
}

func TestWaiting(t *testing.T) {
	t.Run("DeletedAndCreatedAgainIsLogged", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "old\n")
		logs := &levelRecorder{}
		r := startRun(t, tailer.Config{Path: path, Logger: slog.New(logs)})
		r.waitLines(t, 1)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		logs.waitFor(t, slog.LevelInfo, "gone from the path")
		writeFile(t, path, "new\n")
		logs.waitFor(t, slog.LevelInfo, "appeared at the path")
		assertLines(t, r.waitLines(t, 2)[1:], []tailer.Line{{Text: "new", Offset: 4}})
	})

	t.Run("ProblemNamesTheCause", func(t *testing.T) {
		// The path comes to be something that cannot be opened, not
		// something missing: a loop of symbolic links (what a mistyped
		// ln -s makes; unlike permission bits, it stops root too).
		path := filepath.Join(t.TempDir(), "access.log")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateWaiting)
		if p := r.t.Problem(); p != "" {
			t.Fatalf("Problem()=%q while the file does not exist, want none", p)
		}
		if err := os.Symlink(filepath.Base(path), path); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "Problem names the loop", func() bool {
			return strings.Contains(r.t.Problem(), "too many levels of symbolic links")
		})
		if st := r.t.State(); st != tailer.StateWaiting {
			t.Fatalf("State()=%q, want %q", st, tailer.StateWaiting)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, "now a file\n")
		r.waitLines(t, 1)
		if p := r.t.Problem(); p != "" {
			t.Fatalf("Problem()=%q while following, want none", p)
		}
	})

	t.Run("PermissionDenied", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root opens any file; ProblemNamesTheCause covers root")
		}
		path := filepath.Join(t.TempDir(), "access.log")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateWaiting)
		if err := os.WriteFile(path, []byte("secret\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "Problem says permission denied", func() bool {
			return strings.Contains(r.t.Problem(), "permission denied")
		})
	})
}
