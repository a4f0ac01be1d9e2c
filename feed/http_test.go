package feed_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/format"
)

// The HTTP streams as a client reaches them: /hits as XML, /hits as
// ndjson (asked for by ?format= or by Accept), /events and /ws.
const (
	kindXML          = "hits"
	kindNDJSON       = "ndjson"
	kindNDJSONAccept = "ndjson-accept"
	kindSSE          = "events"
	kindWS           = "ws"
)

var liveKinds = []string{kindXML, kindNDJSON, kindNDJSONAccept, kindSSE, kindWS}

// liveItem is one thing a stream delivers, whatever its framing: a record
// or a gap.
type liveItem struct {
	Gap      bool
	From, To uint64
	Seq      uint64
	Source   string
	Host     string
	Method   string
	Path     string
	Status   int
	Agent    string
	Raw      string
}

// wireJSON is a JSON record or gap as ndjson, SSE data and WebSocket
// messages carry it.
type wireJSON struct {
	Type   string `json:"type"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
	Seq    uint64 `json:"seq"`
	Source string `json:"source"`
	Host   string `json:"host"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Agent  string `json:"agent"`
	Raw    string `json:"raw"`
}

func (w wireJSON) item() (liveItem, error) {
	switch w.Type {
	case "gap":
		if w.From == 0 || w.To < w.From {
			return liveItem{}, fmt.Errorf("gap %d-%d: want from ≥ 1 and from ≤ to", w.From, w.To)
		}
		return liveItem{Gap: true, From: w.From, To: w.To}, nil
	case "":
		if w.Seq == 0 {
			return liveItem{}, errors.New("record without seq")
		}
		return liveItem{Seq: w.Seq, Source: w.Source, Host: w.Host, Method: w.Method, Path: w.Path,
			Status: w.Status, Agent: w.Agent, Raw: w.Raw}, nil
	}
	return liveItem{}, fmt.Errorf("unexpected type %q", w.Type)
}

func decodeWireJSON(b []byte) (liveItem, error) {
	var w wireJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return liveItem{}, fmt.Errorf("decode %q: %v", b, err)
	}
	it, err := w.item()
	if err != nil {
		return it, fmt.Errorf("%s: %v", b, err)
	}
	return it, nil
}

// errEndOfHits is what an XML stream's next returns at "</hits>".
var errEndOfHits = errors.New("</hits>")

// liveStream is a client of one stream. Its request carries a deadline
// of waitFor, so a read that waits for something that never comes fails
// instead of hanging the test.
type liveStream struct {
	kind   string
	resp   *http.Response // the HTTP kinds; for ws, the handshake's
	tr     *http.Transport
	cancel context.CancelFunc
	r      *bufio.Reader
	ws     *websocket.Conn
	queue  []liveItem // ws: the rest of the last message

	retry    string // SSE: the retry field, once seen
	comments int    // SSE comment lines seen
	lastID   string // SSE: the last event id seen, as EventSource keeps it
}

// streamURL is the URL of kind with query.
func streamURL(srv *feed.Server, kind, query string) string {
	scheme, path := "http", "/hits"
	switch kind {
	case kindSSE:
		path = "/events"
	case kindWS:
		scheme, path = "ws", "/ws"
	case kindNDJSON:
		query = joinQuery(query, "format=ndjson")
	}
	u := scheme + "://" + srv.HTTPAddr().String() + path
	if query != "" {
		u += "?" + query
	}
	return u
}

func joinQuery(a, b string) string {
	if a == "" {
		return b
	}
	return a + "&" + b
}

// wsDialer dials loopback directly, whatever the environment says about
// proxies.
var wsDialer = websocket.Dialer{HandshakeTimeout: waitFor}

// dialLive connects a client of kind with query and extra headers, checks
// that the stream started, and consumes its preamble ("<hits>", the SSE
// retry frame). When it returns, the subscription exists: every record
// flushed from now on reaches it. It is closed when the test ends.
func dialLive(t *testing.T, srv *feed.Server, kind, query string, hdr http.Header) *liveStream {
	t.Helper()
	s, err := dialLiveErr(srv, kind, query, hdr)
	if err != nil {
		t.Fatalf("%s?%s: %v", kind, query, err)
	}
	t.Cleanup(s.close)
	return s
}

func dialLiveErr(srv *feed.Server, kind, query string, hdr http.Header) (*liveStream, error) {
	u := streamURL(srv, kind, query)
	h := http.Header{}
	for k, v := range hdr {
		h[k] = v
	}
	if kind == kindNDJSONAccept {
		h.Set("Accept", "application/x-ndjson")
	}
	s := &liveStream{kind: kind}
	if kind == kindWS {
		conn, resp, err := wsDialer.Dial(u, h)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %v (response %v)", u, err, statusOf(resp))
		}
		s.ws, s.resp = conn, resp
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header = h
	s.tr = &http.Transport{}
	s.cancel = cancel
	resp, err := (&http.Client{Transport: s.tr}).Do(req)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("GET %s: %v", u, err)
	}
	s.resp = resp
	s.r = bufio.NewReader(resp.Body)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		s.close()
		return nil, fmt.Errorf("GET %s: %s %q, want 200", u, resp.Status, body)
	}
	switch kind {
	case kindXML:
		if l, err := s.r.ReadString('\n'); err != nil || l != "<hits>\n" {
			s.close()
			return nil, fmt.Errorf("GET %s: first line %q (%v), want <hits>", u, l, err)
		}
	case kindSSE:
		f, err := s.frame()
		if err != nil || f.retry == "" || f.event != "" || len(f.data) > 0 {
			s.close()
			return nil, fmt.Errorf("GET %s: first frame %+v (%v), want a retry field alone", u, f, err)
		}
	}
	return s, nil
}

