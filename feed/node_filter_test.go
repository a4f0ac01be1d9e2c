package feed_test

// node= end to end: two servers publish their logs to a real (in-process)
// NATS JetStream, an edge takes both in and also follows a log of its own,
// and every HTTP way out of the edge, filtered by node, carries exactly the
// records of that node.

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/fleet/fleettest"
)

// tokNodeA is a token limited to node a's records by its token file line.
const tokNodeA = "node-a-only-0123456789abcdef"

// nodeFleet is two publishing servers, nodes "a" and "b", and an edge
// subscribing to their stream. logs maps a node to the log it publishes;
// "" is the edge's own log, whose records have no node.
type nodeFleet struct {
	edge *feed.Server
	logs map[string]string
}

// startNodeFleet starts NATS, the publishers and the edge, configured by
// edgeCfg plus the subscription and a log of its own. Everything stops
// when the test ends.
func startNodeFleet(t *testing.T, edgeCfg feed.Config) *nodeFleet {
	t.Helper()
	ns := fleettest.Run(t, nil)
	fast := []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	f := &nodeFleet{logs: map[string]string{}}
	for _, node := range []string{"a", "b"} {
		f.logs[node] = tempLog(t)
		startServer(t, feed.Config{Logs: []string{f.logs[node]}, Publish: ns.ClientURL(), Node: node,
			NATSOptions: fast, TCPAddr: feed.NoListen})
	}
	f.logs[""] = tempLog(t)
	edgeCfg.Logs = []string{f.logs[""]}
	edgeCfg.Subscribe = ns.ClientURL()
	edgeCfg.NATSOptions = fast
	f.edge = startServer(t, edgeCfg)
	return f
}

// write appends n lines to node's log, with paths /<node or local>/<i>
// counting on from first.
func (f *nodeFleet) write(t *testing.T, node string, first, n int) {
	t.Helper()
	name := node
	if name == "" {
		name = "local"
	}
	var lines []string
	for i := first; i < first+n; i++ {
		lines = append(lines, dashLine(200, fmt.Sprintf("/%s/%d", name, i)))
	}
	writeLines(t, f.logs[node], lines...)
}

// nodeRec is the part of a record these tests look at.
type nodeRec struct {
	Seq    uint64 `json:"seq" xml:"seq,attr"`
	Node   string `json:"node" xml:"node,attr"`
	Source string `json:"source" xml:"source,attr"`
	Path   string `json:"path" xml:"path,attr"`
	Type   string `json:"type"` // "gap" for a gap
}

// nodeStream reads a liveStream's records with their node.
type nodeStream struct {
	*liveStream
	pending []nodeRec // ws: the rest of the last message
}

func dialNodes(t *testing.T, srv *feed.Server, kind, query string, hdr http.Header) *nodeStream {
	t.Helper()
	return &nodeStream{liveStream: dialLive(t, srv, kind, query, hdr)}
}

// next reads the next record, whatever the framing; a gap is an error:
// nothing may be lost here.
func (s *nodeStream) next() (nodeRec, error) {
	var r nodeRec
	switch s.kind {
	case kindXML:
		for {
			l, err := s.r.ReadString('\n')
			if err != nil {
				return r, fmt.Errorf("read: %w", err)
			}
			if l = strings.TrimSpace(l); l == "" {
				continue // heartbeat
			}
			if !strings.HasPrefix(l, "<hit ") {
				return r, fmt.Errorf("got %q, want a hit", l)
			}
			return r, xml.Unmarshal([]byte(l), &r)
		}
	case kindNDJSON, kindNDJSONAccept:
		for {
			l, err := s.r.ReadString('\n')
			if err != nil {
				return r, fmt.Errorf("read: %w", err)
			}
			if l = strings.TrimSpace(l); l == "" {
				continue // heartbeat
			}
			if err := json.Unmarshal([]byte(l), &r); err != nil || r.Type != "" {
				return r, fmt.Errorf("got %q (%v), want a record", l, err)
			}
			return r, nil
		}
	case kindSSE:
		for {
			fr, err := s.frame()
			if err != nil {
				return r, err
			}
			if fr.event == "" {
				continue // a comment
			}
			if fr.event != "hit" || len(fr.data) != 1 {
				return r, fmt.Errorf("got event %q with %d data lines, want a hit", fr.event, len(fr.data))
			}
			return r, json.Unmarshal([]byte(fr.data[0]), &r)
		}
	case kindWS:
		for len(s.pending) == 0 {
			s.ws.SetReadDeadline(time.Now().Add(waitFor))
			_, msg, err := s.ws.ReadMessage()
			if err != nil {
				return r, fmt.Errorf("read: %w", err)
			}
			var m struct {
				Type string    `json:"type"`
				Hits []nodeRec `json:"hits"`
			}
			if err := json.Unmarshal(msg, &m); err != nil || m.Type != "hits" {
				return r, fmt.Errorf("got %s (%v), want hits", msg, err)
			}
			s.pending = m.Hits
		}
		r, s.pending = s.pending[0], s.pending[1:]
		return r, nil
	}
	return r, fmt.Errorf("unknown kind %q", s.kind)
}

// apiRecs GETs /api/hits?query with the token and decodes the records.
func apiRecs(t *testing.T, srv *feed.Server, query, tok string) []nodeRec {
	t.Helper()
	resp, body := request(t, "GET", "http://"+srv.HTTPAddr().String()+"/api/hits?"+query, bearer(tok), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/hits?%s: %s %q, want 200", query, resp.Status, body)
	}
	var recs []nodeRec
	if err := json.Unmarshal([]byte(body), &recs); err != nil {
		t.Fatalf("GET /api/hits?%s: %v in %s", query, err, body)
	}
	for _, r := range recs {
		if r.Type != "" {
			t.Fatalf("GET /api/hits?%s: a %s in %s", query, r.Type, body)
		}
	}
	return recs
}

