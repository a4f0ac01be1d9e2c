package feed_test

// The admin API end to end: off by default, its own token, the listing,
// a disconnect with each transport's goodbye, settings changed live.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/weblogd/weblogd/feed"
)

type adminEntry struct {
	ID        uint64    `json:"id"`
	Address   string    `json:"address"`
	Transport string    `json:"transport"`
	Token     string    `json:"token"`
	Filter    string    `json:"filter"`
	Queue     int       `json:"queue"`
	Dropped   uint64    `json:"dropped"`
	Since     time.Time `json:"connected_since"`
}

func adminList(t *testing.T, base string) []adminEntry {
	t.Helper()
	resp, body := request(t, "GET", base+"/admin/subscribers", bearer(tokAdmin), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/subscribers: %s %q", resp.Status, body)
	}
	var out []adminEntry
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET /admin/subscribers: %v in %q", err, body)
	}
	return out
}

func TestAdminOffByDefault(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}})
	base := "http://" + srv.HTTPAddr().String()
	for _, m := range []string{"GET", "DELETE", "PUT"} {
		path := "/admin/subscribers"
		if m == "DELETE" {
			path += "/1"
		}
		if m == "PUT" {
			path = "/admin/settings"
		}
		if resp, _ := request(t, m, base+path, bearer(tokAdmin), nil); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s without an admin token file: %s, want 404 or 405", m, path, resp.Status)
		}
	}
}

