package format

import (
	"log/slog"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/record"
)

// DefaultMaxLine is the longest line a Reader joins from the parts a
// container runtime split it into, when ReaderConfig.MaxLine is zero; it
// is the tailer's default line length.
const DefaultMaxLine = 64 << 10

// DefaultWindow is the span over which a Reader counts the lines that do
// not fit its format, when ReaderConfig.Window is zero: long enough that a
// burst of odd lines (a scanner's garbage, one bad request) does not warn,
// short enough that a wrong --format or a new log_format is told within a
// minute.
const DefaultWindow = time.Minute

// The warning's thresholds: more than one line in warnShare does not fit,
// and at least warnMin lines did not (one stray line in a quiet log is
// not a wrong format). It clears once no more than one in clearShare
// fails, so that a share hovering at the threshold warns once, not at
// every line.
const (
	warnShare  = 10
	clearShare = 2 * warnShare
	warnMin    = 10
)

// windowBuckets is how many parts the window is counted in: the window
// slides by a sixth of itself, ten seconds of the default minute.
const windowBuckets = 6

// A warning shows at most maxWarnLine bytes of the line, and nearLen from
// where the format stopped matching: enough to recognise the line and
// the field, bounded whatever the line's length.
const (
	maxWarnLine = 512
	nearLen     = 40
)

// ReaderConfig configures a Reader. Its zero value works.
type ReaderConfig struct {
	// MaxLine cuts a line joined from parts (CRI "P" lines, Docker's
	// split lines) at this many bytes. Zero means DefaultMaxLine.
	MaxLine int
	// Window is the span over which lines that do not fit are counted
	// for the warning. Zero means DefaultWindow.
	Window time.Duration
	// Logger receives one Warn when the lines stop fitting and one Info
	// when they fit again. Nil means discard.
	Logger *slog.Logger
}

// Reader turns the lines of one source into records: it takes off a
// container runtime's or a syslog relay's wrapper (unwrap.go), joins the
// parts of a line a runtime split, parses the line with the source's
// Parser and counts what it read. When more than one line in ten over
// the window does not fit the format, it says so (Warning).
//
// Read is called by one goroutine at a time (the source's reader); the
// other methods are safe to call from any goroutine while it runs.
type Reader struct {
	p    Parser
	join joiner
	fit  fitWatch
	log  *slog.Logger

	records     atomic.Uint64
	parseErrors atomic.Uint64
	truncated   atomic.Uint64
	warning     atomic.Pointer[Warning]
	// The window's counts while the warning is on, for Warning.
	winLines, winMisfits atomic.Uint64
}

// Warning says that a source's lines stopped fitting its format.
type Warning struct {
	// Since is when the first line that did not fit was read.
	Since time.Time `json:"since"`
	// Line is that line (after unwrapping), cut at a few hundred bytes.
	Line string `json:"line"`
	// At is the byte offset in the line where the format stopped
	// matching, and Near the text there.
	At   int    `json:"at"`
	Near string `json:"near"`
	// Misfits of Lines did not fit over the window (the last minute).
	Misfits uint64 `json:"misfits"`
	Lines   uint64 `json:"lines"`
}