// paths lists the records' node:path, in order.
func paths(recs []nodeRec) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Node+":"+r.Path)
	}
	return out
}

// wantPaths lists node:path for the paths /<node>/<from..to-1>.
func wantPaths(node string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s:/%s/%d", node, node, i))
	}
	return out
}

func TestNodeFilter(t *testing.T) {
	f := startNodeFleet(t, feed.Config{Ring: 1000,
		TokenFile: writeTokenFile(t, tokAll, tokNodeA+" name=a-only node=a")})
	edge := f.edge
	all := bearer(tokAll)

	// Live streams of every kind, opened before any record exists: node=a
	// asked for, or given by the token's own filter.
	type sub struct {
		name string
		s    *nodeStream
	}
	var subs []sub
	for _, kind := range liveKinds {
		subs = append(subs, sub{kind + "?node=a", dialNodes(t, edge, kind, "node=a", all)})
	}
	for _, kind := range []string{kindXML, kindSSE, kindWS} {
		subs = append(subs, sub{kind + " with the a-only token", dialNodes(t, edge, kind, "", bearer(tokNodeA))})
	}

	// Interleaved: the edge's ring mixes local, a and b records.
	for round := range 3 {
		f.write(t, "", 2*round, 2)
		f.write(t, "a", 3*round, 3)
		f.write(t, "b", 2*round, 2)
	}
	waitUntil(t, func() bool { return edge.LastSeq() == 6+9+6 })

	// A last record of a, after everything else is in the edge's ring: a
	// stream that lets anything else through shows it before this one.
	f.write(t, "a", 9, 1)
	wantA := wantPaths("a", 0, 10)
	for _, sb := range subs {
		var got []nodeRec
		for len(got) < len(wantA) {
			r, err := sb.s.next()
			if err != nil {
				t.Fatalf("%s: after %v: %v", sb.name, paths(got), err)
			}
			got = append(got, r)
		}
		if !slices.Equal(paths(got), wantA) {
			t.Errorf("%s: %v, want exactly node a's records %v", sb.name, paths(got), wantA)
		}
		for _, r := range got {
			if r.Source != "access.log" || r.Seq == 0 {
				t.Errorf("%s: record %+v, want its seq and source", sb.name, r)
			}
		}
	}

	// The snapshot API, and history on a stream, choose by the same filter.
	if got := paths(apiRecs(t, edge, "node=a&since=0&limit=1000", tokAll)); !slices.Equal(got, wantA) {
		t.Errorf("/api/hits?node=a: %v, want %v", got, wantA)
	}
	if got := paths(apiRecs(t, edge, "since=0&limit=1000", tokNodeA)); !slices.Equal(got, wantA) {
		t.Errorf("/api/hits with the a-only token: %v, want %v", got, wantA)
	}
	if got := paths(apiRecs(t, edge, "node=b&limit=1000", tokAll)); !slices.Equal(got, wantPaths("b", 0, 6)) {
		t.Errorf("/api/hits?node=b: %v, want %v", got, wantPaths("b", 0, 6))
	}
	if got := apiRecs(t, edge, "node=a,b&since=0&limit=1000", tokAll); len(got) != 10+6 {
		t.Errorf("/api/hits?node=a,b: %d records %v, want the 16 of a and b", len(got), paths(got))
	}
	// Local records have no node: no node filter lets them through.
	if got := apiRecs(t, edge, "node=local&since=0&limit=1000", tokAll); len(got) != 0 {
		t.Errorf("/api/hits?node=local: %v, want none", paths(got))
	}
	local := apiRecs(t, edge, "path=/local/&since=0&limit=1000", tokAll)
	if len(local) != 6 || local[0].Node != "" {
		t.Errorf("/api/hits?path=/local/: %+v, want the 6 local records without a node", local)
	}
	// The token's filter is ANDed with the request's.
	if got := apiRecs(t, edge, "node=b&since=0&limit=1000", tokNodeA); len(got) != 0 {
		t.Errorf("/api/hits?node=b with the a-only token: %v, want none", paths(got))
	}
	hist := dialNodes(t, edge, kindNDJSON, "node=b&backlog=4", all)
	var got []nodeRec
	for range 4 {
		r, err := hist.next()
		if err != nil {
			t.Fatalf("ndjson?node=b&backlog=4: %v", err)
		}
		got = append(got, r)
	}
	if want := wantPaths("b", 2, 6); !slices.Equal(paths(got), want) {
		t.Errorf("ndjson?node=b&backlog=4: %v, want %v", paths(got), want)
	}

	// A bad value is refused before any stream starts, on every way in.
	base := "http://" + edge.HTTPAddr().String()
	for _, target := range []string{"/hits?node=", "/hits?format=ndjson&node=a,", "/events?node=a&node=", "/api/hits?node=%20"} {
		resp, body := request(t, "GET", base+target, all, nil)
		checkBadRequest(t, resp, body)
		if !strings.Contains(body, "node has an empty value") {
			t.Errorf("GET %s: %q, want the reason", target, body)
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+edge.HTTPAddr().String()+"/ws?node=", all)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("/ws?node=: err %v, response %s; want the handshake refused with 400", err, statusOf(resp))
	}
}
