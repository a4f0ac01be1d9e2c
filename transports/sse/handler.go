// Package sse serves GET /events as Server-Sent Events: each record is
// "id: <seq>", "event: hit" and its JSON as data; gaps are "event: gap".
// A reconnecting EventSource sends Last-Event-ID and resumes exactly after
// the last record it got. An idle stream gets a comment every heartbeat.
//
// Concurrency: the request's goroutine is the stream's only writer
// (transports.Pump). At shutdown the response simply ends, so browsers
// reconnect by themselves and resume.
package sse

import (
	"net/http"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

// retry is the reconnection delay sent to EventSource clients: after a
// restart the server is usually back within a second or two.
const retry = "retry: 2000\n\n"

// Config configures a Handler.
type Config struct {
	Hub *broadcast.Hub // required
	// WriteTimeout bounds each write; zero means transports.DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Heartbeat is how often an idle stream gets a comment line; zero means
	// transports.DefaultHeartbeat (15 s).
	Heartbeat time.Duration
	// Counters receive this transport's numbers; nil keeps them private.
	Counters *transports.Counters
}

// Handler serves /events.
type Handler struct{ c Config }

// New returns a handler.
func New(c Config) *Handler {
	if c.Counters == nil {
		c.Counters = new(transports.Counters)
	}
	return &Handler{c: c}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := transports.ParseRequest(r)
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	transports.StreamHeaders(w, "text/event-stream; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	sub, err := h.c.Hub.Subscribe(r.Context(), req.Start)
	if err != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	s := &sink{w: transports.NewHTTPWriter(w, h.c.WriteTimeout), f: req.Filter}
	w.WriteHeader(http.StatusOK)
	if err := s.w.Write([]byte(retry)); err != nil {
		return
	}
	transports.Pump(r.Context(), sub, s, h.c.Heartbeat, h.c.Counters)
}

type sink struct {
	w     *transports.HTTPWriter
	f     *transports.Filter
	parts [][]byte
}

func (s *sink) Send(items []broadcast.Item) (int, error) {
	s.parts = s.parts[:0]
	total := 0
	for _, it := range items {
		if it.Batch == nil {
			s.parts = append(s.parts, transports.AppendSSEGap(nil, it.Gap))
			continue
		}
		b, n := transports.Render(it.Batch, s.f, transports.SSE, transports.AppendSSE)
		s.parts = append(s.parts, b)
		total += n
	}
	return total, s.w.Write(s.parts...)
}

var keepalive = []byte(": keepalive\n\n")

func (s *sink) Heartbeat() error { return s.w.Write(keepalive) }

// End writes nothing: the response ends, and EventSource reconnects with
// Last-Event-ID.
func (s *sink) End() error { return nil }