// NewReader returns a Reader for one source, with a Parser of its own.
func (f *Format) NewReader(c ReaderConfig) *Reader {
	if c.MaxLine <= 0 {
		c.MaxLine = DefaultMaxLine
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reader{p: f.NewParser(), log: c.Logger}
	r.join.max = c.MaxLine
	r.fit.bucket = max(int64(c.Window/windowBuckets), 1)
	return r
}

// Read turns one line as the source delivered it (read at now; truncated
// if it was cut at the maximum line length) into a record, whose Line is
// the web server's line and which the caller gives its Source. It returns
// nil for a part of a line whose rest is still to come, and for the rest
// of a joined line that was cut and delivered.
func (r *Reader) Read(line string, truncated bool, now time.Time) *record.Record {
	return r.read(line, truncated, now, true)
}

// ReadPast reads a line as Read does, for a line written before the
// source was followed (its history, read into the statistics only): it
// is not counted, nor looked at for the warning, and it carries auto
// recognition on as a followed line does.
func (r *Reader) ReadPast(line string, truncated bool) *record.Record {
	return r.read(line, truncated, time.Time{}, false)
}

func (r *Reader) read(line string, truncated bool, now time.Time, count bool) *record.Record {
	text := line
	if u, ok := unwrap(line); ok {
		var cut, whole bool
		if text, cut, whole = r.join.add(u); !whole {
			return nil
		}
		truncated = truncated || cut
	}
	rec := &record.Record{}
	ok, at := r.p.Parse(rec, text)
	if !ok {
		*rec = record.Record{}
	}
	rec.Parsed = ok
	rec.Line = text
	if !count {
		return rec
	}
	r.records.Add(1)
	if truncated {
		r.truncated.Add(1)
	}
	if !ok && at == Directive {
		return rec // neither fits nor misfits
	}
	if !ok {
		r.parseErrors.Add(1)
	}
	r.watch(ok, text, at, now)
	return rec
}

// Format is the name of the format in use: the Parser's Name ("auto:
// combined" once auto has recognised Combined lines).
func (r *Reader) Format() string { return r.p.Name() }

// Counts are the records read, those of lines that did not fit the format
// (still records, with only their line; a directive line is not one), and
// those of lines that were cut.
func (r *Reader) Counts() (records, parseErrors, truncated uint64) {
	return r.records.Load(), r.parseErrors.Load(), r.truncated.Load()
}

// Warning is the warning in force, nil while the lines fit.
func (r *Reader) Warning() *Warning {
	w := r.warning.Load()
	if w == nil {
		return nil
	}
	c := *w
	c.Misfits, c.Lines = r.winMisfits.Load(), r.winLines.Load()
	return &c
}

// fitWatch counts lines and misfits over a sliding window, in buckets.
type fitWatch struct {
	bucket  int64 // nanoseconds a bucket spans
	last    int64 // the newest bucket: Unix nanoseconds / bucket
	lines   [windowBuckets]uint64
	misfits [windowBuckets]uint64
	sumL    uint64  // lines in the window
	sumM    uint64  // misfits in the window
	first   Warning // the first misfit of the episode: since the window had none, or the warning cleared
	kept    bool    // first is of this episode
	on      bool
}

// advance slides the window to now, forgetting the buckets that left it.
// A time before the newest bucket's (a clock set back) counts in it.
func (w *fitWatch) advance(now int64) {
	b := now / w.bucket
	if b <= w.last {
		return
	}
	if b-w.last >= windowBuckets {
		w.lines, w.misfits, w.sumL, w.sumM = [windowBuckets]uint64{}, [windowBuckets]uint64{}, 0, 0
	} else {
		for i := w.last + 1; i <= b; i++ {
			k := i % windowBuckets
			w.sumL -= w.lines[k]
			w.sumM -= w.misfits[k]
			w.lines[k], w.misfits[k] = 0, 0
		}
	}
	w.last = b
}

// watch counts one line and raises or clears the warning.
func (r *Reader) watch(ok bool, line string, at int, now time.Time) {
	if now.IsZero() {
		now = time.Now()
	}
	w := &r.fit
	w.advance(now.UnixNano())
	k := w.last % windowBuckets
	w.lines[k]++
	w.sumL++
	if !ok {
		if w.sumM == 0 || !w.kept {
			w.kept = true
			w.first = Warning{Since: now, Line: clip(line, maxWarnLine), At: at, Near: clip(line[min(max(at, 0), len(line)):], nearLen)}
		}
		w.misfits[k]++
		w.sumM++
	}
	switch {
	case !w.on && !ok && w.sumM >= warnMin && w.sumM*warnShare > w.sumL:
		w.on = true
		wn := w.first
		r.warning.Store(&wn)
		r.log.Warn("a log's lines do not fit its format", "format", r.p.Name(), "misfits", w.sumM, "lines", w.sumL,
			"line", wn.Line, "at", wn.At, "near", wn.Near)
	case w.on && w.sumM*clearShare <= w.sumL:
		w.on, w.kept = false, false // the next misfit opens a new episode
		r.warning.Store(nil)
		r.log.Info("a log's lines fit its format again", "format", r.p.Name())
	}
	if w.on {
		r.winLines.Store(w.sumL)
		r.winMisfits.Store(w.sumM)
	}
}

// clip returns s cut at n bytes at most, on a UTF-8 character boundary
// when s is UTF-8 there.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > n-utf8.UTFMax && i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if !utf8.RuneStart(s[i]) {
		i = n
	}
	return s[:i]
}
