package format_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
)

const goodLine = `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.5.0"`

// badLine is a Combined line whose status has four digits: it stops
// matching at the status.
const badLine = `203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 2000 2326 "-" "curl/8.5.0"`

var badAt = strings.Index(badLine, "2000")

// warnReader is a reader of Combined lines whose logs go to the returned
// buffer.
func warnReader(window time.Duration) (*format.Reader, *bytes.Buffer) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	return format.MustCompile("combined").NewReader(format.ReaderConfig{Window: window, Logger: log}), &buf
}

// feed reads n copies of line, each step later than the one before,
// starting at *now, which it moves on.
func feed(r *format.Reader, now *time.Time, step time.Duration, line string, n int) {
	for range n {
		r.Read(line, false, *now)
		*now = now.Add(step)
	}
}

func TestReaderWarns(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

	t.Run("a share over one in ten, and at least ten", func(t *testing.T) {
		r, logs := warnReader(0)
		now := t0
		feed(r, &now, 100*time.Millisecond, goodLine, 90)
		feed(r, &now, 100*time.Millisecond, badLine, 10)
		if w := r.Warning(); w != nil || logs.Len() != 0 {
			t.Fatalf("warning for one line in ten: %+v\n%s", w, logs)
		}
		r, logs = warnReader(0)
		now = t0
		feed(r, &now, 100*time.Millisecond, goodLine, 80)
		feed(r, &now, 100*time.Millisecond, badLine+" first", 1)
		feed(r, &now, 100*time.Millisecond, badLine, 8)
		if w := r.Warning(); w != nil {
			t.Fatalf("warning after 9 misfits: %+v", w)
		}
		feed(r, &now, 100*time.Millisecond, badLine, 1)
		w := r.Warning()
		if w == nil {
			t.Fatal("no warning after 10 misfits of 90 lines")
		}
		if w.Line != badLine+" first" || w.At != badAt || !strings.HasPrefix(w.Near, "2000 2326") || len(w.Near) > 40 ||
			!w.Since.Equal(t0.Add(8*time.Second)) || w.Misfits != 10 || w.Lines != 90 {
			t.Fatalf("warning %+v, want the first misfit (at %d, since %v), 10 of 90", w, badAt, t0.Add(8*time.Second))
		}
		feed(r, &now, 100*time.Millisecond, badLine, 50)
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
			t.Fatalf("%d warnings logged, want one an episode:\n%s", n, logs)
		}
		if !strings.Contains(logs.String(), `format=combined`) || !strings.Contains(logs.String(), "near=") {
			t.Fatalf("the log line does not say the format and where: %s", logs)
		}
		if got := r.Format(); got != "combined" {
			t.Fatalf("Format()=%q", got)
		}
	})

	t.Run("clears when the lines fit again", func(t *testing.T) {
		r, logs := warnReader(0)
		now := t0
		feed(r, &now, time.Millisecond, badLine, 20)
		if r.Warning() == nil {
			t.Fatal("no warning after 20 misfits of 20 lines")
		}
		feed(r, &now, time.Millisecond, goodLine, 300)
		if r.Warning() == nil {
			t.Fatal("warning gone while 20 of 320 lines over the window did not fit")
		}
		// One in twenty clears it.
		feed(r, &now, time.Millisecond, goodLine, 80)
		if w := r.Warning(); w != nil {
			t.Fatalf("warning still there at 20 misfits of 400: %+v", w)
		}
		if n := strings.Count(logs.String(), "level=INFO"); n != 1 {
			t.Fatalf("%d all-clear lines logged, want 1:\n%s", n, logs)
		}
		// A new episode warns again, with its own first line.
		feed(r, &now, time.Millisecond, badLine+" again", 400)
		if w := r.Warning(); w == nil || !strings.HasSuffix(w.Line, " again") {
			t.Fatalf("second episode: warning %+v", w)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
			t.Fatalf("%d warnings logged over two episodes, want 2:\n%s", n, logs)
		}
	})

	t.Run("misfits spread thin do not warn", func(t *testing.T) {
		r, _ := warnReader(0)
		now := t0
		for range 100 {
			feed(r, &now, 100*time.Millisecond, goodLine, 10)
			feed(r, &now, 100*time.Millisecond, badLine, 1)
		}
		if w := r.Warning(); w != nil {
			t.Fatalf("warning for one line in eleven: %+v", w)
		}
	})

	t.Run("the window forgets", func(t *testing.T) {
		// A shortened window: misfits more than a window apart are
		// never ten at once.
		r, _ := warnReader(time.Second)
		now := t0
		feed(r, &now, 200*time.Millisecond, badLine, 50)
		if r.Warning() != nil {
			t.Fatal("warning for 5 misfits a second, with a window of a second")
		}
		r, _ = warnReader(time.Second)
		now = t0
		feed(r, &now, 10*time.Millisecond, badLine, 10)
		if r.Warning() == nil {
			t.Fatal("no warning for 10 misfits within the window")
		}
		// Quiet for longer than the window, then one line that fits.
		now = now.Add(time.Minute)
		feed(r, &now, time.Millisecond, goodLine, 1)
		if w := r.Warning(); w != nil {
			t.Fatalf("warning after a quiet window and a fitting line: %+v", w)
		}
	})

	t.Run("the line is cut", func(t *testing.T) {
		r, _ := warnReader(0)
		now := t0
		long := strings.Repeat("é", 1000)
		feed(r, &now, time.Millisecond, long, 20)
		w := r.Warning()
		if w == nil || len(w.Line) > 512 || len(w.Line) < 500 || !strings.HasPrefix(long, w.Line) || len(w.Near) > 40 {
			t.Fatalf("warning for a long line: %+v", w)
		}
	})
}

