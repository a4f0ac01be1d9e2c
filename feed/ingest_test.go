package feed_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/feed"
)

const (
	tokIngest  = "ingest-only-0123456789abcdef"
	tokIngest2 = "ingest-other-0123456789abcde"
)

// ingestServer runs a server with an ingest token file (tokIngest,
// tokIngest2) and a stream token file (tokAll), and a raw subscriber.
func ingestServer(t *testing.T, c feed.Config) (*feed.Server, *rawClient) {
	t.Helper()
	if c.IngestTokenFile == "" {
		c.IngestTokenFile = writeTokenFile(t, tokIngest+" name=web", tokIngest2+" name=other")
	}
	if c.TokenFile == "" {
		c.TokenFile = writeTokenFile(t, tokAll+" name=ops")
	}
	srv := startServer(t, c)
	return srv, rawAuth(t, srv, tokAll)
}

func ingestURL(srv *feed.Server, query string) string {
	u := "http://" + srv.HTTPAddr().String() + "/ingest"
	if query != "" {
		u += "?" + query
	}
	return u
}

// ingestAnswer is what /ingest answers once it read a body.
type ingestAnswer struct {
	Lines int64  `json:"lines"`
	Error string `json:"error"`
}

func decodeAnswer(t *testing.T, body string) ingestAnswer {
	t.Helper()
	var a ingestAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return a
}

// postIngest sends body with the headers and returns the answer.
func postIngest(t *testing.T, u, tok, contentType string, body io.Reader) (*http.Response, string) {
	t.Helper()
	h := bearer(tok)
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return request(t, http.MethodPost, u, h, body)
}

// A pipe into curl -T -, as `tail -F access.log | curl -sT - URL`: each
// line reaches a subscriber while curl still runs, and curl prints the
// count when its input ends.
func TestIngestCurlStreamsAPipe(t *testing.T) {
	curl := tool(t, "curl", "curl")
	srv, sub := ingestServer(t, feed.Config{})

	cmd := exec.Command(curl, "-sS", "--fail-with-body", "-T", "-", "-H", "Authorization: Bearer "+tokIngest, ingestURL(srv, "source=web1"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	for i := range 3 {
		line := strings.Replace(combined, "/index.html?q=1", fmt.Sprintf("/piped/%d", i), 1)
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
		h := decodeHit(t, sub.line(t))
		if h.Source != "web1" || h.Path != fmt.Sprintf("/piped/%d", i) || h.Status != 200 {
			t.Fatalf("hit %+v, want /piped/%d of source web1", h, i)
		}
		select {
		case err := <-exited:
			t.Fatalf("curl ended before its input did: %v\n%s", err, out.String())
		default:
		}
	}
	stdin.Close()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out.String())
		}
	case <-time.After(waitFor):
		t.Fatal("curl did not end after its input did")
	}
	if a := decodeAnswer(t, out.String()); a.Lines != 3 || a.Error != "" {
		t.Fatalf("answer %q, want 3 lines", out.String())
	}
}

// A Go client that sends its body in chunks of its own (chunked transfer
// encoding, no length), a line split across chunks, \r\n endings, a line
// longer than --max-line, and a last line without its newline.
func TestIngestChunkedBody(t *testing.T) {
	srv, sub := ingestServer(t, feed.Config{MaxLineBytes: 200})
	pr, pw := io.Pipe()
	// A body of unknown length: the client sends it chunked.
	req, err := http.NewRequest(http.MethodPost, ingestURL(srv, "source=edge/nginx"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokIngest)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- nil
			return
		}
		done <- resp
	}()
	long := strings.Repeat("x", 500)
	parts := []string{combined[:20], combined[20:] + "\r\n", "second line\n", long + "\n", "last without newline"}
	for _, p := range parts {
		if _, err := io.WriteString(pw, p); err != nil {
			t.Fatal(err)
		}
	}
	got := sub.hits(t, 3)
	if got[0].Path != "/index.html?q=1" || got[0].Source != "edge/nginx" || got[1].Raw != "second line" {
		t.Fatalf("hits %+v", got[:2])
	}
	if got[2].Raw != long[:200] {
		t.Fatalf("a long line: raw of %d bytes, want it cut at 200", len(got[2].Raw))
	}
	pw.Close()
	resp := <-done
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || decodeAnswer(t, string(b)).Lines != 4 {
		t.Fatalf("%s %s, want 200 with 4 lines", resp.Status, b)
	}
	if h := decodeHit(t, sub.line(t)); h.Raw != "last without newline" {
		t.Fatalf("last hit %+v", h)
	}
	row := ingestRow(t, srv, "edge/nginx")
	if row.Kind != "ingest" || row.Records != 4 || row.Truncated != 1 {
		t.Fatalf("/api/status row %+v, want kind ingest, 4 records, 1 truncated", row)
	}
}

