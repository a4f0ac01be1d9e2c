package format_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// What the tests that run real web servers share: the requests they make
// and what the client saw of them, the upstream those servers proxy to,
// and the server process.

var writeSamples = flag.Bool("write-samples", false,
	"copy the logs the real-server tests get (nginx, Apache) to testdata/samples")

const (
	// serverWait bounds every wait on a real server: start, a request,
	// its log lines, syslog datagrams, the stop.
	serverWait = 10 * time.Second
	// upstreamSleep is how long the test's upstream takes to answer, so
	// that a server's upstream times are known to be at least that.
	upstreamSleep = 40 * time.Millisecond
	// clockSlack covers a server's millisecond clock, read once per event
	// loop turn, when a logged time is compared with one the client
	// timed.
	clockSlack = 5 * time.Millisecond
)

// upstreamKind is what the server did upstream for a request; for nginx,
// what shape $upstream_response_time has.
type upstreamKind int

const (
	noUpstream  upstreamKind = iota // "-": nginx answered itself
	oneUpstream                     // "0.041"
	triedTwo                        // "0.000, 0.041": a refused server, then the backup
	redirected                      // "0.001 : 0.041": X-Accel-Redirect to another proxied location
	refused                         // "0.000" and 502: the only server refused
)

// The user agent and referer that carry what servers escape in their
// logs: a quote, a backslash, a tab and UTF-8.
const (
	oddAgent   = "weblogd-test \"quoted\" caf\u00e9\tback\\slash"
	oddReferer = "http://ref.example.test/caf\u00e9?q=\"x\""
)