// Counts counts every record, and the lines that did not fit.
func TestReaderCounts(t *testing.T) {
	r := format.MustCompile(format.Auto).NewReader(format.ReaderConfig{})
	for _, l := range []string{goodLine, badLine, goodLine, "2026-12-07T10:00:00.1Z stdout P part", "2026-12-07T10:00:00.1Z stdout F  rest"} {
		r.Read(l, false, time.Time{})
	}
	if rec, errs, cut := r.Counts(); rec != 4 || errs != 2 || cut != 0 {
		t.Fatalf("Counts()=%d,%d,%d, want 4 records, 2 parse errors", rec, errs, cut)
	}
	if got := r.Format(); got != "auto: combined" {
		t.Fatalf("Format()=%q, want auto: combined", got)
	}
}

// An IIS log writes a block of directives at every restart: they are raw
// records, neither parse errors nor misfits, under w3c and under auto.
func TestReaderDirectives(t *testing.T) {
	lines := readLines(t, "testdata/samples/iis-w3c.log")
	directives := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			directives++
		}
	}
	// More than one line in ten: as misfits, they would warn.
	if directives*10 <= len(lines) {
		t.Fatalf("%d directives in %d lines: too few to have warned", directives, len(lines))
	}
	for _, spec := range []string{"w3c", "auto"} {
		t.Run(spec, func(t *testing.T) {
			var logs bytes.Buffer
			r := format.MustCompile(spec).NewReader(format.ReaderConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			for i, l := range lines {
				rec := r.Read(l, false, now)
				if directive := strings.HasPrefix(l, "#"); rec == nil || rec.Parsed == directive || rec.Line != l {
					t.Fatalf("line %d (a directive: %v): %+v", i+1, directive, rec)
				}
				now = now.Add(10 * time.Millisecond)
			}
			if recs, errs, cut := r.Counts(); recs != uint64(len(lines)) || errs != 0 || cut != 0 {
				t.Errorf("Counts()=%d,%d,%d, want %d records, no parse errors", recs, errs, cut, len(lines))
			}
			if w := r.Warning(); w != nil || logs.Len() != 0 {
				t.Errorf("warning %+v\n%s", w, &logs)
			}
			if got := r.Format(); got != "w3c" && got != "auto: w3c" {
				t.Errorf("Format()=%q", got)
			}
		})
	}
}

// ReadPast reads as Read does, auto recognition carrying on into the
// lines read after it, but counts nothing and never warns.
func TestReaderReadPast(t *testing.T) {
	var logs bytes.Buffer
	r := format.MustCompile(format.Auto).NewReader(format.ReaderConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range 50 {
		if rec := r.ReadPast(badLine, false); rec == nil || rec.Parsed || rec.Line != badLine {
			t.Fatalf("ReadPast(badLine) = %+v, want a raw record", rec)
		}
	}
	rec := r.ReadPast(goodLine, true)
	if rec == nil || !rec.Parsed || rec.Path != "/index.html" || rec.Status != 200 {
		t.Fatalf("ReadPast(goodLine) = %+v", rec)
	}
	if n, errs, cut := r.Counts(); n != 0 || errs != 0 || cut != 0 {
		t.Fatalf("Counts()=%d,%d,%d after ReadPast, want nothing counted", n, errs, cut)
	}
	if w := r.Warning(); w != nil || logs.Len() != 0 {
		t.Fatalf("a warning after ReadPast: %+v %s", w, logs.String())
	}
	if got := r.Format(); got != "auto: combined" {
		t.Fatalf("Format()=%q after ReadPast, want auto: combined", got)
	}
	r.Read(goodLine, false, time.Now())
	if n, _, _ := r.Counts(); n != 1 {
		t.Fatalf("Counts() %d after one Read, want 1", n)
	}
}
