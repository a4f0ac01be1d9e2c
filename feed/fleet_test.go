package feed_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/weblogd/weblogd/feed"
	"github.com/weblogd/weblogd/fleet/fleettest"
)

// TestPublishToSubscribingEdge: two servers publish their logs to NATS,
// a third with no log of its own subscribes, and serves every line of
// both, each once, with its node and source, numbered by its own seq.
func TestPublishToSubscribingEdge(t *testing.T) {
	ns := fleettest.Run(t, nil)
	fast := []nats.Option{nats.ReconnectWait(20 * time.Millisecond)}
	const n = 50
	logs := map[string]string{}
	for _, node := range []string{"web-1", "web-2"} {
		logs[node] = tempLog(t)
		startServer(t, feed.Config{Logs: []string{logs[node]}, Publish: ns.ClientURL(), Node: node, NATSOptions: fast})
	}
	edge := startServer(t, feed.Config{Subscribe: ns.ClientURL(), NATSOptions: fast})
	for i := range n {
		for node, p := range logs {
			writeLines(t, p, fmt.Sprintf(`203.0.113.9 - - [%s] "GET /%s/%d HTTP/1.1" 200 %d`, time.Now().Format("02/Jan/2006:15:04:05 -0700"), node, i, i))
		}
	}
	type rec struct {
		Seq    uint64 `json:"seq"`
		Node   string `json:"node"`
		Source string `json:"source"`
		Path   string `json:"path"`
	}
	var got []rec
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 2*n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Get(fmt.Sprintf("http://%s/api/hits?since=0&limit=1000", edge.HTTPAddr()))
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2*n {
		t.Fatalf("edge has %d records, want %d", len(got), 2*n)
	}
	next := map[string]int{}
	for i, r := range got {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d: seq %d, want the edge's own %d", i, r.Seq, i+1)
		}
		if want := fmt.Sprintf("/%s/%d", r.Node, next[r.Node]); r.Path != want || r.Source != "access.log" {
			t.Fatalf("record %d: %+v, want node %s's path %s from access.log", i, r, r.Node, want)
		}
		next[r.Node]++
	}
	if next["web-1"] != n || next["web-2"] != n {
		t.Fatalf("records per node %v, want %d each", next, n)
	}
	// The edge's statistics count what came through NATS, by node.
	st := getStats(t, edge, "window=5m")
	nodes := map[string]uint64{}
	for _, c := range st.Top["node"] {
		nodes[c.Value] = c.Count
	}
	if st.Requests != 2*n || st.Bytes != 2*n*(n-1)/2 || nodes["web-1"] != n || nodes["web-2"] != n {
		t.Errorf("edge statistics: %d requests, %d bytes, nodes %v; want %d, %d, %d each", st.Requests, st.Bytes, nodes, 2*n, 2*n*(n-1)/2, n)
	}
}
