// Package stats keeps live statistics over every record the server takes
// in: exact counts in time buckets, distinct visitors, duration quantiles,
// the most frequent values of each field, and the newest records in detail
// for filtered questions. Its memory is bounded whatever the traffic (see
// MemoryBound).
//
// Concurrency: Add may be called from any goroutine and never waits for a
// Query; Run folds what Add queued, off the caller's path; Query may be
// called from any goroutine, and folds what is queued before it answers,
// so a Query sees every record Added before it.
package stats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/weblogd/weblogd/record"
)

// DefaultWindow is the longest window kept: a day, the span operators
// compare ("since yesterday this time").
const DefaultWindow = 24 * time.Hour

// DefaultDetailBytes bounds the records held in detail for filtered
// queries: 64 MiB holds about a hundred thousand typical lines.
const DefaultDetailBytes = 64 << 20

// DefaultTop is how many values a top list has unless asked otherwise.
const DefaultTop = 10

// MaxTop is the longest top list a Query gets.
const MaxTop = 100

// maxPending is how many records Add queues for Run before it folds them
// itself: when Run is not running or falls that far behind, Add pays for
// the folding (and may then wait for a Query) rather than drop records or
// grow without bound.
const maxPending = 1 << 18

// ErrWindow is returned for a window that is not positive or longer than
// Config.Window.
var ErrWindow = errors.New("window out of range")

// Config says what to keep. Its zero value works.
type Config struct {
	// Window is the longest window a Query may ask for. Zero means
	// DefaultWindow. It is rounded up to whole minutes.
	Window time.Duration
	// DetailBytes bounds the memory of the records held in detail (for
	// filtered queries and exact top lists). Zero means
	// DefaultDetailBytes; negative holds none.
	DetailBytes int64
	// Classify names the browser and operating system families of a
	// user agent. Nil means no browser and os lists. It is called once
	// per distinct agent while that agent is remembered, off Add's path.
	Classify func(agent string) (browser, os string)
	// Country names the country (ISO code) of a client address. Nil
	// means no country list. Called off Add's path.
	Country func(host string) string
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// pend is a record Add queued, with the time Add got it.
type pend struct {
	r  *record.Record
	at int64 // unix nanoseconds
}

// Stats holds the statistics. Build it with New.
type Stats struct {
	c Config

	// pmu guards only the queue, so that Add never waits for the state.
	pmu     sync.Mutex
	pending []pend
	spare   []pend
	wake    chan struct{}

	mu sync.Mutex // guards st
	st *state
}

// New returns empty statistics; it starts nothing.
func New(c Config) *Stats {
	c = defaults(c)
	return &Stats{c: c, wake: make(chan struct{}, 1), st: newState(c)}
}

// defaults fills in what c leaves zero.
func defaults(c Config) Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	c.Window = (c.Window + time.Minute - 1).Truncate(time.Minute)
	if c.DetailBytes == 0 {
		c.DetailBytes = DefaultDetailBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Window returns the longest window a Query may ask for.
func (s *Stats) Window() time.Duration { return s.c.Window }

// Add counts r at its own time (at the time of the call when r has none,
// or when its time is ahead of the clock). r must not change afterwards
// (records in the ring never do). Add never waits for a Query, unless
// more than maxPending records are queued because Run is not running or
// is behind: then it folds them itself.
func (s *Stats) Add(r *record.Record) {
	if r == nil {
		return
	}
	at := s.c.Now().UnixNano()
	s.pmu.Lock()
	s.pending = append(s.pending, pend{r, at})
	n := len(s.pending)
	s.pmu.Unlock()
	if n >= maxPending {
		s.mu.Lock()
		s.foldLocked()
		s.mu.Unlock()
		return
	}
	if n == 1 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Run folds what Add queued until ctx ends.
func (s *Stats) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.mu.Lock()
			s.foldLocked()
			s.mu.Unlock()
		}
	}
}

// foldLocked folds the queue into the state; s.mu is held.
func (s *Stats) foldLocked() {
	s.pmu.Lock()
	batch := s.pending
	s.pending = s.spare[:0]
	s.pmu.Unlock()
	if len(batch) == 0 {
		s.spare = batch
		return
	}
	now := s.c.Now().UnixNano()
	for i := range batch {
		s.st.fold(batch[i].r, batch[i].at, now)
		batch[i] = pend{}
	}
	// Keep the queue's backing array unless a burst made it huge.
	if cap(batch) > 1<<16 {
		batch = nil
	}
	s.spare = batch[:0]
}

// Query is a question about the window ending now.
type Query struct {
	// Window is how far back to look. Zero means one hour.
	Window time.Duration
	// Match, when not nil, keeps only the records it accepts; the answer
	// then comes from the records held in detail, and Result.Covers
	// says which span that was. It is called with the statistics locked:
	// it must not call back into them.
	Match func(*record.Record) bool
	// Top is how many values each top list has. Zero means DefaultTop;
	// more than MaxTop means MaxTop.
	Top int
}

// Query answers q over the window ending now. Its error wraps ErrWindow
// for a window out of range.
func (s *Stats) Query(q Query) (*Result, error) {
	if q.Window == 0 {
		q.Window = time.Hour
	}
	if q.Window <= 0 {
		return nil, fmt.Errorf("%w: window %s is not positive", ErrWindow, durString(q.Window))
	}
	if q.Window > s.c.Window {
		return nil, fmt.Errorf("%w: window %s is longer than the statistics keep (%s)", ErrWindow, durString(q.Window), durString(s.c.Window))
	}
	if q.Top <= 0 {
		q.Top = DefaultTop
	}
	if q.Top > MaxTop {
		q.Top = MaxTop
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.foldLocked()
	return s.st.query(q, s.c.Now()), nil
}

// durString writes d as a Go duration without its zero units: "1h",
// "5m", "1h30m".
func durString(d time.Duration) string {
	t := d.String()
	if strings.HasSuffix(t, "m0s") {
		t = t[:len(t)-2]
	}
	if strings.HasSuffix(t, "h0m") {
		t = t[:len(t)-2]
	}
	return t
}
