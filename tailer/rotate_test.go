package tailer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// Test writers write writeBurst lines, one write() each, then pause for
// writeEvery: about 4,000 lines a second (a sleep lasts about a
// millisecond on Linux, whatever is asked below it), a busy server, so
// that every rotation step happens while lines are written.
const (
	writeBurst = 4
	writeEvery = time.Millisecond
)

// numbered is the text of line i of a test writer.
func numbered(i int) string { return fmt.Sprintf("line %06d", i) }

// lineWriter is a web server writing its access log: numbered lines at a
// steady pace through its own descriptor, opened with O_APPEND, which it
// keeps across renames and deletes until told to reopen the path (nginx
// after USR1). With split, each line goes out in three write() calls.
type lineWriter struct {
	path  string
	split bool

	mu sync.Mutex // held for each line written; hold takes it to keep writes out of a step
	f  *os.File
	n  int // lines written

	stop chan struct{}
	done chan struct{}
}

func startWriter(tb testing.TB, path string, split bool) *lineWriter {
	tb.Helper()
	w := &lineWriter{path: path, split: split, stop: make(chan struct{}), done: make(chan struct{})}
	w.open(tb)
	go w.loop()
	tb.Cleanup(func() {
		w.halt()
		w.f.Close()
	})
	return w
}

func (w *lineWriter) open(tb testing.TB) {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	w.f = f
}

func (w *lineWriter) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		w.mu.Lock()
		line := numbered(w.n+1) + "\n"
		if w.split {
			for _, part := range []string{line[:3], line[3:7], line[7:]} {
				w.f.WriteString(part)
			}
		} else {
			w.f.WriteString(line)
		}
		w.n++
		pause := w.n%writeBurst == 0
		w.mu.Unlock()
		if pause {
			time.Sleep(writeEvery)
		}
	}
}

