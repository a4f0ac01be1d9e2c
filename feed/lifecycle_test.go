package feed_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/broadcast"
	"github.com/weblogd/weblogd/feed"
)

func TestBackfillIsHistoryNotNews(t *testing.T) {
	log := tempLog(t, "line one", "line two", "line three", "line four")
	srv := startServer(t, feed.Config{Logs: []string{log}, Backfill: 3})
	rc := dialRaw(t, srv)
	writeLines(t, log, "line five")
	if h := rc.hits(t, 1)[0]; h.Seq != 4 || h.Raw != "line five" {
		t.Fatalf("live subscriber got %+v first, want seq 4 (line five): backfill is not news", h)
	}
	rc.send(t, "SINCE 0")
	for i, want := range []string{"line two", "line three", "line four", "line five"} {
		if h := rc.hits(t, 1)[0]; h.Seq != uint64(i+1) || h.Raw != want {
			t.Fatalf("SINCE 0: got seq %d %q, want seq %d %q", h.Seq, h.Raw, i+1, want)
		}
	}
}

func TestStateResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log, "before the first start")
	cfg := feed.Config{Logs: []string{log}, StatePath: state, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"}

	srv, stop := stopServerFunc(t, cfg)
	rc := dialRaw(t, srv)
	writeLines(t, log, "one", "two")
	if got := rc.hits(t, 2); got[1].Seq != 3 {
		t.Fatalf("first run: last seq %d, want 3 (one backfilled line, two new)", got[1].Seq)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	writeLines(t, log, "written while down 1", "written while down 2")

	srv = startServer(t, cfg)
	waitUntil(t, func() bool { return srv.LastSeq() >= 5 })
	rc = dialRaw(t, srv)
	rc.send(t, "SINCE 3")
	got := rc.hits(t, 2)
	if got[0].Seq != 4 || got[0].Raw != "written while down 1" || got[1].Seq != 5 {
		t.Fatalf("after restart: %+v, want seq 4 and 5 for the lines written while down", got)
	}
	writeLines(t, log, "after restart")
	if h := rc.hits(t, 1)[0]; h.Seq != 6 || h.Raw != "after restart" {
		t.Fatalf("live after restart: %+v, want seq 6", h)
	}
}

func TestCorruptStateIsIgnored(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	writeLines(t, log, "old")
	os.WriteFile(state, []byte("{not json"), 0o644)
	srv := startServer(t, feed.Config{Logs: []string{log}, StatePath: state, Backfill: -1})
	rc := dialRaw(t, srv)
	writeLines(t, log, "new")
	if h := rc.hits(t, 1)[0]; h.Seq != 1 || h.Raw != "new" {
		t.Fatalf("with a corrupt state: %+v, want seq 1 'new' (followed from the end)", h)
	}
}

func TestGlobFindsNewLogs(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, filepath.Join(dir, "a.log"), "in a before start")
	srv := startServer(t, feed.Config{Logs: []string{filepath.Join(dir, "*.log")}, Backfill: -1})
	rc := dialRaw(t, srv)
	writeLines(t, filepath.Join(dir, "a.log"), "in a")
	writeLines(t, filepath.Join(dir, "b.log"), "in b from its start")
	got := map[string]string{}
	for _, h := range rc.hits(t, 2) {
		got[h.Source] = h.Raw
	}
	if got["a.log"] != "in a" || got["b.log"] != "in b from its start" {
		t.Fatalf("glob sources: %v, want a.log and b.log", got)
	}
}

func TestSameBaseNameUsesPath(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "x", "access.log")
	b := filepath.Join(dir, "y", "access.log")
	os.MkdirAll(filepath.Dir(a), 0o755)
	os.MkdirAll(filepath.Dir(b), 0o755)
	writeLines(t, a)
	writeLines(t, b)
	srv := startServer(t, feed.Config{Logs: []string{a, b}})
	rc := dialRaw(t, srv)
	writeLines(t, a, "from a")
	if h := rc.hits(t, 1)[0]; h.Source != a {
		t.Fatalf("source %q, want the path %q", h.Source, a)
	}
}

func TestReadyz(t *testing.T) {
	log := filepath.Join(t.TempDir(), "later.log")
	srv := startServer(t, feed.Config{Logs: []string{log}})
	url := "http://" + srv.HTTPAddr().String()
	code, body := httpGet(t, url+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for "+log) {
		t.Fatalf("/readyz with a missing log: %d %q, want 503 naming it", code, body)
	}
	if code, _ := httpGet(t, url+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d, want 200", code)
	}
	writeLines(t, log, combined)
	waitUntil(t, func() bool { code, _ := httpGet(t, url+"/readyz"); return code == http.StatusOK })
	rc := dialRaw(t, srv)
	rc.send(t, "SINCE 0")
	if h := rc.hits(t, 1)[0]; h.Status != 200 {
		t.Fatalf("a log that appeared later is read from its start: got %+v", h)
	}
}