func statusOf(resp *http.Response) string {
	if resp == nil {
		return "none"
	}
	return resp.Status
}

func (s *liveStream) close() {
	if s.ws != nil {
		s.ws.Close()
	}
	if s.resp != nil && s.resp.Body != nil {
		s.resp.Body.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.tr != nil {
		s.tr.CloseIdleConnections()
	}
}

// next returns the next record or gap; heartbeats are skipped.
func (s *liveStream) next() (liveItem, error) {
	switch s.kind {
	case kindXML:
		for {
			l, err := s.r.ReadString('\n')
			if err != nil {
				return liveItem{}, fmt.Errorf("read: %w (after %q)", err, l)
			}
			l = strings.TrimSuffix(l, "\n")
			switch {
			case l == "":
				continue // heartbeat
			case l == "</hits>":
				return liveItem{}, errEndOfHits
			}
			var h hit
			if err := xml.Unmarshal([]byte(l), &h); err != nil {
				return liveItem{}, fmt.Errorf("decode %q: %v", l, err)
			}
			switch h.XMLName.Local {
			case "gap":
				if h.From == 0 || h.To < h.From {
					return liveItem{}, fmt.Errorf("bad gap %q", l)
				}
				return liveItem{Gap: true, From: h.From, To: h.To}, nil
			case "hit":
				if h.Seq == 0 {
					return liveItem{}, fmt.Errorf("hit without seq: %q", l)
				}
				return liveItem{Seq: h.Seq, Source: h.Source, Host: h.Host, Method: h.Method, Path: h.Path,
					Status: h.Status, Agent: h.Agent, Raw: h.Raw}, nil
			}
			return liveItem{}, fmt.Errorf("unexpected element %q", l)
		}
	case kindNDJSON, kindNDJSONAccept:
		for {
			l, err := s.r.ReadBytes('\n')
			if err != nil {
				return liveItem{}, fmt.Errorf("read: %w (after %q)", err, l)
			}
			if l = bytes.TrimSuffix(l, []byte("\n")); len(l) == 0 {
				continue // heartbeat
			}
			return decodeWireJSON(l)
		}
	case kindSSE:
		for {
			f, err := s.frame()
			if err != nil {
				return liveItem{}, err
			}
			switch f.event {
			case "":
				if len(f.data) > 0 {
					return liveItem{}, fmt.Errorf("data without an event: %+v", f)
				}
				continue // a comment or retry
			case "hit":
				if len(f.data) != 1 {
					return liveItem{}, fmt.Errorf("hit event with %d data lines, want 1", len(f.data))
				}
				it, err := decodeWireJSON([]byte(f.data[0]))
				if err != nil {
					return it, err
				}
				if it.Gap || f.id != strconv.FormatUint(it.Seq, 10) {
					return it, fmt.Errorf("hit event id %q with data %s: want the id to be the seq", f.id, f.data[0])
				}
				return it, nil
			case "gap":
				if f.hasID {
					return liveItem{}, fmt.Errorf("gap event with id %q: a gap must not move Last-Event-ID", f.id)
				}
				if len(f.data) != 1 {
					return liveItem{}, fmt.Errorf("gap event with %d data lines, want 1", len(f.data))
				}
				it, err := decodeWireJSON([]byte(f.data[0]))
				if err == nil && !it.Gap {
					err = fmt.Errorf("gap event with data %s", f.data[0])
				}
				return it, err
			}
			return liveItem{}, fmt.Errorf("unexpected event %q", f.event)
		}
	case kindWS:
		for len(s.queue) == 0 {
			s.ws.SetReadDeadline(time.Now().Add(waitFor))
			typ, msg, err := s.ws.ReadMessage()
			if err != nil {
				return liveItem{}, fmt.Errorf("read: %w", err)
			}
			if typ != websocket.TextMessage {
				return liveItem{}, fmt.Errorf("message of type %d, want text", typ)
			}
			var m struct {
				Type string            `json:"type"`
				Hits []json.RawMessage `json:"hits"`
				From uint64            `json:"from"`
				To   uint64            `json:"to"`
			}
			if err := json.Unmarshal(msg, &m); err != nil {
				return liveItem{}, fmt.Errorf("decode message %q: %v", msg, err)
			}
			switch m.Type {
			case "gap":
				it, err := decodeWireJSON(msg)
				if err != nil {
					return it, err
				}
				s.queue = append(s.queue, it)
			case "hits":
				if len(m.Hits) == 0 {
					return liveItem{}, fmt.Errorf("hits message without hits: %s", msg)
				}
				for _, raw := range m.Hits {
					it, err := decodeWireJSON(raw)
					if err != nil {
						return it, err
					}
					if it.Gap {
						return it, fmt.Errorf("a gap inside a hits message: %s", msg)
					}
					s.queue = append(s.queue, it)
				}
			default:
				return liveItem{}, fmt.Errorf("message of type %q: %s", m.Type, msg)
			}
		}
		it := s.queue[0]
		s.queue = s.queue[1:]
		return it, nil
	}
	return liveItem{}, fmt.Errorf("unknown kind %q", s.kind)
}

// mustNext is next for the test's goroutine.
func (s *liveStream) mustNext(t *testing.T) liveItem {
	t.Helper()
	it, err := s.next()
	if err != nil {
		t.Fatalf("%s: next: %v", s.kind, err)
	}
	return it
}

// sseFrame is one SSE event block, up to its blank line.
type sseFrame struct {
	id       string
	hasID    bool
	event    string
	data     []string
	retry    string
	comments []string
}

// frame reads one SSE block, parsing every field as an EventSource would
// (a single space after the colon is not part of the value) and refusing
// anything a browser would not understand.
func (s *liveStream) frame() (sseFrame, error) {
	var f sseFrame
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return f, fmt.Errorf("read: %w (after %q)", err, l)
		}
		l = strings.TrimSuffix(l, "\n")
		if strings.HasSuffix(l, "\r") {
			return f, fmt.Errorf("CRLF line %q: weblogd writes LF", l)
		}
		if l == "" {
			if f.hasID || f.event != "" || len(f.data) > 0 || f.retry != "" || len(f.comments) > 0 {
				return f, nil
			}
			return f, errors.New("an empty SSE block")
		}
		if c, ok := strings.CutPrefix(l, ":"); ok {
			f.comments = append(f.comments, c)
			s.comments++
			continue
		}
		name, value, _ := strings.Cut(l, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			f.id, f.hasID = value, true
			s.lastID = value
		case "event":
			f.event = value
		case "data":
			f.data = append(f.data, value)
		case "retry":
			if n, err := strconv.Atoi(value); err != nil || n <= 0 {
				return f, fmt.Errorf("retry %q: want a positive number of milliseconds", value)
			}
			f.retry, s.retry = value, value
		default:
			return f, fmt.Errorf("unknown SSE field in %q", l)
		}
	}
}

