package format_test

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/weblogd/weblogd/certs/certstest"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// The LogFormat strings of the sample logs, which the parsers are given too: durations in microseconds, a request id, TLS and both byte counts;
// a time with milliseconds (the Apache manual's own example) and the Host
// header as sent; and Debian's vhost_combined.
const (
	apacheTiming        = `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %v %p %{SSL_PROTOCOL}x %{UNIQUE_ID}e %I %O`
	apacheMsec          = `%a %l %u [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{ms}T "%{Host}i"`
	apacheVHostCombined = `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`
)

// apacheCompiled are the other LogFormats Apache is configured with, each
// written as the whole directive a user pastes into --format: the
// documentation's common and combined, and two with most other
// directives.
var apacheCompiled = []compiledFormat{
	{name: "common", spec: `LogFormat "%h %l %u %t \"%r\" %>s %b" common`},
	{name: "combined", spec: `LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined`, agent: true},
	{name: "pieces", spec: `LogFormat "[%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] %h %{c}a:%{remote}p \"%r\" %>s %B %D \"%400,404{User-Agent}i\"" pieces`,
		duration: true},
	{name: "others", spec: `LogFormat "%{sec}t %a %l %u \"%m %U%q %H\" %s %O %I %k %X %T %{ms}T %P %v %V %p %{Referer}i|%{User-agent}i|%{Accept}i|%{Content-Type}o|%L|%%" others`,
		agent: true, duration: true, vhost: true},
}

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

// apacheRawRequests are the requests a client library does not make: one
// without any header.
func apacheRawRequests() []webExchange {
	return []webExchange{
		{Method: "GET", Path: "/raw", Raw: "GET /raw HTTP/1.0\r\n\r\n", VHost: "app.example.test"},
	}
}

// apacheRun is what one run of real Apache left: the logs it wrote, and the
// requests it served, in order (the test waits for each request's lines
// before it makes the next, as Apache logs each connection's request in
// its own thread once the client has its response).
type apacheRun struct {
	Dir string // the logs: timing.log, msec.log, vhost_combined.log and one per apacheCompiled
	// Exchanges have a line each in every log; Raw, made after them, in
	// the logs of apacheCompiled only, so that the sample logs hold what a
	// browser or a client library sends.
	Exchanges, Raw []webExchange
}

func (run *apacheRun) log(name string) string { return filepath.Join(run.Dir, name+".log") }

// apachePort is what %p says: the scheme's default port, not the one the
// client connected to or named in Host (UseCanonicalName Off, the default).
func apachePort(e webExchange) string {
	if e.TLS {
		return "443"
	}
	return "80"
}

