package transports_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/transports"
)

func TestParseRequest(t *testing.T) {
	notFound := mustParse(t, "access.log", clfLine("203.0.113.5", "GET", "/x", 404, "curl"))
	found := mustParse(t, "access.log", clfLine("203.0.113.5", "GET", "/x", 200, "curl"))
	cases := []struct {
		name        string
		query       string
		lastEventID string
		extra       []string
		backlog     int
		resume      bool
		since       uint64
		filtered    bool // a filter (and a Match for the history) is set
	}{
		{name: "nothing", query: ""},
		{name: "backlog", query: "backlog=50", backlog: 50},
		{name: "backlog zero", query: "backlog=0"},
		{name: "since", query: "since=42", resume: true, since: 42},
		{name: "since zero is the whole ring", query: "since=0", resume: true},
		{name: "since max", query: "since=18446744073709551615", resume: true, since: 1<<64 - 1},
		{name: "filter", query: "status=404", filtered: true},
		{name: "filter and backlog", query: "backlog=2&status=404", backlog: 2, filtered: true},
		{name: "filter and since", query: "since=7&status=404", resume: true, since: 7, filtered: true},
		{name: "node filter", query: "node=web-1,web-2", filtered: true},
		{name: "cache buster", query: "_=1700000000000"},
		{name: "extra parameter", query: "format=ndjson", extra: []string{"format"}},
		{name: "extra parameters", query: "limit=5&format=xml", extra: []string{"format", "limit"}},
		{name: "Last-Event-ID", lastEventID: "17", resume: true, since: 17},
		{name: "Last-Event-ID with spaces", lastEventID: " 17 ", resume: true, since: 17},
		{name: "Last-Event-ID wins over since", query: "since=3", lastEventID: "17", resume: true, since: 17},
		// An EventSource opened with ?backlog=N reconnects to the same URL
		// with Last-Event-ID: it resumes, it is not refused.
		{name: "Last-Event-ID and backlog", query: "backlog=20&status=404", lastEventID: "17", backlog: 20, resume: true, since: 17, filtered: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/events?"+c.query, nil)
			if c.lastEventID != "" {
				r.Header.Set("Last-Event-ID", c.lastEventID)
			}
			req, err := transports.ParseRequest(r, c.extra...)
			if err != nil {
				t.Fatalf("ParseRequest(%q)=%v", c.query, err)
			}
			s := req.Start
			if s.Backlog != c.backlog || s.Resume != c.resume || s.Since != c.since {
				t.Fatalf("ParseRequest(%q).Start=backlog %d resume %v since %d, want backlog %d resume %v since %d",
					c.query, s.Backlog, s.Resume, s.Since, c.backlog, c.resume, c.since)
			}
			if (req.Filter != nil) != c.filtered || (s.Match != nil) != c.filtered {
				t.Fatalf("ParseRequest(%q): Filter=%v Match set=%v, want a filter: %v", c.query, req.Filter, s.Match != nil, c.filtered)
			}
			if c.filtered {
				// The history is chosen by the same filter as the live feed.
				if s.Match(notFound) != req.Filter.Match(notFound) || s.Match(found) != req.Filter.Match(found) {
					t.Fatalf("ParseRequest(%q): Start.Match disagrees with Filter.Match", c.query)
				}
			}
		})
	}
}

// A query string of MaxQueryBytes is accepted.
func TestParseRequestQueryBound(t *testing.T) {
	q := "q=" + strings.Repeat("a", transports.MaxQueryBytes-2)
	req, err := transports.ParseRequest(httptest.NewRequest("GET", "/hits?"+q, nil))
	if err != nil || req.Filter == nil {
		t.Fatalf("ParseRequest(%d bytes)=%v, %v; want a filter", len(q), req.Filter, err)
	}
}