// accessLine is a Combined Log Format line.
func accessLine(host, method, path string, status int, agent string) string {
	return fmt.Sprintf(`%s - - [21/Nov/2026:10:00:00 +0100] "%s %s HTTP/1.1" %d 100 "-" "%s"`, host, method, path, status, agent)
}

// readSeqs reads n records from s, failing on a gap, and returns their
// seqs.
func readSeqs(s *liveStream, n int) ([]uint64, error) {
	var seqs []uint64
	for len(seqs) < n {
		it, err := s.next()
		if err != nil {
			return seqs, err
		}
		if it.Gap {
			return seqs, fmt.Errorf("gap %d-%d after %v", it.From, it.To, seqs)
		}
		seqs = append(seqs, it.Seq)
	}
	return seqs, nil
}

// Every stream receives the new records in seq order, each once, all at
// the same time.
func TestStreamsDeliverEveryRecordInOrder(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond, TCPAddr: feed.NoListen})
	const total = 500
	streams := map[string]*liveStream{}
	for _, k := range liveKinds {
		streams[k] = dialLive(t, srv, k, "", nil)
	}
	type result struct {
		kind  string
		items []liveItem
		err   error
	}
	results := make(chan result, len(streams))
	for k, s := range streams {
		go func() {
			var items []liveItem
			for len(items) < total {
				it, err := s.next()
				if err != nil {
					results <- result{k, items, err}
					return
				}
				items = append(items, it)
			}
			results <- result{k, items, nil}
		}()
	}
	// Bursts of every size, one write each, some bigger than a tick holds.
	n := 0
	for _, burst := range []int{1, 1, 2, 7, 50, 3, 100, 1, 36, 200, 99} {
		var lines []string
		for range burst {
			lines = append(lines, accessLine("192.0.2.1", "GET", fmt.Sprintf("/n/%d", n), 200, "burst"))
			n++
		}
		writeLines(t, log, lines...)
	}
	if n != total {
		t.Fatalf("bad test: wrote %d lines, want %d", n, total)
	}
	for range streams {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: after %d records: %v", r.kind, len(r.items), r.err)
			continue
		}
		for i, it := range r.items {
			if it.Gap || it.Seq != uint64(i+1) || it.Path != fmt.Sprintf("/n/%d", i) {
				t.Errorf("%s: item %d = %+v, want seq %d path /n/%d", r.kind, i, it, i+1, i)
				break
			}
		}
	}
}

func TestStreamHeaders(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	cases := []struct {
		kind, query string
		contentType string
	}{
		{kindXML, "", "application/xml"},
		{kindXML, "format=xml", "application/xml"},
		{kindNDJSON, "", "application/x-ndjson"},
		{kindNDJSONAccept, "", "application/x-ndjson"},
		{kindSSE, "", "text/event-stream"},
		{kindXML, "status=404&backlog=5", "application/xml"},
		{kindSSE, "since=0", "text/event-stream"},
	}
	for _, c := range cases {
		t.Run(c.kind+"?"+c.query, func(t *testing.T) {
			s := dialLive(t, srv, c.kind, c.query, nil)
			h := s.resp.Header
			if ct, _, _ := strings.Cut(h.Get("Content-Type"), ";"); ct != c.contentType {
				t.Errorf("Content-Type=%q, want %s", h.Get("Content-Type"), c.contentType)
			}
			if got := h.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control=%q, want no-cache", got)
			}
			if got := h.Get("X-Accel-Buffering"); got != "no" {
				t.Errorf("X-Accel-Buffering=%q, want no", got)
			}
			if got := s.resp.TransferEncoding; !slices.Equal(got, []string{"chunked"}) {
				t.Errorf("TransferEncoding=%v, want [chunked]", got)
			}
			if s.resp.ContentLength != -1 {
				t.Errorf("ContentLength=%d, want -1 (unknown: a stream)", s.resp.ContentLength)
			}
		})
	}
	t.Run("ws", func(t *testing.T) {
		s := dialLive(t, srv, kindWS, "", nil)
		if s.resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status=%d, want 101", s.resp.StatusCode)
		}
	})
}