func (w *lineWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func (w *lineWriter) written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// waitWritten waits until the writer has written n lines in all.
func (w *lineWriter) waitWritten(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for w.written() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("the writer wrote %d lines within %v, want %d", w.written(), waitFor, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// more waits until the writer has written n more lines.
func (w *lineWriter) more(tb testing.TB, n int) {
	tb.Helper()
	w.waitWritten(tb, w.written()+n)
}

// hold runs fn while no line is being written.
func (w *lineWriter) hold(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn()
}

// reopen makes the writer open the path again, as nginx does on USR1.
func (w *lineWriter) reopen(tb testing.TB) {
	tb.Helper()
	w.hold(func() {
		w.f.Close()
		w.open(tb)
	})
}

// finish stops the writer, writes the sentinel line through its
// descriptor and returns how many numbered lines it wrote.
func (w *lineWriter) finish(tb testing.TB) int {
	tb.Helper()
	w.halt()
	if _, err := w.f.WriteString(sentinel + "\n"); err != nil {
		tb.Fatal(err)
	}
	return w.n
}

// waitSentinel waits for the sentinel line and returns the lines before it.
func (r *run) waitSentinel(tb testing.TB) []tailer.Line {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := r.snapshot()
		for i, l := range got {
			if l.Text == sentinel {
				return got[:i]
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no sentinel line within %v; got %d lines, the last %q", waitFor, len(got), texts(got[max(0, len(got)-3):]))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// assertNumbered checks that got is exactly the numbered lines first..last,
// in order, each once, and that the offsets within each file follow on
// from each other: no byte of a file was skipped or read twice.
func assertNumbered(tb testing.TB, got []tailer.Line, first, last int) {
	tb.Helper()
	if len(got) != last-first+1 {
		missing, dup := diffNumbered(got, first, last)
		tb.Fatalf("got %d lines, want %d (lines %d..%d); missing %v, duplicated %v", len(got), last-first+1, first, last, missing, dup)
	}
	next := map[tailer.FileID]int64{}
	for i, l := range got {
		if want := numbered(first + i); l.Text != want {
			missing, dup := diffNumbered(got, first, last)
			tb.Fatalf("line %d is %q, want %q; missing %v, duplicated %v", i, short(l.Text), want, missing, dup)
		}
		if l.File.Inode == 0 || l.File.FingerprintLen == 0 {
			tb.Fatalf("line %q has file %+v, want an inode and a fingerprint", l.Text, l.File)
		}
		end := l.Offset - int64(len(l.Text)) - 1
		if want, ok := next[l.File]; ok && end != want {
			tb.Fatalf("line %q ends at %d in its file, want %d: bytes skipped or read twice", l.Text, l.Offset, want+int64(len(l.Text))+1)
		}
		next[l.File] = l.Offset
	}
}

// diffNumbered lists the numbered lines missing from got and those in it
// more than once, for failure messages.
func diffNumbered(got []tailer.Line, first, last int) (missing, dup []int) {
	seen := map[int]int{}
	for _, l := range got {
		var k int
		if _, err := fmt.Sscanf(l.Text, "line %d", &k); err == nil {
			seen[k]++
		}
	}
	for k := first; k <= last; k++ {
		if seen[k] == 0 && len(missing) < 20 {
			missing = append(missing, k)
		}
		if seen[k] > 1 && len(dup) < 20 {
			dup = append(dup, k)
		}
	}
	return missing, dup
}

func rename(tb testing.TB, from, to string) {
	tb.Helper()
	if err := os.Rename(from, to); err != nil {
		tb.Fatal(err)
	}
}

// copyFile copies like logrotate's copytruncate: a new file with the
// same bytes.
func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	src, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestRotation(t *testing.T) {
	t.Run("RenameWhileTheWriterKeepsWriting", func(t *testing.T) {
		// logrotate renames the log and creates a new one; nginx writes
		// to the renamed file until USR1 makes it reopen the path. Every
		// line of both files arrives once, in order.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		w := startWriter(t, path, false)
		r := startRun(t, tailer.Config{Path: path})
		w.more(t, 300)

		rename(t, path, path+".1")
		w.more(t, 300) // to the renamed file
		writeFile(t, path, "")
		w.more(t, 300) // still to the renamed file, while the new one is empty
		if ps := r.t.Positions(); len(ps) != 2 {
			t.Errorf("Positions()=%+v while the renamed file is drained, want 2 files", ps)
		}
		w.reopen(t)
		w.more(t, 300)
		n := w.finish(t)
		assertNumbered(t, r.waitSentinel(t), 1, n)
	})

	t.Run("RepeatedFast", func(t *testing.T) {
		// Ten rotations in quick succession, each with writes to the old
		// file after the rename: several old files are drained at once.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		w := startWriter(t, path, false)
		r := startRun(t, tailer.Config{Path: path})
		for i := 1; i <= 10; i++ {
			w.more(t, 30)
			rename(t, path, fmt.Sprintf("%s.%d", path, i))
			w.more(t, 10)
			writeFile(t, path, "")
			w.more(t, 10)
			w.reopen(t)
		}
		w.more(t, 50)
		n := w.finish(t)
		assertNumbered(t, r.waitSentinel(t), 1, n)
	})

	t.Run("DeletedAndRecreatedWhileWriting", func(t *testing.T) {
		// The log is deleted while the writer still has it open and
		// writes on: those lines are read from the deleted file. Then the
		// writer creates it again.
		path := filepath.Join(t.TempDir(), "access.log")
		w := startWriter(t, path, false)
		r := startRun(t, tailer.Config{Path: path})
		w.more(t, 300)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		w.more(t, 300)
		w.reopen(t) // O_CREATE: a new file
		w.more(t, 300)
		n := w.finish(t)
		assertNumbered(t, r.waitSentinel(t), 1, n)
	})

	t.Run("Copytruncate", func(t *testing.T) {
		// logrotate's copytruncate, three times: the log is copied, then
		// truncated in place, while the writer, with O_APPEND, goes on
		// writing at the new end. Writes are held off between the copy
		// and the truncation (that window is logrotate's own race, see
		// CopytruncateRace), so every line is in the copy or in the log:
		// each arrives once, from wherever it was read.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		w := startWriter(t, path, false)
		r := startRun(t, tailer.Config{Path: path})
		for i := 0; i < 3; i++ {
			w.more(t, 300)
			w.hold(func() {
				if i > 0 {
					rename(t, path+".1", path+".2")
				}
				copyFile(t, path, path+".1")
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
			})
		}
		w.more(t, 300)
		n := w.finish(t)
		assertNumbered(t, r.waitSentinel(t), 1, n)
	})

	t.Run("CopytruncateRace", func(t *testing.T) {
		// The same without holding writes off: lines written between the
		// copy and the truncation may be in neither file. What is
		// achievable, and asserted: every line that is in the copy or in
		// the log arrives, once, in order; any line missing is in
		// neither.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		w := startWriter(t, path, false)
		r := startRun(t, tailer.Config{Path: path})
		w.more(t, 300)
		copyFile(t, path, path+".1")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		w.more(t, 300)
		n := w.finish(t)
		got := r.waitSentinel(t)

		inFiles := map[string]bool{}
		for _, p := range []string{path + ".1", path} {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(b), "\n") {
				inFiles[l] = true
			}
		}
		k := 1
		for _, l := range got {
			for ; k <= n && numbered(k) != l.Text; k++ {
				if inFiles[numbered(k)] {
					t.Fatalf("line %q is in the files but was not delivered", numbered(k))
				}
			}
			if k > n {
				t.Fatalf("line %q delivered out of order or twice", l.Text)
			}
			k++
		}
		for ; k <= n; k++ {
			if inFiles[numbered(k)] {
				t.Fatalf("line %q is in the files but was not delivered", numbered(k))
			}
		}
	})

	t.Run("CopytruncateWhileBehind", func(t *testing.T) {
		// The follower is behind when the copy is made and the log
		// truncated (emit is slow), so lines it had not read yet exist
		// only in the copy: it finds the copy by the log's first line and
		// reads them from there, then the log from its start.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r, gate := startGatedRun(t, tailer.Config{Path: path})
		appendNumbered(t, path, 1, 100)
		r.waitLines(t, 100)
		gate.shut()
		appendNumbered(t, path, 101, 150)
		gate.waitHeld(t) // Run is inside emit for line 101, with the chunk it read
		appendNumbered(t, path, 151, 200)
		copyFile(t, path, path+".1")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendNumbered(t, path, 201, 300)
		gate.open()

		appendFile(t, path, sentinel+"\n")
		assertNumbered(t, r.waitSentinel(t), 1, 300)
	})

	t.Run("OldFileFirst", func(t *testing.T) {
		// While the follower is busy (held in emit), the log is renamed,
		// the writer writes to the old file, then to the new one. The
		// follower then finds both grown at once: the old file's lines
		// were written first and come first. (Between two writers, one on
		// each file, there is no order to keep: nothing in the files says
		// which line was written first.)
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r, gate := startGatedRun(t, tailer.Config{Path: path})
		old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		old.WriteString(numbered(1) + "\n" + numbered(2) + "\n")
		r.waitLines(t, 2)
		gate.shut()
		old.WriteString(numbered(3) + "\n")
		gate.waitHeld(t) // Run is inside emit for line 3
		rename(t, path, path+".1")
		old.WriteString(numbered(4) + "\n" + numbered(5) + "\n")
		writeFile(t, path+".new", "")
		appendNumbered(t, path+".new", 6, 8)
		rename(t, path+".new", path)
		gate.open()

		appendFile(t, path, numbered(9)+"\n"+sentinel+"\n")
		assertNumbered(t, r.waitSentinel(t), 1, 9)
	})

	t.Run("TruncatedWhileWriting", func(t *testing.T) {
		// The log is emptied in place three times, each time once the
		// follower has read everything (what was written and not read
		// before a truncation is gone with it), while the writer goes on.
		path := filepath.Join(t.TempDir(), "access.log")
		w := startWriter(t, path, false)
		r := startRun(t, tailer.Config{Path: path})
		for i := 0; i < 3; i++ {
			w.more(t, 300)
			w.hold(func() {
				r.waitLines(t, w.n)
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
			})
		}
		w.more(t, 300)
		n := w.finish(t)
		assertNumbered(t, r.waitSentinel(t), 1, n)
	})

	t.Run("TruncatedAndRegrownPastTheOffset", func(t *testing.T) {
		// The log is truncated and written again past the offset read up
		// to before the follower looks: the size never shrinks from its
		// point of view. Its first line changed, and that is how it tells.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r, gate := startGatedRun(t, tailer.Config{Path: path})
		appendNumbered(t, path, 1, 50)
		r.waitLines(t, 50)
		gate.shut()
		appendNumbered(t, path, 51, 51)
		gate.waitHeld(t) // Run is inside emit for line 51
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendNumbered(t, path, 52, 300) // far past the old end
		gate.open()

		appendFile(t, path, sentinel+"\n")
		assertNumbered(t, r.waitSentinel(t), 1, 300)
	})

	t.Run("LinesInSeveralWrites", func(t *testing.T) {
		// Every line is written in three write() calls while the
		// follower reads: each still arrives as one line, and a rotation
		// in between changes nothing.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		w := startWriter(t, path, true)
		r := startRun(t, tailer.Config{Path: path})
		w.more(t, 500)
		rename(t, path, path+".1")
		w.more(t, 100)
		w.reopen(t)
		w.more(t, 500)
		n := w.finish(t)
		assertNumbered(t, r.waitSentinel(t), 1, n)
	})

	t.Run("DirectoryRemovedAndRecreated", func(t *testing.T) {
		// The log's directory goes away and comes back: the follower
		// waits, then reads the new file from its start.
		dir := filepath.Join(t.TempDir(), "logs")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "before\n")
		r.waitLines(t, 1)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		r.waitState(t, tailer.StateWaiting)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, "after\n")
		assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{{Text: "before", Offset: 7}, {Text: "after", Offset: 6}})
	})

	t.Run("RotatedFileClosedAfterRotateWait", func(t *testing.T) {
		// A renamed file is read until it has not grown for RotateWait,
		// then closed: Positions drops it.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path, RotateWait: 300 * time.Millisecond})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "old\n")
		r.waitLines(t, 1)
		rename(t, path, path+".1")
		writeFile(t, path, "new\n")
		r.waitLines(t, 2)
		waitUntil(t, "the renamed file is closed", func() bool { return len(r.t.Positions()) == 1 })
		ps := r.t.Positions()
		if got := r.snapshot(); ps[0].File != got[1].File || ps[0].Offset != 4 {
			t.Fatalf("Positions()=%+v, want the new file at 4", ps)
		}
	})

	t.Run("MovedAwayForLongAndBack", func(t *testing.T) {
		// Moved away for longer than RotateWait, the file is closed; when
		// it comes back it is known again, and read on, not again.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path, RotateWait: 100 * time.Millisecond})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "one\ntwo\n")
		r.waitLines(t, 2)
		rename(t, path, path+".away")
		waitUntil(t, "the moved file is closed", func() bool { return len(r.t.Positions()) == 0 })
		rename(t, path+".away", path)
		appendFile(t, path, "three\n")
		assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{
			{Text: "one", Offset: 4},
			{Text: "two", Offset: 8},
			{Text: "three", Offset: 14},
		})
	})

	t.Run("PartialLastLineOfARotatedFile", func(t *testing.T) {
		// Bytes after the last "\n" of a rotated file are data too: they
		// are delivered as a line when the file is closed.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r := startRun(t, tailer.Config{Path: path, RotateWait: 100 * time.Millisecond})
		r.waitState(t, tailer.StateFollowing)
		appendFile(t, path, "whole\nhalf a li")
		r.waitLines(t, 1)
		rename(t, path, path+".1")
		writeFile(t, path, "")
		assertLines(t, r.waitLines(t, 2), []tailer.Line{{Text: "whole", Offset: 6}, {Text: "half a li", Offset: 15}})
		appendFile(t, path, "next\n")
		assertLines(t, r.linesBeforeSentinel(t, path)[2:], []tailer.Line{{Text: "next", Offset: 5}})
	})
}

func TestResume(t *testing.T) {
	t.Run("AcrossARotationWhileStopped", func(t *testing.T) {
		// Stopped, the log is renamed, written to (the old file by the
		// writer that kept it, then the new one), and the follower
		// resumes from its Positions: the rest of the old file from where
		// it stopped, then the new file from its start.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		w := startWriter(t, path, false)
		r1 := startRun(t, tailer.Config{Path: path})
		w.more(t, 300)
		if err := r1.stop(t); err != nil {
			t.Fatalf("Run()=%v", err)
		}
		ps := r1.t.Positions()
		w.more(t, 100) // not followed
		rename(t, path, path+".1")
		w.more(t, 100)
		writeFile(t, path, "")
		w.reopen(t)
		w.more(t, 100)

		logs := &logRecorder{}
		r2 := startRun(t, tailer.Config{Path: path, Resume: ps, Logger: slog.New(logs)})
		w.more(t, 100)
		n := w.finish(t)
		assertNumbered(t, append(r1.snapshot(), r2.waitSentinel(t)...), 1, n)
		logs.waitCount(t, "rotated since the saved position", 1)
	})

	t.Run("WhileARotatedFileIsDrained", func(t *testing.T) {
		// Stopped while the renamed file is still being drained: both
		// files are in Positions, and both are read on from there.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r1 := startRun(t, tailer.Config{Path: path})
		r1.waitState(t, tailer.StateFollowing)
		appendNumbered(t, path, 1, 10)
		r1.waitLines(t, 10)
		rename(t, path, path+".1")
		appendNumbered(t, path+".1", 11, 20)
		writeFile(t, path, "")
		appendNumbered(t, path, 21, 30)
		r1.waitLines(t, 30)
		if err := r1.stop(t); err != nil {
			t.Fatalf("Run()=%v", err)
		}
		ps := r1.t.Positions()
		if len(ps) != 2 {
			t.Fatalf("Positions()=%+v, want the renamed file and the new one", ps)
		}
		// While stopped, the old writer and the new one both write.
		appendNumbered(t, path+".1", 31, 40)
		appendNumbered(t, path, 41, 50)

		r2 := startRun(t, tailer.Config{Path: path, Resume: ps})
		got := r2.waitLines(t, 20)
		var want []string
		for k := 31; k <= 50; k++ {
			want = append(want, numbered(k))
		}
		if got := strings.Join(texts(got), ","); got != strings.Join(want, ",") {
			t.Fatalf("after resuming: %s, want lines 31..50", got)
		}
		appendFile(t, path, sentinel+"\n")
		if after := r2.waitSentinel(t); len(after) != 20 {
			t.Fatalf("after resuming: %d lines, want 20", len(after))
		}
	})

	t.Run("CopytruncateWhileStopped", func(t *testing.T) {
		// Stopped, the log is copied and truncated, and written to: the
		// copy holds the lines after the saved offset, the log the rest.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "")
		r1 := startRun(t, tailer.Config{Path: path})
		r1.waitState(t, tailer.StateFollowing)
		appendNumbered(t, path, 1, 100)
		r1.waitLines(t, 100)
		if err := r1.stop(t); err != nil {
			t.Fatalf("Run()=%v", err)
		}
		appendNumbered(t, path, 101, 150)
		copyFile(t, path, path+".1")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendNumbered(t, path, 151, 200)

		r2 := startRun(t, tailer.Config{Path: path, Resume: r1.t.Positions()})
		appendFile(t, path, sentinel+"\n")
		assertNumbered(t, append(r1.snapshot(), r2.waitSentinel(t)...), 1, 200)
	})

	t.Run("PositionsOfAnotherFile", func(t *testing.T) {
		// Positions that name no file here (the state of another log):
		// a warning, and the file is followed from its end.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "history 1\nhistory 2\n")
		logs := &logRecorder{}
		other := []tailer.Position{{File: tailer.FileID{Dev: 1, Inode: 999999, Fingerprint: 42, FingerprintLen: 10}, Offset: 5}}
		r := startRun(t, tailer.Config{Path: path, Resume: other, Logger: slog.New(logs)})
		r.waitState(t, tailer.StateFollowing)
		logs.waitCount(t, "following from the end", 1)
		appendFile(t, path, "news\n")
		assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{{Text: "news", Offset: 25}})
	})

	t.Run("SameFileFromLast", func(t *testing.T) {
		// Last's end, given as Resume, starts exactly after the last
		// complete line, and still applies if the file was rotated
		// between Last and Run.
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		writeFile(t, path, "a\nb\n")
		_, end, err := tailer.Last(path, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, "c\n")
		rename(t, path, path+".1")
		writeFile(t, path, "d\n")
		r := startRun(t, tailer.Config{Path: path, Resume: []tailer.Position{end}})
		assertLines(t, r.linesBeforeSentinel(t, path), []tailer.Line{{Text: "c", Offset: 6}, {Text: "d", Offset: 2}})
	})
}

