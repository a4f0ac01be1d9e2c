package feed

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/redact"
	"github.com/weblogd/weblogd/tailer"
)

// globInterval is how often glob patterns are expanded again to find new
// logs: quick enough that a new vhost's log shows up while someone watches,
// cheap enough (one readdir per pattern) to be free.
const globInterval = time.Second

// Retry delays for a log whose tailer failed (its directory is missing,
// its file unreadable). The first retry comes soon, because the usual
// cause is a directory that is being created; the delay doubles up to a
// cap at which a log that stays broken costs a stat and a log line every
// half minute.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// source is one followed log.
type source struct {
	path string        // as found (cleaned)
	name string        // Record.Source: base name, or the path when base names clash
	cfg  tailer.Config // how its first tailer started
	t    tailRef       // its current tailer

	failure atomic.Pointer[string] // why its last tailer failed; nil if none has

	read *format.Reader // unwraps, parses and counts its lines

	// gathering is the answer to the last Gather asked of its tailer,
	// under sources.mu.
	gathering <-chan struct{}
}

// tailRef is a source's current tailer. A tailer that fails is replaced by
// a new one that starts where it stopped (its Positions), so readers of
// the state and positions go through this.
type tailRef struct{ p atomic.Pointer[tailer.Tailer] }

func (r *tailRef) get() *tailer.Tailer { return r.p.Load() }

// State is the current tailer's state (see tailer.Tailer.State).
func (r *tailRef) State() string { return r.get().State() }

// Positions is where the current tailer stands: every line before them
// is in the ring.
func (r *tailRef) Positions() []tailer.Position { return r.get().Positions() }

// sources owns the set of followed logs and their tailer goroutines.
type sources struct {
	patterns []string
	format   *format.Format
	maxLine  int
	rotWait  time.Duration
	log      *slog.Logger
	ingest   func(context.Context, *source, tailer.Line)
	held     func() bool       // the NATS publish buffer is full: tailers may be waiting in ingest
	added    func(name string) // told each new source's name

	mu     sync.Mutex
	list   []*source
	byPath map[string]*source
	names  map[string]bool
}