// lineSpec is one line of the mixed set the filter test writes, described
// so that the test can work out on its own which filters it passes.
type lineSpec struct {
	other  bool   // written to other.log, else access.log
	raw    string // an unparsed line when set
	host   string
	method string
	path   string
	status int
	agent  string
	tok    string // unique: names the line in what the streams deliver
}

func (l lineSpec) text() string {
	if l.raw != "" {
		return l.raw + " " + l.tok
	}
	return accessLine(l.host, l.method, l.path, l.status, l.agent+" "+l.tok)
}

func (l lineSpec) parsed() bool { return l.raw == "" }

// hostIn reports whether the logged host (or any address of its
// X-Forwarded-For list) is in cidr; net's parser, not weblogd's.
func hostIn(host, cidr string) bool {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err)
	}
	for _, h := range strings.Split(host, ",") {
		if ip := net.ParseIP(strings.TrimSpace(h)); ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

func hostIs(host, addr string) bool {
	for _, h := range strings.Split(host, ",") {
		if ip := net.ParseIP(strings.TrimSpace(h)); ip != nil && ip.Equal(net.ParseIP(addr)) {
			return true
		}
	}
	return false
}

var tokenRE = regexp.MustCompile(`tok[0-9]+S?`)

func (it liveItem) token() string { return tokenRE.FindString(it.Agent + " " + it.Raw) }

// mixedLines is a deterministic set of lines covering every filter
// dimension, each named by tok<prefix><index>.
func mixedLines(prefix int) []lineSpec {
	hosts := []string{"203.0.113.5", "203.0.113.200", "198.51.100.7", "192.0.2.44", "2001:db8::1",
		"2001:db8:1::ff", "2001:db9::1", "::ffff:203.0.113.9", "10.0.0.1, 203.0.113.5", "10.1.2.3"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "HEAD", "GET", "OPTIONS"}
	paths := []string{"/", "/index.html", "/api", "/api/items", "/apidocs", "/static/app.js", "/API/upper", "/x?path=/api"}
	statuses := []int{200, 201, 204, 301, 304, 403, 404, 404, 500, 503, 599, 302}
	agents := []string{"curl/8.5.0", "Mozilla/5.0 (X11)", "Go-http-client/1.1", "python CURL wrapper", "MOZILLA-ish"}
	raws := []string{
		"garbage with curl inside",
		"GET /api 404 from 203.0.113.5 Mozilla",
		"\x01\x02 binary",
		`198.51.100.7 - - [bad time] "POST /api HTTP/1.1" 500 1`,
		"just text",
	}
	var out []lineSpec
	for i := range 90 {
		l := lineSpec{
			other:  i%3 == 0,
			host:   hosts[i%len(hosts)],
			method: methods[(i/2)%len(methods)],
			path:   paths[(i*5)%len(paths)],
			status: statuses[(i*7)%len(statuses)],
			agent:  agents[(i/3)%len(agents)],
			tok:    fmt.Sprintf("tok%02d%03d", prefix, i),
		}
		if i%7 == 3 {
			l.raw = raws[(i/7)%len(raws)]
		}
		out = append(out, l)
	}
	return out
}

// Filters let through exactly the records they should, on every stream.
func TestStreamFilters(t *testing.T) {
	dir := t.TempDir()
	logs := map[bool]string{false: filepath.Join(dir, "access.log"), true: filepath.Join(dir, "other.log")}
	writeLines(t, logs[false])
	writeLines(t, logs[true])
	srv := startServer(t, feed.Config{Logs: []string{logs[false], logs[true]}, Tick: 5 * time.Millisecond, TCPAddr: feed.NoListen})

	status := func(lo, hi int) func(lineSpec) bool {
		return func(l lineSpec) bool { return l.parsed() && l.status >= lo && l.status <= hi }
	}
	q := func(s string) func(lineSpec) bool {
		return func(l lineSpec) bool { return strings.Contains(strings.ToLower(l.text()), strings.ToLower(s)) }
	}
	and := func(ps ...func(lineSpec) bool) func(lineSpec) bool {
		return func(l lineSpec) bool {
			for _, p := range ps {
				if !p(l) {
					return false
				}
			}
			return true
		}
	}
	method := func(ms ...string) func(lineSpec) bool {
		return func(l lineSpec) bool { return l.parsed() && slices.Contains(ms, l.method) }
	}
	cases := []struct {
		query string
		want  func(lineSpec) bool
	}{
		{"status=404", status(404, 404)},
		{"status=5xx", status(500, 599)},
		{"status=200-299", status(200, 299)},
		{"status=404,500", func(l lineSpec) bool { return status(404, 404)(l) || status(500, 500)(l) }},
		{"status=3xx&status=403", func(l lineSpec) bool { return status(300, 399)(l) || status(403, 403)(l) }},
		{"method=POST", method("POST")},
		{"method=post,DELETE", method("POST", "DELETE")},
		{"path=/api", func(l lineSpec) bool { return l.parsed() && strings.HasPrefix(l.path, "/api") }},
		{"host=203.0.113.0/24", func(l lineSpec) bool { return l.parsed() && hostIn(l.host, "203.0.113.0/24") }},
		{"host=198.51.100.7", func(l lineSpec) bool { return l.parsed() && hostIs(l.host, "198.51.100.7") }},
		{"host=2001:db8::/32", func(l lineSpec) bool { return l.parsed() && hostIn(l.host, "2001:db8::/32") }},
		{"source=other.log", func(l lineSpec) bool { return l.other }},
		{"q=CURL", q("curl")},
		{"q=mozilla&status=2xx", and(q("mozilla"), status(200, 299))},
		{"status=4xx&method=GET", and(status(400, 499), method("GET"))},
		{"path=/api&host=203.0.113.0/24&source=access.log", func(l lineSpec) bool {
			return l.parsed() && !l.other && strings.HasPrefix(l.path, "/api") && hostIn(l.host, "203.0.113.0/24")
		}},
		{"source=other.log&q=CURL", func(l lineSpec) bool { return l.other && q("curl")(l) }},
	}
	kinds := []string{kindXML, kindNDJSON, kindSSE, kindWS}
	for ci, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			mixed := mixedLines(ci)
			for _, l := range mixed {
				if r := format.Parse(l.text()); r.Parsed != l.parsed() {
					t.Fatalf("bad test: Parse(%q).Parsed=%v, want %v", l.text(), r.Parsed, l.parsed())
				}
			}
			var want []string
			var sentinel lineSpec
			for _, l := range mixed {
				if c.want(l) {
					want = append(want, l.tok)
					if sentinel.tok == "" {
						sentinel = l
					}
				}
			}
			if len(want) < 2 || len(want) == len(mixed) {
				t.Fatalf("bad test: %d of %d lines match; want some, not all", len(want), len(mixed))
			}
			sentinel.tok = fmt.Sprintf("tok%02dS", ci)
			if !c.want(sentinel) {
				t.Fatalf("bad test: the sentinel %q does not match", sentinel.text())
			}
			want = append(want, sentinel.tok)
			sort.Strings(want)

			streams := map[string]*liveStream{}
			for _, k := range kinds {
				streams[k] = dialLive(t, srv, k, c.query, nil)
			}
			base := srv.LastSeq()
			var a, b []string
			for _, l := range mixed {
				if l.other {
					b = append(b, l.text())
				} else {
					a = append(a, l.text())
				}
			}
			writeLines(t, logs[false], a...)
			writeLines(t, logs[true], b...)
			// The sentinel comes after every line of the mix.
			waitUntil(t, func() bool { return srv.LastSeq() >= base+uint64(len(mixed)) })
			writeLines(t, logs[sentinel.other], sentinel.text())

			var wg sync.WaitGroup
			for k, s := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var got []string
					var last uint64
					for {
						it, err := s.next()
						if err != nil {
							t.Errorf("%s: after %v: %v", k, got, err)
							return
						}
						if it.Gap || it.Seq <= last || it.Seq <= base {
							t.Errorf("%s: %+v after seq %d, want a record with a greater seq than %d", k, it, last, max(base, last))
							return
						}
						last = it.Seq
						got = append(got, it.token())
						if it.token() == sentinel.tok {
							break
						}
					}
					sort.Strings(got)
					if !slices.Equal(got, want) {
						t.Errorf("%s?%s delivered %d records:\n got %v\nwant %v", k, c.query, len(got), got, want)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// historyLines are ten lines whose statuses make the 404s seqs 2, 5, 7, 10.
var historyStatuses = []int{200, 404, 200, 500, 404, 200, 404, 301, 200, 404}

func writeHistory(t *testing.T, log string, statuses []int) {
	t.Helper()
	var lines []string
	for i, st := range statuses {
		lines = append(lines, accessLine("192.0.2.1", "GET", fmt.Sprintf("/h/%d", i+1), st, "history"))
	}
	writeLines(t, log, lines...)
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// describeItems renders items as "5" for a record, "gap 2-3" for a gap.
func describeItems(items []liveItem) []string {
	var out []string
	for _, it := range items {
		if it.Gap {
			out = append(out, fmt.Sprintf("gap %d-%d", it.From, it.To))
		} else {
			out = append(out, strconv.FormatUint(it.Seq, 10))
		}
	}
	return out
}

func seqStrings(seqs ...uint64) []string {
	var out []string
	for _, s := range seqs {
		out = append(out, strconv.FormatUint(s, 10))
	}
	return out
}

// readUntilSeq reads items up to and including the record with seq stop.
func readUntilSeq(s *liveStream, stop uint64) ([]liveItem, error) {
	var items []liveItem
	for {
		it, err := s.next()
		if err != nil {
			return items, err
		}
		items = append(items, it)
		if !it.Gap && it.Seq >= stop {
			return items, nil
		}
	}
}

// History: backlog= and since= start each stream with records of the ring
// (filtered too), then the live feed, with nothing repeated.
func TestStreamHistory(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond, TCPAddr: feed.NoListen})
	writeHistory(t, log, historyStatuses)
	waitUntil(t, func() bool { return srv.LastSeq() >= 10 })

	// Live: seq 11, a 404 so that it passes the filters below.
	cases := []struct {
		query string
		want  []uint64
	}{
		{"backlog=3", []uint64{8, 9, 10, 11}},
		{"backlog=2&status=404", []uint64{7, 10, 11}},
		{"backlog=0", []uint64{11}},
		{"backlog=100", seqRange(1, 11)},
		{"since=6", seqRange(7, 11)},
		{"since=6&status=404", []uint64{7, 10, 11}},
		{"since=10", []uint64{11}},
		{"since=0", seqRange(1, 11)},
		{"since=99", []uint64{11}}, // beyond any seq given out (a restart without --state): live
		{"", []uint64{11}},
	}
	type open struct {
		name string
		s    *liveStream
		want []uint64
	}
	var opened []open
	for _, c := range cases {
		for _, k := range liveKinds {
			opened = append(opened, open{k + "?" + c.query, dialLive(t, srv, k, c.query, nil), c.want})
		}
	}
	writeLines(t, log, accessLine("192.0.2.1", "GET", "/live", 404, "live"))
	for _, o := range opened {
		t.Run(o.name, func(t *testing.T) {
			items, err := readUntilSeq(o.s, 11)
			if err != nil {
				t.Fatalf("after %v: %v", describeItems(items), err)
			}
			if got, want := describeItems(items), seqStrings(o.want...); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// History that has left the ring is reported as a gap, then what is left
// follows, then the live feed.
func TestStreamHistoryGap(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Ring: 5, TCPAddr: feed.NoListen})
	writeHistory(t, log, historyStatuses[:8])
	waitUntil(t, func() bool { return srv.LastSeq() >= 8 })
	cases := []struct {
		query string
		want  []string // history: the ring holds 4..8
	}{
		{"since=1", []string{"gap 2-3", "4", "5", "6", "7", "8"}},
		{"since=0", []string{"gap 1-3", "4", "5", "6", "7", "8"}},
		{"since=3", []string{"4", "5", "6", "7", "8"}},
		{"since=1&status=404", []string{"gap 2-3", "5", "7"}},
		{"backlog=10", []string{"4", "5", "6", "7", "8"}}, // the last N still there: no gap
	}
	type open struct {
		name string
		s    *liveStream
		want []string
	}
	var opened []open
	for _, c := range cases {
		for _, k := range liveKinds {
			opened = append(opened, open{k + "?" + c.query, dialLive(t, srv, k, c.query, nil), c.want})
		}
	}
	// The history is read from the ring when each writer gets to it: take
	// it all before a live record pushes seq 4 out.
	for _, o := range opened {
		t.Run(o.name, func(t *testing.T) {
			last, err := strconv.ParseUint(o.want[len(o.want)-1], 10, 64)
			if err != nil {
				t.Fatalf("bad test: want %v does not end with a seq", o.want)
			}
			items, err := readUntilSeq(o.s, last)
			if err != nil {
				t.Fatalf("after %v: %v", describeItems(items), err)
			}
			if got := describeItems(items); !slices.Equal(got, o.want) {
				t.Fatalf("got %v, want %v", got, o.want)
			}
		})
	}
	writeLines(t, log, accessLine("192.0.2.1", "GET", "/live", 404, "live"))
	for _, o := range opened {
		t.Run(o.name+"/live", func(t *testing.T) {
			if it := o.s.mustNext(t); it.Gap || it.Seq != 9 {
				t.Fatalf("after the history: %+v, want the live seq 9", it)
			}
		})
	}
}

// An EventSource that reconnects sends Last-Event-ID and resumes exactly
// after the last event it got, from the URL it was opened with.
func TestSSELastEventIDResumes(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond, TCPAddr: feed.NoListen})
	cases := []struct {
		query  string
		status int // of every line written; 404 passes every query here
	}{
		{"", 200},
		{"backlog=3", 200}, // a reconnect keeps the URL: backlog must not refuse it
		{"status=404", 404},
	}
	for _, c := range cases {
		t.Run("?"+c.query, func(t *testing.T) {
			first := dialLive(t, srv, kindSSE, c.query, nil)
			base := srv.LastSeq()
			write := func(n int) {
				var lines []string
				for range n {
					lines = append(lines, accessLine("192.0.2.1", "GET", "/r", c.status, "resume"))
				}
				writeLines(t, log, lines...)
			}
			write(10)
			// With backlog=3 the first connection also gets the 3 before it.
			var got []uint64
			for len(got) < 4 {
				it := first.mustNext(t)
				if it.Seq > base {
					got = append(got, it.Seq)
				}
			}
			if want := seqRange(base+1, base+4); !slices.Equal(got, want) {
				t.Fatalf("first connection: %v, want %v", got, want)
			}
			last := first.lastID
			if last != strconv.FormatUint(base+4, 10) {
				t.Fatalf("last event id %q, want %d", last, base+4)
			}
			first.close()
			// Records keep coming while the client is away.
			write(5)
			waitUntil(t, func() bool { return srv.LastSeq() >= base+15 })

			again := dialLive(t, srv, kindSSE, c.query, http.Header{"Last-Event-Id": {last}})
			write(1)
			seqs, err := readSeqs(again, 12)
			if err != nil {
				t.Fatalf("after reconnecting: %v: %v", seqs, err)
			}
			if want := seqRange(base+5, base+16); !slices.Equal(seqs, want) {
				t.Fatalf("after reconnecting with Last-Event-ID %s: %v, want %v (exactly the rest)", last, seqs, want)
			}
		})
	}
}

// SSE tells the client how soon to reconnect, and keeps an idle stream
// alive with comments; /hits with blank lines.
func TestStreamHeartbeats(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, Heartbeat: 50 * time.Millisecond, TCPAddr: feed.NoListen})
	t.Run("events", func(t *testing.T) {
		s := dialLive(t, srv, kindSSE, "", nil)
		if s.retry == "" {
			t.Fatal("no retry field before the first event")
		}
		for i := 0; i < 2; i++ {
			f, err := s.frame()
			if err != nil {
				t.Fatal(err)
			}
			if len(f.comments) == 0 || f.event != "" || len(f.data) > 0 || f.hasID {
				t.Fatalf("idle stream frame %+v, want a comment alone", f)
			}
		}
	})
	for _, k := range []string{kindXML, kindNDJSON} {
		t.Run(k, func(t *testing.T) {
			s := dialLive(t, srv, k, "", nil)
			for i := 0; i < 2; i++ {
				if l, err := s.r.ReadString('\n'); err != nil || l != "\n" {
					t.Fatalf("idle stream: %q (%v), want a blank line", l, err)
				}
			}
		})
	}
}