type ingestStatusRow struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Records   uint64 `json:"records"`
	Truncated uint64 `json:"truncated"`
}

// ingestRow is the /api/status row of the source name (read with a
// stream token).
func ingestRow(t *testing.T, srv *feed.Server, name string) ingestStatusRow {
	t.Helper()
	resp, body := request(t, http.MethodGet, "http://"+srv.HTTPAddr().String()+"/api/status", bearer(tokAll), nil)
	var st struct {
		Sources []ingestStatusRow `json:"sources"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/status: %s %v", resp.Status, err)
	}
	for _, r := range st.Sources {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("/api/status has no source %q: %+v", name, st.Sources)
	return ingestStatusRow{}
}

// Sources named by ?source= are bounded by --max-sources: past it their
// lines are counted under one source, each record keeping its name.
func TestIngestMaxSources(t *testing.T) {
	srv, sub := ingestServer(t, feed.Config{MaxSources: 1})
	for _, name := range []string{"first", "second", "third"} {
		if resp, body := postIngest(t, ingestURL(srv, "source="+name), tokIngest, "", strings.NewReader("from "+name+"\n")); resp.StatusCode != 200 {
			t.Fatalf("%s: %s %q", name, resp.Status, body)
		}
		if h := decodeHit(t, sub.line(t)); h.Source != name || h.Raw != "from "+name {
			t.Fatalf("hit %+v, want source %s", h, name)
		}
	}
	if r := ingestRow(t, srv, "first"); r.Records != 1 {
		t.Fatalf("row %+v", r)
	}
	if r := ingestRow(t, srv, "(overflow)"); r.Records != 2 || r.Kind != "ingest" {
		t.Fatalf("overflow row %+v, want 2 records", r)
	}
}

// The bodies Vector's and Fluent Bit's HTTP outputs send, shaped as they
// send them: each line is taken as the web server wrote it.
func TestIngestShippersJSON(t *testing.T) {
	srv, sub := ingestServer(t, feed.Config{})
	line := func(path string) string { return strings.Replace(combined, "/index.html?q=1", path, 1) }
	esc := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	cases := []struct {
		name, contentType, body string
		paths                   []string
	}{
		// Vector, http sink, encoding.codec json: one batch, a JSON array
		// of events from its file source.
		{"vector json", "application/json", `[{"file":"/var/log/nginx/access.log","host":"web1","message":` + esc(line("/v/1")) +
			`,"source_type":"file","timestamp":"2026-11-21T09:00:00.123456789Z"},{"file":"/var/log/nginx/access.log","host":"web1","message":` +
			esc(line("/v/2")) + `,"source_type":"file","timestamp":"2026-11-21T09:00:00.2Z"}]`, []string{"/v/1", "/v/2"}},
		// Vector with framing.method newline_delimited.
		{"vector ndjson", "application/x-ndjson", `{"file":"/var/log/nginx/access.log","host":"web1","message":` + esc(line("/v/3")) + `,"source_type":"file","timestamp":"2026-11-21T09:00:01Z"}` + "\n" +
			`{"file":"/var/log/nginx/access.log","host":"web1","message":` + esc(line("/v/4")) + `,"source_type":"file","timestamp":"2026-11-21T09:00:01Z"}` + "\n", []string{"/v/3", "/v/4"}},
		// Fluent Bit, http output, format json: an array, the tail input's
		// "log" and the default date key, a double.
		{"fluent-bit json", "application/json", `[{"date":1795251600.123456,"log":` + esc(line("/f/1")) + `},{"date":1795251600.223456,"log":` + esc(line("/f/2")) + `}]`, []string{"/f/1", "/f/2"}},
		// format json_lines: one object a line.
		{"fluent-bit json_lines", "application/x-ndjson", `{"date":1795251601.0,"log":` + esc(line("/f/3")) + "}\n" + `{"date":1795251601.5,"log":` + esc(line("/f/4")) + "}\n", []string{"/f/3", "/f/4"}},
		// format json_stream: objects one after the other.
		{"fluent-bit json_stream", "application/json", `{"date":1795251602.0,"log":` + esc(line("/f/5")) + `}{"date":1795251602.1,"log":` + esc(line("/f/6")) + `}`, []string{"/f/5", "/f/6"}},
		// A Docker json-file line relayed: "log" with its newline.
		{"docker log", "application/x-ndjson", `{"log":` + esc(line("/d/1")+"\n") + `,"stream":"stdout","time":"2026-11-21T09:00:03.5Z"}`, []string{"/d/1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := postIngest(t, ingestURL(srv, "source=shipper"), tokIngest, c.contentType, strings.NewReader(c.body))
			if resp.StatusCode != 200 || decodeAnswer(t, body).Lines != int64(len(c.paths)) {
				t.Fatalf("%s %q, want 200 with %d lines", resp.Status, body, len(c.paths))
			}
			for _, want := range c.paths {
				h := decodeHit(t, sub.line(t))
				if h.Path != want || h.Source != "shipper" || h.Status != 200 {
					t.Fatalf("hit %+v, want %s", h, want)
				}
			}
		})
	}

	t.Run("message before log; the object itself without either", func(t *testing.T) {
		caddy := `{"level":"info","ts":1795251600.5,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"203.0.113.9","method":"GET","host":"example.com","uri":"/c"},"status":200}`
		body := `{"log":"not this","message":"this one"}` + "\n" + caddy + "\n" + `"a string is a line"` + "\n" + `{"message":{"not":"a string"},"x":"\u00e9\ud83d\ude00"}`
		resp, b := postIngest(t, ingestURL(srv, ""), tokIngest, "application/x-ndjson", strings.NewReader(body))
		if resp.StatusCode != 200 || decodeAnswer(t, b).Lines != 4 {
			t.Fatalf("%s %q, want 200 with 4 lines", resp.Status, b)
		}
		want := []string{"this one", caddy, "a string is a line", `{"message":{"not":"a string"},"x":"\u00e9\ud83d\ude00"}`}
		for _, w := range want {
			if h := decodeHit(t, sub.line(t)); h.Raw != w && h.Source == "ingest" {
				// A Caddy object parses with auto: its raw is then empty.
				if w == caddy && h.Path == "/c" {
					continue
				}
				t.Fatalf("hit %+v, want the line %q", h, w)
			}
		}
	})

	t.Run("bad JSON: 400 with the lines before it", func(t *testing.T) {
		body := `{"message":` + esc(line("/ok")) + "}\n" + `{"message": nope}`
		resp, b := postIngest(t, ingestURL(srv, ""), tokIngest, "application/json", strings.NewReader(body))
		a := decodeAnswer(t, b)
		if resp.StatusCode != 400 || a.Lines != 1 || !strings.Contains(a.Error, "JSON") {
			t.Fatalf("%s %q, want 400 with 1 line and the reason", resp.Status, b)
		}
		if h := decodeHit(t, sub.line(t)); h.Path != "/ok" {
			t.Fatalf("hit %+v", h)
		}
	})

	t.Run("msgpack is refused with what to send", func(t *testing.T) {
		resp, b := postIngest(t, ingestURL(srv, ""), tokIngest, "application/msgpack", strings.NewReader("\x91\x92"))
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(b, "json_lines") {
			t.Fatalf("%s %q, want 415 naming json_lines", resp.Status, b)
		}
	})

	t.Run("gzip", func(t *testing.T) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		io.WriteString(zw, `[{"date":1.5,"log":`+esc(line("/gz"))+`}]`)
		zw.Close()
		h := bearer(tokIngest)
		h.Set("Content-Type", "application/json")
		h.Set("Content-Encoding", "gzip")
		resp, b := request(t, http.MethodPost, ingestURL(srv, ""), h, &zb)
		if resp.StatusCode != 200 || decodeAnswer(t, b).Lines != 1 {
			t.Fatalf("%s %q", resp.Status, b)
		}
		if h := decodeHit(t, sub.line(t)); h.Path != "/gz" {
			t.Fatalf("hit %+v", h)
		}
	})
}

// curl with a JSON body, as a shipper's request: -H Content-Type and
// --data-binary.
func TestIngestCurlJSON(t *testing.T) {
	curl := tool(t, "curl", "curl")
	srv, sub := ingestServer(t, feed.Config{})
	body := `[{"date":1795251600.123456,"log":"` + strings.ReplaceAll(combined, `"`, `\"`) + `"}]`
	out, err := exec.Command(curl, "-sS", "--fail-with-body", "-H", "Authorization: Bearer "+tokIngest, "-H", "Content-Type: application/json",
		"--data-binary", body, ingestURL(srv, "source=fluent")).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if a := decodeAnswer(t, string(out)); a.Lines != 1 {
		t.Fatalf("answer %q", out)
	}
	if h := decodeHit(t, sub.line(t)); h.Source != "fluent" || h.Path != "/index.html?q=1" || h.Agent != "curl/8.5.0" {
		t.Fatalf("hit %+v", h)
	}
}

// Ingest tokens open /ingest and nothing else; stream tokens do not open
// /ingest.
func TestIngestAuth(t *testing.T) {
	srv, _ := ingestServer(t, feed.Config{})
	base := "http://" + srv.HTTPAddr().String()
	for _, c := range []struct {
		what string
		hdr  http.Header
	}{
		{"no Authorization", http.Header{}},
		{"an unknown token", bearer(tokWrong)},
		{"a stream token", bearer(tokAll)},
		{"basic auth", http.Header{"Authorization": {"Basic aW5nZXN0Og=="}}},
	} {
		resp, body := request(t, http.MethodPost, ingestURL(srv, ""), c.hdr, strings.NewReader(combined+"\n"))
		check401(t, "POST /ingest with "+c.what, resp, body)
	}
	if v := metric(t, srv, "weblogd_auth_failures_total", "endpoint", "ingest"); v != 4 {
		t.Errorf("weblogd_auth_failures_total{endpoint=ingest}=%v, want 4", v)
	}
	for _, p := range []string{"/hits", "/api/status", "/api/hits", "/"} {
		resp, body := request(t, http.MethodGet, base+p, bearer(tokIngest), nil)
		check401(t, "GET "+p+" with an ingest token", resp, body)
	}
	rc := rawDial(t, srv)
	rc.send(t, "AUTH "+tokIngest)
	expectUnauthorizedRaw(t, rc, "raw AUTH with an ingest token")

	// Without an ingest token file there is no /ingest, whatever the method.
	off := startServer(t, feed.Config{Logs: []string{tempLog(t)}})
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodGet} {
		resp, _ := request(t, m, ingestURL(off, ""), bearer(tokIngest), strings.NewReader("x\n"))
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s /ingest without --ingest-token-file: %s, want 404", m, resp.Status)
		}
	}
	// A filter on an ingest token means nothing: refused.
	if _, err := feed.New(feed.Config{IngestTokenFile: writeTokenFile(t, tokIngest+" status=5xx")}); err == nil || !strings.Contains(err.Error(), "filter") {
		t.Errorf("New with a filtered ingest token: %v, want an error about the filter", err)
	}
}

func TestIngestBadSource(t *testing.T) {
	srv, _ := ingestServer(t, feed.Config{})
	for _, q := range []string{"source=", "source=..", "source=../etc", "source=a/../b", "source=/abs", "source=a//b", "source=a%20b",
		"source=%00", "source=caf%C3%A9", "source=a%0Ab", "source=" + strings.Repeat("x", 129)} {
		resp, body := postIngest(t, ingestURL(srv, q), tokIngest, "", strings.NewReader(combined+"\n"))
		if resp.StatusCode != 400 || strings.Count(body, "\n") != 1 || !strings.HasPrefix(body, "bad request: ") {
			t.Errorf("?%s: %s %q, want 400 with a one-line reason", q, resp.Status, body)
		}
	}
	for _, q := range []string{"source=web1", "source=web-1.example.com/nginx", "source=" + strings.Repeat("x", 128), "source=host:8080@a_b"} {
		resp, body := postIngest(t, ingestURL(srv, q), tokIngest, "", strings.NewReader(""))
		if resp.StatusCode != 200 {
			t.Errorf("?%s: %s %q, want 200", q, resp.Status, body)
		}
	}
}

// The ingest token file is read again when it changes, as the stream
// token file is.
func TestIngestTokenFileIsReread(t *testing.T) {
	path := writeTokenFile(t, tokIngest, tokIngest2)
	srv, _ := ingestServer(t, feed.Config{IngestTokenFile: path})
	replaceFile(t, path, tokIngest2+"\n")
	waitUntil(t, func() bool {
		resp, _ := postIngest(t, ingestURL(srv, ""), tokIngest, "", strings.NewReader(""))
		return resp.StatusCode == http.StatusUnauthorized
	})
	if resp, body := postIngest(t, ingestURL(srv, ""), tokIngest2, "", strings.NewReader("x\n")); resp.StatusCode != 200 {
		t.Fatalf("the token left in the file: %s %q", resp.Status, body)
	}
}

// Past --ingest-requests-per-token, 429; another token is not held up.
func TestIngestRequestsPerToken(t *testing.T) {
	srv, sub := ingestServer(t, feed.Config{IngestRequestsPerToken: 2})
	var pws []*io.PipeWriter
	var wg sync.WaitGroup
	for i := range 2 {
		pr, pw := io.Pipe()
		pws = append(pws, pw)
		wg.Go(func() {
			resp, body := postIngest(t, ingestURL(srv, ""), tokIngest, "", pr)
			if resp.StatusCode != 200 {
				t.Errorf("an open request: %s %q", resp.Status, body)
			}
		})
		io.WriteString(pw, fmt.Sprintf("open %d\n", i))
		sub.line(t) // it is open, and its line in
	}
	resp, body := postIngest(t, ingestURL(srv, ""), tokIngest, "", strings.NewReader("one too many\n"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a third request: %s %q, want 429 with Retry-After", resp.Status, body)
	}
	if resp, body := postIngest(t, ingestURL(srv, ""), tokIngest2, "", strings.NewReader("other token\n")); resp.StatusCode != 200 {
		t.Fatalf("another token: %s %q", resp.Status, body)
	}
	for _, pw := range pws {
		pw.Close()
	}
	wg.Wait()
	if resp, body := postIngest(t, ingestURL(srv, ""), tokIngest, "", strings.NewReader("again\n")); resp.StatusCode != 200 {
		t.Fatalf("once they ended: %s %q", resp.Status, body)
	}
}

// Past --ingest-rate-per-token, the request waits: every line arrives,
// none is dropped, and it takes about as long as the rate says.
func TestIngestRatePerToken(t *testing.T) {
	srv, sub := ingestServer(t, feed.Config{IngestRatePerToken: 200})
	const n = 500 // 200 at once (the burst), 300 more at 200 a second
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	start := time.Now()
	resp, body := postIngest(t, ingestURL(srv, ""), tokIngest, "", strings.NewReader(b.String()))
	took := time.Since(start)
	if resp.StatusCode != 200 || decodeAnswer(t, body).Lines != n {
		t.Fatalf("%s %q", resp.Status, body)
	}
	for i := range n {
		if h := decodeHit(t, sub.line(t)); h.Raw != fmt.Sprintf("line %d", i) {
			t.Fatalf("hit %d: %+v", i, h)
		}
	}
	// At most 200 at once: the other 300 cannot come in under a second.
	if took < time.Second {
		t.Fatalf("%d lines at 200 a second took %v", n, took)
	}
}

// A body that stalls is ended at the idle timeout with what it sent.
func TestIngestIdleTimeout(t *testing.T) {
	srv, sub := ingestServer(t, feed.Config{IngestIdleTimeout: 1500 * time.Millisecond})
	pr, pw := io.Pipe()
	defer pw.Close()
	go io.WriteString(pw, "before the stall\n")
	resp, body := postIngest(t, ingestURL(srv, ""), tokIngest, "", pr)
	a := decodeAnswer(t, body)
	if resp.StatusCode != http.StatusRequestTimeout || a.Lines != 1 || a.Error == "" {
		t.Fatalf("%s %q, want 408 with 1 line", resp.Status, body)
	}
	if h := decodeHit(t, sub.line(t)); h.Raw != "before the stall" {
		t.Fatalf("hit %+v", h)
	}
}

// Shutdown does not wait for an open /ingest: it answers with what it
// took, and Run returns in time.
func TestIngestShutdown(t *testing.T) {
	c := feed.Config{HTTPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second,
		IngestTokenFile: writeTokenFile(t, tokIngest)}
	srv, stop := stopServerFunc(t, c)
	pr, pw := io.Pipe()
	defer pw.Close()
	got := make(chan string, 1)
	go func() {
		_, body := postIngest(t, ingestURL(srv, ""), tokIngest, "", pr)
		got <- body
	}()
	io.WriteString(pw, "one\ntwo\n")
	waitUntil(t, func() bool { return srv.LastSeq() >= 2 })
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run()=%v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %v with an /ingest open", took)
	}
	select {
	case body := <-got:
		if a := decodeAnswer(t, body); a.Lines != 2 || a.Error == "" {
			t.Fatalf("answer %q, want 2 lines and why the rest was not read", body)
		}
	case <-time.After(waitFor):
		t.Fatal("no answer")
	}
}

// Over TLS, with the test certificates: HTTP/2 and HTTP/1.1.
func TestIngestOverTLS(t *testing.T) {
	cert := certstest.Write(t, t.TempDir(), "weblogd")
	srv := startServer(t, feed.Config{TLSCertFile: cert.CertFile, TLSKeyFile: cert.KeyFile, IngestTokenFile: writeTokenFile(t, tokIngest)})
	sub := dialRawTLS(t, srv, cert.Pool)
	tc := newTLSClients(t, cert.Pool)
	u := "https://" + srv.HTTPAddr().String() + "/ingest?source=tls"
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}}
	for i, c := range []*http.Client{tc.http, h1} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(fmt.Sprintf("over tls %d\n", i)))
		req.Header.Set("Authorization", "Bearer "+tokIngest)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || decodeAnswer(t, string(b)).Lines != 1 || resp.ProtoMajor != 2-i {
			t.Fatalf("%s %s %q", resp.Proto, resp.Status, b)
		}
		if h := decodeHit(t, sub.line(t)); h.Raw != fmt.Sprintf("over tls %d", i) || h.Source != "tls" {
			t.Fatalf("hit %+v", h)
		}
	}
	{
		curl := tool(t, "curl", "curl")
		cmd := exec.Command(curl, "-sS", "--fail-with-body", "--cacert", cert.CertFile, "-T", "-", "-H", "Authorization: Bearer "+tokIngest, u)
		cmd.Stdin = strings.NewReader("curl over tls\n")
		out, err := cmd.CombinedOutput()
		if err != nil || decodeAnswer(t, string(out)).Lines != 1 {
			t.Fatalf("curl: %v %s", err, out)
		}
		if h := decodeHit(t, sub.line(t)); h.Raw != "curl over tls" {
			t.Fatalf("hit %+v", h)
		}
	}
}
