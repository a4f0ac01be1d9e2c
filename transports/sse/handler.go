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

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

// retry is the reconnection delay sent to EventSource clients: after a
// restart the server is usually back within a second or two.
const retry = "retry: 2000\n\n"

// Handler serves /events.
type Handler struct{ c transports.StreamConfig }

// New returns a handler.
func New(c transports.StreamConfig) *Handler { return &Handler{c: c} }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := transports.ParseRequest(r)
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	transports.ServeStream(w, r, h.c, req, "text/event-stream; charset=utf-8", []byte(retry), func(hw *transports.HTTPWriter) transports.Sink {
		return &sink{w: hw, f: req.Filter}
	})
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

// End writes nothing at shutdown: the response ends, and EventSource
// reconnects with Last-Event-ID. A subscriber ended for being slow, or for
// its credentials being revoked, gets a comment saying so first, which
// EventSource ignores and curl shows (an event named "error" would be
// confused with EventSource's own).
func (s *sink) End(reason broadcast.Reason) error {
	if why := transports.EndReason(reason); why != "" {
		return s.w.Write([]byte(": disconnected: " + why + "\n\n"))
	}
	return nil
}
