package feed

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weblogd/weblogd/transports"
)

// maxScrapes bounds concurrent /metrics requests: a scrape reads every
// source's file size, and a misbehaving scraper must not pile them up.
const maxScrapes = 4

var (
	descIngested  = prometheus.NewDesc("weblogd_records_ingested_total", "Records read from a log and put in the ring.", []string{"source"}, nil)
	descParseErrs = prometheus.NewDesc("weblogd_parse_errors_total", "Lines that did not parse as an access-log line (still delivered as raw records).", []string{"source"}, nil)
	descTruncated = prometheus.NewDesc("weblogd_lines_truncated_total", "Lines longer than the maximum line length, cut and delivered.", []string{"source"}, nil)
	descLag       = prometheus.NewDesc("weblogd_tail_lag_bytes", "Bytes of a log not yet read: its size minus the offset read up to.", []string{"source"}, nil)
	descSubs      = prometheus.NewDesc("weblogd_subscribers", "Subscribers connected now.", []string{"transport"}, nil)
	descSent      = prometheus.NewDesc("weblogd_records_sent_total", "Records written to subscribers.", []string{"transport"}, nil)
	descDropped   = prometheus.NewDesc("weblogd_records_dropped_total", "Records dropped from the queues of subscribers that fell behind.", []string{"transport"}, nil)
	descGaps      = prometheus.NewDesc("weblogd_gaps_total", "Gap markers sent to subscribers.", []string{"transport"}, nil)
	descDisconn   = prometheus.NewDesc("weblogd_disconnects_total", "Subscribers whose stream ended, by why: closed (the client went), shutdown, slow (behind for longer than --slow-timeout), write_timeout, pong_timeout, protocol.", []string{"transport", "reason"}, nil)
	descRefused   = prometheus.NewDesc("weblogd_refused_total", "Subscribers turned away, by why: max_subscribers, max_subscribers_per_ip, shutdown.", []string{"transport", "reason"}, nil)
	descRing      = prometheus.NewDesc("weblogd_ring_records", "Records held in the ring.", nil, nil)
	descRingCap   = prometheus.NewDesc("weblogd_ring_capacity_records", "Records the ring can hold.", nil, nil)
	descLastSeq   = prometheus.NewDesc("weblogd_ring_last_seq", "Sequence number of the newest record.", nil, nil)
	descAuthFail  = prometheus.NewDesc("weblogd_auth_failures_total", "Requests and raw connections refused for missing or wrong credentials, by the endpoint they came to: tcp (the raw port), hits, events, ws, api, dashboard, metrics (also /healthz and /readyz), login, admin.", []string{"endpoint"}, nil)
	descBuild     = prometheus.NewDesc("weblogd_build_info", "Always 1; the version is a label.", []string{"version"}, nil)
)

func newFlushHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "weblogd_broadcast_flush_duration_seconds",
		Help: "Time the broadcast loop took to offer one tick's batch to every subscriber.",
		// From 1 µs (a few subscribers) to 100 ms (something is wrong).
		Buckets: prometheus.ExponentialBucketsRange(1e-6, 0.1, 12),
	})
}

// registerMetrics puts weblogd's collectors on reg (a private registry
// with the Go and process collectors when reg is nil).
func (s *Server) registerMetrics(reg *prometheus.Registry) error {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s.registry = reg
	if err := reg.Register(s.flushDur); err != nil {
		return err
	}
	return reg.Register(collector{s})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{MaxRequestsInFlight: maxScrapes})
}

// collector reads the live counters at scrape time, so every metric is
// there from the start, with every known source and transport at zero.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIngested, descParseErrs, descTruncated, descLag, descSubs, descSent, descDropped, descGaps, descDisconn, descRefused, descRing, descRingCap, descLastSeq, descAuthFail, descBuild} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	for _, src := range s.src.snapshot() {
		counter(descIngested, src.records.Load(), src.name)
		counter(descParseErrs, src.parseErrors.Load(), src.name)
		counter(descTruncated, src.truncated.Load(), src.name)
		_, _, lag := src.position()
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), src.name)
	}
	for _, name := range transportNames {
		tc := s.counters[name]
		ch <- prometheus.MustNewConstMetric(descSubs, prometheus.GaugeValue, float64(tc.Subscribers.Load()), name)
		counter(descSent, tc.Sent.Load(), name)
		counter(descDropped, tc.Dropped.Load(), name)
		counter(descGaps, tc.Gaps.Load(), name)
		for _, r := range transports.DisconnectReasons() {
			ch <- prometheus.MustNewConstMetric(descDisconn, prometheus.CounterValue, float64(tc.Disconnects(r)), name, string(r))
		}
		for _, r := range transports.RefuseReasons() {
			ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(tc.Refusals(r)), name, string(r))
		}
	}
	for _, p := range authPlaces {
		counter(descAuthFail, s.authFailures[p].Load(), p)
	}
	first, last := s.ring.Bounds()
	ch <- prometheus.MustNewConstMetric(descRing, prometheus.GaugeValue, float64(last+1-first))
	ch <- prometheus.MustNewConstMetric(descRingCap, prometheus.GaugeValue, float64(s.ring.Size()))
	ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(last))
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, s.cfg.Version)
}
