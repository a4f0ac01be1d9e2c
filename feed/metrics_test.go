package feed_test

import (
	"bytes"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/weblogd/weblogd/feed"
)

// weblogdMetrics are the metrics of /metrics (docs/operations.md): present from
// the start, with every label value weblogd knows.
var weblogdMetrics = []struct {
	name  string
	typ   dto.MetricType
	label string // "transport", "source" or none
}{
	{"weblogd_records_ingested_total", dto.MetricType_COUNTER, "source"},
	{"weblogd_parse_errors_total", dto.MetricType_COUNTER, "source"},
	{"weblogd_lines_truncated_total", dto.MetricType_COUNTER, "source"},
	{"weblogd_tail_lag_bytes", dto.MetricType_GAUGE, "source"},
	{"weblogd_subscribers", dto.MetricType_GAUGE, "transport"},
	{"weblogd_records_sent_total", dto.MetricType_COUNTER, "transport"},
	{"weblogd_records_dropped_total", dto.MetricType_COUNTER, "transport"},
	{"weblogd_gaps_total", dto.MetricType_COUNTER, "transport"},
	{"weblogd_disconnects_total", dto.MetricType_COUNTER, "transport"}, // and reason: see TestLimitMetricsFromTheStart
	{"weblogd_refused_total", dto.MetricType_COUNTER, "transport"},
	{"weblogd_ring_records", dto.MetricType_GAUGE, ""},
	{"weblogd_ring_capacity_records", dto.MetricType_GAUGE, ""},
	{"weblogd_ring_last_seq", dto.MetricType_GAUGE, ""},
	{"weblogd_state_save_errors_total", dto.MetricType_COUNTER, ""},
	{"weblogd_build_info", dto.MetricType_GAUGE, "version"},
	{"weblogd_broadcast_flush_duration_seconds", dto.MetricType_HISTOGRAM, ""},
	{"weblogd_request_duration_seconds", dto.MetricType_HISTOGRAM, "source"}, // and class: see TestRequestDurationMetric
}

var allTransports = []string{"tcp", "hits", "events", "ws"}

// scrape GETs /metrics and parses it as Prometheus does.
func scrape(t *testing.T, srv *feed.Server) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	resp, body := apiGet(t, srv, "/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return mfs, body
}

// value returns the value of the sample of family name whose labels are
// the given pairs; ok false when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	for _, m := range mfs[name].GetMetric() {
		if hasLabels(m, labels...) {
			return sampleValue(m), true
		}
	}
	return 0, false
}

// sampleValue is a sample's value; a histogram's is its count.
func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

