package format

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// The log_formats TestNginxReal gives nginx, each compiled as written
// here.
var realNginxFormats = []struct {
	name, spec string
	json       bool // also read by the json preset
	// what the format says besides the request and status
	agent, duration, upstream bool
}{
	{"timed", `log_format timed '$remote_addr - $remote_user [$time_local] '
                    '"$request" $status $body_bytes_sent '
                    '"$http_referer" "$http_user_agent" $request_time $upstream_response_time';`, false, true, true, true},
	{"vhost", `log_format vhost '$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status ` +
		`$body_bytes_sent "$http_referer" "$http_user_agent" $request_id $msec $connection $pipe "$ssl_protocol"';`, false, true, false, false},
	{"upstreamlog", `log_format upstreamlog '[$time_local] $remote_addr - $remote_user - $server_name $host to: ` +
		`$upstream_addr: $request $status upstream_response_time $upstream_response_time msec $msec request_time $request_time';`, false, false, true, true},
	{"jsonlog", `log_format jsonlog escape=json '{"time_local":"$time_local","remote_addr":"$remote_addr",'
    '"remote_user":"$remote_user","request":"$request","status":$status,'
    '"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"http_referer":"$http_referer","http_user_agent":"$http_user_agent",'
    '"upstream_response_time":"$upstream_response_time","request_id":"$request_id"}';`, true, true, true, true},
	{"pieces", `log_format pieces '$time_iso8601 $remote_addr "$request_method $uri$is_args$args $server_protocol" $status $bytes_sent $request_time';`,
		false, false, true, false},
}

func nginxPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	const sbin = "/usr/sbin/nginx" // Debian's, often outside a user's PATH
	if fi, err := os.Stat(sbin); err == nil && fi.Mode()&0o111 != 0 {
		return sbin
	}
	missing(t, "nginx", "nginx")
	return ""
}

// TestNginxReal runs nginx with the log_formats above, makes requests, and
// reads each log back with its format compiled.
func TestNginxReal(t *testing.T) {
	bin := nginxPath(t)
	dir := t.TempDir()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made\n")
	}))
	t.Cleanup(upstream.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var conf strings.Builder
	fmt.Fprintf(&conf, `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log notice;
events { worker_connections 64; }
http {
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
`, dir)
	for _, f := range realNginxFormats {
		fmt.Fprintf(&conf, "    %s\n    access_log %s/%s.log %s;\n", f.spec, dir, f.name, f.name)
	}
	fmt.Fprintf(&conf, `    server {
        listen %s;
        server_name test.example;
        location /up/ { proxy_pass %s; }
        location = /missing { return 404; }
        location / { return 200 "hello\n"; }
    }
}
`, addr, upstream.URL)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	errorLog := func() string { b, _ := os.ReadFile(filepath.Join(dir, "error.log")); return out.String() + string(b) }
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, errorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}

	type req struct {
		method, path, agent, referer string
		raw                          string // sent as is instead
		status                       int
		proxied                      bool
	}
	reqs := []req{
		{method: "GET", path: "/a-b?q=1", agent: `my "agent" \ é`, referer: "http://ref.example/x", status: 200},
		{method: "POST", path: "/up/x?y=2", agent: "weblogd-test/1", status: 201, proxied: true},
		{method: "GET", path: "/missing", agent: "weblogd-test/2", status: 404},
		{method: "GET", path: "/raw", raw: "GET /raw HTTP/1.0\r\n\r\n", status: 200},
		{raw: "\x16\x03\x01 hello\r\n\r\n", status: 400},
	}
	// readLog returns the lines of a log once it has n of them. The test
	// waits for each request's lines before it makes the next, so that the
	// logs are in the order of reqs whichever worker wrote them.
	readLog := func(name string, n int) []string {
		var lines []string
		for {
			lines = lines[:0]
			if f, err := os.Open(filepath.Join(dir, name+".log")); err == nil {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					lines = append(lines, sc.Text())
				}
				f.Close()
			}
			if len(lines) >= n || time.Now().After(deadline) {
				return lines
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for i, q := range reqs {
		if i > 0 {
			for _, f := range realNginxFormats {
				readLog(f.name, i)
			}
		}
		if q.raw != "" {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, q.raw)
			io.ReadAll(c)
			c.Close()
			continue
		}
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
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != q.status {
			t.Fatalf("%s %s: status %d, want %d", q.method, q.path, resp.StatusCode, q.status)
		}
	}

	for _, f := range realNginxFormats {
		t.Run(f.name, func(t *testing.T) {
			lines := readLog(f.name, len(reqs))
			if len(lines) != len(reqs) {
				t.Fatalf("nginx logged %d lines, want %d:\n%s", len(lines), len(reqs), strings.Join(lines, "\n"))
			}
			compiled, err := compileNginx(f.spec)
			if err != nil {
				t.Fatal(err)
			}
			parsers := []Parser{compiled}
			if f.json {
				parsers = append(parsers, newJSON())
			}
			for _, p := range parsers {
				for i, q := range reqs {
					var r record.Record
					if ok, at := p.Parse(&r, lines[i]); !ok {
						t.Fatalf("%s: line %d does not fit (stopped at %d): %s", p.Name(), i+1, at, lines[i])
					}
					if r.Status != q.status {
						t.Errorf("%s: Status=%d, want %d\n%s", p.Name(), r.Status, q.status, lines[i])
					}
					if q.method == "" && f.name == "pieces" {
						// Without $request, nginx writes what it did not read as "-".
						if r.Method != "-" || r.Path != "-" || r.Proto != "-" {
							t.Errorf("%s: %s %s %s, want - - -\n%s", p.Name(), r.Method, r.Path, r.Proto, lines[i])
						}
					} else if q.method == "" {
						if r.Request == "" || r.Method != "" {
							t.Errorf("%s: Request=%q Method=%q, want the bad request as nginx wrote it\n%s", p.Name(), r.Request, r.Method, lines[i])
						}
					} else if r.Method != q.method || r.Path != q.path {
						t.Errorf("%s: %s %s, want %s %s\n%s", p.Name(), r.Method, r.Path, q.method, q.path, lines[i])
					}
					if f.agent && (r.Agent != q.agent && !(q.agent == "" && r.Agent == "-") || r.Referer != q.referer && !(q.referer == "" && r.Referer == "-")) {
						t.Errorf("%s: Agent=%q Referer=%q, want %q %q\n%s", p.Name(), r.Agent, r.Referer, q.agent, q.referer, lines[i])
					}
					if r.Host != "127.0.0.1" {
						t.Errorf("%s: Host=%q, want 127.0.0.1\n%s", p.Name(), r.Host, lines[i])
					}
					if d := time.Since(r.Time); d < 0 || d > time.Minute {
						t.Errorf("%s: Time=%v, not within the last minute\n%s", p.Name(), r.Time, lines[i])
					}
					if f.duration != r.Duration.Set || r.Duration.D < 0 || r.Duration.D > time.Minute {
						t.Errorf("%s: Duration=%+v, want set: %v\n%s", p.Name(), r.Duration, f.duration, lines[i])
					}
					if want := f.upstream && q.proxied; r.UpstreamDuration.Set != want || want && r.UpstreamDuration.D < time.Millisecond {
						t.Errorf("%s: UpstreamDuration=%+v, want set: %v, at least 1ms\n%s", p.Name(), r.UpstreamDuration, want, lines[i])
					}
				}
			}
		})
	}
}
