package tailer_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// waitFor is how long a test waits for something that normally happens
// within milliseconds; generous, because -race on a loaded machine is slow.
const waitFor = 20 * time.Second

// stopWithin is the promise Run makes about returning after cancel.
const stopWithin = 2 * time.Second

func TestRun(t *testing.T) {
	t.Run("AppendedLinesWithOffsets", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		old := "old line 1\nold line 2\n"
		writeFile(t, path, old)

		r := startRun(t, tailer.Config{Path: path, Offset: int64(len(old))})
		r.waitState(t, tailer.StateFollowing)

		added := []string{"first", "", "third line, longer than the others", "4"}
		var want []tailer.Line
		off := int64(len(old))
		for _, text := range added {
			appendFile(t, path, text+"\n")
			off += int64(len(text)) + 1
			want = append(want, tailer.Line{Text: text, Offset: off})
		}
		assertLines(t, r.linesBeforeSentinel(t, path), want)
	})

	t.Run("StartInTheMiddle", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "a\nbb\nccc\ndddd\n")

		r := startRun(t, tailer.Config{Path: path, Offset: 5})
		got := r.waitLines(t, 2)
		assertLines(t, got, []tailer.Line{{Text: "ccc", Offset: 9}, {Text: "dddd", Offset: 14}})

		appendFile(t, path, "e\n")
		got = r.waitLines(t, 3)
		assertLines(t, got[2:], []tailer.Line{{Text: "e", Offset: 16}})
	})

	t.Run("OffsetBeyondEndReadsFromStart", func(t *testing.T) {
		// The file was truncated since the offset was saved.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "new 1\nnew 2\n")

		r := startRun(t, tailer.Config{Path: path, Offset: 1000})
		assertLines(t, r.waitLines(t, 2), []tailer.Line{{Text: "new 1", Offset: 6}, {Text: "new 2", Offset: 12}})
	})

	t.Run("LineInTwoWrites", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, part := range []string{"GET /first-half", " second-half HTTP/1.1\nnext", " line\n"} {
			if _, err := f.WriteString(part); err != nil {
				t.Fatal(err)
			}
			// A pause between the write() calls, as a logger that flushes
			// mid-line would make; the fragment must not be delivered.
			time.Sleep(100 * time.Millisecond)
		}
		assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{
			{Text: "GET /first-half second-half HTTP/1.1", Offset: 37},
			{Text: "next line", Offset: 47},
		})
	})

	t.Run("LongLineIsCut", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		long := strings.Repeat("x", 200<<10)
		appendFile(t, path, long+"\nafter\n")
		got := r.waitLines(t, 2)
		assertLines(t, got, []tailer.Line{
			{Text: long[:tailer.DefaultMaxLineBytes], Offset: 200<<10 + 1, Truncated: true},
			{Text: "after", Offset: 200<<10 + 7},
		})
	})

	t.Run("CutBacksOffToRuneStart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path, MaxLineBytes: 10})
		r.waitState(t, tailer.StateFollowing)

		cases := []struct {
			line, text string
			cut        bool
		}{
			{"123456789€uro", "123456789", true},        // "€" is 3 bytes at 9..11: cut before it
			{"12345678😀", "12345678", true},             // 4 bytes at 8..11: cut before it
			{"1234567€", "1234567€", false},             // 3 bytes at 7..9: exactly 10 bytes
			{"123456789\xa9abc", "123456789\xa9", true}, // a stray continuation byte is kept raw
			{"1234567890\r", "1234567890", false},       // CRLF: 10 bytes of text
		}
		var data string
		var want []tailer.Line
		for _, c := range cases {
			data += c.line + "\n"
			want = append(want, tailer.Line{Text: c.text, Offset: int64(len(data)), Truncated: c.cut})
		}
		appendFile(t, path, data)
		got := r.waitLines(t, len(want))
		assertLines(t, got, want)
	})

	t.Run("CRLF", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		appendFile(t, path, "one\r\ntwo\r\n\r\nkeeps\rinner\r\n")
		assertLines(t, r.waitLines(t, 4), []tailer.Line{
			{Text: "one", Offset: 5},
			{Text: "two", Offset: 10},
			{Text: "", Offset: 12},
			{Text: "keeps\rinner", Offset: 25},
		})
	})

	t.Run("FileAppearsLater", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		// The offset applies only to a file that exists at start.
		r := startRun(t, tailer.Config{Path: path, Offset: 3})
		r.waitState(t, tailer.StateWaiting)

		writeFile(t, path, "born 1\nborn 2\n")
		assertLines(t, r.waitLines(t, 2), []tailer.Line{{Text: "born 1", Offset: 7}, {Text: "born 2", Offset: 14}})
		r.waitState(t, tailer.StateFollowing)
	})

	t.Run("DeletedAndRecreated", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		appendFile(t, path, "old file\n")
		r.waitLines(t, 1)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		r.waitState(t, tailer.StateWaiting)

		writeFile(t, path, "new file 1\nnew file 2\n")
		got := r.waitLines(t, 3)
		assertLines(t, got[1:], []tailer.Line{{Text: "new file 1", Offset: 11}, {Text: "new file 2", Offset: 22}})
	})

	t.Run("ReplacedByRenameOver", func(t *testing.T) {
		// An atomic replace with a larger file: a new inode at the path,
		// read from its start, even though it looks like an append.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "old\n")
		r.waitLines(t, 1)

		next := filepath.Join(dir, "access.log.new")
		writeFile(t, next, "replacement 1\nreplacement 2\n")
		if err := os.Rename(next, path); err != nil {
			t.Fatal(err)
		}
		got := r.waitLines(t, 3)
		assertLines(t, got[1:], []tailer.Line{{Text: "replacement 1", Offset: 14}, {Text: "replacement 2", Offset: 28}})

		// And it follows the new file from there, with nothing repeated.
		appendFile(t, path, "appended\n")
		assertLines(t, r.linesBeforeSentinel(t, path)[1:], []tailer.Line{
			{Text: "replacement 1", Offset: 14},
			{Text: "replacement 2", Offset: 28},
			{Text: "appended", Offset: 37},
		})
	})

	t.Run("RenamedAwayAndBack", func(t *testing.T) {
		// The file leaves the path and comes back: it is the same file,
		// read on from where it was, not again from its start.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "one\ntwo\n")
		r.waitLines(t, 2)

		away := filepath.Join(dir, "access.log.away")
		if err := os.Rename(path, away); err != nil {
			t.Fatal(err)
		}
		r.waitState(t, tailer.StateWaiting)
		if err := os.Rename(away, path); err != nil {
			t.Fatal(err)
		}
		r.waitState(t, tailer.StateFollowing)

		appendFile(t, path, "three\n")
		assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{
			{Text: "one", Offset: 4},
			{Text: "two", Offset: 8},
			{Text: "three", Offset: 14},
		})
	})

	t.Run("TruncatedInPlace", func(t *testing.T) {
		// The simple case: the file is emptied and written again; the
		// new lines are read from its start.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		appendFile(t, path, "before truncation\n")
		r.waitLines(t, 1)
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "after\n")
		assertLines(t, r.linesBeforeSentinel(t, path)[1:], []tailer.Line{{Text: "after", Offset: 6}})
	})

	t.Run("StopsPromptlyWithoutLeaks", func(t *testing.T) {
		dir := t.TempDir()
		// A run that has come and gone first, so that anything started
		// once per process is counted before, not after.
		warm := startRun(t, tailer.Config{Path: filepath.Join(dir, "warm.log")})
		warm.waitState(t, tailer.StateWaiting)
		if err := warm.stop(t); err != nil {
			t.Fatalf("Run()=%v, want nil", err)
		}
		before := settledGoroutines(t, -1)

		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "line\n")
		r.waitLines(t, 1)

		start := time.Now()
		if err := r.stop(t); err != nil {
			t.Fatalf("Run()=%v, want nil", err)
		}
		if d := time.Since(start); d > stopWithin {
			t.Fatalf("Run returned %v after cancel, want < %v", d, stopWithin)
		}
		if s := r.t.State(); s != tailer.StateStopped {
			t.Fatalf("State()=%q, want %q", s, tailer.StateStopped)
		}
		if after := settledGoroutines(t, before); after > before {
			t.Fatalf("goroutines: %d after Run returned, want <= %d before it\n%s", after, before, goroutineDump())
		}
	})

	t.Run("StopsWhileWaitingForTheFile", func(t *testing.T) {
		r := startRun(t, tailer.Config{Path: filepath.Join(t.TempDir(), "never.log")})
		r.waitState(t, tailer.StateWaiting)
		start := time.Now()
		if err := r.stop(t); err != nil {
			t.Fatalf("Run()=%v, want nil", err)
		}
		if d := time.Since(start); d > stopWithin {
			t.Fatalf("Run returned %v after cancel, want < %v", d, stopWithin)
		}
	})

	t.Run("StopsWhileEmitIsSlow", func(t *testing.T) {
		// Reading waits while emit runs; a cancel must still end Run
		// promptly, between two lines.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, strings.Repeat("line\n", 1000))
		tl, err := tailer.New(tailer.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		first := make(chan struct{})
		var once sync.Once
		go func() {
			done <- tl.Run(ctx, func(tailer.Line) {
				once.Do(func() { close(first) })
				time.Sleep(time.Millisecond)
			})
		}()
		<-first
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run()=%v, want nil", err)
			}
		case <-time.After(stopWithin):
			t.Fatalf("Run did not return within %v of cancel", stopWithin)
		}
	})

	t.Run("RetailSamePath", func(t *testing.T) {
		// Run lets go of the path, its watches and the shared inotify
		// instance when it returns, so the same path can be followed again
		// and again in one process.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		var size int64
		for i := range 20 {
			r := startRun(t, tailer.Config{Path: path, Offset: size})
			r.waitState(t, tailer.StateFollowing)
			line := fmt.Sprintf("run %d", i)
			appendFile(t, path, line+"\n")
			size += int64(len(line)) + 1
			assertLines(t, r.waitLines(t, 1), []tailer.Line{{Text: line, Offset: size}})
			if err := r.stop(t); err != nil {
				t.Fatalf("run %d: Run()=%v, want nil", i, err)
			}
		}
	})

	t.Run("OneRunPerPath", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)

		// The same file by another spelling is the same file.
		rel, err := filepath.Rel(mustGetwd(t), path)
		if err != nil {
			t.Fatal(err)
		}
		second, err := tailer.New(tailer.Config{Path: rel})
		if err != nil {
			t.Fatal(err)
		}
		err = second.Run(context.Background(), func(tailer.Line) {})
		if !errors.Is(err, tailer.ErrPathInUse) {
			t.Fatalf("second Run()=%v, want %v", err, tailer.ErrPathInUse)
		}
		if s := second.State(); !strings.HasPrefix(s, "failed: ") {
			t.Fatalf("State()=%q, want failed", s)
		}

		// The first one is unharmed.
		appendFile(t, path, "still here\n")
		assertLines(t, r.waitLines(t, 1), []tailer.Line{{Text: "still here", Offset: 11}})
	})

	t.Run("RunTwice", func(t *testing.T) {
		tl, err := tailer.New(tailer.Config{Path: filepath.Join(t.TempDir(), "access.log")})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := tl.Run(ctx, func(tailer.Line) {}); err != nil {
			t.Fatalf("Run()=%v, want nil", err)
		}
		if err := tl.Run(ctx, func(tailer.Line) {}); err == nil {
			t.Fatal("second Run()=nil, want an error")
		}
	})

	t.Run("MissingDirectoryIsAnError", func(t *testing.T) {
		// A missing file is waited for, but a missing directory at start
		// is most likely a mistake in the path: Run says so, and its
		// caller may retry.
		path := filepath.Join(t.TempDir(), "no", "access.log")
		r := startRun(t, tailer.Config{Path: path})
		err := r.waitDone(t)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("Run()=%v, want an error naming %s", err, path)
		}
		if s := r.t.State(); !strings.HasPrefix(s, "failed: ") {
			t.Fatalf("State()=%q, want failed", s)
		}
	})

	t.Run("DirectoryIsAnError", func(t *testing.T) {
		tl, err := tailer.New(tailer.Config{Path: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.Run(context.Background(), func(tailer.Line) {}); err == nil {
			t.Fatal("Run()=nil, want an error")
		}
	})

	t.Run("UnreadableIsAnError", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads any file")
		}
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "secret\n")
		if err := os.Chmod(path, 0); err != nil {
			t.Fatal(err)
		}
		tl, err := tailer.New(tailer.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		err = tl.Run(context.Background(), func(tailer.Line) {})
		if !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("Run()=%v, want %v", err, fs.ErrPermission)
		}
	})
}