// startRunEmit is startRun with before called in emit, before the line is
// recorded: a test can hold Run inside emit.
func startRunEmit(tb testing.TB, c tailer.Config, before func(tailer.Line)) *run {
	tb.Helper()
	r := &run{}
	return startRunInto(tb, r, c, func(l tailer.Line) {
		before(l)
		r.mu.Lock()
		r.lines = append(r.lines, l)
		r.mu.Unlock()
	})
}

// startRunFunc starts Run with emit, which is all there is: the run does
// not record lines.
func startRunFunc(tb testing.TB, c tailer.Config, emit func(tailer.Line)) *run {
	tb.Helper()
	return startRunInto(tb, &run{}, c, emit)
}

// startRunInto starts Run with c and emit, as r, and stops it when the
// test ends.
func startRunInto(tb testing.TB, r *run, c tailer.Config, emit func(tailer.Line)) *run {
	tb.Helper()
	tl, err := tailer.New(c)
	if err != nil {
		tb.Fatalf("New()=%v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.t, r.cancel, r.done = tl, cancel, make(chan error, 1)
	go func() { r.done <- tl.Run(ctx, emit) }()
	// Health pages and checkpoints ask for the state and positions at any
	// time: ask all along, for the race detector.
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for ctx.Err() == nil {
			tl.State()
			tl.Positions()
			time.Sleep(time.Millisecond)
		}
	}()
	tb.Cleanup(func() { cancel(); <-probed })
	tb.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitFor):
			tb.Errorf("Run did not return within %v of cancel", waitFor)
		}
	})
	return r
}

