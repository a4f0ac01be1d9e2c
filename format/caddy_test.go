package format

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// caddyLine is an access-log line as Caddy 2.7 writes it.
const caddyLine = `{"level":"info","ts":1646861401.5241024,"logger":"http.log.access","msg":"handled request",` +
	`"request":{"remote_ip":"127.0.0.1","remote_port":"41342","client_ip":"127.0.0.1","proto":"HTTP/2.0",` +
	`"method":"GET","host":"example.com","uri":"/docs/?q=1",` +
	`"headers":{"User-Agent":["curl/7.82.0"],"Accept":["*/*"],"Accept-Encoding":["gzip"]},` +
	`"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"example.com"}},` +
	`"bytes_read":0,"user_id":"","duration":0.000929675,"size":10900,"status":200,` +
	`"resp_headers":{"Server":["Caddy"],"Content-Type":["text/html; charset=utf-8"]}}`

func TestCaddy(t *testing.T) {
	ts := time.Unix(1646861401, 524102400).UTC()
	for _, tc := range []struct {
		line string
		want record.Record
	}{
		{caddyLine, record.Record{
			Time: ts, VHost: "example.com", Host: "127.0.0.1", Method: "GET", Path: "/docs/?q=1",
			Proto: "HTTP/2.0", Status: 200, Bytes: 10900, Duration: record.Took(929675 * time.Nanosecond),
			Agent: "curl/7.82.0",
			Fields: []record.Pair{
				{Name: "logger", Value: "http.log.access"},
				{Name: "request.tls.version", Value: "772"},
				{Name: "request.tls.cipher_suite", Value: "4865"},
				{Name: "request.tls.proto", Value: "h2"},
				{Name: "request.tls.server_name", Value: "example.com"},
				{Name: "bytes_read", Value: "0"},
			},
		}},
		// Caddy 2.6: no client_ip, no bytes_read; escapes in a header; a
		// header logged twice; a user.
		{`{"level":"info","ts":1796684298.0175903,"logger":"http.log.access.log0","msg":"handled request",` +
			`"request":{"remote_ip":"::1","remote_port":"46422","proto":"HTTP/1.1","method":"POST","host":"127.0.0.1:18931",` +
			`"uri":"/a%20b?q=1","headers":{"User-Agent":["my \"agent\" \u00e9"],"Referer":["http://ref/x","http://ref/y"]}},` +
			`"user_id":"bob","duration":2,"size":0,"status":404,"resp_headers":{"Server":["Caddy"]}}`,
			record.Record{
				Time: time.Unix(1796684298, 17590300).UTC(), VHost: "127.0.0.1:18931", Host: "::1", User: "bob",
				Method: "POST", Path: "/a%20b?q=1", Proto: "HTTP/1.1", Status: 404, Duration: record.Took(2 * time.Second),
				Agent: `my "agent" é`, Referer: "http://ref/x, http://ref/y",
				Fields: []record.Pair{{Name: "logger", Value: "http.log.access.log0"}},
			}},
		// Behind a trusted proxy: client_ip is the client, remote_ip the proxy.
		{`{"ts":1646861401,"request":{"remote_ip":"10.0.0.2","client_ip":"203.0.113.9","method":"GET","uri":"/"},"status":200,"size":1}`,
			record.Record{
				Time: time.Unix(1646861401, 0).UTC(), Host: "203.0.113.9", Method: "GET", Path: "/", Status: 200, Bytes: 1,
				Fields: []record.Pair{{Name: "request.remote_ip", Value: "10.0.0.2"}},
			}},
		// time_format and duration_format other than the defaults.
		{`{"ts":"2022-03-09T21:30:01.524Z","request":{"remote_ip":"1.2.3.4"},"duration":"1.5ms","status":301,"size":0}`,
			record.Record{Time: time.Date(2022, 3, 9, 21, 30, 1, 524e6, time.UTC), Host: "1.2.3.4", Status: 301,
				Duration: record.Took(1500 * time.Microsecond)}},
		{`{"ts":"2022-03-09T21:30:01.524+0100","request":{},"status":200,"size":0}`,
			record.Record{Time: time.Date(2022, 3, 9, 21, 30, 1, 524e6, time.FixedZone("", 3600)), Status: 200}},
		{`{"ts":"2022/03/09 21:30:01.524","request":{},"status":200,"size":0}`,
			record.Record{Time: time.Date(2022, 3, 9, 21, 30, 1, 524e6, time.UTC), Status: 200}},
		{`{"ts":1646861401524.5,"request":{},"status":200,"size":0}`,
			record.Record{Time: time.Unix(1646861401, 524500000).UTC(), Status: 200}},
		{`{"ts":1646861401524102400,"request":{},"status":200,"size":0}`,
			record.Record{Time: time.Unix(1646861401, 524102400).UTC(), Status: 200}},
		{`{"ts":9.3e-05,"request":{},"status":200,"duration":9.3e-05}`,
			record.Record{Time: time.Unix(0, 93000).UTC(), Status: 200, Duration: record.Took(93 * time.Microsecond)}},
	} {
		checkParse(t, newCaddy(), tc.line, tc.want)
	}
}

