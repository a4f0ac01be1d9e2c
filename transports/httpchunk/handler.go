// Package httpchunk serves GET /hits: the raw stream's XML document over a
// chunked HTTP response (curl -N), or with ?format=ndjson (or Accept:
// application/x-ndjson) one JSON record per line, gaps as
// {"type":"gap",...} lines.
//
// Concurrency: the request's goroutine is the stream's only writer
// (transports.Pump); it ends when the client goes, a write misses its
// deadline, or the hub ends the subscription: at shutdown ("</hits>" for
// XML, then the end of the chunked body), or for being too slow (an error
// element or line first).
package httpchunk

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/transports"
)

// Handler serves /hits.
type Handler struct{ c transports.StreamConfig }

// New returns a handler.
func New(c transports.StreamConfig) *Handler { return &Handler{c: c} }

const ndjsonType = "application/x-ndjson"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := transports.ParseRequest(r, "format")
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	ndjson, err := wantsNDJSON(r)
	if err != nil {
		transports.BadRequest(w, err)
		return
	}
	ct, prelude := "application/xml; charset=utf-8", []byte("<hits>\n")
	if ndjson {
		ct, prelude = ndjsonType, nil
	}
	transports.ServeStream(w, r, h.c, req, ct, prelude, func(hw *transports.HTTPWriter) transports.Sink {
		return &sink{w: hw, f: req.Filter, ndjson: ndjson}
	})
}

// wantsNDJSON reads ?format= first, then the Accept header.
func wantsNDJSON(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "ndjson", "json":
		return true, nil
	case "xml":
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("bad format %q: want xml or ndjson", f)
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == ndjsonType {
			return true, nil
		}
	}
	return false, nil
}

type sink struct {
	w      *transports.HTTPWriter
	f      *transports.Filter
	ndjson bool
	parts  [][]byte
}

func (s *sink) Send(items []broadcast.Item) (int, error) {
	s.parts = s.parts[:0]
	total := 0
	for _, it := range items {
		if it.Batch == nil {
			var g []byte
			if s.ndjson {
				g = transports.AppendJSONGap(nil, it.Gap.From, it.Gap.To)
			} else {
				g = transports.AppendXMLGap(nil, it.Gap.From, it.Gap.To)
			}
			s.parts = append(s.parts, append(g, '\n'))
			continue
		}
		var b []byte
		var n int
		if s.ndjson {
			b, n = transports.Render(it.Batch, s.f, transports.JSONLines, transports.AppendJSONLines)
		} else {
			b, n = transports.Render(it.Batch, s.f, transports.XMLLines, transports.AppendXMLLines)
		}
		s.parts = append(s.parts, b)
		total += n
	}
	return total, s.w.Write(s.parts...)
}

var newline = []byte("\n")

// Heartbeat writes a blank line: whitespace between XML elements, and a
// line ndjson readers skip.
func (s *sink) Heartbeat() error { return s.w.Write(newline) }

// End closes the XML document; at shutdown ndjson simply ends. A
// subscriber ended for being slow, or for its credentials being revoked,
// is told so first: an <error/> element before "</hits>", or an ndjson
// line {"type":"error","reason":"too slow"} ("revoked").
func (s *sink) End(reason broadcast.Reason) error {
	why := transports.EndReason(reason)
	switch {
	case s.ndjson && why != "":
		return s.w.Write([]byte(`{"type":"error","reason":"` + why + `"}` + "\n"))
	case s.ndjson:
		return nil
	case why != "":
		return s.w.Write([]byte(`<error reason="`+why+`"/>`+"\n"), xmlEnd)
	}
	return s.w.Write(xmlEnd)
}

var xmlEnd = []byte("</hits>\n")
