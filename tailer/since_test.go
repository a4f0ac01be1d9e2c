package tailer_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/tailer"
)

// stampOf reads the time a test line starts with (an RFC 3339 time
// and a space); lines that do not start with one have none.
func stampOf(line string) (time.Time, bool) {
	i := strings.IndexByte(line, ' ')
	if i < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, line[:i])
	return t, err == nil
}

// logLine is one line of a test log, and whether it belongs to the window.
type logLine struct {
	text     string
	inWindow bool
}

// writeLog writes lines (each with "\n") and returns the path.
func writeLog(tb testing.TB, lines []logLine, tail string) string {
	tb.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	b.WriteString(tail)
	p := filepath.Join(tb.TempDir(), "access.log")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// spanLines reads the window's lines as a caller does: from From, lines
// with a time at or after from, lines without one from Start on.
func spanLines(tb testing.TB, s *tailer.Span, from time.Time) []string {
	tb.Helper()
	var out []string
	err := s.Lines(s.Size, func(l tailer.Line) bool {
		if t, ok := stampOf(l.Text); ok {
			if !t.Before(from) {
				out = append(out, l.Text)
			}
		} else if l.Offset > s.Start {
			out = append(out, l.Text)
		}
		return true
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func wantLines(lines []logLine) []string {
	var out []string
	for _, l := range lines {
		if l.inWindow {
			out = append(out, l.text)
		}
	}
	return out
}

func sameLines(tb testing.TB, got, want []string) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			tb.Fatalf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// spread makes n lines from start, step apart, each moved by up to jitter
// either way, padded to about size bytes; those at or after from are in
// the window.
func spread(n int, start time.Time, step, jitter time.Duration, from time.Time, size int) []logLine {
	rng := rand.New(rand.NewPCG(1, 2))
	pad := strings.Repeat("x", max(size-60, 0))
	lines := make([]logLine, n)
	for i := range lines {
		t := start.Add(time.Duration(i) * step)
		if jitter > 0 {
			t = t.Add(time.Duration(rng.Int64N(int64(2*jitter))) - jitter)
		}
		t = t.Truncate(time.Second)
		lines[i] = logLine{fmt.Sprintf("%s GET /%d %s", t.UTC().Format(time.RFC3339), i, pad), !t.Before(from)}
	}
	return lines
}

func since(tb testing.TB, path string, from time.Time) *tailer.Span {
	tb.Helper()
	s, err := tailer.Since(path, from, stampOf, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func TestSinceFindsTheLastHourOfABigFile(t *testing.T) {
	// Ten hours, a line a second of about 200 bytes: 7 MB.
	from := t0.Add(9 * time.Hour)
	lines := spread(36000, t0, time.Second, 0, from, 200)
	p := writeLog(t, lines, "")
	s := since(t, p, from)
	sameLines(t, spanLines(t, s, from), wantLines(lines))
	if read := s.BytesRead(); read > s.Size/5 {
		t.Errorf("read %d of %d bytes: the search should read little more than the last hour (a tenth)", read, s.Size)
	}
}

func TestSinceAFileOlderThanTheWindow(t *testing.T) {
	from := t0.Add(24 * time.Hour)
	lines := spread(20000, t0, time.Second, 0, from, 200)
	p := writeLog(t, lines, "")
	s := since(t, p, from)
	if got := spanLines(t, s, from); len(got) != 0 {
		t.Fatalf("got %d lines of a file older than the window, want none: %q", len(got), got[0])
	}
	if s.Start != s.Size {
		t.Errorf("Start %d, want the end %d", s.Start, s.Size)
	}
	if read := s.BytesRead(); read > 2*65536+64<<10 {
		t.Errorf("read %d of %d bytes of a file with nothing in the window", read, s.Size)
	}
}

func TestSinceAFileAllInTheWindow(t *testing.T) {
	from := t0.Add(-time.Hour)
	lines := spread(500, t0, time.Second, 0, from, 100)
	s := since(t, writeLog(t, lines, ""), from)
	if s.Start != 0 || s.From != 0 {
		t.Errorf("Start %d, From %d: want 0", s.Start, s.From)
	}
	sameLines(t, spanLines(t, s, from), wantLines(lines))
}

func TestSinceAnEmptyFile(t *testing.T) {
	s := since(t, writeLog(t, nil, ""), t0)
	if s.Size != 0 || s.Start != 0 || s.From != 0 {
		t.Errorf("size %d, Start %d, From %d: want 0", s.Size, s.Start, s.From)
	}
	if got := spanLines(t, s, t0); len(got) != 0 {
		t.Errorf("got %q from an empty file", got)
	}
}

func TestSinceLinesALittleOutOfOrder(t *testing.T) {
	// Ten lines a second, each up to 30 s off its place, as slow
	// requests make them: a thousand lines around the window's start are
	// in either order.
	from := t0.Add(time.Hour)
	lines := spread(60000, t0, 100*time.Millisecond, 30*time.Second, from, 150)
	s := since(t, writeLog(t, lines, ""), from)
	sameLines(t, spanLines(t, s, from), wantLines(lines))
}

func TestSinceUnparseableLines(t *testing.T) {
	from := t0.Add(2 * time.Hour)
	timed := spread(12000, t0, time.Second, 0, from, 120)
	var lines []logLine
	for i, l := range timed {
		lines = append(lines, l)
		if i%3 == 0 {
			// A line with no time belongs where it lies: with the next
			// line that has one.
			lines = append(lines, logLine{fmt.Sprintf("garbage %d \x00\xff", i), i+1 < len(timed) && timed[i+1].inWindow})
		}
	}
	s := since(t, writeLog(t, lines, ""), from)
	sameLines(t, spanLines(t, s, from), wantLines(lines))
}

func TestSinceAFileWithNoTimes(t *testing.T) {
	var lines []logLine
	for i := range 5000 {
		lines = append(lines, logLine{text: fmt.Sprintf("no time here %d", i)})
	}
	s := since(t, writeLog(t, lines, ""), t0)
	if s.Start != s.Size || s.From != s.Size {
		t.Errorf("Start %d, From %d: want the end, %d", s.Start, s.From, s.Size)
	}
}

func TestSinceAPartialLastLine(t *testing.T) {
	from := t0.Add(time.Hour)
	lines := spread(7200, t0, time.Second, 0, from, 100)
	p := writeLog(t, lines, t0.Add(3*time.Hour).Format(time.RFC3339)+" GET /partial")
	s := since(t, p, from)
	got := spanLines(t, s, from)
	sameLines(t, got, wantLines(lines))
}

func TestSinceStopsWhereAsked(t *testing.T) {
	from := t0.Add(time.Hour)
	lines := spread(7200, t0, time.Second, 0, from, 100)
	s := since(t, writeLog(t, lines, ""), from)
	var last tailer.Line
	n := 0
	stop := s.Start + (s.Size-s.Start)/2
	if err := s.Lines(stop, func(l tailer.Line) bool { last = l; n++; return true }); err != nil {
		t.Fatal(err)
	}
	if last.Offset > stop || last.File != s.File {
		t.Fatalf("last line ends at %d, past the stop %d (or another file)", last.Offset, stop)
	}
	n = 0
	if err := s.Lines(s.Size, func(tailer.Line) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Fatalf("fn returned false at the third line, Lines went to %d lines (err %v)", n, err)
	}
}

func TestSinceCutsLongLines(t *testing.T) {
	from := t0.Add(time.Minute)
	lines := spread(200, t0, time.Second, 0, from, 5000)
	p := writeLog(t, lines, "")
	s, err := tailer.Since(p, from, stampOf, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := 0
	err = s.Lines(s.Size, func(l tailer.Line) bool {
		if !l.Truncated || len(l.Text) != 1000 {
			t.Fatalf("a line of 5000 bytes came out with %d bytes, truncated %v", len(l.Text), l.Truncated)
		}
		n++
		return true
	})
	if err != nil || n == 0 {
		t.Fatalf("%d lines, err %v", n, err)
	}
}

func TestSinceNotAFile(t *testing.T) {
	if _, err := tailer.Since(t.TempDir(), t0, stampOf, 0); err == nil {
		t.Fatal("a directory: want an error")
	}
	if _, err := tailer.Since(filepath.Join(t.TempDir(), "none"), t0, stampOf, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: err %v, want one that wraps fs.ErrNotExist", err)
	}
}

// BenchmarkSince finds the last hour of a day's log of about 20 MB and
// reads it: bytes_read/op against file_bytes is the share of the file
// read.
func BenchmarkSince(b *testing.B) {
	from := t0.Add(23 * time.Hour)
	lines := spread(86400, t0, time.Second, 10*time.Second, from, 230)
	p := writeLog(b, lines, "")
	b.ResetTimer()
	var read, size int64
	for b.Loop() {
		s, err := tailer.Since(p, from, stampOf, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Lines(s.Size, func(tailer.Line) bool { return true }); err != nil {
			b.Fatal(err)
		}
		read, size = s.BytesRead(), s.Size
		s.Close()
	}
	b.ReportMetric(float64(read), "bytes_read/op")
	b.ReportMetric(float64(size), "file_bytes")
}

// A run of lines without a time just before the window, longer than a
// probe looks: the margin stops there, and the search still reads little.
func TestSinceARunOfLinesWithoutTime(t *testing.T) {
	from := t0.Add(5 * time.Hour)
	old := spread(30000, t0, 500*time.Millisecond, 0, from, 150)
	lines := append([]logLine(nil), old...)
	var junk []logLine
	for i := range 3000 {
		junk = append(junk, logLine{fmt.Sprintf("junk line %d %s", i, strings.Repeat("j", 40)), false})
	}
	recent := spread(3000, from.Add(time.Minute), time.Second, 0, from, 150)
	lines = append(append(lines, junk...), recent...)
	// The junk lies between the last old line and the first new one:
	// the window starts with it.
	for i := range junk {
		lines[len(old)+i].inWindow = true
	}
	s := since(t, writeLog(t, lines, ""), from)
	sameLines(t, spanLines(t, s, from), wantLines(lines))
	if read := s.BytesRead(); read > s.Size/4 {
		t.Errorf("read %d of %d bytes", read, s.Size)
	}
}