func TestCaddyNoFit(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   int
	}{
		// Caddy's own messages, when they share the output.
		{`{"level":"info","ts":1796684299.0843413,"msg":"shutdown complete","signal":"SIGTERM","exit_code":0}`, 99},
		{`{"request":{}}`, 14},
		{`{"request":"x","status":200}`, 11},
		{`{"request":{},"status":"200"}`, 23},
		{`{"request":{},"status":99}`, 23},
		{`{"request":{},"status":200,"size":-1}`, 34},
		{`{"request":{},"status":200,"ts":true}`, 32},
		{`{"request":{},"status":200,"duration":"soon"}`, 38},
		{`{"request":{},"status":200,"duration":-1}`, 38},
		{`{"request":{},"status":200`, 26},
		{`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`, 0},
	} {
		checkNoParse(t, newCaddy(), tc.line, tc.at)
	}
}

func TestCaddyAllocs(t *testing.T) {
	p := newCaddy()
	line := caddyLine
	var r record.Record
	n := testing.AllocsPerRun(100, func() {
		r = record.Record{}
		if ok, at := p.Parse(&r, line); !ok {
			t.Fatalf("stopped at %d", at)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
}

// TestCaddyReal runs Caddy with a JSON access log, makes requests, and
// reads back what it wrote.
func TestCaddyReal(t *testing.T) {
	bin := tool(t, "caddy", "caddy")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
}
http://%s {
	log {
		output file %s
		format json
	}
	respond /missing "gone" 404
	respond "hello" 200
}
`, addr, logPath)
	confPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "run", "--config", confPath, "--adapter", "caddyfile")
	// Caddy keeps its data and autosaved config under these.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not listen on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	type req struct {
		method, path, agent, referer string
		status                       int
		size                         int64
	}
	reqs := []req{
		{"GET", "/a%20b?q=1", `my "agent" é`, "http://ref.example/x", 200, 5},
		{"POST", "/form", "weblogd-test/1", "", 200, 5},
		{"GET", "/missing", "weblogd-test/2", "", 404, 4},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, q := range reqs {
		hr, err := http.NewRequest(q.method, "http://"+addr+q.path, strings.NewReader("abc"))
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("User-Agent", q.agent)
		if q.referer != "" {
			hr.Header.Set("Referer", q.referer)
		}
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != q.status {
			t.Fatalf("%s %s: status %d, want %d", q.method, q.path, resp.StatusCode, q.status)
		}
	}

	var lines []string
	for {
		lines = lines[:0]
		if f, err := os.Open(logPath); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		if len(lines) >= len(reqs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy logged %d lines, want %d\n%s", len(lines), len(reqs), out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p := newCaddy()
	for i, q := range reqs {
		r, at := parseWith(p, lines[i])
		if !r.Parsed {
			t.Fatalf("line %d did not parse (stopped at %d): %s", i+1, at, lines[i])
		}
		if r.Method != q.method || r.Path != q.path || r.Proto != "HTTP/1.1" || r.Status != q.status ||
			r.Bytes != q.size || r.Agent != q.agent || r.Referer != q.referer ||
			r.Host != "127.0.0.1" || r.VHost != addr {
			t.Errorf("line %d: %+v\nwant %+v\n%s", i+1, r, q, lines[i])
		}
		if !r.Duration.Set || r.Duration.D <= 0 || r.Duration.D > time.Minute {
			t.Errorf("line %d: duration %+v", i+1, r.Duration)
		}
		if d := time.Since(r.Time); d < 0 || d > time.Minute || r.Time.Location() != time.UTC {
			t.Errorf("line %d: time %v, not within the last minute in UTC", i+1, r.Time)
		}
		if len(r.Fields) == 0 || r.Fields[0].Name != "logger" || !strings.HasPrefix(r.Fields[0].Value, "http.log.access") {
			t.Errorf("line %d: fields %+v, want the logger first", i+1, r.Fields)
		}
	}
}

func FuzzCaddy(f *testing.F) {
	f.Add(caddyLine)
	f.Add(`{"ts":"2022-03-09T21:30:01.524Z","request":{"remote_ip":"1.2.3.4","headers":{"Referer":["a","b"]}},"duration":"1.5ms","status":301,"size":0}`)
	f.Add(`{"ts":1646861401524102400,"request":{},"status":200,"size":0,"duration":9.3e-05}`)
	f.Add(`{"request":{},"status":200,"size":-1}`)
	p := newCaddy()
	f.Fuzz(func(t *testing.T, line string) { fuzzParser(t, p, line) })
}

func BenchmarkCaddy(b *testing.B) {
	benchParser(b, newCaddy(), []string{caddyLine})
}