// A bad parameter is a 400 with a one-line reason, before any stream.
func TestBadParameters(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	everywhere := []string{"/hits", "/events", "/ws", "/api/hits"}
	cases := []struct {
		query string
		paths []string
	}{
		{"status=abc", everywhere},
		{"status=99", everywhere},
		{"status=600-500", everywhere},
		{"status=404,", everywhere},
		{"method=G3T", everywhere},
		{"host=1.2.3.4/99", everywhere},
		{"backlog=-1", everywhere},
		{"since=x", everywhere},
		{"backlog=1&since=2", everywhere},
		{"since=1&since=2", everywhere},
		{"stauts=404", everywhere},
		{"q=", everywhere},
		{"format=yaml", []string{"/hits"}},
		{"format=ndjson", []string{"/events", "/ws", "/api/hits"}},
		{"limit=0", []string{"/api/hits"}},
		{"limit=abc", []string{"/api/hits"}},
		{"limit=-5", []string{"/api/hits"}},
		{"limit=10", []string{"/hits", "/events", "/ws"}},
	}
	client := &http.Client{Timeout: waitFor, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + srv.HTTPAddr().String()
	for _, c := range cases {
		for _, p := range c.paths {
			t.Run(p+"?"+c.query, func(t *testing.T) {
				resp, err := client.Get(base + p + "?" + c.query)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				// The whole body arrives and ends: no stream started.
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("read the body: %v", err)
				}
				checkBadRequest(t, resp, string(body))
			})
		}
	}
	// A WebSocket client sees the same answer instead of an upgrade.
	for _, c := range cases {
		if !slices.Contains(c.paths, "/ws") {
			continue
		}
		t.Run("ws-dial?"+c.query, func(t *testing.T) {
			conn, resp, err := wsDialer.Dial("ws://"+srv.HTTPAddr().String()+"/ws?"+c.query, nil)
			if err == nil {
				conn.Close()
				t.Fatal("Dial succeeded, want a refused handshake")
			}
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
				t.Fatalf("Dial error %v, want ErrBadHandshake with the response", err)
			}
			body, _ := io.ReadAll(resp.Body)
			checkBadRequest(t, resp, string(body))
		})
	}
}

