// Package stats keeps live statistics over every record the server takes
// in: exact counts in time buckets, distinct visitors, duration quantiles,
// the most frequent values of each field, and the newest records in detail
// for filtered questions. Its memory is bounded whatever the traffic.
//
// Concurrency: Add may be called from any goroutine and never waits for a
// Query; Run folds what Add queued, off the caller's path; Query may be
// called from any goroutine.
package stats

import (
	"context"
	"errors"
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

// ErrWindow is returned for a window that is not positive or longer than
// Config.Window.
var ErrWindow = errors.New("window out of range")

// Config says what to keep. Its zero value works.
type Config struct {
	// Window is the longest window a Query may ask for. Zero means
	// DefaultWindow.
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

// Stats holds the statistics. Build it with New.
type Stats struct {
	c Config
}

// New returns empty statistics; it starts nothing.
func New(c Config) *Stats {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.DetailBytes == 0 {
		c.DetailBytes = DefaultDetailBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Stats{c: c}
}

// Window returns the longest window a Query may ask for.
func (s *Stats) Window() time.Duration { return s.c.Window }

// Add counts r at its own time (at the time of the call when r has none).
// r must not change afterwards (records in the ring never do). Add never
// waits for a Query.
func (s *Stats) Add(r *record.Record) {}

// Run folds what Add queued until ctx ends.
func (s *Stats) Run(ctx context.Context) { <-ctx.Done() }

// Query is a question about the window ending now.
type Query struct {
	// Window is how far back to look. Zero means one hour.
	Window time.Duration
	// Match, when not nil, keeps only the records it accepts; the answer
	// then comes from the records held in detail, and Result.Covers
	// says which span that was.
	Match func(*record.Record) bool
	// Top is how many values each top list has. Zero means DefaultTop.
	Top int
}

// Query answers q over the window ending now. Its error wraps ErrWindow
// for a window out of range.
func (s *Stats) Query(q Query) (*Result, error) { return nil, ErrWindow }