func TestAdminAPI(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}, Tick: 5 * time.Millisecond,
		TokenFile:      writeTokenFile(t, tokAll+" name=ops", tokShop+" name=shop status=5xx"),
		AdminTokenFile: writeTokenFile(t, tokAdmin+" name=root")})
	base := "http://" + srv.HTTPAddr().String()

	// Its own token: a stream token is refused, as are none and a wrong one.
	for _, hdr := range []http.Header{nil, bearer(tokAll), bearer(tokWrong)} {
		resp, body := request(t, "GET", base+"/admin/subscribers", hdr, nil)
		check401(t, "admin with "+hdr.Get("Authorization"), resp, body)
	}
	// The admin token opens no stream.
	resp, body := request(t, "GET", base+"/api/status", bearer(tokAdmin), nil)
	check401(t, "/api/status with the admin token", resp, body)
	waitMetric(t, srv, 3, "weblogd_auth_failures_total", "endpoint", "admin")

	ws := dialLive(t, srv, kindWS, "path=/a", bearer(tokShop))
	hits := dialLive(t, srv, kindXML, "", bearer(tokAll))
	sse := dialLive(t, srv, kindSSE, "", bearer(tokAll))
	raw := rawAuth(t, srv, tokShop)

	list := adminList(t, base)
	if len(list) != 4 {
		t.Fatalf("listing %+v, want 4 subscribers", list)
	}
	byTransport := map[string]adminEntry{}
	for _, e := range list {
		byTransport[e.Transport] = e
		if !strings.HasPrefix(e.Address, "127.0.0.1:") || e.Since.IsZero() || time.Since(e.Since) > time.Minute || e.ID == 0 {
			t.Errorf("entry %+v: want a loopback address, a recent connected_since, an id", e)
		}
	}
	if e := byTransport["ws"]; e.Token != "shop" || e.Filter != "path=%2Fa & status=5xx" {
		t.Errorf("ws entry %+v: want token shop, filter path=%%2Fa & status=5xx", e)
	}
	if e := byTransport["tcp"]; e.Token != "shop" || e.Filter != "status=5xx" {
		t.Errorf("tcp entry %+v: want token shop, its filter", e)
	}
	if e := byTransport["hits"]; e.Token != "ops" || e.Filter != "" {
		t.Errorf("hits entry %+v: want token ops, no filter", e)
	}
	if _, ok := byTransport["events"]; !ok {
		t.Errorf("no events entry in %+v", list)
	}

	del := func(id uint64) int {
		resp, _ := request(t, "DELETE", base+"/admin/subscribers/"+strconv.FormatUint(id, 10), bearer(tokAdmin), nil)
		return resp.StatusCode
	}
	// Each transport's goodbye: a close frame, </hits>, the end of the
	// SSE response.
	if code := del(byTransport["ws"].ID); code != http.StatusNoContent {
		t.Fatalf("DELETE ws: %d, want 204", code)
	}
	if code := wsCloseCode(t, ws.ws); code != websocket.CloseGoingAway {
		t.Errorf("ws goodbye: close code %d, want 1001", code)
	}
	if code := del(byTransport["hits"].ID); code != http.StatusNoContent {
		t.Fatalf("DELETE hits: %d", code)
	}
	if _, err := hits.next(); err != errEndOfHits {
		t.Errorf("hits after DELETE: %v, want </hits>", err)
	}
	if code := del(byTransport["tcp"].ID); code != http.StatusNoContent {
		t.Fatalf("DELETE tcp: %d", code)
	}
	if got := raw.line(t); got != "</hits>" {
		t.Errorf("raw after DELETE: %q, want </hits>", got)
	}
	if code := del(byTransport["events"].ID); code != http.StatusNoContent {
		t.Fatalf("DELETE events: %d", code)
	}
	if _, err := sse.frame(); err == nil {
		t.Errorf("events after DELETE: still a frame, want the end of the response")
	}
	if code := del(byTransport["events"].ID); code != http.StatusNotFound {
		t.Errorf("DELETE of a gone subscriber: %d, want 404", code)
	}
	if resp, _ := request(t, "DELETE", base+"/admin/subscribers/x", bearer(tokAdmin), nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("DELETE /admin/subscribers/x: %s, want 400", resp.Status)
	}
	waitUntil(t, func() bool { return len(adminList(t, base)) == 0 })
	waitMetric(t, srv, 1, "weblogd_disconnects_total", "transport", "ws", "reason", "admin")
	waitMetric(t, srv, 1, "weblogd_disconnects_total", "transport", "tcp", "reason", "admin")

	// Settings, live.
	put := func(body string) (*http.Response, string) {
		return request(t, "PUT", base+"/admin/settings", http.Header{"Authorization": {"Bearer " + tokAdmin},
			"Content-Type": {"application/json"}}, strings.NewReader(body))
	}
	resp, body = put(`{"tick":"200ms","slow_timeout":"0s"}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"tick": "200ms"`) || !strings.Contains(body, `"slow_timeout": "0s"`) {
		t.Fatalf("PUT /admin/settings: %s %q", resp.Status, body)
	}
	if resp, body := request(t, "GET", base+"/admin/settings", bearer(tokAdmin), nil); !strings.Contains(body, `"tick": "200ms"`) {
		t.Fatalf("GET /admin/settings: %s %q", resp.Status, body)
	}
	// The hub paces with the new tick (broadcast's TestPacerSetTick): a
	// lone subscriber still gets every record at once.
	s := dialLive(t, srv, kindNDJSON, "", bearer(tokAll))
	writeLines(t, log, combined)
	s.mustNext(t)
	for _, bad := range []string{`{"tick":"fast"}`, `{"tick":"-1s"}`, `{"tick":"1h"}`, `{"colour":"red"}`, `nope`} {
		if resp, _ := put(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %s: %s, want 400", bad, resp.Status)
		}
	}
	if _, body := request(t, "GET", base+"/admin/settings", bearer(tokAdmin), nil); !strings.Contains(body, `"tick": "200ms"`) {
		t.Errorf("after refused PUTs: %q, want the settings unchanged", body)
	}
}

func TestAdminTokensTakeNoFilter(t *testing.T) {
	if _, err := feed.New(feed.Config{Logs: []string{"x"}, AdminTokenFile: writeTokenFile(t, tokAdmin+" source=a")}); err == nil {
		t.Error("New with a filtered admin token: nil error")
	}
}
