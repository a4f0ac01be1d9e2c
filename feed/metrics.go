package feed

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/transports"
)

// maxScrapes bounds concurrent /metrics requests: a scrape reads every
// source's file size, and a misbehaving scraper must not pile them up.
const maxScrapes = 4

var (
	descIngested  = prometheus.NewDesc("weblogd_records_ingested_total", "Records read from a source (a log, standard input, syslog, /ingest) and put in the ring.", []string{"source"}, nil)
	descParseErrs = prometheus.NewDesc("weblogd_parse_errors_total", "Lines that did not parse as an access-log line (still delivered as raw records).", []string{"source"}, nil)
	descTruncated = prometheus.NewDesc("weblogd_lines_truncated_total", "Lines longer than the maximum line length, cut and delivered.", []string{"source"}, nil)
	descLag       = prometheus.NewDesc("weblogd_tail_lag_bytes", "Bytes of a log not yet read: its size minus the offset read up to.", []string{"source"}, nil)
	descSubs      = prometheus.NewDesc("weblogd_subscribers", "Subscribers connected now.", []string{"transport"}, nil)
	descSent      = prometheus.NewDesc("weblogd_records_sent_total", "Records written to subscribers.", []string{"transport"}, nil)
	descDropped   = prometheus.NewDesc("weblogd_records_dropped_total", "Records dropped from the queues of subscribers that fell behind.", []string{"transport"}, nil)
	descGaps      = prometheus.NewDesc("weblogd_gaps_total", "Gap markers sent to subscribers.", []string{"transport"}, nil)
	descDisconn   = prometheus.NewDesc("weblogd_disconnects_total", "Subscribers whose stream ended, by why: closed (the client went), shutdown, slow (behind for longer than --slow-timeout), write_timeout, pong_timeout, protocol, admin (an operator), revoked (its token removed or changed, its browser session logged out or expired).", []string{"transport", "reason"}, nil)
	descRefused   = prometheus.NewDesc("weblogd_refused_total", "Subscribers turned away, by why: max_subscribers, max_subscribers_per_ip, shutdown.", []string{"transport", "reason"}, nil)
	descRing      = prometheus.NewDesc("weblogd_ring_records", "Records held in the ring.", nil, nil)
	descRingCap   = prometheus.NewDesc("weblogd_ring_capacity_records", "Records the ring can hold.", nil, nil)
	descLastSeq   = prometheus.NewDesc("weblogd_ring_last_seq", "Sequence number of the newest record.", nil, nil)
	descAuthFail  = prometheus.NewDesc("weblogd_auth_failures_total", "Requests and raw connections refused for missing or wrong credentials, by the endpoint they came to: tcp (the raw port), hits, events, ws, api, dashboard, metrics (also /healthz and /readyz), login, admin.", []string{"endpoint"}, nil)
	descStateErrs = prometheus.NewDesc("weblogd_state_save_errors_total", "Failed saves of the --state checkpoint; /readyz says why until one succeeds.", nil, nil)
	descBuild     = prometheus.NewDesc("weblogd_build_info", "Always 1; the version is a label.", []string{"version"}, nil)
)

// The syslog metrics, by listener (its --syslog URL).
var (
	descSyslogMessages   = prometheus.NewDesc("weblogd_syslog_messages_total", "Syslog messages received, each a record.", []string{"listener"}, nil)
	descSyslogUnreadable = prometheus.NewDesc("weblogd_syslog_unreadable_total", "Syslog messages without a header that could be read, each still a record as it came (source syslog).", []string{"listener"}, nil)
	descSyslogDropped    = prometheus.NewDesc("weblogd_syslog_dropped_total", "UDP syslog datagrams the kernel dropped for want of room in the socket's receive buffer (Linux).", []string{"listener"}, nil)
	descSyslogConns      = prometheus.NewDesc("weblogd_syslog_connections", "TCP syslog connections open now.", []string{"listener"}, nil)
	descSyslogRefused    = prometheus.NewDesc("weblogd_syslog_refused_total", "TCP syslog connections closed at once: the listener had --syslog-max-conns open.", []string{"listener"}, nil)
)

// The NATS metrics, registered only with Publish or Subscribe; role is
// publish or subscribe, each present when it is configured.
var (
	descNATSConnected   = prometheus.NewDesc("weblogd_nats_connected", "1 while the connection to NATS is up, by role: publish, subscribe.", []string{"role"}, nil)
	descNATSErrors      = prometheus.NewDesc("weblogd_nats_errors_total", "Failed NATS operations, each retried, by role: publish (publishes sent again), subscribe (pulls, acks, opening the consumer).", []string{"role"}, nil)
	descNATSPublished   = prometheus.NewDesc("weblogd_nats_published_total", "Records the NATS stream acknowledged (duplicates it dropped included).", nil, nil)
	descNATSPending     = prometheus.NewDesc("weblogd_nats_publish_pending_records", "Records waiting for the NATS stream's acknowledgement.", nil, nil)
	descNATSPendingDisk = prometheus.NewDesc("weblogd_nats_publish_pending_disk_records", "Of the records waiting for NATS, those in the buffer file (--state).", nil, nil)
	descNATSDropped     = prometheus.NewDesc("weblogd_nats_publish_dropped_total", "Records that cannot be read again (standard input, FIFOs, syslog, /ingest) dropped from a full NATS publish buffer, never published; lines of log files wait instead.", nil, nil)
	descNATSBufferErrs  = prometheus.NewDesc("weblogd_nats_publish_buffer_errors_total", "Failed writes of the NATS publish buffer file, and damaged ends found in it at start.", nil, nil)
	descNATSOutOfOrder  = prometheus.NewDesc("weblogd_nats_publish_out_of_order_total", "Records the NATS stream stored after a later one of this node (a publish lost while a clustered stream changed leader).", nil, nil)
	descNATSPublishLag  = prometheus.NewDesc("weblogd_nats_publish_lag_seconds", "Age of the oldest record waiting for NATS; 0 when none waits.", nil, nil)
	descNATSReceived    = prometheus.NewDesc("weblogd_nats_received_total", "Records taken from the NATS stream into the ring.", nil, nil)
	descNATSSkipped     = prometheus.NewDesc("weblogd_nats_skipped_total", "Redeliveries of record batches already taken from NATS, skipped.", nil, nil)
	descNATSBadRecords  = prometheus.NewDesc("weblogd_nats_bad_records_total", "Messages from NATS that did not decode as record batches, dropped.", nil, nil)
	descNATSUnknown     = prometheus.NewDesc("weblogd_nats_unknown_version_records_total", "Records skipped because their batch is of a wire format version this weblogd does not know (a newer publisher).", nil, nil)
	descNATSConsumerLag = prometheus.NewDesc("weblogd_nats_consumer_lag_records", "Messages (record batches) in the NATS stream not yet delivered to this edge.", nil, nil)
	descNATSStreamSeq   = prometheus.NewDesc("weblogd_nats_consumer_stream_seq", "Stream sequence of the last record batch taken from NATS.", nil, nil)
)

func newFlushHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "weblogd_broadcast_flush_duration_seconds",
		Help: "Time the broadcast loop took to offer one flush's batch to every subscriber.",
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
	if err := reg.Register(s.durations.vec); err != nil {
		return err
	}
	if s.cfg.Publish != "" || s.cfg.Subscribe != "" {
		if err := reg.Register(natsCollector{s}); err != nil {
			return err
		}
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
	for _, d := range []*prometheus.Desc{descIngested, descParseErrs, descTruncated, descLag, descSubs, descSent, descDropped, descGaps, descDisconn, descRefused, descRing, descRingCap, descLastSeq, descAuthFail, descStateErrs, descBuild, descSyslogMessages, descSyslogUnreadable, descSyslogDropped, descSyslogConns, descSyslogRefused} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	counter := func(d *prometheus.Desc, v uint64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	// Counted by name: a stream may share a log's name (an /ingest source
	// named like a log), and a metric's labels must be unique.
	type counts struct{ records, parseErrors, truncated uint64 }
	var names []string
	byName := map[string]*counts{}
	add := func(name string, r *format.Reader) {
		c := byName[name]
		if c == nil {
			c = &counts{}
			byName[name] = c
			names = append(names, name)
		}
		records, parseErrors, truncated := r.Counts()
		c.records += records
		c.parseErrors += parseErrors
		c.truncated += truncated
	}
	for _, src := range s.src.snapshot() {
		add(src.name, src.read)
		_, _, lag := src.position()
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(lag), src.name)
	}
	for _, st := range s.streams.snapshot() {
		add(st.name, st.read) // a stream has no file, so no lag
	}
	for _, name := range names {
		c := byName[name]
		counter(descIngested, c.records, name)
		counter(descParseErrs, c.parseErrors, name)
		counter(descTruncated, c.truncated, name)
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
	ch <- prometheus.MustNewConstMetric(descStateErrs, prometheus.CounterValue, float64(s.stateErrs.Load()))
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, s.cfg.Version)
	for _, l := range s.syslogListeners() {
		counter(descSyslogMessages, l.messages.Load(), l.url)
		counter(descSyslogUnreadable, l.unreadable.Load(), l.url)
		counter(descSyslogDropped, l.drops(), l.url)
		ch <- prometheus.MustNewConstMetric(descSyslogConns, prometheus.GaugeValue, float64(l.conns.Load()), l.url)
		counter(descSyslogRefused, l.refused.Load(), l.url)
	}
}

// natsCollector reads the publisher's and the edge's counters at scrape
// time, so that they are there from the start. It is registered only with
// NATS.
type natsCollector struct{ s *Server }

func (c natsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descNATSConnected
	ch <- descNATSErrors
	if c.s.cfg.Publish != "" {
		for _, d := range []*prometheus.Desc{descNATSPublished, descNATSPending, descNATSPendingDisk, descNATSDropped, descNATSBufferErrs, descNATSOutOfOrder, descNATSPublishLag} {
			ch <- d
		}
	}
	if c.s.cfg.Subscribe != "" {
		for _, d := range []*prometheus.Desc{descNATSReceived, descNATSSkipped, descNATSBadRecords, descNATSUnknown, descNATSConsumerLag, descNATSStreamSeq} {
			ch <- d
		}
	}
}

func (c natsCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bit := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if p := c.s.pub; p != nil {
		st := p.Stats()
		gauge(descNATSConnected, bit(st.Connected), "publish")
		counter(descNATSErrors, st.Errors, "publish")
		counter(descNATSPublished, st.Published)
		gauge(descNATSPending, float64(st.Pending))
		gauge(descNATSPendingDisk, float64(st.OnDisk))
		counter(descNATSDropped, st.Dropped)
		counter(descNATSBufferErrs, st.DiskErrors)
		counter(descNATSOutOfOrder, st.OutOfOrder)
		gauge(descNATSPublishLag, st.Lag.Seconds())
	}
	if e := c.s.edge; e != nil {
		st := e.Stats()
		gauge(descNATSConnected, bit(st.Connected), "subscribe")
		counter(descNATSErrors, st.Errors, "subscribe")
		counter(descNATSReceived, st.Handled)
		counter(descNATSSkipped, st.Skipped)
		counter(descNATSBadRecords, st.BadRecords)
		counter(descNATSUnknown, st.Unknown)
		gauge(descNATSConsumerLag, float64(st.Lag))
		gauge(descNATSStreamSeq, float64(st.StreamSeq))
	}
}
