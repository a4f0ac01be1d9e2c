package feed

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/transports"
)

// defaultLimit is the page size of /api/hits when limit= is not given.
const defaultLimit = 100

// apiHits answers GET /api/hits: a JSON array snapshot from the ring.
// With since=, the first limit records after it (matching the filters),
// oldest first, preceded by a gap object if some left the ring; without,
// the newest limit records.
func (s *Server) apiHits(w http.ResponseWriter, r *http.Request) {
	req, err := transports.ParseRequest(r, "limit")
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	if r.URL.Query().Has("backlog") {
		transports.BadRequest(w, fmt.Errorf("backlog is for streams; a snapshot takes limit"))
		return
	}
	limit := defaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			transports.BadRequest(w, fmt.Errorf("bad limit %q: want a count of records, 1 or more", v))
			return
		}
		limit = min(n, s.ring.Size()) // more than the ring holds is all of it
	}
	out := []byte{'['}
	n := 0
	add := func(b []byte) {
		if n > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
		n++
	}
	last := s.ring.Last()
	if req.Start.Resume {
		recs, first := s.ring.After(req.Start.Since, last, 0)
		if first > req.Start.Since+1 && req.Start.Since < last {
			add(transports.AppendJSONGap(nil, req.Start.Since+1, min(first-1, last)))
		}
		count := 0
		for _, rec := range recs {
			if count == limit {
				break
			}
			if req.Filter.Match(rec) {
				add(transports.AppendJSON(nil, rec))
				count++
			}
		}
	} else {
		for _, rec := range s.ring.Tail(limit, last, req.Start.Match) {
			add(transports.AppendJSON(nil, rec))
		}
	}
	out = append(out, ']', '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(out)
}

// status is the body of /api/status.
type status struct {
	Version       string                    `json:"version"`
	Started       time.Time                 `json:"started"`
	UptimeSeconds float64                   `json:"uptime_seconds"`
	Sources       []sourceStatus            `json:"sources"`
	Ring          ringStatus                `json:"ring"`
	Subscribers   map[string]int64          `json:"subscribers"`
	Transports    map[string]transportTotal `json:"transports"`
	Totals        totals                    `json:"totals"`
	Limits        limits                    `json:"limits"`
	NATS          *natsStatus               `json:"nats,omitempty"`   // only with Publish or Subscribe
	Syslog        []syslogStatus            `json:"syslog,omitempty"` // the syslog listeners
}

// natsStatus is the scale-out through NATS: each side only when it is
// configured.
type natsStatus struct {
	Publish   *natsPublish   `json:"publish,omitempty"`
	Subscribe *natsSubscribe `json:"subscribe,omitempty"`
}

type natsPublish struct {
	URL           string  `json:"url"` // without credentials
	Node          string  `json:"node"`
	Connected     bool    `json:"connected"`
	Published     uint64  `json:"published"`       // acknowledged by the stream
	Pending       int     `json:"pending"`         // waiting for the stream, in memory
	PendingOnDisk int     `json:"pending_on_disk"` // of them, in the buffer file
	BufferFile    string  `json:"buffer_file,omitempty"`
	Dropped       uint64  `json:"dropped"`       // from a full buffer (stdin, FIFOs, syslog, /ingest), never published
	Errors        uint64  `json:"errors"`        // failed publishes, each sent again
	BufferErrors  uint64  `json:"buffer_errors"` // failed writes of the buffer file, damaged ends found in it
	OutOfOrder    uint64  `json:"out_of_order"`  // records stored after a later one (a clustered stream's leader change)
	LagSeconds    float64 `json:"lag_seconds"`   // since the oldest waiting record was read; 0 when none waits
	LastError     string  `json:"last_error,omitempty"`
}

type natsSubscribe struct {
	URL        string `json:"url"` // without credentials
	Consumer   string `json:"consumer"`
	Connected  bool   `json:"connected"`
	Ready      bool   `json:"ready"`               // connected, with its consumer
	NotReady   string `json:"not_ready,omitempty"` // why not, as /readyz says it
	Handled    uint64 `json:"handled"`             // records taken into the ring
	Skipped    uint64 `json:"skipped"`             // redeliveries of batches already taken
	BadRecords uint64 `json:"bad_records"`         // messages that did not decode
	Unknown    uint64 `json:"unknown_version"`     // records in batches of a wire format version this weblogd does not know
	Errors     uint64 `json:"errors"`              // failed pulls and acks, retried
	StreamSeq  uint64 `json:"stream_seq"`          // stream sequence of the last batch taken
	LagRecords uint64 `json:"lag_records"`         // messages (batches) in the stream not yet delivered to this edge
	LastError  string `json:"last_error,omitempty"`
}

// natsStatusNow is the NATS part of /api/status; nil without NATS.
func (s *Server) natsStatusNow() *natsStatus {
	if s.pub == nil && s.edge == nil {
		return nil
	}
	n := &natsStatus{}
	if s.pub != nil {
		st := s.pub.Stats()
		n.Publish = &natsPublish{URL: fleet.RedactURL(s.cfg.Publish), Node: s.pub.Node(), Connected: st.Connected,
			Published: st.Published, Pending: st.Pending, PendingOnDisk: st.OnDisk, Dropped: st.Dropped,
			Errors: st.Errors, BufferErrors: st.DiskErrors, OutOfOrder: st.OutOfOrder, LagSeconds: st.Lag.Seconds(), LastError: st.LastError}
		if s.cfg.StatePath != "" {
			n.Publish.BufferFile = s.cfg.StatePath + ".nats"
		}
	}
	if s.edge != nil {
		st := s.edge.Stats()
		n.Subscribe = &natsSubscribe{URL: fleet.RedactURL(s.cfg.Subscribe), Consumer: s.edge.Durable(),
			Connected: st.Connected, Ready: st.Ready, NotReady: s.edge.NotReady(),
			Handled: st.Handled, Skipped: st.Skipped, BadRecords: st.BadRecords, Unknown: st.Unknown, Errors: st.Errors,
			StreamSeq: st.StreamSeq, LagRecords: st.Lag, LastError: st.LastError}
	}
	return n
}

