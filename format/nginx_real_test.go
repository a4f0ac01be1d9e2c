package format_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
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

var writeSamples = flag.Bool("write-samples", false,
	"copy the logs TestNginxWritesItsFormats gets from nginx to testdata/samples/nginx-*.log")

// The two log_format strings nginx is configured with, and that the parsers
// are given. The upstream time is quoted in nginxTiming because it holds
// spaces when nginx tried several upstreams ("0.000, 0.041").
const (
	nginxTiming = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$upstream_response_time" $host $ssl_protocol $request_id`
	nginxJSON   = `{"time_iso8601":"$time_iso8601","remote_addr":"$remote_addr","remote_user":"$remote_user","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","host":"$host","http_referer":"$http_referer","http_user_agent":"$http_user_agent","ssl_protocol":"$ssl_protocol","request_id":"$request_id"}`
)

const (
	// nginxWait bounds every wait on nginx: start, a request, the syslog
	// datagrams, the stop.
	nginxWait = 10 * time.Second
	// upstreamSleep is how long the test's upstream takes to answer, so
	// that nginx's upstream times are known to be at least that.
	upstreamSleep = 40 * time.Millisecond
	// clockSlack covers nginx's millisecond clock, which it reads once per
	// event loop turn, when a logged time is compared with one the client
	// measured.
	clockSlack = 5 * time.Millisecond
)

// upstreamKind is what nginx did upstream for a request, and so what shape
// $upstream_response_time has.
type upstreamKind int

const (
	noUpstream  upstreamKind = iota // "-": nginx answered itself
	oneUpstream                     // "0.041"
	triedTwo                        // "0.000, 0.041": a refused server, then the backup
	redirected                      // "0.001 : 0.041": X-Accel-Redirect to another proxied location
	refused                         // "0.000" and 502: the only server refused
)

// nginxExchange is one request the test made through nginx: what it sent
// and what it saw.
type nginxExchange struct {
	Method, Path string // Path with its query, as on the request line
	Host         string // the Host header sent
	Agent        string
	Referer      string // "" for none
	User         string // Basic auth user, "" for none
	TLS          bool
	Upstream     upstreamKind

	VHost       string // $host: Host lowercased, without its port
	Status      int
	Bytes       int64     // the body bytes the client read
	RequestID   string    // X-Request-Id, which nginx sets to $request_id
	SSLProtocol string    // "TLSv1.3" as nginx names it, from the client's connection; "" over plain HTTP
	Sent        time.Time // when the client sent it
	Took        time.Duration
	Slept       time.Duration // what the upstream spent sleeping for it
}

// nginxRun is what one run of real nginx left: the logs it wrote, and the
// requests in the order it served them (one line each, in every log).
type nginxRun struct {
	Timing, JSON string // access_log files in nginxTiming and escape=json nginxJSON
	Syslog       string // the combined-format syslog datagrams nginx sent, one a line
	Upstream     string // the test upstream's address, as $upstream_addr has it
	Dead         string // the refusing server's address
	Exchanges    []nginxExchange
}

// timingLine is a line in nginxTiming from the test's requests, with
// every variable a group, in order.
var timingLine = regexp.MustCompile(`^127\.0\.0\.1 - (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" (\d+\.\d{3}) "([^"]*)" (\S+) (\S+) ([0-9a-f]{32})$`)

// The user agent and referer that carry what nginx escapes: a quote, a
// backslash, a tab and UTF-8.
const (
	oddAgent   = "weblogd-test \"quoted\" caf\u00e9\tback\\slash"
	oddReferer = "http://ref.example.test/caf\u00e9?q=\"x\""
)

