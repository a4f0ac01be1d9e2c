package tailer_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/tailer"
)

// rewritten is the text of line i of a file written again over a
// truncated log: other lines, of another length, than numbered's, so that
// an old offset falls in the middle of one of them.
func rewritten(i int) string { return fmt.Sprintf("written again %06d", i) }

// writeRewritten writes the file again from its start: the log's own
// first line (numbered(1)), then rewritten(2..n).
func writeRewritten(tb testing.TB, path string, n int) {
	tb.Helper()
	var sb strings.Builder
	sb.WriteString(numbered(1) + "\n")
	for i := 2; i <= n; i++ {
		sb.WriteString(rewritten(i) + "\n")
	}
	writeFile(tb, path, sb.String())
}

// assertRewritten checks that got is the file writeRewritten wrote, from
// its first line, whole lines only.
func assertRewritten(tb testing.TB, got []tailer.Line, n int) {
	tb.Helper()
	if len(got) != n {
		tb.Fatalf("%d lines of the rewritten file, want %d: first %q", len(got), n, texts(got[:min(len(got), 3)]))
	}
	for i, l := range got {
		want := rewritten(i + 1)
		if i == 0 {
			want = numbered(1)
		}
		if l.Text != want {
			tb.Fatalf("line %d of the rewritten file is %q, want %q", i+1, l.Text, want)
		}
	}
}

func TestTruncation(t *testing.T) {
	t.Run("ToAShorterSizeThenAppended", func(t *testing.T) {
		// truncate -s 100 on a log read far past 100, then more lines:
		// the file is shorter than what was read, so it was truncated,
		// however long after the follower notices. It is read again from
		// its start: the lines the truncation kept come again, the one it
		// cut is joined to the first line written after it (that is what
		// the file holds), and every appended line arrives.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		logs := &logRecorder{}
		r := startRun(t, tailer.Config{Path: path, Logger: slog.New(logs)})
		r.waitState(t, tailer.StateFollowing)
		appendNumbered(t, path, 1, 2000)
		r.waitLines(t, 2000)

		if err := os.Truncate(path, 100); err != nil {
			t.Fatal(err)
		}
		appendNumbered(t, path, 2001, 3000)
		got := r.linesBeforeSentinel(t, path)[2000:]

		lineLen := len(numbered(1)) + 1
		kept := 100 / lineLen // whole lines left by the truncation
		var want []tailer.Line
		off := int64(0)
		for i := 1; i <= kept; i++ {
			off += int64(lineLen)
			want = append(want, tailer.Line{Text: numbered(i), Offset: off})
		}
		cut := numbered(kept + 1)[:100-kept*lineLen]
		off = 100
		for i := 2001; i <= 3000; i++ {
			text := numbered(i)
			off += int64(lineLen)
			if i == 2001 {
				text = cut + text
			}
			want = append(want, tailer.Line{Text: text, Offset: off})
		}
		assertLines(t, got, want)
		logs.waitCount(t, "truncated", 1)
		if ps := r.t.Positions(); len(ps) != 1 || ps[0].Offset != off+int64(len(sentinel))+1 {
			t.Fatalf("Positions()=%+v, want one file read to %d", ps, off+int64(len(sentinel))+1)
		}
	})

	t.Run("RewrittenPastTheOffsetWhileBusy", func(t *testing.T) {
		// While the follower is busy (held in emit), the log is truncated
		// to 0 and written again with the same first line, past the
		// offset the follower reached: what precedes that offset is no
		// longer the end of a line it read, so the file is read again
		// from its start, not on from the middle of a line.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, numbered(1)+"\n")
		logs := &logRecorder{}
		r, gate := startGatedRun(t, tailer.Config{Path: path, Logger: slog.New(logs)})
		r.waitLines(t, 1)
		gate.shut()
		appendNumbered(t, path, 2, 2000)
		gate.waitHeld(t) // Run is inside emit, with the chunk it read
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeRewritten(t, path, 3000) // O_TRUNC, then more than before
		if fi, err := os.Stat(path); err != nil || fi.Size() <= int64(len(old)) {
			t.Fatalf("the rewritten file is not longer than the old one (%v)", err)
		}
		gate.open()

		got := r.linesBeforeSentinel(t, path)
		// The old lines read before the truncation come first, in order;
		// then the new file, whole.
		k := 0
		for k < len(got) && k < 2000 && got[k].Text == numbered(k+1) {
			k++
		}
		if k < 2 {
			t.Fatalf("the first lines are %q, want the old lines read before the truncation", texts(got[:min(3, len(got))]))
		}
		assertRewritten(t, got[k:], 3000)
		logs.waitCount(t, "truncated", 1)
	})

	t.Run("RewrittenPastTheOffsetWhileStopped", func(t *testing.T) {
		// The same while nothing follows the file: Resume's position is
		// no longer after a line of the file, though the file has its
		// inode, its first line and more bytes than the offset.
		path := filepath.Join(t.TempDir(), "access.log")
		writeFile(t, path, "")
		r1 := startRun(t, tailer.Config{Path: path})
		r1.waitState(t, tailer.StateFollowing)
		appendNumbered(t, path, 1, 2000)
		r1.waitLines(t, 2000)
		if err := r1.stop(t); err != nil {
			t.Fatalf("Run()=%v", err)
		}
		ps := r1.t.Positions()

		writeRewritten(t, path, 3000) // O_TRUNC: the same inode

		logs := &logRecorder{}
		r2 := startRun(t, tailer.Config{Path: path, Resume: ps, Logger: slog.New(logs)})
		assertRewritten(t, r2.linesBeforeSentinel(t, path), 3000)
		logs.waitCount(t, "lines written to it after the saved position are lost", 1)
	})
}