// TestApacheFormats runs real Apache once, writing every format at once:
// two LogFormats with timings, TLS, a request id and milliseconds, and
// Debian's vhost_combined (the sample logs; -write-samples keeps them in
// testdata/samples), and the formats of apacheCompiled. It makes requests
// of every kind, checks each line Apache wrote against what the client
// sent and saw, and reads every log with the format Apache was given (and
// vcombined), checking the records against the requests.
func TestApacheFormats(t *testing.T) {
	run := runApache(t)
	ex := run.Exchanges

	t.Run("timing log", func(t *testing.T) {
		lines := logLines(t, run.log("timing"), len(ex))
		for i, line := range lines {
			e := ex[i]
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

	t.Run("msec log", func(t *testing.T) {
		lines := logLines(t, run.log("msec"), len(ex))
		for i, line := range lines {
			e := ex[i]
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

	t.Run("vhost_combined log", func(t *testing.T) {
		lines := logLines(t, run.log("vhost_combined"), len(ex))
		for i, line := range lines {
			e := ex[i]
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
	for _, tt := range []struct{ name, spec, log string }{
		{"timing", apacheTiming, run.log("timing")},
		{"msec", apacheMsec, run.log("msec")},
		{"vhost_combined", apacheVHostCombined, run.log("vhost_combined")},
		{"vcombined", "vcombined", run.log("vhost_combined")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, recs := parseLog(t, tt.spec, tt.log, len(ex))
			for i := range recs {
				checkApacheRecord(t, i, tt.name, ex[i], lines[i], &recs[i])
			}
		})
	}

	// Debian's vhost_combined is also checked as a pasted LogFormat.
	vhostCombined := compiledFormat{name: "vhost_combined",
		spec:  `LogFormat "` + strings.ReplaceAll(apacheVHostCombined, `"`, `\"`) + `" vhost_combined`,
		agent: true, vhost: true}
	for _, f := range append([]compiledFormat{vhostCombined}, apacheCompiled...) {
		t.Run("compiled "+f.name, func(t *testing.T) {
			want := ex
			if f.name != "vhost_combined" {
				want = append(slices.Clone(ex), run.Raw...)
			}
			checkCompiled(t, f, readLines(t, run.log(f.name)), want)
		})
	}
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
// client timed and the upstream slept.
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

func checkApacheRecord(t *testing.T, i int, name string, e webExchange, line string, r *record.Record) {
	t.Helper()
	checkEq(t, i, "host", r.Host, "127.0.0.1")
	checkEq(t, i, "user", r.User, or(e.User, "-"))
	checkEq(t, i, "method", r.Method, e.Method)
	checkEq(t, i, "path", r.Path, e.Path)
	checkEq(t, i, "proto", r.Proto, "HTTP/1.1")
	checkEq(t, i, "request", r.Request, "")
	checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
	checkEq(t, i, "referer", r.Referer, or(e.Referer, "-"))
	checkEq(t, i, "agent", r.Agent, e.Agent)
	if r.Time.IsZero() || r.Time.Before(e.Sent.Truncate(time.Second)) || r.Time.After(e.Sent.Add(e.Took)) {
		t.Errorf("line %d: time %v, want within %v (+%v)", i+1, r.Time, e.Sent, e.Took)
	}
	// Fields are checked by value: how a directive is named there is the
	// compiler's choice.
	hasValue := func(v string) bool {
		return slices.ContainsFunc(r.Fields, func(p record.Pair) bool { return p.Value == v })
	}

	switch name {
	case "timing":
		m := apacheTimingLine.FindStringSubmatch(line)
		checkEq(t, i, "bytes (%b)", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
		checkEq(t, i, "vhost (%v)", r.VHost, e.VHost)
		us, _ := strconv.ParseInt(m[8], 10, 64)
		if want := record.Took(time.Duration(us) * time.Microsecond); r.Duration != want {
			t.Errorf("line %d: duration %+v, want %+v (%%D %s)", i+1, r.Duration, want, m[8])
		}
		if !hasValue(e.RequestID) {
			t.Errorf("line %d: fields %v lack the UNIQUE_ID %q", i+1, r.Fields, e.RequestID)
		}
		if e.SSLProtocol != "" && !hasValue(e.SSLProtocol) {
			t.Errorf("line %d: fields %v lack the SSL_PROTOCOL %q", i+1, r.Fields, e.SSLProtocol)
		}
	case "msec":
		m := apacheMsecLine.FindStringSubmatch(line)
		checkEq(t, i, "bytes (%b)", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
		// The time has milliseconds, and they are kept.
		want, _ := time.Parse("02/Jan/2006 15:04:05.000 -0700", m[2])
		if !r.Time.Equal(want) {
			t.Errorf("line %d: time %v, want the logged %v", i+1, r.Time, want)
		}
		ms, _ := strconv.ParseInt(m[8], 10, 64)
		if want := record.Took(time.Duration(ms) * time.Millisecond); r.Duration != want {
			t.Errorf("line %d: duration %+v, want %+v (%%{ms}T %s)", i+1, r.Duration, want, m[8])
		}
		if !hasValue(e.Host) {
			t.Errorf("line %d: fields %v lack the Host header %q", i+1, r.Fields, e.Host)
		}
	default: // vhost_combined: %v:%p, and %O counts the headers too
		if r.VHost != e.VHost && r.VHost != e.VHost+":"+apachePort(e) {
			t.Errorf("line %d: vhost %q, want %q (with or without its port)", i+1, r.VHost, e.VHost)
		}
		if r.Bytes <= e.Bytes {
			t.Errorf("line %d: bytes (%%O) %d, want more than the body's %d", i+1, r.Bytes, e.Bytes)
		}
	}
}

// runApache starts the test's upstream and Apache with
// testdata/apache/formats.conf.tmpl, makes apacheRequests, then
// apacheRawRequests, through it, each once the lines of the one before are
// written; stops Apache and returns where the lines are.
func runApache(t *testing.T) *apacheRun {
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
	for name, body := range map[string]string{"htdocs/static": "static\n", "htdocs/raw": "raw\n", "htdocs/healthz": "ok\n",
		"htpasswd": "alice:{SHA}" + sha1Base64("secret") + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	user, group := "", ""
	if os.Getuid() == 0 {
		user, group = "nobody", "nogroup"
	}
	quoted := func(f string) string { return strings.ReplaceAll(f, `"`, `\"`) }
	samples := []string{"timing.log", "msec.log", "vhost_combined.log"}
	logs := slices.Clone(samples)
	type named struct{ Name, Spec string }
	var compiled []named
	for _, f := range apacheCompiled {
		logs = append(logs, f.name+".log")
		compiled = append(compiled, named{f.name, f.spec})
	}
	ap := startServer(t, bin, serverSpec{
		name: "apache2", tmpl: "apache/formats.conf.tmpl", conf: "httpd.conf",
		args:   []string{"-X", "-d", dir, "-f", "{conf}"},
		banner: "Apache", quit: syscall.SIGTERM, errorLog: "error.log", logs: logs,
	}, map[string]any{
		"Dir": dir, "Upstream": startUpstream(t), "Modules": apacheModules,
		"User": user, "Group": group, "CertFile": cert.CertFile, "KeyFile": cert.KeyFile,
		"Timing": quoted(apacheTiming), "Msec": quoted(apacheMsec), "VHostCombined": quoted(apacheVHostCombined),
		"Compiled": compiled,
	})

	client := testClient(cert.Pool)
	defer client.CloseIdleConnections()
	run := &apacheRun{Dir: dir, Exchanges: apacheRequests(), Raw: apacheRawRequests()}
	for i := range run.Exchanges {
		send(t, client, ap.url, ap.tlsURL, &run.Exchanges[i])
		n := map[string]int{}
		for _, l := range logs {
			n[l] = i + 1
		}
		waitLines(t, dir, n)
	}
	for i := range run.Raw {
		send(t, client, ap.url, ap.tlsURL, &run.Raw[i])
		n := map[string]int{}
		for _, l := range logs[len(samples):] {
			n[l] = len(run.Exchanges) + i + 1
		}
		waitLines(t, dir, n)
	}
	ap.stop(t)

	keepSamples(t, dir, map[string]string{"timing.log": "apache-timing.log", "msec.log": "apache-msec.log", "vhost_combined.log": "apache-vhost_combined.log"})
	return run
}

func sha1Base64(s string) string {
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}