// nginxRequests are the requests each run makes, one for every shape of
// line the config can produce.
func nginxRequests() []nginxExchange {
	return []nginxExchange{
		{Method: "GET", Path: "/static", Host: "Static.Example.TEST:8080", VHost: "static.example.test", Agent: oddAgent, Referer: oddReferer},
		{Method: "GET", Path: "/up/page?x=1&q=caf%C3%A9", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/2", Upstream: oneUpstream},
		{Method: "GET", Path: "/up/secure", Host: "secure.example.test", VHost: "secure.example.test", Agent: "weblogd-test/3", TLS: true, Upstream: oneUpstream},
		{Method: "HEAD", Path: "/up/head", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/4", Upstream: oneUpstream},
		{Method: "POST", Path: "/up/form", Host: "secure.example.test", VHost: "secure.example.test", Agent: "weblogd-test/5", User: "alice", TLS: true, Upstream: oneUpstream, Referer: "https://secure.example.test/form"},
		{Method: "GET", Path: "/up/teapot?status=418", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/6", Upstream: oneUpstream},
		{Method: "GET", Path: "/fallback/list", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/7", Upstream: triedTwo},
		{Method: "GET", Path: "/accel/go", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/8", Upstream: redirected},
		{Method: "GET", Path: "/dead/x", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/9", Upstream: refused},
		{Method: "GET", Path: "/missing", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/10"},
		{Method: "GET", Path: "/static", Host: "secure.example.test", VHost: "secure.example.test", Agent: oddAgent, TLS: true},
	}
}

// TestNginxWritesItsFormats runs real nginx with a log_format carrying
// timings, TLS and the request id, an escape=json format, and syslog, all
// at once; makes requests of every kind; and checks each line nginx wrote
// against what the client sent and saw. runNginxFormats gives the same
// lines to the parsers' tests; -write-samples keeps them in
// testdata/samples.
func TestNginxWritesItsFormats(t *testing.T) {
	run := runNginxFormats(t)
	ex := run.Exchanges

	t.Run("timing", func(t *testing.T) {
		lines := readLines(t, run.Timing)
		if len(lines) != len(ex) {
			t.Fatalf("%d lines in the timing log, want one per request (%d):\n%s", len(lines), len(ex), strings.Join(lines, "\n"))
		}
		for i, line := range lines {
			e := ex[i]
			m := timingLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d does not have the shape of nginxTiming:\n%s", i+1, line)
			}
			if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[2]); err != nil {
				t.Errorf("line %d: $time_local %q: %v", i+1, m[2], err)
			}
			checkEq(t, i, "$remote_user", m[1], or(e.User, "-"))
			checkEq(t, i, "$request", m[3], e.Method+" "+e.Path+" HTTP/1.1")
			checkEq(t, i, "$status", m[4], strconv.Itoa(e.Status))
			checkEq(t, i, "$body_bytes_sent", m[5], strconv.FormatInt(e.Bytes, 10))
			checkEq(t, i, "$http_referer", m[6], or(nginxEscaped(e.Referer), "-"))
			checkEq(t, i, "$http_user_agent", m[7], nginxEscaped(e.Agent))
			checkTimes(t, i, e, m[8], m[9], "-")
			checkEq(t, i, "$host", m[10], e.VHost)
			checkEq(t, i, "$ssl_protocol", m[11], or(e.SSLProtocol, "-"))
			checkEq(t, i, "$request_id", m[12], e.RequestID)
		}
	})

	t.Run("json", func(t *testing.T) {
		lines := readLines(t, run.JSON)
		if len(lines) != len(ex) {
			t.Fatalf("%d lines in the JSON log, want one per request (%d):\n%s", len(lines), len(ex), strings.Join(lines, "\n"))
		}
		for i, line := range lines {
			e := ex[i]
			var j struct {
				Time           string  `json:"time_iso8601"`
				RemoteAddr     string  `json:"remote_addr"`
				RemoteUser     string  `json:"remote_user"`
				Request        string  `json:"request"`
				Status         int     `json:"status"`
				Bytes          int64   `json:"body_bytes_sent"`
				RequestTime    float64 `json:"request_time"`
				Upstream       string  `json:"upstream_response_time"`
				UpstreamAddr   string  `json:"upstream_addr"`
				UpstreamStatus string  `json:"upstream_status"`
				Host           string  `json:"host"`
				Referer        string  `json:"http_referer"`
				Agent          string  `json:"http_user_agent"`
				SSLProtocol    string  `json:"ssl_protocol"`
				RequestID      string  `json:"request_id"`
			}
			dec := json.NewDecoder(strings.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&j); err != nil {
				t.Fatalf("line %d is not the JSON of nginxJSON: %v\n%s", i+1, err, line)
			}
			if _, err := time.Parse(time.RFC3339, j.Time); err != nil {
				t.Errorf("line %d: $time_iso8601 %q: %v", i+1, j.Time, err)
			}
			// escape=json writes a value nginx does not have as "", not "-".
			checkEq(t, i, "$remote_addr", j.RemoteAddr, "127.0.0.1")
			checkEq(t, i, "$remote_user", j.RemoteUser, e.User)
			checkEq(t, i, "$request", j.Request, e.Method+" "+e.Path+" HTTP/1.1")
			checkEq(t, i, "$status", strconv.Itoa(j.Status), strconv.Itoa(e.Status))
			checkEq(t, i, "$body_bytes_sent", strconv.FormatInt(j.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
			checkEq(t, i, "$http_referer", j.Referer, e.Referer)
			checkEq(t, i, "$http_user_agent", j.Agent, e.Agent)
			// The number was written with three decimals; print it back so.
			checkTimes(t, i, e, strconv.FormatFloat(j.RequestTime, 'f', 3, 64), j.Upstream, "")
			checkEq(t, i, "$upstream_addr", j.UpstreamAddr, wantUpstreamAddr(run, e))
			checkEq(t, i, "$upstream_status", j.UpstreamStatus, wantUpstreamStatus(e))
			checkEq(t, i, "$host", j.Host, e.VHost)
			checkEq(t, i, "$ssl_protocol", j.SSLProtocol, e.SSLProtocol)
			checkEq(t, i, "$request_id", j.RequestID, e.RequestID)
		}
	})

	t.Run("syslog", func(t *testing.T) {
		lines := readLines(t, run.Syslog)
		if len(lines) != len(ex) {
			t.Fatalf("%d syslog datagrams, want one per request (%d):\n%s", len(lines), len(ex), strings.Join(lines, "\n"))
		}
		// RFC 3164 as nginx writes it: local7.info, a space-padded day,
		// the host name, the tag.
		re := regexp.MustCompile(`^<190>([A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d) (\S+) nginx: (.*)$`)
		for i, line := range lines {
			e := ex[i]
			m := re.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("datagram %d does not have nginx's syslog header:\n%s", i+1, line)
			}
			if _, err := time.Parse(time.Stamp, m[1]); err != nil {
				t.Errorf("datagram %d: timestamp %q: %v", i+1, m[1], err)
			}
			// The body is combined, which this package reads already.
			r := format.Parse(m[3])
			if !r.Parsed {
				t.Fatalf("datagram %d: the combined line does not parse:\n%s", i+1, m[3])
			}
			checkEq(t, i, "host", r.Host, "127.0.0.1")
			checkEq(t, i, "user", r.User, or(e.User, "-"))
			checkEq(t, i, "request", r.Method+" "+r.Path+" "+r.Proto, e.Method+" "+e.Path+" HTTP/1.1")
			checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
			checkEq(t, i, "bytes", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
			checkEq(t, i, "referer", r.Referer, or(e.Referer, "-"))
			checkEq(t, i, "agent", r.Agent, e.Agent)
		}
	})
}

func checkEq(t *testing.T, i int, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("line %d: %s %q, want %q", i+1, what, got, want)
	}
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// nginxEscaped is s as nginx writes a variable in a log_format without
// escape=json: '"', '\\', control bytes and bytes from 0x7f up as \xHH.
func nginxEscaped(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			fmt.Fprintf(&b, `\x%02X`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// checkTimes checks $request_time and $upstream_response_time as logged
// (none is how the format writes a missing upstream time) against what
// the client measured and the upstream slept.
func checkTimes(t *testing.T, i int, e nginxExchange, requestTime, upstream, none string) {
	t.Helper()
	rt, err := strconv.ParseFloat(requestTime, 64)
	if err != nil {
		t.Errorf("line %d: $request_time %q: %v", i+1, requestTime, err)
		return
	}
	took := time.Duration(rt * float64(time.Second))
	if took > e.Took+clockSlack || took < e.Slept-clockSlack {
		t.Errorf("line %d: $request_time %s, want between the upstream's %v and the client's %v", i+1, requestTime, e.Slept, e.Took)
	}
	shape := map[upstreamKind]string{
		noUpstream:  `^` + regexp.QuoteMeta(none) + `$`,
		oneUpstream: `^\d+\.\d{3}$`,
		triedTwo:    `^\d+\.\d{3}, \d+\.\d{3}$`,
		redirected:  `^\d+\.\d{3} : \d+\.\d{3}$`,
		refused:     `^\d+\.\d{3}$`,
	}[e.Upstream]
	if !regexp.MustCompile(shape).MatchString(upstream) {
		t.Errorf("line %d: $upstream_response_time %q, want the shape %s", i+1, upstream, shape)
		return
	}
	if e.Upstream == noUpstream {
		return
	}
	var sum time.Duration
	for _, part := range strings.FieldsFunc(upstream, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
		f, _ := strconv.ParseFloat(part, 64)
		sum += time.Duration(f * float64(time.Second))
	}
	if sum < e.Slept-clockSlack || sum > took+clockSlack {
		t.Errorf("line %d: $upstream_response_time %q sums to %v, want between the upstream's %v and $request_time %s", i+1, upstream, sum, e.Slept, requestTime)
	}
}

func wantUpstreamAddr(run *nginxRun, e nginxExchange) string {
	switch e.Upstream {
	case oneUpstream:
		return run.Upstream
	case triedTwo:
		return run.Dead + ", " + run.Upstream
	case redirected:
		return run.Upstream + " : " + run.Upstream
	case refused:
		return run.Dead
	}
	return ""
}

func wantUpstreamStatus(e nginxExchange) string {
	s := strconv.Itoa(e.Status)
	switch e.Upstream {
	case oneUpstream, refused:
		return s
	case triedTwo:
		return "502, " + s
	case redirected:
		return "200 : " + s
	}
	return ""
}

// runNginxFormats starts the test's upstream, a UDP socket for syslog and
// nginx with testdata/nginx/formats.conf.tmpl; makes nginxRequests through
// it; stops nginx, so that every line is written; and returns where the
// lines are.
func runNginxFormats(t *testing.T) *nginxRun {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	cert := certstest.Write(t, dir, "localhost")

	up := startUpstream(t)
	syslogConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syslogConn.Close() })
	datagrams := make(chan string, 64)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := syslogConn.ReadFrom(buf)
			if err != nil {
				close(datagrams)
				return
			}
			datagrams <- string(buf[:n])
		}
	}()

	run := &nginxRun{Upstream: up, Dead: fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))}
	ngx := startNginxFormats(t, bin, map[string]any{
		"Dir": dir, "Upstream": up, "DeadPort": strings.TrimPrefix(run.Dead, "127.0.0.1:"),
		"SyslogPort": syslogConn.LocalAddr().(*net.UDPAddr).Port,
		"CertFile":   cert.CertFile, "KeyFile": cert.KeyFile,
		"Timing": nginxTiming, "JSON": nginxJSON,
	})

	client := &http.Client{
		Timeout: nginxWait,
		Transport: &http.Transport{
			TLSClientConfig:    &tls.Config{RootCAs: cert.Pool},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	run.Exchanges = nginxRequests()
	for i := range run.Exchanges {
		exchange(t, client, ngx, &run.Exchanges[i])
	}

	var got []string
	deadline := time.After(nginxWait)
	for len(got) < len(run.Exchanges) {
		select {
		case d := <-datagrams:
			got = append(got, d)
		case <-deadline:
			t.Fatalf("%d syslog datagrams from nginx within %v, want %d:\n%s", len(got), nginxWait, len(run.Exchanges), strings.Join(got, "\n"))
		}
	}
	ngx.stop(t)

	run.Timing = filepath.Join(dir, "timing.log")
	run.JSON = filepath.Join(dir, "json.log")
	run.Syslog = filepath.Join(dir, "syslog.log")
	if err := os.WriteFile(run.Syslog, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if *writeSamples {
		for from, to := range map[string]string{run.Timing: "nginx-timing.log", run.JSON: "nginx-json.log", run.Syslog: "nginx-syslog.log"} {
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

// exchange makes e's request through nginx and fills in what came back.
func exchange(t *testing.T, client *http.Client, ngx *nginxFormats, e *nginxExchange) {
	t.Helper()
	base := ngx.url
	if e.TLS {
		base = ngx.tlsURL
	}
	var body io.Reader
	if e.Method == http.MethodPost {
		body = strings.NewReader("a=1&b=2")
	}
	req, err := http.NewRequest(e.Method, base+e.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = e.Host
	req.Header.Set("User-Agent", e.Agent)
	if e.Referer != "" {
		req.Header.Set("Referer", e.Referer)
	}
	if e.User != "" {
		req.SetBasicAuth(e.User, "secret")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	start := time.Now()
	e.Sent = start
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", e.Method, e.Path, err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	e.Took = time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", e.Method, e.Path, err)
	}
	e.Status, e.Bytes, e.RequestID = resp.StatusCode, n, resp.Header.Get("X-Request-Id")
	if resp.TLS != nil {
		e.SSLProtocol = "TLSv" + strings.TrimPrefix(tls.VersionName(resp.TLS.Version), "TLS ")
	}
	if e.Upstream == oneUpstream || e.Upstream == triedTwo || e.Upstream == redirected {
		e.Slept = upstreamSleep
	}
}

// startUpstream starts the server nginx proxies to and returns its
// address. Every answer takes upstreamSleep, but the first leg of an
// X-Accel-Redirect, which answers at once; ?status=N sets the status.
func startUpstream(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/accel/"); ok {
			w.Header().Set("X-Accel-Redirect", "/inner/"+rest)
			return
		}
		time.Sleep(upstreamSleep)
		status := http.StatusOK
		if s := r.URL.Query().Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
		}
		body := "upstream " + r.URL.Path + "\n"
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			io.WriteString(w, body)
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// nginxFormats is a running nginx with formats.conf.tmpl.
type nginxFormats struct {
	url, tlsURL string
	dir         string
	cmd         *exec.Cmd
	done        chan struct{} // closed when the process has exited
	waitErr     error         // set before done is closed
	stopped     bool
}

// startNginxFormats starts nginx on free loopback ports, trying again
// when another process took a port between the test's choice and nginx's
// bind.
func startNginxFormats(t *testing.T, bin string, data map[string]any) *nginxFormats {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "nginx", "formats.conf.tmpl"))
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
		confPath := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &nginxFormats{url: fmt.Sprintf("http://127.0.0.1:%d", port), tlsURL: fmt.Sprintf("https://127.0.0.1:%d", tlsPort),
			dir: dir, done: make(chan struct{})}
		var out bytes.Buffer
		p.cmd = exec.Command(bin, "-p", dir+"/", "-c", confPath, "-e", filepath.Join(dir, "error.log"))
		p.cmd.Stdout, p.cmd.Stderr = &out, &out
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
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
		if !strings.Contains(p.errorLog(), "Address already in use") {
			break // not a port race: trying again will not help
		}
		// Start the next attempt with empty logs.
		for _, f := range []string{"timing.log", "json.log", "error.log"} {
			os.Remove(filepath.Join(dir, f))
		}
	}
	t.Fatalf("nginx did not come up:\n%s", strings.Join(errs, "\n"))
	return nil
}

func (p *nginxFormats) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "error.log"))
	return string(b)
}

// waitUp polls /healthz, which nginx answers itself and does not log,
// until nginx answers, exits, or nginxWait passes.
func (p *nginxFormats) waitUp() error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(nginxWait)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("nginx exited: %v", p.waitErr)
		default:
		}
		if strings.Contains(p.errorLog(), "bind() to 127.0.0.1:") {
			return fmt.Errorf("nginx could not bind its ports")
		}
		resp, err := c.Get(p.url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// The Server header tells nginx from another process that
			// took the port.
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
				return nil
			}
			err = fmt.Errorf("GET /healthz: %s, Server %q", resp.Status, resp.Header.Get("Server"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not up within %v: %v", nginxWait, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop asks nginx to quit, which closes its logs; a second call does
// nothing.
func (p *nginxFormats) stop(t *testing.T) {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(nginxWait):
		t.Logf("nginx did not quit within %v of SIGQUIT; killing it", nginxWait)
		p.kill()
	}
	if t.Failed() {
		t.Logf("nginx error log:\n%s", p.errorLog())
	}
}

func (p *nginxFormats) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// freeLoopbackPort returns a loopback port that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