func TestNew(t *testing.T) {
	for _, c := range []tailer.Config{
		{},
		{Path: "x.log", Offset: -1},
		{Path: "x.log", MaxLineBytes: -1},
	} {
		if _, err := tailer.New(c); err == nil {
			t.Errorf("New(%+v)=nil error, want an error", c)
		}
	}
	tl, err := tailer.New(tailer.Config{Path: "x.log"})
	if err != nil {
		t.Fatalf("New()=%v, want nil", err)
	}
	if s := tl.State(); s != tailer.StateIdle {
		t.Fatalf("State()=%q, want %q", s, tailer.StateIdle)
	}
}

// run is one Run in a goroutine, collecting what it emits.
type run struct {
	t      *tailer.Tailer
	cancel context.CancelFunc
	done   chan error

	mu    sync.Mutex
	lines []tailer.Line
}

// startRun starts Run with c and stops it when the test ends.
func startRun(tb testing.TB, c tailer.Config) *run {
	tb.Helper()
	return startRunEmit(tb, c, func(tailer.Line) {})
}

// stop cancels Run and returns its result.
func (r *run) stop(tb testing.TB) error {
	tb.Helper()
	r.cancel()
	return r.waitDone(tb)
}

// waitDone waits for Run to return and gives its result.
func (r *run) waitDone(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitFor):
		tb.Fatalf("Run did not return within %v", waitFor)
		return nil
	}
}