func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// expand returns the files the patterns name now: a plain path as it is
// (it may not exist yet), a glob's current matches.
func expand(patterns []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range patterns {
		matches := []string{p}
		if isGlob(p) {
			matches, _ = filepath.Glob(p) // the only error is a bad pattern, checked in New
			sort.Strings(matches)
		}
		for _, m := range matches {
			m = filepath.Clean(m)
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// add creates a source for path, starting at resume (see
// tailer.Config.Resume), or when that is empty at the start of the file.
// Names are given in the order sources are added: a later log whose base
// name is taken is named by its path.
func (ss *sources) add(path string, resume []tailer.Position) (*source, error) {
	cfg := tailer.Config{Path: path, Resume: resume, MaxLineBytes: ss.maxLine, RotateWait: ss.rotWait, Logger: ss.log}
	t, err := tailer.New(cfg)
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	name := filepath.Base(path)
	if ss.names[name] {
		name = path
	}
	ss.names[name] = true
	src := &source{path: path, name: name, cfg: cfg}
	src.read = ss.format.NewReader(format.ReaderConfig{MaxLine: ss.maxLine, Logger: ss.log.With("source", name, "path", path)})
	src.t.p.Store(t)
	ss.list = append(ss.list, src)
	ss.byPath[path] = src
	if ss.added != nil {
		ss.added(name)
	}
	return src, nil
}

// nameInitial reserves names for the logs found at start so that two logs
// with one base name are both named by path, not just the second.
func (ss *sources) nameInitial(paths []string) {
	count := map[string]int{}
	for _, p := range paths {
		count[filepath.Base(p)]++
	}
	for b, n := range count {
		if n > 1 {
			ss.names[b] = true
		}
	}
}

func (ss *sources) snapshot() []*source {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return append([]*source(nil), ss.list...)
}

// run follows every source until ctx is done, adding logs that the globs
// come to match; it returns after every tailer has returned.
func (ss *sources) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(src *source) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.follow(ctx, src)
		}()
	}
	for _, src := range ss.snapshot() {
		start(src)
	}
	hasGlob := false
	for _, p := range ss.patterns {
		hasGlob = hasGlob || isGlob(p)
	}
	if !hasGlob {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(globInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, p := range expand(ss.patterns) {
			ss.mu.Lock()
			_, known := ss.byPath[p]
			ss.mu.Unlock()
			if known {
				continue
			}
			// A file that appears while we run is news from its first line.
			src, err := ss.add(p, nil)
			if err != nil {
				ss.log.Error("cannot follow a new log", "path", p, "err", err)
				continue
			}
			ss.log.Info("following a new log", "path", p, "source", src.name)
			start(src)
		}
	}
}

// gather asks every log's tailer to read what it holds now and waits for
// them, at most wait: the hub calls it just before each spaced flush, never
// while it flushes every record at once (see broadcast.HubConfig.Gather).
// A tailer that has not answered the last one is deep in a long read (a
// burst), and publishes what it reads anyway: it is neither asked nor
// waited for again until it answers. Waited for at every flush of a burst
// of 1,000,000 lines, such reads held the hub for 1.5 of its 2.4 seconds.
func (ss *sources) gather(wait time.Duration) {
	if ss.held != nil && ss.held() {
		return // the tailers wait for NATS, not for a read: flush what is in
	}
	ss.mu.Lock()
	done := make([]<-chan struct{}, 0, len(ss.list))
	for _, src := range ss.list {
		if src.gathering != nil {
			select {
			case <-src.gathering:
			default:
				continue
			}
		}
		src.gathering = src.t.get().Gather()
		done = append(done, src.gathering)
	}
	ss.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for _, d := range done {
		select {
		case <-d:
		case <-timer.C:
			return // a tailer deep in a long read: flush what is in
		}
	}
}

// gatherWait bounds how long a flush waits for the tailers' reads: a tenth
// of the tick, between 1 and 10 ms. A read of what a busy log wrote
// between two flushes takes tens of microseconds; only a tailer in the middle of a huge
// backlog takes longer, and then the flush goes ahead with what is in.
func gatherWait(tick time.Duration) time.Duration {
	return min(max(tick/10, time.Millisecond), 10*time.Millisecond)
}

// follow runs src's tailer until ctx is done. A tailer that fails is
// retried after a delay that grows from retryMin to retryMax, by a new
// tailer that starts exactly where the failed one stopped: its Positions
// still name the files and offsets it had read up to.
func (ss *sources) follow(ctx context.Context, src *source) {
	delay := retryMin
	var lastErr string
	for {
		t := src.t.get()
		began := time.Now()
		err := t.Run(ctx, func(l tailer.Line) { ss.ingest(ctx, src, l) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("the tailer stopped") // not expected: Run returns nil only when ctx is done
		}
		if time.Since(began) > retryMax {
			delay = retryMin // it worked for a while: this is a new failure
		}
		level := slog.LevelWarn
		if err.Error() == lastErr {
			level = slog.LevelDebug // said already; a log that stays broken says it once
		}
		lastErr = err.Error()
		failure := lastErr
		src.failure.Store(&failure)
		ss.log.Log(ctx, level, "cannot follow a log; retrying", "path", src.path, "err", err, "retry_in", delay)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		delay = min(2*delay, retryMax)
		cfg := src.cfg
		if ps := t.Positions(); len(ps) > 0 {
			cfg.Resume = ps
		}
		next, err := tailer.New(cfg)
		if err != nil {
			// Only a bad Config fails New, and this one worked before.
			ss.log.Error("cannot follow a log", "path", src.path, "err", err)
			return
		}
		src.t.p.Store(next)
	}
}

// notReady lists why the logs are not all followed; empty when they are.
func (ss *sources) notReady() []string {
	var why []string
	for _, p := range ss.patterns {
		if isGlob(p) {
			if m, _ := filepath.Glob(p); len(m) == 0 {
				why = append(why, "no file matches "+p)
			}
		}
	}
	for _, src := range ss.snapshot() {
		if r := src.reason(); r != "" {
			why = append(why, r)
		}
	}
	return why
}

// missing lists the logs that do not exist: plain paths that name no
// file, and patterns that match none.
func (ss *sources) missing() []string {
	var out []string
	for _, p := range ss.patterns {
		if isGlob(p) {
			if m, _ := filepath.Glob(p); len(m) == 0 {
				out = append(out, p)
			}
			continue
		}
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}

// reason says why src is not being followed, as /readyz and /api/status
// say it; empty while it is. A path that does not exist is waited for;
// any other trouble (permission denied, a loop of symbolic links) is
// named.
func (src *source) reason() string {
	t := src.t.get()
	switch st := t.State(); st {
	case tailer.StateFollowing:
		return ""
	case tailer.StateWaiting:
		if p := t.Problem(); p != "" {
			return src.path + ": " + p
		}
		return "waiting for " + src.path + " to exist"
	case tailer.StateIdle:
		// Its goroutine has not started Run yet, or a failed tailer's
		// successor waits for its retry.
		if f := src.failure.Load(); f != nil {
			return src.path + ": failed: " + *f + "; retrying"
		}
		fi, err := os.Stat(src.path)
		if err == nil && fi.Mode().IsRegular() {
			// Whether it can be opened (permission denied?) is the
			// question; never a FIFO, whose writer would see a reader
			// come and go.
			var f *os.File
			if f, err = os.Open(src.path); err == nil {
				f.Close()
			}
		}
		switch {
		case err == nil:
			return "starting to follow " + src.path
		case errors.Is(err, fs.ErrNotExist):
			return "waiting for " + src.path + " to exist"
		default:
			return src.path + ": " + err.Error()
		}
	default:
		return src.path + ": " + st
	}
}

// newRecord turns a line into a record of src, masked by red (nil: not)
// before anyone else sees it. src's reader unwraps a line wrapped by a
// container runtime or a syslog relay (the record's Line is what the web
// server wrote), parses it in the log's format and counts it. It returns
// nil for a part of a line whose rest is still to come (and for the rest
// of a line that was cut and delivered).
func newRecord(src *source, l tailer.Line, red *redact.Redactor) *record.Record {
	rec := src.read.Read(l.Text, l.Truncated, l.Time)
	if rec == nil {
		return nil
	}
	red.Record(rec)
	rec.Source = src.name
	return rec
}

// position is how far src is read: the offset after the last line in the
// ring of the file at its path (0 while there is none), the size of the
// file at its path now, and the bytes between them (the lag; 0 when the
// file is missing or was just replaced by a smaller one that is not read
// yet).
func (src *source) position() (offset, size, lag int64) {
	if p, ok := src.t.get().Current(); ok {
		offset = p.Offset
	}
	fi, err := os.Stat(src.path)
	if err != nil {
		return offset, 0, 0
	}
	return offset, fi.Size(), max(fi.Size()-offset, 0)
}
