package tailer_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// mkfifo makes a named pipe in a fresh directory.
func mkfifo(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "access.log")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// openWriter opens the FIFO for writing, as nginx opens its log: it
// blocks until a reader has it open, so it fails the test if none comes.
func openWriter(tb testing.TB, path string) *os.File {
	tb.Helper()
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			tb.Error(err)
			w = nil
		}
		opened <- w
	}()
	select {
	case w := <-opened:
		if w == nil {
			tb.FailNow()
		}
		tb.Cleanup(func() { w.Close() })
		return w
	case <-time.After(waitFor):
		tb.Fatalf("no reader opened the FIFO within %v", waitFor)
		return nil
	}
}

func write(tb testing.TB, w *os.File, s string) {
	tb.Helper()
	if _, err := w.WriteString(s); err != nil {
		tb.Fatal(err)
	}
}

func TestFIFO(t *testing.T) {
	t.Run("EveryWriterEveryLine", func(t *testing.T) {
		// Run starts without a writer, reads every line of one writer,
		// whole however it was split into writes, delivers the partial
		// line a writer leaves when it closes, and waits for the next
		// writer.
		path := mkfifo(t)
		r := startRun(t, tailer.Config{Path: path, MaxLineBytes: 20})
		r.waitState(t, tailer.StateFollowing) // no writer yet: not blocked in open

		w1 := openWriter(t, path)
		write(t, w1, "first\nsec")
		time.Sleep(50 * time.Millisecond) // the fragment alone must not come out
		write(t, w1, "ond\n"+strings.Repeat("x", 50)+"\nno newline at the end")
		w1.Close()
		// The end of the stream delivers the partial line. (A writer
		// that opened before the last one closed would have continued
		// the stream, and the line: a FIFO is one stream of bytes.)
		r.waitLines(t, 4)

		w2 := openWriter(t, path)
		var many strings.Builder
		for i := 1; i <= 5000; i++ { // more than a pipe holds: the writer waits for the reader
			many.WriteString(numbered(i) + "\n")
		}
		write(t, w2, many.String())
		w2.Close()

		got := r.waitLines(t, 4+5000)
		want := []tailer.Line{
			{Text: "first"},
			{Text: "second"},
			{Text: strings.Repeat("x", 20), Truncated: true},
			{Text: "no newline at the end"[:20], Truncated: true},
		}
		for i := 1; i <= 5000; i++ {
			want = append(want, tailer.Line{Text: numbered(i)})
		}
		assertLines(t, got, want)
		for _, l := range got {
			if !l.File.IsZero() {
				t.Fatalf("line %q has File %+v, want none: a FIFO has no positions", l.Text, l.File)
			}
		}
		if ps := r.t.Positions(); len(ps) != 0 {
			t.Fatalf("Positions()=%+v, want none for a FIFO", ps)
		}
	})

	t.Run("StopsWithAWriterConnected", func(t *testing.T) {
		// Shutdown is not held by a writer that keeps the FIFO open and
		// writes nothing, nor by none at all.
		for _, withWriter := range []bool{false, true} {
			path := mkfifo(t)
			r := startRun(t, tailer.Config{Path: path})
			r.waitState(t, tailer.StateFollowing)
			if withWriter {
				w := openWriter(t, path)
				write(t, w, "one\n")
				r.waitLines(t, 1)
			}
			start := time.Now()
			if err := r.stop(t); err != nil {
				t.Fatalf("Run()=%v", err)
			}
			if took := time.Since(start); took > stopWithin {
				t.Fatalf("Run returned %v after cancel (writer: %v), want within %v", took, withWriter, stopWithin)
			}
		}
	})

	t.Run("AppearsAfterStart", func(t *testing.T) {
		// The FIFO is made after Run started waiting for the path (an
		// entrypoint script racing the server): it is read as a stream.
		path := filepath.Join(t.TempDir(), "access.log")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateWaiting)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		w := openWriter(t, path)
		write(t, w, "through the FIFO\n")
		assertLines(t, r.waitLines(t, 1), []tailer.Line{{Text: "through the FIFO"}})
	})

	t.Run("LastDoesNotBlock", func(t *testing.T) {
		path := mkfifo(t)
		done := make(chan error, 1)
		go func() {
			_, _, err := tailer.Last(path, 10, 0)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Fatalf("Last(FIFO) = %v, want a not-a-regular-file error", err)
			}
		case <-time.After(waitFor):
			t.Fatal("Last blocked on a FIFO without a writer")
		}
	})
}