func checkBadRequest(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status=%d (%q), want 400", resp.StatusCode, body)
	}
	if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") || len(strings.TrimSpace(body)) == 0 {
		t.Fatalf("body %q, want one line with the reason", body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type=%q, want text/plain", ct)
	}
	if resp.Header.Get("X-Accel-Buffering") != "" || resp.Header.Get("Upgrade") != "" {
		t.Fatalf("headers %v: a refused request must not look like a stream", resp.Header)
	}
}

// Browsers from another origin may not open WebSockets unless allowed.
func TestWebSocketOrigin(t *testing.T) {
	plain := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	allowing := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen,
		AllowOrigins: []string{"http://ok.example"}})
	cases := []struct {
		name   string
		srv    *feed.Server
		origin string // "self" for the server's own
		ok     bool
	}{
		{"no origin", plain, "", true},
		{"same origin", plain, "self", true},
		{"cross origin", plain, "http://evil.example", false},
		{"allowed origin not configured", plain, "http://ok.example", false},
		{"other port", plain, "http://127.0.0.1:1", false},
		{"allowed origin", allowing, "http://ok.example", true},
		{"allowing: same origin", allowing, "self", true},
		{"allowing: cross origin", allowing, "http://evil.example", false},
		{"allowing: other scheme", allowing, "https://ok.example", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			switch c.origin {
			case "":
			case "self":
				h.Set("Origin", "http://"+c.srv.HTTPAddr().String())
			default:
				h.Set("Origin", c.origin)
			}
			conn, resp, err := wsDialer.Dial("ws://"+c.srv.HTTPAddr().String()+"/ws", h)
			if c.ok {
				if err != nil {
					t.Fatalf("Dial with Origin %q: %v (%s), want an upgrade", c.origin, err, statusOf(resp))
				}
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatalf("Dial with Origin %q upgraded, want 403", c.origin)
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("Dial with Origin %q: %v (%s), want 403", c.origin, err, statusOf(resp))
			}
			if resp.Header.Get("Upgrade") != "" {
				t.Fatalf("a refused handshake has Upgrade: %q", resp.Header.Get("Upgrade"))
			}
		})
	}
}