// appendNumbered appends the numbered lines first..last in one write.
func appendNumbered(tb testing.TB, path string, first, last int) {
	tb.Helper()
	var sb strings.Builder
	for k := first; k <= last; k++ {
		sb.WriteString(numbered(k) + "\n")
	}
	appendFile(tb, path, sb.String())
}

// gate holds Run inside emit while it is shut, so that a test can change
// the files while Run has read a chunk and not yet delivered all of it.
type gate struct {
	mu   sync.Mutex
	pass chan struct{} // closed while the gate is open
	held chan struct{} // a send when emit arrives at the shut gate
}

// startGatedRun is startRun with a gate in emit, open to begin with.
func startGatedRun(tb testing.TB, c tailer.Config) (*run, *gate) {
	g := &gate{pass: make(chan struct{}), held: make(chan struct{}, 1)}
	close(g.pass)
	r := startRunEmit(tb, c, func(tailer.Line) {
		g.mu.Lock()
		pass := g.pass
		g.mu.Unlock()
		select {
		case <-pass:
			return
		default:
		}
		select {
		case g.held <- struct{}{}:
		default:
		}
		<-pass
	})
	tb.Cleanup(g.open) // Run must be able to return
	return r, g
}

// shut makes the next line wait in emit.
func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.pass:
		g.pass = make(chan struct{})
	default:
	}
}

// open lets lines through again.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.pass:
	default:
		close(g.pass)
	}
}

// waitHeld waits until Run is held in emit by the shut gate.
func (g *gate) waitHeld(tb testing.TB) {
	tb.Helper()
	select {
	case <-g.held:
	case <-time.After(waitFor):
		tb.Fatalf("Run did not reach the gate within %v", waitFor)
	}
}

// waitUntil polls cond until it holds.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