func TestParseRequestErrors(t *testing.T) {
	cases := []struct {
		name        string
		query       string
		lastEventID string
		extra       []string
		want        string // in the error
	}{
		{name: "unknown parameter", query: "stauts=404", want: `unknown parameter "stauts"`},
		{name: "extra not allowed", query: "limit=5", want: `unknown parameter "limit"`},
		{name: "other extra", query: "format=xml", extra: []string{"limit"}, want: `unknown parameter "format"`},
		{name: "bad status", query: "status=abc", want: `bad status "abc"`},
		{name: "status out of range", query: "status=99", want: `bad status "99"`},
		{name: "reversed range", query: "status=600-500", want: `bad status "600-500"`},
		{name: "bad method", query: "method=G3T", want: `bad method "G3T"`},
		{name: "bad CIDR", query: "host=1.2.3.4/99", want: `bad host "1.2.3.4/99"`},
		{name: "empty node", query: "node=", want: "node has an empty value"},
		{name: "misspelt node", query: "nodes=a", want: `unknown parameter "nodes"`},
		{name: "negative backlog", query: "backlog=-1", want: `bad backlog "-1"`},
		{name: "word backlog", query: "backlog=all", want: `bad backlog "all"`},
		{name: "empty backlog", query: "backlog=", want: `bad backlog ""`},
		{name: "backlog twice", query: "backlog=1&backlog=2", want: "backlog is given more than once"},
		{name: "word since", query: "since=x", want: `bad since "x"`},
		{name: "negative since", query: "since=-1", want: `bad since "-1"`},
		{name: "since too big", query: "since=18446744073709551616", want: `bad since "18446744073709551616"`},
		{name: "since twice", query: "since=1&since=2", want: "since is given more than once"},
		{name: "backlog and since", query: "backlog=5&since=3", want: "backlog and since cannot be combined"},
		{name: "bad Last-Event-ID", lastEventID: "abc", want: `bad since "abc"`},
		{name: "query too long", query: "q=" + strings.Repeat("a", transports.MaxQueryBytes-1), want: "the query string has 4097 bytes, more than the 4096 allowed"},
		// The size is checked first: what the query holds is never read.
		{name: "long and bad", query: "nope=" + strings.Repeat("%zz", 2000), want: "the query string has 6005 bytes"},
		{name: "status class 6xx", query: "status=6xx", want: `bad status "6xx"`},
		{name: "path without slash", query: "path=api", want: `bad path "api"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/hits?"+c.query, nil)
			if c.lastEventID != "" {
				r.Header.Set("Last-Event-ID", c.lastEventID)
			}
			req, err := transports.ParseRequest(r, c.extra...)
			if err == nil {
				t.Fatalf("ParseRequest(%q)=%+v, nil; want an error with %q", c.query, req, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseRequest(%q) error %q, want it to say %q", c.query, err, c.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseRequest(%q) error %q: want one line", c.query, err)
			}
		})
	}
}

// BadRequest is what every endpoint answers a bad parameter with.
func TestBadRequest(t *testing.T) {
	w := httptest.NewRecorder()
	transports.BadRequest(w, errString("bad status \"abc\""))
	if w.Code != 400 {
		t.Fatalf("code=%d, want 400", w.Code)
	}
	body := w.Body.String()
	if body != "bad request: bad status \"abc\"\n" {
		t.Fatalf("body=%q, want one line", body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type=%q, want text/plain", ct)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// The zero SubscribeOptions is the live feed only: a request without
// history parameters must leave it so.
func TestParseRequestLiveOnly(t *testing.T) {
	req, err := transports.ParseRequest(httptest.NewRequest("GET", "/ws", nil))
	if err != nil {
		t.Fatal(err)
	}
	s := req.Start
	if s.Backlog != 0 || s.Resume || s.Since != 0 || s.Match != nil || s.Queue != 0 || req.Filter != nil {
		t.Fatalf("Start=%+v Filter=%v, want the zero value (live only)", s, req.Filter)
	}
}
