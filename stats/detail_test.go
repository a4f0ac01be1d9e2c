package stats_test

import (
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/stats"
)

// clf builds a Combined line at t.
func clf(host string, t time.Time, path string, status int, bytes int, agent string) *record.Record {
	r := format.Parse(fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" %d %d "https://ref.example/a" "%s"`,
		host, t.Format("02/Jan/2006:15:04:05 -0700"), path, status, bytes, agent))
	return &r
}

func TestRateBuckets(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 35, 0, time.UTC)
	clk := newClock(now)
	s := stats.New(stats.Config{Now: clk.Now})
	// One record now, one 40 s ago (404), one 5 min ago (500), one 2 h ago.
	s.Add(clf("10.0.0.1", now, "/a", 200, 1, "a"))
	s.Add(clf("10.0.0.2", now.Add(-40*time.Second), "/b", 404, 1, "a"))
	s.Add(clf("10.0.0.3", now.Add(-5*time.Minute), "/c", 500, 1, "a"))
	s.Add(clf("10.0.0.4", now.Add(-2*time.Hour), "/d", 301, 1, "a"))
	cases := []struct {
		w      time.Duration
		bucket string
		n      int
		start  time.Time
		counts map[int]uint64 // index -> count
	}{
		{10 * time.Minute, "10s", 58, time.Date(2026, 12, 7, 11, 51, 0, 0, time.UTC), map[int]uint64{57: 1, 53: 1, 27: 1}},
		{time.Hour, "1m", 60, time.Date(2026, 12, 7, 11, 1, 0, 0, time.UTC), map[int]uint64{59: 1, 58: 1, 54: 1}},
		{24 * time.Hour, "15m", 96, time.Date(2026, 12, 6, 12, 1, 0, 0, time.UTC), map[int]uint64{95: 3, 87: 1}},
	}
	for _, c := range cases {
		res, err := s.Query(stats.Query{Window: c.w})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Rate
		if r.Bucket != c.bucket || len(r.Counts) != c.n || !r.Start.Equal(c.start) {
			t.Errorf("%s: bucket %s, %d counts from %s; want %s, %d from %s", c.w, r.Bucket, len(r.Counts), r.Start, c.bucket, c.n, c.start)
			continue
		}
		var sum uint64
		for i, v := range r.Counts {
			if v != c.counts[i] {
				t.Errorf("%s: bucket %d counts %d, want %d", c.w, i, v, c.counts[i])
			}
			sum += v
		}
		// The buckets start with the window, so they add up to it.
		if !r.Start.Equal(res.From) || sum != res.Requests {
			t.Errorf("%s: rate from %s sums to %d; window from %s has %d requests", c.w, r.Start, sum, res.From, res.Requests)
		}
		if c.bucket == "1m" {
			if r.Classes["4xx"][58] != 1 || r.Classes["2xx"][59] != 1 || r.Classes["5xx"][54] != 1 {
				t.Errorf("%s: classes %v", c.w, r.Classes)
			}
		}
	}
	// per_second is the last full minute over 60: the 404 40 s ago fell
	// in 11:59.
	res, _ := s.Query(stats.Query{})
	if res.PerSecond != 1.0/60 {
		t.Errorf("per_second %v, want 1/60", res.PerSecond)
	}
	// The clock moves on: the buckets move with it.
	clk.Set(now.Add(10 * time.Minute))
	res, _ = s.Query(stats.Query{Window: 10 * time.Minute})
	var sum uint64
	for _, v := range res.Rate.Counts {
		sum += v
	}
	if sum != 0 || res.Requests != 0 {
		t.Errorf("10 min later: rate sums to %d, requests %d; want 0", sum, res.Requests)
	}
}

