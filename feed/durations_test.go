package feed_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/weblogd/weblogd/feed"
)

var statusClasses = []string{"2xx", "3xx", "4xx", "5xx", "other"}

// weblogd_request_duration_seconds has every class of every source from
// the start, at zero, and counts each record with a duration under its
// source and status class.
func TestRequestDurationMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Format: timedFormat, Registry: reg})
	want := func(lines string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(lines), "weblogd_request_duration_seconds"); err != nil {
			t.Fatal(err)
		}
	}
	var zero strings.Builder
	zero.WriteString(durationHeader)
	for _, c := range statusClasses {
		zero.WriteString(histogram("access.log", c, nil))
	}
	want(zero.String())

	now := time.Now()
	writeLines(t, log,
		timedLine(now, "192.0.2.1", "/a", 200, 1, 0.003),
		timedLine(now, "192.0.2.1", "/a", 204, 1, 0.2),
		timedLine(now, "192.0.2.1", "/b", 404, 1, 0.04),
		timedLine(now, "192.0.2.1", "/c", 502, 1, 12),
		"not a line of the format",
		accessLine("192.0.2.1", "GET", "/no-duration", 200, "curl"))
	waitUntil(t, func() bool { return srv.LastSeq() == 6 })
	var b strings.Builder
	b.WriteString(durationHeader)
	b.WriteString(histogram("access.log", "2xx", []float64{0.003, 0.2}))
	b.WriteString(histogram("access.log", "3xx", nil))
	b.WriteString(histogram("access.log", "4xx", []float64{0.04}))
	b.WriteString(histogram("access.log", "5xx", []float64{12}))
	b.WriteString(histogram("access.log", "other", nil))
	want(b.String())
}

// The sources that are not files are bounded by MaxSources: the records
// of more are counted under (overflow).
func TestRequestDurationMetricBoundsSources(t *testing.T) {
	reg := prometheus.NewRegistry()
	tokens := writeTokenFile(t, "ingest-secret-token-0123456789")
	srv := startServer(t, feed.Config{IngestTokenFile: tokens, Format: timedFormat, Registry: reg, MaxSources: 3})
	now := time.Now()
	for i := range 6 {
		resp, body := postIngest(t, ingestURL(srv, "source=web"+fmt.Sprint(i)), "ingest-secret-token-0123456789", "text/plain",
			strings.NewReader(timedLine(now, "192.0.2.1", "/", 200, 1, 0.1)+"\n"))
		if resp.StatusCode != 200 {
			t.Fatalf("/ingest: %d %s", resp.StatusCode, body)
		}
	}
	waitUntil(t, func() bool { return srv.LastSeq() == 6 })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var fam *dto.MetricFamily
	for _, mf := range mfs {
		if mf.GetName() == "weblogd_request_duration_seconds" {
			fam = mf
		}
	}
	sources := map[string]uint64{}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "source" {
				sources[l.GetValue()] += m.GetHistogram().GetSampleCount()
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range sources {
			if !yield(k) {
				return
			}
		}
	})
	if len(names) != 4 || !slices.Contains(names, "(overflow)") || sources["(overflow)"] != 3 {
		t.Fatalf("sources %v, want three of their own and (overflow) with 3 records", sources)
	}
}

const durationHeader = `# HELP weblogd_request_duration_seconds The time the web server took to answer, from the records that have it ($request_time, %D), by source and status class (2xx, 3xx, 4xx, 5xx, other). Sources past --max-sources are counted under (overflow).
# TYPE weblogd_request_duration_seconds histogram
`

var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// histogram is the exposition of one series of the histogram holding
// the values vs.
func histogram(source, class string, vs []float64) string {
	var b strings.Builder
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	for _, le := range durationBuckets {
		n := 0
		for _, v := range vs {
			if v <= le {
				n++
			}
		}
		fmt.Fprintf(&b, "weblogd_request_duration_seconds_bucket{class=%q,source=%q,le=\"%v\"} %d\n", class, source, le, n)
	}
	fmt.Fprintf(&b, "weblogd_request_duration_seconds_bucket{class=%q,source=%q,le=\"+Inf\"} %d\n", class, source, len(vs))
	fmt.Fprintf(&b, "weblogd_request_duration_seconds_sum{class=%q,source=%q} %v\n", class, source, sum)
	fmt.Fprintf(&b, "weblogd_request_duration_seconds_count{class=%q,source=%q} %d\n", class, source, len(vs))
	return b.String()
}