func hasLabels(m *dto.Metric, pairs ...string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func labelValues(mf *dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				out = append(out, l.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkFamilies checks that every weblogd metric is there with its type
// and every label value, and that any other weblogd_ family labelled by
// transport or source has every value too.
func checkFamilies(t *testing.T, mfs map[string]*dto.MetricFamily, version string, sources ...string) {
	t.Helper()
	slices.Sort(sources)
	transports := slices.Sorted(slices.Values(allTransports))
	for _, m := range weblogdMetrics {
		mf := mfs[m.name]
		if mf == nil {
			t.Errorf("%s is missing", m.name)
			continue
		}
		if mf.GetType() != m.typ {
			t.Errorf("%s is a %v, want a %v", m.name, mf.GetType(), m.typ)
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s has no help", m.name)
		}
		var want []string
		switch m.label {
		case "transport":
			want = transports
		case "source":
			want = sources
		case "version":
			want = []string{version}
		}
		if m.label != "" {
			// Compact: a family with a second label has each value once per value of it.
			if got := labelValues(mf, m.label); !slices.Equal(slices.Compact(got), want) {
				t.Errorf("%s has %s=%v, want %v", m.name, m.label, got, want)
			}
		} else if len(mf.GetMetric()) != 1 {
			t.Errorf("%s has %d samples, want 1", m.name, len(mf.GetMetric()))
		}
	}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "weblogd_") {
			continue
		}
		for _, l := range []struct {
			name string
			want []string
		}{{"transport", transports}, {"source", sources}} {
			if got := labelValues(mf, l.name); len(got) > 0 && !slices.Equal(slices.Compact(got), l.want) {
				t.Errorf("%s has %s=%v, want every one of %v", name, l.name, got, l.want)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Version: "9.9.9", Ring: 50, Tick: 5 * time.Millisecond})

	t.Run("from the start", func(t *testing.T) {
		mfs, _ := scrape(t, srv)
		checkFamilies(t, mfs, "9.9.9", "access.log")
		for _, m := range weblogdMetrics {
			if m.name == "weblogd_build_info" || m.name == "weblogd_ring_capacity_records" {
				continue
			}
			for _, mt := range mfs[m.name].GetMetric() {
				if v := sampleValue(mt); v != 0 {
					t.Errorf("%s%v=%v at the start, want 0", m.name, mt.GetLabel(), v)
				}
			}
		}
		if v, _ := value(mfs, "weblogd_ring_capacity_records"); v != 50 {
			t.Errorf("weblogd_ring_capacity_records=%v, want 50", v)
		}
		if v, _ := value(mfs, "weblogd_build_info", "version", "9.9.9"); v != 1 {
			t.Errorf("weblogd_build_info=%v, want 1", v)
		}
		for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
			if mfs[name] == nil {
				t.Errorf("%s is missing: the Go and process collectors belong on the private registry", name)
			}
		}
	})

	t.Run("counters move", func(t *testing.T) {
		sse := dialLive(t, srv, kindSSE, "", nil)
		writeLines(t, log, combined, "not a log line", combined, combined)
		if seqs, err := readSeqs(sse, 4); err != nil {
			t.Fatalf("events: %v %v", seqs, err)
		}
		want := []struct {
			name   string
			labels []string
			v      float64
		}{
			{"weblogd_records_ingested_total", []string{"source", "access.log"}, 4},
			{"weblogd_parse_errors_total", []string{"source", "access.log"}, 1},
			{"weblogd_records_sent_total", []string{"transport", "events"}, 4},
			{"weblogd_records_sent_total", []string{"transport", "ws"}, 0},
			{"weblogd_subscribers", []string{"transport", "events"}, 1},
			{"weblogd_subscribers", []string{"transport", "hits"}, 0},
			{"weblogd_ring_records", nil, 4},
			{"weblogd_ring_last_seq", nil, 4},
			{"weblogd_tail_lag_bytes", []string{"source", "access.log"}, 0},
		}
		var mfs map[string]*dto.MetricFamily
		ok := func() bool {
			mfs, _ = scrape(t, srv)
			for _, w := range want {
				if v, found := value(mfs, w.name, w.labels...); !found || v != w.v {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(waitFor)
		for !ok() {
			if time.Now().After(deadline) {
				for _, w := range want {
					v, found := value(mfs, w.name, w.labels...)
					t.Errorf("%s%v=%v (present %v), want %v", w.name, w.labels, v, found, w.v)
				}
				t.FailNow()
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n, _ := value(mfs, "weblogd_broadcast_flush_duration_seconds"); n < 1 {
			t.Errorf("weblogd_broadcast_flush_duration_seconds has %v observations, want at least 1", n)
		}
		checkFamilies(t, mfs, "9.9.9", "access.log")
	})

	t.Run("lint", func(t *testing.T) {
		_, body := scrape(t, srv)
		promtool(t, body)
	})
}

// promtool checks an exposition with Prometheus' own linter, in a subtest
// of its own: without promtool only that subtest is skipped.
func promtool(t *testing.T, body []byte) {
	t.Helper()
	t.Run("promtool", func(t *testing.T) {
		cmd := exec.Command(tool(t, "promtool", "prometheus"), "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// Metrics with several logs: each source has its own samples.
func TestMetricsSources(t *testing.T) {
	a, b := tempLog(t), tempLog(t) // two access.log in different directories
	c := strings.TrimSuffix(b, "access.log") + "other.log"
	writeLines(t, c)
	srv := startServer(t, feed.Config{Logs: []string{a, b, c}, TCPAddr: feed.NoListen})
	mfs, body := scrape(t, srv)
	// Logs with the same base name are named by their paths.
	checkFamilies(t, mfs, "dev", a, b, "other.log")
	promtool(t, body)
}

// An embedder's registry gets weblogd's metrics, and /metrics serves that
// registry.
func TestMetricsEmbedderRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	own := prometheus.NewCounter(prometheus.CounterOpts{Name: "embedder_things_total", Help: "The embedder's own."})
	reg.MustRegister(own)
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Registry: reg, TCPAddr: feed.NoListen})

	gathered, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather()=%v", err)
	}
	mfs := map[string]*dto.MetricFamily{}
	for _, mf := range gathered {
		mfs[mf.GetName()] = mf
	}
	checkFamilies(t, mfs, "dev", "access.log")
	if mfs["embedder_things_total"] == nil {
		t.Fatal("the embedder's own metric is gone from its registry")
	}

	served, body := scrape(t, srv)
	if served["embedder_things_total"] == nil || served["weblogd_records_ingested_total"] == nil {
		t.Fatalf("/metrics does not serve the embedder's registry:\n%s", body)
	}
	if served["go_goroutines"] != nil {
		t.Fatal("weblogd added the Go collector to the embedder's registry: that is the embedder's choice")
	}

	// Two servers cannot share one registry: New says so, it does not panic.
	if _, err := feed.New(feed.Config{Logs: []string{log}, Registry: reg}); err == nil {
		t.Fatal("New() with a registry that already has weblogd's metrics: nil error, want one")
	}
	// Servers with private registries live side by side.
	other := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	if m, _ := scrape(t, other); m["weblogd_records_ingested_total"] == nil {
		t.Fatal("a second server's /metrics has no weblogd metrics")
	}
}
