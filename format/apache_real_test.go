package format_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/format"
)

// The LogFormat strings Apache is configured with, and that the parsers are
// given: durations in microseconds, a request id, TLS and both byte counts;
// a time with milliseconds (the Apache manual's own example) and the Host
// header as sent; and Debian's vhost_combined.
const (
	apacheTiming        = `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %v %p %{SSL_PROTOCOL}x %{UNIQUE_ID}e %I %O`
	apacheMsec          = `%a %l %u [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{ms}T "%{Host}i"`
	apacheVHostCombined = `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`
)

// apacheModules is where Debian's apache2 keeps its modules.
const apacheModules = "/usr/lib/apache2/modules"

// apacheRequests are the requests each run makes. Apache logs the user of
// a request it authenticated itself, and %b "-" for no body.
func apacheRequests() []webExchange {
	return []webExchange{
		{Method: "GET", Path: "/static", Host: "Static.Example.TEST:8080", VHost: "static.example.test", Agent: oddAgent, Referer: oddReferer},
		{Method: "GET", Path: "/up/page?x=1&q=caf%C3%A9", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/2", Upstream: oneUpstream},
		{Method: "GET", Path: "/up/secure", Host: "secure.example.test", VHost: "secure.example.test", Agent: "weblogd-test/3", TLS: true, Upstream: oneUpstream},
		{Method: "HEAD", Path: "/up/head", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/4", Upstream: oneUpstream},
		{Method: "POST", Path: "/private/form", Host: "secure.example.test", VHost: "secure.example.test", Agent: "weblogd-test/5", User: "alice", TLS: true, Upstream: oneUpstream, Referer: "https://secure.example.test/form"},
		{Method: "GET", Path: "/up/teapot?status=418", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/6", Upstream: oneUpstream},
		{Method: "GET", Path: "/private/nobody", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/7"},
		{Method: "GET", Path: "/missing", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/8"},
		{Method: "GET", Path: "/static", Host: "secure.example.test", VHost: "secure.example.test", Agent: oddAgent, TLS: true},
	}
}

// apacheRun is what one run of real Apache left: the logs it wrote, and the
// requests it served (one line each, in every log). Apache logs a request
// after the client has its response, each connection in its own thread, so
// the lines of requests on different connections may be in either order:
// matcher finds a line's request.
type apacheRun struct {
	Timing, Msec, VHostCombined string
	Exchanges                   []webExchange
}

// matcher returns a function that gives the request line i of one log is
// about: the one whose request line and host or virtual host the line
// holds. Each request has one line in each log, so a request matched twice
// fails the test.
func (run *apacheRun) matcher() func(t *testing.T, i int, line string) webExchange {
	used := make([]bool, len(run.Exchanges))
	return func(t *testing.T, i int, line string) webExchange {
		t.Helper()
		k := -1
		for j, e := range run.Exchanges {
			if strings.Contains(line, `"`+e.Method+" "+e.Path+` HTTP/1.1"`) &&
				(strings.Contains(line, e.VHost) || strings.Contains(line, e.Host)) {
				if k >= 0 {
					t.Fatalf("line %d matches two of the requests made:\n%s", i+1, line)
				}
				k = j
			}
		}
		if k < 0 || used[k] {
			t.Fatalf("line %d matches no request made, or one another line matched:\n%s", i+1, line)
		}
		used[k] = true
		return run.Exchanges[k]
	}
}

// apachePort is what %p says: the scheme's default port, not the one the
// client connected to or named in Host (UseCanonicalName Off, the default).
func apachePort(e webExchange) string {
	if e.TLS {
		return "443"
	}
	return "80"
}

// TestApacheWritesItsFormats runs real Apache with three LogFormats at
// once, makes requests of every kind, and checks each line Apache wrote
// against what the client sent and saw. runApacheFormats gives the same
// lines to the parsers' tests; -write-samples keeps them in
// testdata/samples.
func TestApacheWritesItsFormats(t *testing.T) {
	run := runApacheFormats(t)
	ex := run.Exchanges

	t.Run("timing", func(t *testing.T) {
		lines := readLines(t, run.Timing)
		if len(lines) != len(ex) {
			t.Fatalf("%d lines in the timing log, want one per request (%d):\n%s", len(lines), len(ex), strings.Join(lines, "\n"))
		}
		match := run.matcher()
		for i, line := range lines {
			e := match(t, i, line)
			m := apacheTimingLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d does not have the shape of apacheTiming:\n%s", i+1, line)
			}
			if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2]); err != nil {
				t.Errorf("line %d: %%t %q: %v", i+1, m[2], err)
			}
			checkEq(t, i, "%u", m[1], or(e.User, "-"))
			checkEq(t, i, "%r", m[3], e.Method+" "+e.Path+" HTTP/1.1")
			checkEq(t, i, "%>s", m[4], strconv.Itoa(e.Status))
			checkEq(t, i, "%b", m[5], apacheBytes(e.Bytes))
			checkEq(t, i, "%{Referer}i", m[6], or(apacheEscaped(e.Referer), "-"))
			checkEq(t, i, "%{User-Agent}i", m[7], apacheEscaped(e.Agent))
			us, _ := strconv.ParseInt(m[8], 10, 64)
			checkApacheDuration(t, i, e, "%D", time.Duration(us)*time.Microsecond)
			checkEq(t, i, "%v", m[9], e.VHost)
			checkEq(t, i, "%p", m[10], apachePort(e))
			checkEq(t, i, "%{SSL_PROTOCOL}x", m[11], or(e.SSLProtocol, "-"))
			checkEq(t, i, "%{UNIQUE_ID}e", m[12], e.RequestID)
			// %O counts the headers too: more than the body the client read.
			if out, _ := strconv.ParseInt(m[14], 10, 64); out <= e.Bytes {
				t.Errorf("line %d: %%O %s, want more than the body's %d bytes", i+1, m[14], e.Bytes)
			}
		}
	})

	t.Run("msec", func(t *testing.T) {
		lines := readLines(t, run.Msec)
		if len(lines) != len(ex) {
			t.Fatalf("%d lines in the msec log, want one per request (%d):\n%s", len(lines), len(ex), strings.Join(lines, "\n"))
		}
		match := run.matcher()
		for i, line := range lines {
			e := match(t, i, line)
			m := apacheMsecLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d does not have the shape of apacheMsec:\n%s", i+1, line)
			}
			if _, err := time.Parse("02/Jan/2006 15:04:05.000 -0700", m[2]); err != nil {
				t.Errorf("line %d: time %q: %v", i+1, m[2], err)
			}
			checkEq(t, i, "%u", m[1], or(e.User, "-"))
			checkEq(t, i, "%r", m[3], e.Method+" "+e.Path+" HTTP/1.1")
			checkEq(t, i, "%>s", m[4], strconv.Itoa(e.Status))
			checkEq(t, i, "%b", m[5], apacheBytes(e.Bytes))
			checkEq(t, i, "%{User-Agent}i", m[7], apacheEscaped(e.Agent))
			ms, _ := strconv.ParseInt(m[8], 10, 64)
			checkApacheDuration(t, i, e, "%{ms}T", time.Duration(ms)*time.Millisecond)
			checkEq(t, i, "%{Host}i", m[9], e.Host)
		}
	})

	t.Run("vhost_combined", func(t *testing.T) {
		lines := readLines(t, run.VHostCombined)
		if len(lines) != len(ex) {
			t.Fatalf("%d lines in the vhost_combined log, want one per request (%d):\n%s", len(lines), len(ex), strings.Join(lines, "\n"))
		}
		match := run.matcher()
		for i, line := range lines {
			e := match(t, i, line)
			// This package reads vhost_combined already.
			r := format.Parse(line)
			if !r.Parsed {
				t.Fatalf("line %d does not parse:\n%s", i+1, line)
			}
			checkEq(t, i, "vhost", r.VHost, e.VHost+":"+apachePort(e))
			checkEq(t, i, "host", r.Host, "127.0.0.1")
			checkEq(t, i, "user", r.User, or(e.User, "-"))
			checkEq(t, i, "request", r.Method+" "+r.Path+" "+r.Proto, e.Method+" "+e.Path+" HTTP/1.1")
			checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
			checkEq(t, i, "referer", r.Referer, or(e.Referer, "-"))
			checkEq(t, i, "agent", r.Agent, e.Agent)
			if r.Bytes <= e.Bytes {
				t.Errorf("line %d: %%O %d, want more than the body's %d bytes", i+1, r.Bytes, e.Bytes)
			}
		}
	})
}

// apacheTimingLine and apacheMsecLine are lines in apacheTiming and
// apacheMsec from the test's requests; groups as the checks use them.
var (
	apacheTimingLine = regexp.MustCompile(`^127\.0\.0\.1 - (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\d+) (\S+) (\d+) (\S+) (\S+) (\d+) (\d+)$`)
	apacheMsecLine   = regexp.MustCompile(`^127\.0\.0\.1 - (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d\.\d{3} [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)" (\d+) "((?:[^"\\]|\\.)*)"$`)
)

// apacheBytes is %b: the body's size, "-" for none.
func apacheBytes(n int64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// apacheEscaped is s as Apache writes a header in its log: '"' and '\\'
// after a backslash, \b \n \r \t \v, and other bytes that are not
// printable ASCII as \xhh.
func apacheEscaped(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\v':
			b.WriteString(`\v`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// apacheLogSlack is how much later than the client's end Apache may take
// its request's time: it does so once the response is sent, so a busy
// machine may run the client first. Wide, but a unit mistake is a
// thousandfold.
const apacheLogSlack = 100 * time.Millisecond

// checkApacheDuration checks a duration Apache logged against what the
// client measured and the upstream slept.
func checkApacheDuration(t *testing.T, i int, e webExchange, what string, d time.Duration) {
	t.Helper()
	if d > e.Took+apacheLogSlack || d < e.Slept-clockSlack {
		t.Errorf("line %d: %s %v, want between the upstream's %v and the client's %v", i+1, what, d, e.Slept, e.Took)
	}
}

// apacheBinary finds Debian's apache2, which lives in /usr/sbin.
func apacheBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"apache2", "/usr/sbin/apache2"} {
		if path, err := exec.LookPath(p); err == nil {
			if _, err := os.Stat(filepath.Join(apacheModules, "mod_ssl.so")); err == nil {
				return path
			}
		}
	}
	missing(t, "apache2", "apache2")
	return ""
}

// runApacheFormats starts the test's upstream and Apache with
// testdata/apache/formats.conf.tmpl, makes apacheRequests through it, stops
// Apache and returns where the lines are.
func runApacheFormats(t *testing.T) *apacheRun {
	t.Helper()
	bin := apacheBinary(t)
	dir := t.TempDir()
	cert := certstest.Write(t, dir, "localhost")
	// As root, Apache serves as nobody, who must read the document root
	// and the password file.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"htdocs/static": "static\n", "htdocs/healthz": "ok\n", "htpasswd": "alice:{SHA}" + sha1Base64("secret") + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	user, group := "", ""
	if os.Getuid() == 0 {
		user, group = "nobody", "nogroup"
	}
	quoted := func(f string) string { return strings.ReplaceAll(f, `"`, `\"`) }
	ap := startApacheFormats(t, bin, map[string]any{
		"Dir": dir, "Upstream": startUpstream(t), "Modules": apacheModules,
		"User": user, "Group": group, "CertFile": cert.CertFile, "KeyFile": cert.KeyFile,
		"Timing": quoted(apacheTiming), "Msec": quoted(apacheMsec), "VHostCombined": quoted(apacheVHostCombined),
	})

	client := &http.Client{
		Timeout: serverWait,
		Transport: &http.Transport{
			TLSClientConfig:    &tls.Config{RootCAs: cert.Pool},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	run := &apacheRun{Exchanges: apacheRequests()}
	for i := range run.Exchanges {
		send(t, client, ap.url, ap.tlsURL, &run.Exchanges[i])
	}
	ap.stop(t)

	run.Timing = filepath.Join(dir, "timing.log")
	run.Msec = filepath.Join(dir, "msec.log")
	run.VHostCombined = filepath.Join(dir, "vhost_combined.log")
	if *writeSamples {
		for from, to := range map[string]string{run.Timing: "apache-timing.log", run.Msec: "apache-msec.log", run.VHostCombined: "apache-vhost_combined.log"} {
			b, err := os.ReadFile(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("testdata", "samples", to), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return run
}

func sha1Base64(s string) string {
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// apacheFormats is a running Apache with formats.conf.tmpl, in one process
// (-X).
type apacheFormats struct {
	url, tlsURL   string
	port, tlsPort int
	dir           string
	cmd           *exec.Cmd
	done          chan struct{} // closed when the process has exited
	waitErr       error         // set before done is closed
	stopped       bool
}

// startApacheFormats starts Apache on free loopback ports, trying again
// when another process took a port between the test's choice and Apache's
// bind.
func startApacheFormats(t *testing.T, bin string, data map[string]any) *apacheFormats {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "apache", "formats.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := data["Dir"].(string)
	var errs []string
	for attempt := 1; attempt <= 3; attempt++ {
		port, tlsPort := freeLoopbackPort(t), freeLoopbackPort(t)
		data["Port"], data["TLSPort"] = port, tlsPort
		var conf bytes.Buffer
		if err := tmpl.Execute(&conf, data); err != nil {
			t.Fatal(err)
		}
		confPath := filepath.Join(dir, "httpd.conf")
		if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &apacheFormats{url: fmt.Sprintf("http://127.0.0.1:%d", port), tlsURL: fmt.Sprintf("https://127.0.0.1:%d", tlsPort),
			port: port, tlsPort: tlsPort, dir: dir, done: make(chan struct{})}
		var out bytes.Buffer
		p.cmd = exec.Command(bin, "-X", "-d", dir, "-f", confPath)
		p.cmd.Stdout, p.cmd.Stderr = &out, &out
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start apache2: %v", err)
		}
		go func() {
			p.waitErr = p.cmd.Wait()
			close(p.done)
		}()
		err := p.waitUp()
		if err == nil {
			t.Cleanup(func() { p.stop(t) })
			return p
		}
		p.kill()
		errs = append(errs, fmt.Sprintf("attempt %d on ports %d, %d: %v\n%s%s", attempt, port, tlsPort, err, out.String(), p.errorLog()))
		if !strings.Contains(out.String()+p.errorLog(), "Address already in use") {
			break // not a port race: trying again will not help
		}
		for _, f := range []string{"timing.log", "msec.log", "vhost_combined.log", "error.log"} {
			os.Remove(filepath.Join(dir, f))
		}
	}
	t.Fatalf("apache2 did not come up:\n%s", strings.Join(errs, "\n"))
	return nil
}

func (p *apacheFormats) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "error.log"))
	return string(b)
}

// waitUp polls /healthz, which Apache does not log, until Apache answers,
// exits, or serverWait passes.
func (p *apacheFormats) waitUp() error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(serverWait)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("apache2 exited: %v", p.waitErr)
		default:
		}
		resp, err := c.Get(p.url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// The Server header tells Apache from another process that
			// took the port.
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Server"), "Apache") {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s, Server %q", resp.Status, resp.Header.Get("Server"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not up within %v: %v", serverWait, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop asks Apache to quit, which closes its logs; a second call does
// nothing.
func (p *apacheFormats) stop(t *testing.T) {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(serverWait):
		t.Logf("apache2 did not quit within %v of SIGTERM; killing it", serverWait)
		p.kill()
	}
	if t.Failed() {
		t.Logf("apache2 error log:\n%s", p.errorLog())
	}
}

func (p *apacheFormats) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}
