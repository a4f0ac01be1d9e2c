package stats_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
)

// want is what a window should count, worked out from the records one by
// one.
type want struct {
	requests, bytes, perr uint64
	status                map[string]uint64
	e4, e5                uint64
	hosts                 map[string]bool
	paths                 map[string]uint64
}

func brute(rs []*record.Record, from, now time.Time, match func(*record.Record) bool) want {
	w := want{status: map[string]uint64{}, hosts: map[string]bool{}, paths: map[string]uint64{}}
	for _, r := range rs {
		if r.Time.Before(from) || r.Time.After(now) {
			continue
		}
		if match != nil && !match(r) {
			continue
		}
		w.requests++
		if !r.Parsed {
			w.perr++
			continue
		}
		w.bytes += uint64(r.Bytes)
		w.status[strconv.Itoa(r.Status)]++
		switch r.Status / 100 {
		case 4:
			w.e4++
		case 5:
			w.e5++
		}
		w.hosts[r.Host] = true
		w.paths[r.Path]++
	}
	return w
}

func check(t *testing.T, name string, res *stats.Result, w want, exactVisitors bool) {
	t.Helper()
	if res.Requests != w.requests || res.Bytes != w.bytes || res.ParseErrors != w.perr {
		t.Errorf("%s: requests %d bytes %d parse_errors %d, want %d %d %d", name, res.Requests, res.Bytes, res.ParseErrors, w.requests, w.bytes, w.perr)
	}
	if len(res.Status) != len(w.status) {
		t.Errorf("%s: status %v, want %v", name, res.Status, w.status)
	}
	for k, v := range w.status {
		if res.Status[k] != v {
			t.Errorf("%s: status %s = %d, want %d", name, k, res.Status[k], v)
		}
	}
	if res.Errors["4xx"] != w.e4 || res.Errors["5xx"] != w.e5 {
		t.Errorf("%s: errors %v, want 4xx %d 5xx %d", name, res.Errors, w.e4, w.e5)
	}
	if _, ok := res.Errors["5xx"]; !ok {
		t.Errorf("%s: errors lacks 5xx: %v", name, res.Errors)
	}
	n := uint64(len(w.hosts))
	if exactVisitors && res.Visitors != n {
		t.Errorf("%s: visitors %d, want %d", name, res.Visitors, n)
	}
	if d := float64(res.Visitors) - float64(n); d > 0.02*float64(n)+1 || d < -0.02*float64(n)-1 {
		t.Errorf("%s: visitors %d, want %d within 2%%", name, res.Visitors, n)
	}
	var sum uint64
	for _, c := range res.Rate.Counts {
		sum += c
	}
	if res.Rate.Bucket == "1m" && sum != w.requests {
		t.Errorf("%s: rate sums to %d, want %d", name, sum, w.requests)
	}
	for k, l := range res.Rate.Classes {
		if len(l) != len(res.Rate.Counts) {
			t.Errorf("%s: rate class %s has %d buckets, counts %d", name, k, len(l), len(res.Rate.Counts))
		}
	}
}

func TestExactCounts(t *testing.T) {
	rs := readLog(t, apacheLog)
	end := newest(rs).Add(30 * time.Second)
	clk := newClock(end)
	s := stats.New(stats.Config{Now: clk.Now})
	for _, r := range rs {
		s.Add(r)
	}
	for _, w := range []time.Duration{5 * time.Minute, time.Hour, 90 * time.Minute, 6 * time.Hour, 24 * time.Hour} {
		res, err := s.Query(stats.Query{Window: w})
		if err != nil {
			t.Fatal(err)
		}
		from := end.Truncate(time.Minute).Add(time.Minute - w)
		if !res.From.Equal(from) {
			t.Errorf("window %s: from %s, want %s", w, res.From, from)
		}
		want := brute(rs, from, end, nil)
		check(t, res.Window, res, want, false)
		if !res.TopExact {
			t.Errorf("window %s: top not exact with everything in detail", w)
		}
		top := res.Top["path"]
		if len(top) == 0 || top[0].Count != maxCount(want.paths) {
			t.Errorf("window %s: top path %v, want count %d", w, top, maxCount(want.paths))
		}
		for _, c := range top {
			if want.paths[c.Value] != c.Count {
				t.Errorf("window %s: path %q counted %d, want %d", w, c.Value, c.Count, want.paths[c.Value])
			}
		}
	}
}

func maxCount(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

func TestWindowOutOfRange(t *testing.T) {
	s := stats.New(stats.Config{})
	for _, w := range []time.Duration{-time.Minute, 48 * time.Hour} {
		_, err := s.Query(stats.Query{Window: w})
		if !errors.Is(err, stats.ErrWindow) {
			t.Errorf("window %s: error %v, want ErrWindow", w, err)
		}
	}
	_, err := s.Query(stats.Query{Window: 48 * time.Hour})
	if want := "window 48h is longer than the statistics keep (24h)"; err == nil || !contains(err.Error(), want) {
		t.Errorf("error %v, want it to say %q", err, want)
	}
	res, err := s.Query(stats.Query{})
	if err != nil || res.Window != "1h" {
		t.Errorf("default window: %v %v", res, err)
	}
	res, err = s.Query(stats.Query{Window: 90 * time.Minute})
	if err != nil || res.Window != "1h30m" {
		t.Errorf("90m window: %+v %v", res, err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestFiltered(t *testing.T) {
	rs := readLog(t, apacheLog)
	end := newest(rs).Add(30 * time.Second)
	clk := newClock(end)
	s := stats.New(stats.Config{Now: clk.Now})
	for _, r := range rs {
		s.Add(r)
	}
	match := func(r *record.Record) bool { return r.Status == 404 }
	res, err := s.Query(stats.Query{Window: 24 * time.Hour, Match: match})
	if err != nil {
		t.Fatal(err)
	}
	from := end.Truncate(time.Minute).Add(time.Minute - 24*time.Hour)
	if res.Covers == nil || !res.Covers.From.Equal(from) {
		t.Fatalf("covers %+v, want from %s", res.Covers, from)
	}
	all := brute(rs, from, end, nil)
	if res.Covers.Records != all.requests {
		t.Errorf("covers %d records, want %d", res.Covers.Records, all.requests)
	}
	want := brute(rs, from, end, match)
	check(t, "404s", res, want, true)
	if want.requests == 0 {
		t.Fatal("no 404s in the test log")
	}
	for _, c := range res.Top["path"] {
		if want.paths[c.Value] != c.Count {
			t.Errorf("404 path %q counted %d, want %d", c.Value, c.Count, want.paths[c.Value])
		}
	}
	if len(res.Top["not_found"]) == 0 || res.Top["not_found"][0] != res.Top["path"][0] {
		t.Errorf("not_found %v, path %v", res.Top["not_found"], res.Top["path"])
	}
}
