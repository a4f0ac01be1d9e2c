package format_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the tests that run real web servers share: the requests they make
// and what the client saw of them, and the upstream those servers proxy to.

const (
	// serverWait bounds every wait on a real server: start, a request,
	// syslog datagrams, the stop.
	serverWait = 10 * time.Second
	// upstreamSleep is how long the test's upstream takes to answer, so
	// that a server's upstream times are known to be at least that.
	upstreamSleep = 40 * time.Millisecond
	// clockSlack covers a server's millisecond clock, read once per event
	// loop turn, when a logged time is compared with one the client
	// measured.
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

// send makes e's request to the server at url (tlsURL when e.TLS) and
// fills in what came back.
func send(t *testing.T, client *http.Client, url, tlsURL string, e *webExchange) {
	t.Helper()
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