func TestBasePath(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, BasePath: "/weblog"})
	url := "http://" + srv.HTTPAddr().String()
	if code, _ := httpGet(t, url+"/weblog/healthz"); code != http.StatusOK {
		t.Fatalf("/weblog/healthz: %d, want 200", code)
	}
	if code, _ := httpGet(t, url+"/healthz"); code != http.StatusNotFound {
		t.Fatalf("/healthz outside the base path: %d, want 404", code)
	}
	if code, body := httpGet(t, url+"/weblog/"); code != http.StatusOK || !strings.Contains(body, "weblogd") {
		t.Fatalf("/weblog/: %d, want the dashboard", code)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A whole raw session, saved as a client would with `nc host 8888 > f`,
// is a well-formed XML document whatever the log held, and loses nothing.
func TestRawSessionIsWellFormedXML(t *testing.T) {
	log := tempLog(t)
	srv, stop := stopServerFunc(t, feed.Config{Logs: []string{log}, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0"})
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// "<hits>" comes once the subscription exists: write only after it.
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(waitFor))
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	session := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(br)
		session <- append([]byte(first), b...)
	}()
	hostile := []string{
		combined,
		"\x00\x01\x02 NUL and controls \x1b[31m",
		"invalid utf-8 \xff\xfe\xc3\x28 and a lone \xe2\x82",
		`<hit seq="999"/> & &amp; ' " ]]> <!-- -->`,
		`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /\x22quoted\x22&<> HTTP/1.1" 200 1 "-" "agent \"with\" quotes \xE2\x80\x99"`,
		"\uFFFE\uFFFF noncharacters and \u2028 separators",
		"",
		"tab\tand\rcarriage return",
	}
	writeLines(t, log, hostile...)
	waitUntil(t, func() bool { return srv.LastSeq() >= uint64(len(hostile)) })
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	var doc []byte
	select {
	case doc = <-session:
	case <-time.After(waitFor):
		t.Fatal("the raw stream did not end at shutdown")
	}
	if !bytes.HasSuffix(doc, []byte("</hits>\n")) {
		t.Fatalf("session does not end with </hits>: ...%q", doc[max(0, len(doc)-80):])
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	var seqs []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("session is not well-formed XML: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "hit" {
			for _, a := range se.Attr {
				if a.Name.Local == "seq" {
					seqs = append(seqs, a.Value)
				}
			}
		}
	}
	if len(seqs) != len(hostile) {
		t.Fatalf("session holds %d hits (%v), want %d: nothing may be skipped", len(seqs), seqs, len(hostile))
	}
	xmllint(t, doc)
}

// Subscribing in-process sees what the network sees.
func TestSubscribeInProcess(t *testing.T) {
	log := tempLog(t)
	srv := startServer(t, feed.Config{Logs: []string{log}})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	sub, err := srv.Subscribe(ctx, broadcast.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	writeLines(t, log, combined)
	select {
	case <-sub.Ready():
	case <-ctx.Done():
		t.Fatal("no record in time")
	}
	items := sub.Take()
	if len(items) != 1 || items[0].Batch == nil || items[0].Batch.Records[0].Path != "/index.html?q=1" {
		t.Fatalf("Take()=%+v, want one batch with the record", items)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := map[string]feed.Config{
		"no log":        {},
		"bad glob":      {Logs: []string{"/tmp/[x"}},
		"bad address":   {Logs: []string{"a"}, HTTPAddr: "nope"},
		"bad base":      {Logs: []string{"a"}, BasePath: "weblog"},
		"negative ring": {Logs: []string{"a"}, Ring: -1},
	}
	for name, c := range cases {
		if _, err := feed.New(c); err == nil {
			t.Errorf("%s: New()=nil error, want one", name)
		}
	}
}

func TestRunFailsOnBusyPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv, err := feed.New(feed.Config{Logs: []string{tempLog(t)}, HTTPAddr: l.Addr().String(), TCPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := srv.Run(ctx); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run() on a busy port = %v, want a listen error", err)
	}
}

func TestShutdownWithStalledClient(t *testing.T) {
	log := tempLog(t)
	srv, stop := stopServerFunc(t, feed.Config{Logs: []string{log}, HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0",
		WriteTimeout: 500 * time.Millisecond, ShutdownTimeout: 3 * time.Second})
	// A client that connects and never reads.
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	line := strings.Repeat("y", 60<<10)
	for i := 0; i < 200; i++ { // ~12 MB: more than socket buffers hold
		writeLines(t, log, line)
	}
	waitUntil(t, func() bool { return srv.LastSeq() >= 200 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v, want nil: a stalled client is cut by its write deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v with a stalled client", d)
	}
}

// A keep-alive connection outlives the write deadline of the response it
// carried: the next request on it, after that deadline, still works.
func TestKeepAliveOutlivesWriteDeadline(t *testing.T) {
	srv := startServer(t, feed.Config{Logs: []string{tempLog(t)}, WriteTimeout: 100 * time.Millisecond})
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: waitFor}
	url := "http://" + srv.HTTPAddr().String()
	var reused []bool
	for i, path := range []string{"/api/status", "/api/hits", "/healthz"} {
		if i > 0 {
			time.Sleep(300 * time.Millisecond) // past the previous response's deadline
		}
		req, _ := http.NewRequest("GET", url+path, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = append(reused, info.Reused) },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s on a kept-alive connection: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	if len(reused) != 3 || !reused[1] || !reused[2] {
		t.Fatalf("connection reused %v, want [false true true]", reused)
	}
}