func (r *run) snapshot() []tailer.Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tailer.Line(nil), r.lines...)
}

// waitLines waits until at least n lines have arrived and returns them all.
func (r *run) waitLines(tb testing.TB, n int) []tailer.Line {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := r.snapshot()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("got %d lines within %v, want %d: %q", len(got), waitFor, n, texts(got))
		}
		select {
		case err := <-r.done:
			r.done <- err
			tb.Fatalf("Run()=%v while waiting for line %d", err, len(got)+1)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// sentinel is the text of the line linesBeforeSentinel appends.
const sentinel = "-- sentinel --"

// linesBeforeSentinel appends a sentinel line to the file at path, waits
// for it, and returns every line that arrived before it. Lines arrive in
// order, so a line delivered twice, or one that should not have been,
// shows up before the sentinel: there is nothing to wait out.
func (r *run) linesBeforeSentinel(tb testing.TB, path string) []tailer.Line {
	tb.Helper()
	appendFile(tb, path, sentinel+"\n")
	deadline := time.Now().Add(waitFor)
	for {
		got := r.snapshot()
		for i, l := range got {
			if l.Text == sentinel {
				return got[:i]
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no sentinel line within %v; got %q", waitFor, texts(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitState waits until the tailer reports state.
func (r *run) waitState(tb testing.TB, state string) {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s := r.t.State()
		if s == state {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("State()=%q after %v, want %q", s, waitFor, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func assertLines(tb testing.TB, got, want []tailer.Line) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d lines %q, want %d %q", len(got), texts(got), len(want), texts(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Text != w.Text || g.Offset != w.Offset || g.Truncated != w.Truncated {
			tb.Fatalf("line %d = {%q %d %v}, want {%q %d %v}",
				i, short(g.Text), g.Offset, g.Truncated, short(w.Text), w.Offset, w.Truncated)
		}
		if g.Time.IsZero() {
			tb.Fatalf("line %d has a zero Time", i)
		}
	}
}

func texts(lines []tailer.Line) []string {
	var s []string
	for _, l := range lines {
		s = append(s, short(l.Text))
	}
	return s
}

// short keeps failure messages readable when lines are huge.
func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", s[:40], len(s))
	}
	return s
}

func writeFile(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func appendFile(tb testing.TB, path, data string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func mustGetwd(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return wd
}

// settledGoroutines waits until the goroutine count is at most limit (or
// has stopped changing, when limit is negative) and returns it. Goroutines
// end a moment after the code that stopped them returns.
func settledGoroutines(tb testing.TB, limit int) int {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	prev, stable := runtime.NumGoroutine(), 0
	for time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		n := runtime.NumGoroutine()
		if limit >= 0 && n <= limit {
			return n
		}
		if n == prev {
			stable++
		} else {
			prev, stable = n, 0
		}
		if limit < 0 && stable >= 10 {
			return n
		}
	}
	return runtime.NumGoroutine()
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// logRecorder is a slog.Handler that keeps every message, so tests can
// check what the tailer reported.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}

// waitCount waits until at least n messages contain substr.
func (h *logRecorder) waitCount(tb testing.TB, substr string, n int) {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		h.mu.Lock()
		count := 0
		for _, m := range h.msgs {
			if strings.Contains(m, substr) {
				count++
			}
		}
		msgs := append([]string(nil), h.msgs...)
		h.mu.Unlock()
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d log messages contain %q after %v, want %d: %q", count, substr, waitFor, n, msgs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
