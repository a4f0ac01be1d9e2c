package stats_test

import (
	"bufio"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// readLog parses every line of a log with the Common/Combined parser.
func readLog(tb testing.TB, path string) []*record.Record {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var rs []*record.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		r := format.Parse(sc.Text())
		r.Source = "access.log"
		rs = append(rs, &r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rs
}

// apacheLog is 10,000 Combined lines over three and a half days, a little
// out of order as Apache writes them.
const apacheLog = "../format/testdata/apache_combined_10k.log"

// newest returns the latest time of rs.
func newest(rs []*record.Record) time.Time {
	var t time.Time
	for _, r := range rs {
		if r.Time.After(t) {
			t = r.Time
		}
	}
	return t
}
