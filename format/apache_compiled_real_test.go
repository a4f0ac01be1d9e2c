package format

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// The LogFormats TestApacheReal gives Apache httpd, each compiled as
// written here: Debian's and the documentation's, and one with most other
// directives.
var realApacheFormats = []struct {
	name, spec string
	// what the format says besides the request and status
	agent, duration, vhost bool
}{
	{"common", apacheCommon, false, false, false},
	{"combined", apacheCombined, true, false, false},
	{"vhost_combined", apacheVhost, true, false, true},
	{"pieces", `LogFormat "[%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] %h %{c}a:%{remote}p \"%r\" %>s %B %D \"%400,404{User-Agent}i\"" pieces`,
		false, true, false},
	{"others", `LogFormat "%{sec}t %a %l %u \"%m %U%q %H\" %s %O %I %k %X %T %{ms}T %P %v %V %p %{Referer}i|%{User-agent}i|%{Accept}i|%{Content-Type}o|%L|%%" others`,
		true, true, true},
}

func apachePath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("apache2"); err == nil {
		return p
	}
	const sbin = "/usr/sbin/apache2" // Debian's, often outside a user's PATH
	if fi, err := os.Stat(sbin); err == nil && fi.Mode()&0o111 != 0 {
		return sbin
	}
	missing(t, "apache2", "apache2")
	return ""
}

// TestApacheReal runs Apache httpd with the LogFormats above, makes
// requests, and reads each log back with its format compiled.
func TestApacheReal(t *testing.T) {
	bin := apachePath(t)
	modules := "/usr/lib/apache2/modules"
	dir := t.TempDir()
	// httpd's workers run as nobody when it starts as root, and must read
	// the documents.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	docs := filepath.Join(dir, "htdocs")
	if err := os.Mkdir(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(docs, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var conf strings.Builder
	fmt.Fprintf(&conf, `ServerRoot %[1]s
DefaultRuntimeDir %[1]s
PidFile %[1]s/httpd.pid
ErrorLog %[1]s/error.log
Mutex file:%[1]s default
Listen %[2]s
ServerName www.example.com
LoadModule mpm_event_module %[3]s/mod_mpm_event.so
LoadModule authz_core_module %[3]s/mod_authz_core.so
DocumentRoot %[4]s
<Directory %[4]s>
    Require all granted
</Directory>
`, dir, addr, modules, docs)
	if os.Getuid() == 0 {
		conf.WriteString("User nobody\nGroup nogroup\n")
	}
	for _, f := range realApacheFormats {
		fmt.Fprintf(&conf, "%s\nCustomLog %s/%s.log %s\n", f.spec, dir, f.name, f.name)
	}
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", dir, "-f", confPath, "-DFOREGROUND")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
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
			t.Fatalf("httpd did not listen on %s: %v\n%s", addr, err, errorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}

	type req struct {
		method, path, agent, referer string
		raw                          string // sent as is instead
		status                       int
	}
	reqs := []req{
		{method: "GET", path: "/hello.txt?q=1", agent: `my "agent" \ é`, referer: "http://ref.example/x", status: 200},
		{method: "HEAD", path: "/hello.txt", agent: "weblogd-test/1", status: 200},
		{method: "GET", path: "/missing", agent: "weblogd-test/2", status: 404},
		{method: "GET", path: "/hello.txt", raw: "GET /hello.txt HTTP/1.0\r\n\r\n", status: 200},
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
			for _, f := range realApacheFormats {
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
		hr, err := http.NewRequest(q.method, "http://"+addr+q.path, nil)
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

	for _, f := range realApacheFormats {
		t.Run(f.name, func(t *testing.T) {
			lines := readLog(f.name, len(reqs))
			if len(lines) != len(reqs) {
				t.Fatalf("httpd logged %d lines, want %d:\n%s\n%s", len(lines), len(reqs), strings.Join(lines, "\n"), errorLog())
			}
			p, err := compileApache(f.spec)
			if err != nil {
				t.Fatal(err)
			}
			for i, q := range reqs {
				var r record.Record
				if ok, at := p.Parse(&r, lines[i]); !ok {
					t.Fatalf("line %d does not fit (stopped at %d): %s", i+1, at, lines[i])
				}
				bad := func(what string, got, want any) {
					t.Errorf("%s=%#v, want %#v\n%s", what, got, want, lines[i])
				}
				if r.Status != q.status {
					bad("Status", r.Status, q.status)
				}
				if r.Method != q.method || r.Path != q.path {
					bad("Method Path", r.Method+" "+r.Path, q.method+" "+q.path)
				}
				if f.agent {
					agent, referer := q.agent, q.referer
					if agent == "" {
						agent = "-"
					}
					if referer == "" {
						referer = "-"
					}
					if r.Agent != agent || r.Referer != referer {
						bad("Agent Referer", []string{r.Agent, r.Referer}, []string{agent, referer})
					}
				}
				if r.Host != "127.0.0.1" {
					bad("Host", r.Host, "127.0.0.1")
				}
				if d := time.Since(r.Time); d < 0 || d > time.Minute {
					bad("Time", r.Time, "within the last minute")
				}
				if r.Duration.Set != f.duration || r.Duration.D < 0 || r.Duration.D > time.Minute {
					bad("Duration", r.Duration, f.duration)
				}
				if f.vhost && !strings.HasPrefix(r.VHost, "www.example.com") {
					bad("VHost", r.VHost, "www.example.com...")
				}
			}
		})
	}
}