// HEAD answers with the headers alone, at once; other methods are 405.
func TestMethods(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, TCPAddr: feed.NoListen})
	base := "http://" + srv.HTTPAddr().String()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	for _, c := range []struct{ path, contentType string }{
		{"/hits", "application/xml"},
		{"/hits?format=ndjson", "application/x-ndjson"},
		{"/events", "text/event-stream"},
		{"/api/status", "application/json"},
		{"/api/hits", "application/json"},
	} {
		t.Run("HEAD "+c.path, func(t *testing.T) {
			// The client's 2 s timeout is the check that it is prompt.
			resp, err := client.Head(base + c.path)
			if err != nil {
				t.Fatalf("HEAD %s: %v (a HEAD must not wait for a stream)", c.path, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || len(body) != 0 {
				t.Fatalf("HEAD %s body %q (%v), want none", c.path, body, err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HEAD %s: %d, want 200", c.path, resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.contentType) {
				t.Fatalf("HEAD %s: Content-Type %q, want %s", c.path, ct, c.contentType)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Fatalf("HEAD %s: Cache-Control %q, want no-cache", c.path, cc)
			}
		})
	}
	for _, path := range []string{"/hits", "/events", "/ws", "/api/hits", "/api/status", "/metrics"} {
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			t.Run(m+" "+path, func(t *testing.T) {
				req, _ := http.NewRequest(m, base+path, strings.NewReader("x"))
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Fatalf("%s %s: %d, want 405", m, path, resp.StatusCode)
				}
				if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") {
					t.Fatalf("%s %s: Allow %q, want GET in it", m, path, allow)
				}
			})
		}
	}
}