// limits are the subscriber limits in force; 0 means none.
type limits struct {
	MaxSubscribers         int `json:"max_subscribers"`
	MaxSubscribersPerIP    int `json:"max_subscribers_per_ip"`
	MaxSubscribersPerToken int `json:"max_subscribers_per_token"` // 0 also without authentication
}

type sourceStatus struct {
	Name string `json:"name"`
	// Kind is file (a log, or a FIFO given as one), stdin, syslog or
	// ingest. A source that is not a file has no path, offset, size or
	// lag (zero), and says when its last line came.
	Kind        string `json:"kind"`
	Path        string `json:"path,omitempty"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"` // why it is not followed, as /readyz says it
	Offset      int64  `json:"offset"`
	Size        int64  `json:"size"`
	LagBytes    int64  `json:"lag_bytes"`
	Records     uint64 `json:"records"`
	ParseErrors uint64 `json:"parse_errors"`
	Truncated   uint64 `json:"truncated"`
	// Format is the format in use ("auto: combined"); Warning is set
	// while more than one line in ten does not fit it.
	Format   string          `json:"format"`
	Warning  *format.Warning `json:"warning,omitempty"`
	LastLine *time.Time      `json:"last_line,omitempty"` // a stream's; absent before its first line
}

type ringStatus struct {
	Capacity int    `json:"capacity"`
	Records  uint64 `json:"records"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
}

type transportTotal struct {
	Sent        uint64            `json:"sent"`
	Dropped     uint64            `json:"dropped"`
	Gaps        uint64            `json:"gaps"`
	Disconnects map[string]uint64 `json:"disconnects"` // by reason, every reason present
	Refused     map[string]uint64 `json:"refused"`     // by reason, every reason present
}

type totals struct {
	Records     uint64 `json:"records"`
	ParseErrors uint64 `json:"parse_errors"`
	Sent        uint64 `json:"sent"`
	Dropped     uint64 `json:"dropped"`
	Gaps        uint64 `json:"gaps"`
	Subscribers int64  `json:"subscribers"`
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		transports.BadRequest(w, fmt.Errorf("/api/status takes no parameters"))
		return
	}
	st := status{
		Version:     s.cfg.Version,
		Sources:     []sourceStatus{},
		Subscribers: map[string]int64{},
		Transports:  map[string]transportTotal{},
	}
	select {
	case <-s.ready:
		st.Started = s.started
		st.UptimeSeconds = time.Since(s.started).Seconds()
	default:
	}
	for _, src := range s.src.snapshot() {
		ss := sourceStatus{Name: src.name, Kind: kindFile, Path: src.path, State: src.t.State(), Reason: src.reason(),
			Format: src.read.Format(), Warning: src.read.Warning()}
		ss.Records, ss.ParseErrors, ss.Truncated = src.read.Counts()
		ss.Offset, ss.Size, ss.LagBytes = src.position()
		st.Sources = append(st.Sources, ss)
		st.Totals.Records += ss.Records
		st.Totals.ParseErrors += ss.ParseErrors
	}
	for _, sm := range s.streams.snapshot() {
		ss := sourceStatus{Name: sm.name, Kind: sm.kind, State: sm.state(), Reason: sm.reason(),
			Format: sm.read.Format(), Warning: sm.read.Warning()}
		if t := sm.lastLine(); !t.IsZero() {
			ss.LastLine = &t
		}
		ss.Records, ss.ParseErrors, ss.Truncated = sm.read.Counts()
		st.Sources = append(st.Sources, ss)
		st.Totals.Records += ss.Records
		st.Totals.ParseErrors += ss.ParseErrors
	}
	for _, l := range s.syslogListeners() {
		st.Syslog = append(st.Syslog, l.status())
	}
	st.Limits = limits{MaxSubscribers: max(s.cfg.MaxSubscribers, 0), MaxSubscribersPerIP: max(s.cfg.MaxSubscribersPerIP, 0),
		MaxSubscribersPerToken: s.tokenLimit.Max()}
	first, last := s.ring.Bounds()
	st.Ring = ringStatus{Capacity: s.ring.Size(), Records: last + 1 - first, LastSeq: last}
	if last >= first {
		st.Ring.FirstSeq = first
	}
	for _, name := range transportNames {
		c := s.counters[name]
		st.Subscribers[name] = c.Subscribers.Load()
		t := transportTotal{Sent: c.Sent.Load(), Dropped: c.Dropped.Load(), Gaps: c.Gaps.Load(),
			Disconnects: map[string]uint64{}, Refused: map[string]uint64{}}
		for _, r := range transports.DisconnectReasons() {
			t.Disconnects[string(r)] = c.Disconnects(r)
		}
		for _, r := range transports.RefuseReasons() {
			t.Refused[string(r)] = c.Refusals(r)
		}
		st.Transports[name] = t
		st.Totals.Sent += t.Sent
		st.Totals.Dropped += t.Dropped
		st.Totals.Gaps += t.Gaps
		st.Totals.Subscribers += st.Subscribers[name]
	}
	st.NATS = s.natsStatusNow()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}