func TestClassesAndUnparsed(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 35, 0, time.UTC)
	clk := newClock(now)
	s := stats.New(stats.Config{Now: clk.Now})
	for _, st := range []int{101, 200, 204, 304, 404, 403, 500, 503} {
		s.Add(clf("10.0.0.1", now, "/", st, 10, "a"))
	}
	bad := format.Parse("this is not a log line")
	bad.Source = "x.log"
	s.Add(&bad)
	res, err := s.Query(stats.Query{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 9 || res.ParseErrors != 1 || res.Bytes != 80 {
		t.Errorf("requests %d parse_errors %d bytes %d, want 9 1 80", res.Requests, res.ParseErrors, res.Bytes)
	}
	want := map[string]uint64{"101": 1, "200": 1, "204": 1, "304": 1, "404": 1, "403": 1, "500": 1, "503": 1}
	if fmt.Sprint(res.Status) != fmt.Sprint(want) {
		t.Errorf("status %v, want %v", res.Status, want)
	}
	if res.Errors["4xx"] != 2 || res.Errors["5xx"] != 2 {
		t.Errorf("errors %v", res.Errors)
	}
	got := map[string]uint64{}
	for k, l := range res.Rate.Classes {
		for _, v := range l {
			got[k] += v
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(map[string]uint64{"2xx": 2, "3xx": 1, "4xx": 2, "5xx": 2, "other": 2}) {
		t.Errorf("classes %v", got)
	}
	if l := res.Top["source"]; len(l) != 1 || l[0] != (stats.Count{Value: "x.log", Count: 1}) {
		t.Errorf("source %v", l)
	}
	// Empty statistics still say 4xx and 5xx.
	res, _ = stats.New(stats.Config{Now: clk.Now}).Query(stats.Query{})
	if v, ok := res.Errors["4xx"]; !ok || v != 0 {
		t.Errorf("empty errors %v", res.Errors)
	}
}

func TestTimes(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 35, 0, time.UTC)
	clk := newClock(now)
	s := stats.New(stats.Config{Now: clk.Now, Window: 2 * time.Hour})
	s.Add(clf("10.0.0.1", now.Add(-3*time.Hour), "/old", 200, 1, "a"))      // older than the window: nowhere
	s.Add(clf("10.0.0.2", now.Add(time.Hour), "/future", 200, 1, "a"))      // ahead: now
	s.Add(clf("10.0.0.3", now.Add(-90*time.Minute), "/early", 200, 1, "a")) // its own time
	var none record.Record
	none.Parsed = true
	none.Status = 200
	none.Path = "/untimed" // no time: now
	s.Add(&none)
	res, _ := s.Query(stats.Query{Window: time.Minute})
	if res.Requests != 2 {
		t.Errorf("last minute: %d requests, want 2 (the future one and the untimed one)", res.Requests)
	}
	res, _ = s.Query(stats.Query{Window: 2 * time.Hour})
	if res.Requests != 3 {
		t.Errorf("2 h: %d requests, want 3", res.Requests)
	}
	for _, c := range res.Top["path"] {
		if c.Value == "/old" {
			t.Error("a record older than the window was counted")
		}
	}
	res, _ = s.Query(stats.Query{Window: 2 * time.Hour, Match: func(r *record.Record) bool { return true }})
	if res.Requests != 3 || res.Covers.Records != 3 {
		t.Errorf("filtered 2 h: %d requests over %d, want 3 over 3", res.Requests, res.Covers.Records)
	}
}

// With little detail, records leave it for the hour summaries: counts stay
// exact, and top lists come from the summaries, exact (for the hours they
// count) while no summary has had to drop a value.
func TestDetailEviction(t *testing.T) {
	rs := readLog(t, apacheLog)
	end := newest(rs).Add(30 * time.Second)
	clk := newClock(end)
	s := stats.New(stats.Config{Now: clk.Now, DetailBytes: 200 << 10})
	for _, r := range rs {
		s.Add(r)
	}
	from := end.Truncate(time.Minute).Add(time.Minute - 24*time.Hour)
	res, err := s.Query(stats.Query{Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := brute(rs, from, end, nil)
	check(t, "24h", res, want, false)
	if !res.TopExact {
		t.Error("top_exact false though no hour has more paths than a summary keeps")
	}
	// The hours counted may start up to half an hour before the window.
	wide := brute(rs, from.Add(-30*time.Minute), end, nil)
	for _, c := range res.Top["path"] {
		if c.Count < want.paths[c.Value] || c.Count > wide.paths[c.Value] {
			t.Errorf("path %q counted %d, true %d (%d with the half hour before)", c.Value, c.Count, want.paths[c.Value], wide.paths[c.Value])
		}
	}
	if top := res.Top["path"]; len(top) == 0 || top[0].Value != topOf(want.paths) {
		t.Errorf("top path %v, want %q", top, topOf(want.paths))
	}
	// A filtered query covers only what detail still holds.
	res, err = s.Query(stats.Query{Window: 24 * time.Hour, Match: func(r *record.Record) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Covers == nil || !res.Covers.From.After(from) || res.Covers.Records == 0 || res.Covers.Records >= want.requests {
		t.Fatalf("covers %+v with little detail", res.Covers)
	}
	part := brute(rs, res.Covers.From, end, nil)
	if res.Requests != part.requests || res.Covers.Records != part.requests {
		t.Errorf("filtered: %d requests over %d, want %d from %s", res.Requests, res.Covers.Records, part.requests, res.Covers.From)
	}
}

// More distinct values in an hour than a summary keeps: top lists are no
// longer exact, but a frequent value is kept, never under-counted, and
// over-counted by at most the hour's records over the summary's capacity.
func TestSummaryOverflow(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 59, 0, 0, time.UTC)
	clk := newClock(now)
	s := stats.New(stats.Config{Now: clk.Now, DetailBytes: -1})
	const distinct = 5 * stats.SummaryCap
	n, heavy := 0, 0
	for i := 0; i < distinct; i++ {
		at := now.Add(-50 * time.Minute).Add(time.Duration(i) * time.Second / 2)
		s.Add(clf("10.0.0.1", at, fmt.Sprintf("/rare/%d", i), 200, 1, "a"))
		n++
		if i%6 == 0 {
			s.Add(clf("10.0.0.1", at, "/heavy", 200, 1, "a"))
			n++
			heavy++
		}
	}
	res, err := s.Query(stats.Query{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != uint64(n) {
		t.Errorf("requests %d, want %d", res.Requests, n)
	}
	if res.TopExact {
		t.Error("top_exact after a summary dropped values")
	}
	top := res.Top["path"]
	if len(top) == 0 || top[0].Value != "/heavy" || top[0].Count < uint64(heavy) || top[0].Count > uint64(heavy+n/stats.SummaryCap) {
		t.Errorf("top paths %v, want /heavy with %d to %d", top, heavy, heavy+n/stats.SummaryCap)
	}
	// The hosts' summary kept its one value exactly.
	if h := res.Top["host"]; len(h) != 1 || h[0].Count != uint64(n) {
		t.Errorf("hosts %v", h)
	}
}

func topOf(m map[string]uint64) string {
	best, n := "", uint64(0)
	for k, v := range m {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	return best
}

func TestVisitorsWithin2Percent(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 35, 0, time.UTC)
	clk := newClock(now)
	s := stats.New(stats.Config{Now: clk.Now, DetailBytes: -1})
	const n = 100_000
	for i := 0; i < n; i++ {
		at := now.Add(-time.Duration(i) * (50 * time.Minute / n))
		s.Add(clf(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), at, "/", 200, 1, "a"))
		s.Add(clf(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), at, "/again", 200, 1, "a"))
	}
	for _, w := range []time.Duration{time.Hour, 12 * time.Hour} {
		res, err := s.Query(stats.Query{Window: w})
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(float64(res.Visitors)-n) / n; d > 0.02 {
			t.Errorf("%s: visitors %d, want %d within 2%% (off by %.2f%%)", w, res.Visitors, n, 100*d)
		}
	}
}

func TestDurationsWithin1Percent(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 35, 0, time.UTC)
	clk := newClock(now)
	s := stats.New(stats.Config{Now: clk.Now})
	var ds []float64
	for i := 0; i < 20000; i++ {
		// A long tail: most requests fast, a few very slow.
		d := time.Duration(math.Exp(float64(i%1000)/100)) * 100 * time.Microsecond
		r := clf("10.0.0.1", now.Add(-time.Duration(i)*time.Millisecond*100), fmt.Sprintf("/p%d", i%7), 200, 1, "a")
		r.Duration = record.Took(d)
		ds = append(ds, d.Seconds())
		s.Add(r)
	}
	sort.Float64s(ds)
	for _, w := range []time.Duration{time.Hour, 12 * time.Hour} {
		res, err := s.Query(stats.Query{Window: w})
		if err != nil {
			t.Fatal(err)
		}
		d := res.Duration
		if d == nil || d.Count != uint64(len(ds)) || d.Max != ds[len(ds)-1] {
			t.Fatalf("%s: duration %+v, want count %d max %v", w, d, len(ds), ds[len(ds)-1])
		}
		for _, q := range []struct {
			got, p float64
		}{{d.P50, 0.5}, {d.P90, 0.9}, {d.P99, 0.99}} {
			exact := ds[int(q.p*float64(len(ds)-1))]
			if math.Abs(q.got-exact) > 0.01*exact {
				t.Errorf("%s: p%v %v, exact %v: more than 1%% off", w, q.p*100, q.got, exact)
			}
		}
		if len(res.Slowest) != 7 || res.Slowest[0].Total < res.Slowest[1].Total {
			t.Errorf("%s: slowest %+v", w, res.Slowest)
		}
	}
}
