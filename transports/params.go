package transports

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/weblogd/weblogd/broadcast"
)

// Request is what a stream or snapshot request asks for: where to start,
// and which records.
type Request struct {
	Filter *Filter
	Start  broadcast.SubscribeOptions
}

// ignoredParams are accepted and ignored: "_" is the cache-buster that
// browser libraries add.
var ignoredParams = []string{"_"}

// MaxQueryBytes bounds the query string of a stream or snapshot request:
// it is parsed once per request, but a filter's values cost on every
// record, and no filter a person writes comes near 4 KiB.
const MaxQueryBytes = 4096

// ParseRequest reads the query parameters every HTTP stream accepts
// (backlog, since, the filters) plus the caller's extra ones, and a
// Last-Event-ID header (SSE reconnects), which wins over since=. An
// unknown parameter is an error too: a misspelt filter must not silently
// stream everything; so is a query string over MaxQueryBytes. Errors are
// one line, for a 400.
func ParseRequest(r *http.Request, extra ...string) (Request, error) {
	// Before anything parses it.
	if n := len(r.URL.RawQuery); n > MaxQueryBytes {
		return Request{}, fmt.Errorf("the query string has %d bytes, more than the %d allowed", n, MaxQueryBytes)
	}
	q := r.URL.Query()
	for name := range q {
		if !slices.Contains(FilterParams, name) && !slices.Contains(extra, name) &&
			!slices.Contains(ignoredParams, name) && name != "backlog" && name != "since" {
			return Request{}, fmt.Errorf("unknown parameter %q", name)
		}
	}
	f, err := ParseFilter(func(name string) []string { return q[name] })
	if err != nil {
		return Request{}, err
	}
	// A token limited to a filter sees only what it allows, whatever the
	// request asks for: its filter is ANDed in here, where every stream and
	// the snapshot API read their request, backlog and since included.
	g := GrantOf(r.Context())
	f = And(f, g.scope())
	req := Request{Filter: f}
	if f != nil {
		req.Start.Match = f.Match
	}
	req.Start.Meta = &Peer{Addr: r.RemoteAddr, Transport: strings.TrimPrefix(r.URL.Path, "/"),
		Token: g.name(), Filter: f.String(), Grant: g}
	if v, ok := single(q, "backlog"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Request{}, fmt.Errorf("bad backlog %q: want a count of records, 0 or more", v)
		}
		req.Start.Backlog = n
	}
	since, sinceGiven := single(q, "since")
	if id := strings.TrimSpace(r.Header.Get("Last-Event-ID")); id != "" {
		since, sinceGiven = id, true
	}
	if sinceGiven {
		n, err := strconv.ParseUint(since, 10, 64)
		if err != nil {
			return Request{}, fmt.Errorf("bad since %q: want a sequence number", since)
		}
		req.Start.Resume, req.Start.Since = true, n
	}
	// Only since= conflicts with backlog=: an EventSource opened with
	// ?backlog=N reconnects to the same URL with Last-Event-ID, and must
	// resume (Resume wins over Backlog), not be refused for good.
	if len(q["backlog"]) > 0 && len(q["since"]) > 0 {
		return Request{}, fmt.Errorf("backlog and since cannot be combined: since already starts from a point in history")
	}
	for _, name := range []string{"backlog", "since"} {
		if len(q[name]) > 1 {
			return Request{}, fmt.Errorf("%s is given more than once", name)
		}
	}
	return req, nil
}

func single(q map[string][]string, name string) (string, bool) {
	v := q[name]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}
