package stats_test

import (
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
)

// Any line, parsed or not, with any time, is counted once and never makes
// the statistics panic, filtered or not.
func FuzzAdd(f *testing.F) {
	f.Add(`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203023 "http://semicomplete.com/x" "Mozilla/5.0"`, int64(0), int64(5))
	f.Add(`::1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 404 - "android-app://com.x@y:1/?q#f" "-"`, int64(-3600), int64(3))
	f.Add("not a line", int64(90000), int64(1))
	f.Add(`h - - [01/Jan/1970:00:00:00 +0000] "\xff\xfe /\xc3 HTTP/1.1" 999 1 "\xe2\x82" "\xf0\x9f"`, int64(30), int64(99))
	f.Fuzz(func(t *testing.T, line string, offset, dur int64) {
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		clk := newClock(now)
		s := stats.New(stats.Config{Now: clk.Now, DetailBytes: 1 << 10,
			Classify: func(a string) (string, string) { return a, a },
			Country:  func(h string) string { return h }})
		r := format.Parse(line)
		if r.Parsed {
			r.Time = now.Add(time.Duration(offset) * time.Second)
			r.Duration = record.Took(time.Duration(dur) * time.Millisecond)
		}
		for range 3 {
			s.Add(&r)
		}
		for _, w := range []time.Duration{time.Minute, time.Hour, 7 * time.Hour, 24 * time.Hour} {
			res, err := s.Query(stats.Query{Window: w})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests > 3 || res.ParseErrors > res.Requests {
				t.Fatalf("%s: %d requests, %d parse errors from three adds", w, res.Requests, res.ParseErrors)
			}
			if _, err := s.Query(stats.Query{Window: w, Match: func(*record.Record) bool { return true }}); err != nil {
				t.Fatal(err)
			}
		}
		res, _ := s.Query(stats.Query{Window: 24 * time.Hour})
		inWindow := !r.Parsed || offset > -23*3600
		if inWindow && res.Requests != 3 {
			t.Fatalf("%d requests, want 3 (offset %ds)", res.Requests, offset)
		}
	})
}
