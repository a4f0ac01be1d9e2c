package feed

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
)

// Kinds of source, as /api/status names them. A log (a file, or a FIFO
// given as one) is kindFile; the others are streams.
const (
	kindFile   = "file"
	kindStdin  = "stdin"
	kindSyslog = "syslog"
	kindIngest = "ingest"
)

// DefaultMaxSources bounds the distinct stream sources (syslog HOST/TAG
// names, /ingest ?source= names) when Config.MaxSources is zero. Each
// costs a reader, a status row and three labelled metrics: a thousand
// covers any fleet one weblogd watches, and a sender inventing names
// cannot grow them without end.
const DefaultMaxSources = 1000

// overflowName is the source that counts the lines of every name past
// the bound. The records keep their own name; only their counts, format
// and status row are shared.
const overflowName = "(overflow)"

// streams are the sources that are not files: standard input, syslog
// senders, POST /ingest requests. Each is made the first time its name is
// seen and lives as long as the server; it has its own format.Reader (so
// auto recognises its format from its own lines), its status row, its
// metrics and, for standard input, its /readyz reason once it ended.
//
// How a way in hands over lines:
//
//	st, ok := s.streams.get(kindIngest, name) // finds or makes the source
//	if !ok { ... }                            // shutting down: take nothing more
//	if !st.take(line, truncated) { ... }      // false: shutting down, not taken
//
// take unwraps, parses and counts the line, masks the record (--redact),
// names it and publishes it: when take returns true the record is in the
// ring. It is safe to call from many goroutines, on one source or many;
// the lines of one source get their seqs in the order their take calls
// were made. Past Config.MaxSources distinct names, get returns the
// overflow source (said once in the log); its records still carry their
// own name. Names are the caller's to check (length, characters).
type streams struct {
	format   *format.Format
	maxLine  int
	max      int
	log      *slog.Logger
	redactor *redact.Redactor
	publish  func(*record.Record) // into the ring (and NATS); the hub's Publish

	stopped atomic.Bool // shutting down: take no more lines

	mu       sync.Mutex
	byName   map[string]*stream
	list     []*stream // in the order they were made
	overflow *stream   // made when the bound is first reached
}

// stream is one source that is not a file.
type stream struct {
	ss   *streams
	name string
	kind string
	read *format.Reader
	over bool // the overflow source: records keep the name they came with

	mu sync.Mutex // one line at a time: the reader's contract, and seq order

	last  atomic.Int64           // Unix nanoseconds of the last line; 0 before one
	ended atomic.Pointer[string] // why no more lines will come (standard input closed); nil while open
}

func newStreams(f *format.Format, maxLine, max int, red *redact.Redactor, log *slog.Logger, publish func(*record.Record)) *streams {
	return &streams{format: f, maxLine: maxLine, max: max, log: log, redactor: red, publish: publish, byName: map[string]*stream{}}
}

// maxSourceName bounds a stream source's name: a host name's 255 bytes.
const maxSourceName = 255

// cleanName makes a name fit to be a source's: valid UTF-8 without
// control characters (it is a metric's label value, which must be valid
// UTF-8), at most maxSourceName bytes. A clean name is returned as it is.
func cleanName(name string) string {
	clean := len(name) <= maxSourceName && utf8.ValidString(name)
	for i := 0; clean && i < len(name); i++ {
		clean = name[i] >= ' ' && name[i] != 0x7f
	}
	if clean {
		return name
	}
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(name, "\uFFFD"))
	if len(name) > maxSourceName {
		i := maxSourceName
		for i > 0 && !utf8.RuneStart(name[i]) {
			i--
		}
		name = name[:i]
	}
	return name
}

// get finds the source named name, or makes it as a source of kind. ok is
// false once the server is shutting down. A name that is not valid UTF-8,
// has control characters or is longer than 255 bytes is cleaned first.
func (ss *streams) get(kind, name string) (st *stream, ok bool) {
	if ss.stopped.Load() {
		return nil, false
	}
	name = cleanName(name)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if st := ss.byName[name]; st != nil {
		return st, true
	}
	if name != overflowName && (ss.max <= 0 || len(ss.byName) < ss.max) {
		st := ss.make(kind, name)
		ss.byName[name] = st
		return st, true
	}
	if ss.overflow == nil {
		ss.log.Warn("too many sources: the lines of new ones are counted under one source, each record keeping its own name",
			"max_sources", ss.max, "overflow", overflowName, "first", name)
		ss.overflow = ss.make(kind, overflowName)
		ss.overflow.over = true
	}
	return ss.overflow, true
}

// make adds a source; ss.mu is held.
func (ss *streams) make(kind, name string) *stream {
	st := &stream{ss: ss, name: name, kind: kind}
	st.read = ss.format.NewReader(format.ReaderConfig{MaxLine: ss.maxLine, Logger: ss.log.With("source", name, "kind", kind)})
	ss.list = append(ss.list, st)
	return st
}

// take is get and take in one call, for a way in whose lines each name
// their source (syslog).
func (ss *streams) take(kind, name, line string, truncated bool) bool {
	st, ok := ss.get(kind, name)
	if !ok {
		return false
	}
	return st.takeAs(name, line, truncated)
}

// take hands one line to the source; see streams.
func (st *stream) take(line string, truncated bool) bool {
	return st.takeAs(st.name, line, truncated)
}

// takeAs takes a line whose record is named name: the source's own name,
// except in the overflow source.
func (st *stream) takeAs(name, line string, truncated bool) bool {
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ss.stopped.Load() {
		return false // checked under the lock: see stop
	}
	st.last.Store(now.UnixNano())
	rec := st.read.Read(line, truncated, now)
	if rec == nil {
		return true // a part of a line: it comes out whole with its last part
	}
	st.ss.redactor.Record(rec)
	if !st.over {
		name = st.name
	}
	rec.Source = name
	st.ss.publish(rec)
	return true
}

// end says that no more lines will come, and why (/readyz, /api/status).
func (st *stream) end(why string) { st.ended.Store(&why) }

// state is the source's state in /api/status: following while lines may
// come, ended once its input closed.
func (st *stream) state() string {
	if st.ended.Load() != nil {
		return "ended"
	}
	return "following"
}

// reason is why the source is not followed, as /readyz says it; empty
// while it is.
func (st *stream) reason() string {
	if why := st.ended.Load(); why != nil {
		return *why
	}
	return ""
}

// lastLine is when the source's last line arrived; zero before one.
func (st *stream) lastLine() time.Time {
	if n := st.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (ss *streams) snapshot() []*stream {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]*stream(nil), ss.list...)
}

// notReady lists the sources that ended.
func (ss *streams) notReady() []string {
	var why []string
	for _, st := range ss.snapshot() {
		if r := st.reason(); r != "" {
			why = append(why, r)
		}
	}
	return why
}

// stop makes every later take refuse its line, and waits for the takes
// in progress: when it returns, no record of a stream enters the ring any
// more, so the hub's last flush has them all.
func (ss *streams) stop() {
	ss.stopped.Store(true)
	for _, st := range ss.snapshot() {
		st.mu.Lock()
		//lint:ignore SA2001 an empty critical section: it waits for the take in progress
		st.mu.Unlock()
	}
}