// At shutdown every stream ends properly and Run returns promptly.
func TestShutdownEndsStreams(t *testing.T) {
	log := tempLog(t)
	srv, stop := stopServerFunc(t, feed.Config{Logs: []string{log}, HTTPAddr: "127.0.0.1:0", TCPAddr: feed.NoListen})
	streams := map[string]*liveStream{}
	for _, k := range liveKinds {
		streams[k] = dialLive(t, srv, k, "", nil)
	}
	writeLines(t, log, combined, combined, combined)
	for k, s := range streams {
		if seqs, err := readSeqs(s, 3); err != nil || !slices.Equal(seqs, []uint64{1, 2, 3}) {
			t.Fatalf("%s: %v (%v), want 1 2 3", k, seqs, err)
		}
	}
	ends := make(chan error, len(streams))
	for k, s := range streams {
		go func() { ends <- streamEnd(k, s) }()
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run returned %v after the cancel, want within 2s", d)
	}
	for range streams {
		select {
		case err := <-ends:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(waitFor):
			t.Fatal("a stream did not end")
		}
	}
}

// streamEnd reads what is left of a stream after its records and checks
// that it ends as the protocol says.
func streamEnd(kind string, s *liveStream) error {
	if kind == kindWS {
		s.ws.SetReadDeadline(time.Now().Add(waitFor))
		_, msg, err := s.ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			return fmt.Errorf("ws: after the records: %q, %v; want a close frame with 1001 (going away)", msg, err)
		}
		return nil
	}
	rest, err := io.ReadAll(s.r)
	if err != nil {
		return fmt.Errorf("%s: the response did not end cleanly: %v (read %q)", kind, err, rest)
	}
	left := string(rest)
	switch kind {
	case kindXML:
		if strings.TrimLeft(left, "\n") != "</hits>\n" {
			return fmt.Errorf("hits: the document ends with %q, want </hits> and EOF", left)
		}
	case kindSSE:
		for _, l := range strings.Split(left, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				return fmt.Errorf("events: %q at the end, want nothing but comments", left)
			}
		}
	default:
		if strings.Trim(left, "\n") != "" {
			return fmt.Errorf("%s: %q at the end, want nothing", kind, left)
		}
	}
	return nil
}

// A client that goes away mid-stream leaves nothing behind.
func TestDisconnectLeavesNoGoroutine(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond})
	const n = 20
	kinds := []string{kindXML, kindNDJSON, kindSSE, kindWS}
	var seq uint64
	// round connects n clients of every transport, reads one record on
	// each, and disconnects them all.
	round := func(n int) {
		var streams []*liveStream
		var raws []*rawClient
		for range n {
			for _, k := range kinds {
				streams = append(streams, dialLive(t, srv, k, "", nil))
			}
			raws = append(raws, dialRaw(t, srv))
		}
		waitUntil(t, func() bool {
			st := getStatus(t, srv)
			return st.Subscribers["tcp"] == int64(n) && st.Subscribers["hits"] == int64(2*n) &&
				st.Subscribers["events"] == int64(n) && st.Subscribers["ws"] == int64(n)
		})
		writeLines(t, log, combined)
		seq++
		for _, s := range streams {
			if it := s.mustNext(t); it.Seq != seq {
				t.Fatalf("%s: %+v, want seq %d", s.kind, it, seq)
			}
		}
		for _, rc := range raws {
			if h := rc.hits(t, 1)[0]; h.Seq != seq {
				t.Fatalf("tcp: seq %d, want %d", h.Seq, seq)
			}
		}
		for _, s := range streams {
			s.close()
		}
		for _, rc := range raws {
			rc.c.Close()
		}
	}
	// settled waits until the server counts no subscriber and the process
	// has at most limit goroutines.
	settled := func(limit int) {
		const tolerance = 2 // runtime noise
		deadline := time.Now().Add(waitFor)
		for {
			st := getStatus(t, srv)
			now := runtime.NumGoroutine()
			if st.Totals.Subscribers == 0 && now <= limit+tolerance {
				return
			}
			if time.Now().After(deadline) {
				var b bytes.Buffer
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Fatalf("after %d clients of each transport left: /api/status subscribers %v, want none; %d goroutines, want at most %d+%d\n%s",
					n, st.Subscribers, now, limit, tolerance, b.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	round(1) // warm up: whatever is started once per process
	settled(1 << 20)
	before := runtime.NumGoroutine()
	round(n)
	settled(before)
}