// webExchange is one request the test made through a real server: what it
// sent and what it saw.
type webExchange struct {
	Method, Path string // Path with its query, as on the request line
	Host         string // the Host header sent
	Agent        string
	Referer      string // "" for none
	User         string // Basic auth user, "" for none
	TLS          bool
	Upstream     upstreamKind
	// Raw, when set, is sent as it is on a connection of its own instead
	// of the request above: what an HTTP client library does not send (no
	// headers at all, bytes that are no HTTP). Method and Path are then
	// what the server should read of it, "" for nothing.
	Raw string
	// Redirected is the path an X-Accel-Redirect sent the request on to,
	// which nginx's $uri ends as.
	Redirected string

	VHost       string // the virtual host the server logs (nginx's $host: Host lowercased, without its port)
	Status      int
	Bytes       int64     // the body bytes the client read
	RequestID   string    // X-Request-Id, the server's id of the request ($request_id, %{UNIQUE_ID}e)
	SSLProtocol string    // "TLSv1.3" as OpenSSL names it, from the client's connection; "" over plain HTTP
	Sent        time.Time // when the client sent it
	Took        time.Duration
	Slept       time.Duration // what the upstream spent sleeping for it
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

// testClient is the client the tests make their requests with: it trusts
// roots, takes what the server sends as it is and follows no redirect.
func testClient(roots *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: serverWait,
		Transport: &http.Transport{
			TLSClientConfig:    &tls.Config{RootCAs: roots},
			DisableCompression: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// logLines returns the lines of the log at path, which must have one per
// request (n).
func logLines(t *testing.T, path string, n int) []string {
	t.Helper()
	lines := readLines(t, path)
	if len(lines) != n {
		t.Fatalf("%d lines in %s, want one per request (%d):\n%s", len(lines), filepath.Base(path), n, strings.Join(lines, "\n"))
	}
	return lines
}

// send makes e's request to the server at url (tlsURL when e.TLS) and
// fills in what came back.
func send(t *testing.T, client *http.Client, url, tlsURL string, e *webExchange) {
	t.Helper()
	if e.Raw != "" {
		sendRaw(t, strings.TrimPrefix(url, "http://"), e)
		return
	}
	base := url
	if e.TLS {
		base = tlsURL
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

// sendRaw writes e.Raw on a new connection to addr, reads the answer to
// its end, and takes the status from its first line.
func sendRaw(t *testing.T, addr string, e *webExchange) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(serverWait))
	e.Sent = time.Now()
	if _, err := io.WriteString(c, e.Raw); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(c)
	e.Took = time.Since(e.Sent)
	if err != nil {
		t.Fatalf("%q: %v", e.Raw, err)
	}
	status, _, _ := strings.Cut(strings.TrimPrefix(string(answer), "HTTP/1.1 "), " ")
	if e.Status, err = strconv.Atoi(status); err != nil {
		t.Fatalf("%q: the answer has no status: %.80q", e.Raw, answer)
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

// countLines returns how many whole lines the file at path has now.
func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// waitLines waits until each log in dir named in n has at least n[name]
// lines.
func waitLines(t *testing.T, dir string, n map[string]int) {
	t.Helper()
	deadline := time.Now().Add(serverWait)
	for name, want := range n {
		for countLines(filepath.Join(dir, name)) < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s has %d lines after %v, want %d", name, countLines(filepath.Join(dir, name)), serverWait, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// keepSamples copies the logs in dir to testdata/samples under the names
// given, when the test runs with -write-samples.
func keepSamples(t *testing.T, dir string, names map[string]string) {
	t.Helper()
	if !*writeSamples {
		return
	}
	for from, to := range names {
		b, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "samples", to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// compiledFormat is a format string a real server is configured with as
// written here (a whole log_format or LogFormat directive, named name),
// and what its lines say besides the client, time, request and status.
type compiledFormat struct {
	name, spec string
	json       bool // also read by the json preset
	agent      bool // the user agent and referer
	duration   bool // the time the request took
	upstream   bool // the time the upstream took
	vhost      bool // the virtual host
	// addrThenColon is an nginx format with ": " after $upstream_addr:
	// where the address is a list "a : b" (an X-Accel-Redirect), the
	// parser ends the address at the first ": ", and the request line
	// comes out whole, after the second address.
	addrThenColon bool
}

// checkCompiled reads the log a real server wrote in f, one line per
// request of ex in order, with f compiled (and the json preset when f is
// JSON), and checks each record against the request.
func checkCompiled(t *testing.T, f compiledFormat, lines []string, ex []webExchange) {
	t.Helper()
	if len(lines) != len(ex) {
		t.Fatalf("%d lines in the %s log, want one per request (%d):\n%s", len(lines), f.name, len(ex), strings.Join(lines, "\n"))
	}
	specs := []string{f.spec}
	if f.json {
		specs = append(specs, "json")
	}
	for _, spec := range specs {
		c, err := format.Compile(spec)
		if err != nil {
			t.Fatalf("Compile(%q): %v", spec, err)
		}
		p := c.NewParser()
		for i, e := range ex {
			line := lines[i]
			var r record.Record
			if ok, at := p.Parse(&r, line); !ok {
				t.Fatalf("%s: line %d does not fit (stopped at %d): %s", p.Name(), i+1, at, line)
			}
			bad := func(what string, got, want any) {
				t.Errorf("%s: line %d: %s %#v, want %#v\n%s", p.Name(), i+1, what, got, want, line)
			}
			if r.Status != e.Status {
				bad("status", r.Status, e.Status)
			}
			switch {
			case f.addrThenColon && e.Upstream == redirected:
				if !strings.HasSuffix(r.Request, ": "+e.Method+" "+e.Path+" HTTP/1.1") {
					bad("request", r.Request, "the second address, then "+e.Method+" "+e.Path+" HTTP/1.1")
				}
			case e.Method == "" && strings.Contains(f.spec, "$request_method"):
				// Without $request, nginx writes what it did not read as "-".
				if r.Method != "-" || r.Path != "-" || r.Proto != "-" {
					bad("method path proto", r.Method+" "+r.Path+" "+r.Proto, "- - -")
				}
			case e.Method == "":
				if r.Request == "" || r.Method != "" {
					bad("request, method", []string{r.Request, r.Method}, "the bad request as the server wrote it")
				}
			case e.Redirected != "" && strings.Contains(f.spec, "$uri"):
				// $uri is where the request ended up.
				if r.Method != e.Method || r.Path != e.Redirected {
					bad("method path", r.Method+" "+r.Path, e.Method+" "+e.Redirected)
				}
			case r.Method != e.Method || r.Path != e.Path:
				bad("method path", r.Method+" "+r.Path, e.Method+" "+e.Path)
			}
			dash := "-" // how the format writes a header the request lacks
			if f.json {
				dash = ""
			}
			if f.agent && (r.Agent != or(e.Agent, dash) || r.Referer != or(e.Referer, dash)) {
				bad("agent referer", []string{r.Agent, r.Referer}, []string{or(e.Agent, dash), or(e.Referer, dash)})
			}
			if r.Host != "127.0.0.1" {
				bad("host", r.Host, "127.0.0.1")
			}
			if d := time.Since(r.Time); d < 0 || d > time.Minute {
				bad("time", r.Time, "within the last minute")
			}
			if f.duration != r.Duration.Set || r.Duration.D < 0 || r.Duration.D > time.Minute {
				bad("duration", r.Duration, fmt.Sprintf("set: %v", f.duration))
			}
			if want := f.upstream && e.Upstream != noUpstream; r.UpstreamDuration.Set != want ||
				want && r.UpstreamDuration.D < e.Slept-clockSlack {
				bad("upstream duration", r.UpstreamDuration, fmt.Sprintf("set: %v, at least %v", want, e.Slept))
			}
			if f.vhost && e.VHost != "" && !strings.HasPrefix(r.VHost, e.VHost) {
				bad("vhost", r.VHost, e.VHost+"...")
			}
		}
	}
}

// parseLog reads the log at path, n lines, with the format spec, which
// must fit every line.
func parseLog(t *testing.T, spec, path string, n int) ([]string, []record.Record) {
	t.Helper()
	f, err := format.Compile(spec)
	if err != nil {
		t.Fatalf("Compile(%q): %v", spec, err)
	}
	p := f.NewParser()
	lines := readLines(t, path)
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	recs := make([]record.Record, len(lines))
	for i, line := range lines {
		if ok, at := p.Parse(&recs[i], line); !ok {
			t.Fatalf("line %d does not parse as %s: stopped at byte %d (%.40q)\n%s", i+1, spec, at, line[min(max(at, 0), len(line)):], line)
		}
	}
	return lines, recs
}

// serverProc is a real web server running in the foreground, on free
// loopback ports, with its configuration from a template in testdata.
type serverProc struct {
	name        string // as messages say it
	url, tlsURL string
	dir         string
	errorLog    string // the server's error log, for messages
	quit        os.Signal
	cmd         *exec.Cmd
	done        chan struct{} // closed when the process has exited
	waitErr     error         // set before done is closed
	stopped     bool
}

// serverSpec is how to start one kind of server.
type serverSpec struct {
	name     string   // "nginx"
	tmpl     string   // the configuration template, under testdata
	conf     string   // the file it is written to, in data["Dir"]
	args     []string // after the binary; "{conf}" and "{dir}" are replaced
	banner   string   // what its Server header starts with
	quit     os.Signal
	errorLog string   // its error log, in data["Dir"]
	logs     []string // its access logs, in data["Dir"], emptied when a start is tried again
}

// startServer starts a server on free loopback ports, set in data as Port
// and TLSPort, trying again when another process took a port between the
// test's choice and the server's bind.
func startServer(t *testing.T, bin string, s serverSpec, data map[string]any) *serverProc {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", s.tmpl))
	if err != nil {
		t.Fatal(err)
	}
	dir := data["Dir"].(string)
	confPath := filepath.Join(dir, s.conf)
	var errs []string
	for attempt := 1; attempt <= 3; attempt++ {
		port, tlsPort := freeLoopbackPort(t), freeLoopbackPort(t)
		data["Port"], data["TLSPort"] = port, tlsPort
		var conf bytes.Buffer
		if err := tmpl.Execute(&conf, data); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(confPath, conf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		p := &serverProc{name: s.name, url: fmt.Sprintf("http://127.0.0.1:%d", port), tlsURL: fmt.Sprintf("https://127.0.0.1:%d", tlsPort),
			dir: dir, errorLog: filepath.Join(dir, s.errorLog), quit: s.quit, done: make(chan struct{})}
		args := make([]string, len(s.args))
		for i, a := range s.args {
			args[i] = strings.NewReplacer("{conf}", confPath, "{dir}", dir).Replace(a)
		}
		var out bytes.Buffer
		p.cmd = exec.Command(bin, args...)
		p.cmd.Stdout, p.cmd.Stderr = &out, &out
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", s.name, err)
		}
		go func() {
			p.waitErr = p.cmd.Wait()
			close(p.done)
		}()
		err := p.waitUp(s.banner)
		if err == nil {
			t.Cleanup(func() { p.stop(t) })
			return p
		}
		p.kill()
		errs = append(errs, fmt.Sprintf("attempt %d on ports %d, %d: %v\n%s%s", attempt, port, tlsPort, err, out.String(), p.errors()))
		if !strings.Contains(out.String()+p.errors(), "Address already in use") {
			break // not a port race: trying again will not help
		}
		// Start the next attempt with empty logs.
		for _, f := range append(s.logs, s.errorLog) {
			os.Remove(filepath.Join(dir, f))
		}
	}
	t.Fatalf("%s did not come up:\n%s", s.name, strings.Join(errs, "\n"))
	return nil
}

func (p *serverProc) errors() string {
	b, _ := os.ReadFile(p.errorLog)
	return string(b)
}

// waitUp polls /healthz, which the server answers itself and does not
// log, until it answers, exits, or serverWait passes.
func (p *serverProc) waitUp(banner string) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(serverWait)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v", p.name, p.waitErr)
		default:
		}
		if strings.Contains(p.errors(), "bind() to 127.0.0.1:") {
			return fmt.Errorf("%s could not bind its ports", p.name)
		}
		resp, err := c.Get(p.url + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// The Server header tells the server from another process
			// that took the port.
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Server"), banner) {
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

// stop asks the server to quit, which closes its logs; a second call does
// nothing.
func (p *serverProc) stop(t *testing.T) {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(p.quit)
	select {
	case <-p.done:
	case <-time.After(serverWait):
		t.Logf("%s did not quit within %v of %v; killing it", p.name, serverWait, p.quit)
		p.kill()
	}
	if t.Failed() {
		t.Logf("%s error log:\n%s", p.name, p.errors())
	}
}

func (p *serverProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}
