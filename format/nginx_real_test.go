package format_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
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

// The log_format strings the sample logs are written in, which the parsers
// are given too. The upstream time is quoted in nginxTiming because it holds
// spaces when nginx tried several upstreams ("0.000, 0.041").
const (
	nginxTiming = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time "$upstream_response_time" $host $ssl_protocol $request_id`
	nginxJSON   = `{"time_iso8601":"$time_iso8601","remote_addr":"$remote_addr","remote_user":"$remote_user","request":"$request","status":$status,"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","upstream_addr":"$upstream_addr","upstream_status":"$upstream_status","host":"$host","http_referer":"$http_referer","http_user_agent":"$http_user_agent","ssl_protocol":"$ssl_protocol","request_id":"$request_id"}`
)

// nginxCompiled are the other log_formats nginx is configured with, each
// written as the whole directive a user pastes into --format: the timings
// after combined, a vhost prefix and most other variables, an upstream
// log, escape=json with $time_local, and the request in pieces.
var nginxCompiled = []compiledFormat{
	{name: "timed", spec: `log_format timed '$remote_addr - $remote_user [$time_local] '
                    '"$request" $status $body_bytes_sent '
                    '"$http_referer" "$http_user_agent" $request_time $upstream_response_time';`,
		agent: true, duration: true, upstream: true},
	{name: "vhost", spec: `log_format vhost '$host:$server_port $remote_addr - $remote_user [$time_local] "$request" $status ` +
		`$body_bytes_sent "$http_referer" "$http_user_agent" $request_id $msec $connection $pipe "$ssl_protocol"';`,
		agent: true, vhost: true},
	{name: "upstreamlog", spec: `log_format upstreamlog '[$time_local] $remote_addr - $remote_user - $server_name $host to: ` +
		`$upstream_addr: $request $status upstream_response_time $upstream_response_time msec $msec request_time $request_time';`,
		duration: true, upstream: true, addrThenColon: true},
	{name: "jsonlocal", spec: `log_format jsonlocal escape=json '{"time_local":"$time_local","remote_addr":"$remote_addr",'
    '"remote_user":"$remote_user","request":"$request","status":$status,'
    '"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"http_referer":"$http_referer","http_user_agent":"$http_user_agent",'
    '"upstream_response_time":"$upstream_response_time","request_id":"$request_id"}';`,
		json: true, agent: true, duration: true, upstream: true},
	{name: "pieces", spec: `log_format pieces '$time_iso8601 $remote_addr "$request_method $uri$is_args$args $server_protocol" $status $bytes_sent $request_time';`,
		duration: true},
}

// nginxRun is what one run of real nginx left: the logs it wrote, and the
// requests in the order it served them (one worker, one request at a
// time).
type nginxRun struct {
	Dir      string // the logs: timing.log, json.log, syslog.log and one per nginxCompiled
	Upstream string // the test upstream's address, as $upstream_addr has it
	Dead     string // the refusing server's address
	// Exchanges have a line each in every log; Raw, made after them, in
	// the logs of nginxCompiled only, so that the sample logs hold what
	// a browser or a client library sends.
	Exchanges, Raw []webExchange
}

func (run *nginxRun) log(name string) string { return filepath.Join(run.Dir, name+".log") }

// timingLine is a line in nginxTiming from the test's requests, with
// every variable a group, in order.
var timingLine = regexp.MustCompile(`^127\.0\.0\.1 - (\S+) \[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" (\d+\.\d{3}) "([^"]*)" (\S+) (\S+) ([0-9a-f]{32})$`)

// nginxRequests are the requests each run makes, one for every shape of
// line the config can produce.
func nginxRequests() []webExchange {
	return []webExchange{
		{Method: "GET", Path: "/static", Host: "Static.Example.TEST:8080", VHost: "static.example.test", Agent: oddAgent, Referer: oddReferer},
		{Method: "GET", Path: "/up/page?x=1&q=caf%C3%A9", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/2", Upstream: oneUpstream},
		{Method: "GET", Path: "/up/secure", Host: "secure.example.test", VHost: "secure.example.test", Agent: "weblogd-test/3", TLS: true, Upstream: oneUpstream},
		{Method: "HEAD", Path: "/up/head", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/4", Upstream: oneUpstream},
		{Method: "POST", Path: "/up/form", Host: "secure.example.test", VHost: "secure.example.test", Agent: "weblogd-test/5", User: "alice", TLS: true, Upstream: oneUpstream, Referer: "https://secure.example.test/form"},
		{Method: "GET", Path: "/up/teapot?status=418", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/6", Upstream: oneUpstream},
		{Method: "GET", Path: "/fallback/list", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/7", Upstream: triedTwo},
		{Method: "GET", Path: "/accel/go", Redirected: "/inner/go", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/8", Upstream: redirected},
		{Method: "GET", Path: "/dead/x", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/9", Upstream: refused},
		{Method: "GET", Path: "/missing", Host: "app.example.test", VHost: "app.example.test", Agent: "weblogd-test/10"},
		{Method: "GET", Path: "/static", Host: "secure.example.test", VHost: "secure.example.test", Agent: oddAgent, TLS: true},
	}
}

// nginxRawRequests are the requests a client library does not make: one
// without any header, and bytes that are no HTTP (nginx answers 400 and
// logs what it read).
func nginxRawRequests() []webExchange {
	return []webExchange{
		{Method: "GET", Path: "/raw", Raw: "GET /raw HTTP/1.0\r\n\r\n", VHost: "weblogd.test"},
		{Raw: "\x16\x03\x01 hello\r\n\r\n"},
	}
}

// TestNginxFormats runs real nginx once, writing every format at once: a
// log_format carrying timings, TLS and the request id, an escape=json
// format and syslog (the sample logs; -write-samples keeps them in
// testdata/samples), and the formats of nginxCompiled. It makes requests
// of every kind, checks each line nginx wrote against what the client
// sent and saw, and reads every log with the format nginx was given, the
// json preset and auto, checking the records against the requests.
func TestNginxFormats(t *testing.T) {
	run := runNginx(t)
	ex := run.Exchanges

	t.Run("timing log", func(t *testing.T) {
		lines := logLines(t, run.log("timing"), len(ex))
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

	t.Run("json log", func(t *testing.T) {
		lines := logLines(t, run.log("json"), len(ex))
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
		lines := logLines(t, run.log("syslog"), len(ex))
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
	for _, tt := range []struct {
		name, spec, log string
		json            bool // the log is nginxJSON: values nginx lacks are "", not "-"
	}{
		{"log_format", nginxTiming, run.log("timing"), false},
		{"json preset", "json", run.log("json"), true},
		{"escape=json", "log_format jsonlog escape=json '" + nginxJSON + "'", run.log("json"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, recs := parseLog(t, tt.spec, tt.log, len(ex))
			for i := range recs {
				checkNginxRecord(t, i, run, tt.json, lines[i], &recs[i])
			}
		})
	}

	// A line of the other format does not fit, and says where it stopped.
	t.Run("mismatch", func(t *testing.T) {
		f, err := format.Compile(nginxTiming)
		if err != nil {
			t.Fatal(err)
		}
		p := f.NewParser()
		line := readLines(t, run.log("json"))[0]
		var r record.Record
		ok, at := p.Parse(&r, line)
		if ok || at < 0 || at > len(line) {
			t.Fatalf("the timing format on a JSON line: ok %v at %d, want false and an offset within the line", ok, at)
		}
	})

	// auto is not told the format: it must still read the basics of each.
	for _, tt := range []struct{ name, log string }{{"auto timing", run.log("timing")}, {"auto json", run.log("json")}} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := format.Compile("auto")
			if err != nil {
				t.Fatal(err)
			}
			p := f.NewParser()
			for i, line := range readLines(t, tt.log) {
				e := run.Exchanges[i]
				var r record.Record
				if ok, at := p.Parse(&r, line); !ok {
					t.Fatalf("line %d does not parse under auto: stopped at byte %d\n%s", i+1, at, line)
				}
				checkEq(t, i, "host", r.Host, "127.0.0.1")
				checkEq(t, i, "request", r.Method+" "+r.Path+" "+r.Proto, e.Method+" "+e.Path+" HTTP/1.1")
				checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
				checkEq(t, i, "bytes", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
				checkEq(t, i, "agent", r.Agent, e.Agent)
			}
		})
	}

	for _, f := range nginxCompiled {
		t.Run("compiled "+f.name, func(t *testing.T) {
			checkCompiled(t, f, readLines(t, run.log(f.name)), append(slices.Clone(ex), run.Raw...))
		})
	}
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
// the client timed and the upstream slept.
func checkTimes(t *testing.T, i int, e webExchange, requestTime, upstream, none string) {
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

func wantUpstreamAddr(run *nginxRun, e webExchange) string {
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

func wantUpstreamStatus(e webExchange) string {
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

// checkNginxRecord checks r, read from line i of a log of run, against
// the exchange and the values nginx logged.
func checkNginxRecord(t *testing.T, i int, run *nginxRun, isJSON bool, line string, r *record.Record) {
	t.Helper()
	e := run.Exchanges[i]
	logged := nginxLogged(t, i, isJSON, line)

	dash := "-" // how the log writes a value nginx does not have
	if isJSON {
		dash = ""
	}
	checkEq(t, i, "host", r.Host, "127.0.0.1")
	checkEq(t, i, "user", r.User, or(e.User, dash))
	checkEq(t, i, "method", r.Method, e.Method)
	checkEq(t, i, "path", r.Path, e.Path)
	checkEq(t, i, "proto", r.Proto, "HTTP/1.1")
	checkEq(t, i, "request", r.Request, "") // set only when the request line does not split
	checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
	checkEq(t, i, "bytes", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
	checkEq(t, i, "referer", r.Referer, or(e.Referer, dash))
	checkEq(t, i, "agent", r.Agent, e.Agent)
	checkEq(t, i, "vhost", r.VHost, e.VHost)

	// nginx's times have whole seconds: the one logged is the second the
	// request ended in.
	if r.Time.IsZero() || r.Time.Before(e.Sent.Truncate(time.Second)) || r.Time.After(e.Sent.Add(e.Took)) {
		t.Errorf("line %d: time %v, want the second of %v (+%v)", i+1, r.Time, e.Sent, e.Took)
	}
	if _, off := r.Time.Zone(); off != logged.offset {
		t.Errorf("line %d: time offset %d, want the logged %d", i+1, off, logged.offset)
	}

	if want := record.Took(logged.requestTime); r.Duration != want {
		t.Errorf("line %d: duration %+v, want %+v ($request_time %s)", i+1, r.Duration, want, logged.requestTimeText)
	}
	var wantUp record.Duration // not set when nginx wrote "-" or ""
	if e.Upstream != noUpstream {
		wantUp = record.Took(logged.upstreamSum)
	}
	if r.UpstreamDuration != wantUp {
		t.Errorf("line %d: upstream_duration %+v, want %+v ($upstream_response_time %q)", i+1, r.UpstreamDuration, wantUp, logged.upstreamText)
	}

	// Fields: the variables that are no record field, in the format's
	// order. A value nginx did not have may be left out or kept as
	// written; the others must be there, exact.
	want := []record.Pair{}
	if isJSON {
		want = append(want,
			record.Pair{Name: "upstream_addr", Value: wantUpstreamAddr(run, e)},
			record.Pair{Name: "upstream_status", Value: wantUpstreamStatus(e)})
	}
	want = append(want,
		record.Pair{Name: "ssl_protocol", Value: or(e.SSLProtocol, dash)},
		record.Pair{Name: "request_id", Value: e.RequestID})
	got := r.Fields
	var kept []record.Pair
	for _, w := range want {
		k := slices.IndexFunc(got, func(p record.Pair) bool { return p.Name == w.Name })
		switch {
		case k < 0 && w.Value == dash:
			continue // left out
		case k < 0:
			t.Errorf("line %d: fields %v lack %s=%q", i+1, r.Fields, w.Name, w.Value)
			continue
		case got[k].Value != w.Value:
			t.Errorf("line %d: field %s=%q, want %q", i+1, w.Name, got[k].Value, w.Value)
		}
		kept = append(kept, got[k])
	}
	if !slices.Equal(kept, r.Fields) {
		t.Errorf("line %d: fields %v, want exactly %v in this order", i+1, r.Fields, kept)
	}
}

// nginxLoggedValues are the values of a line as nginx wrote them, for the
// checks that compare a parsed value with the logged one, not with what the
// client saw.
type nginxLoggedValues struct {
	offset          int // of the logged time, in seconds east of UTC
	requestTime     time.Duration
	requestTimeText string
	upstreamSum     time.Duration
	upstreamText    string
}

func nginxLogged(t *testing.T, i int, isJSON bool, line string) nginxLoggedValues {
	t.Helper()
	var v nginxLoggedValues
	var when time.Time
	var err error
	if isJSON {
		var j struct {
			Time        string          `json:"time_iso8601"`
			RequestTime json.RawMessage `json:"request_time"`
			Upstream    string          `json:"upstream_response_time"`
		}
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		when, err = time.Parse(time.RFC3339, j.Time)
		v.requestTimeText, v.upstreamText = string(j.RequestTime), j.Upstream
	} else {
		m := timingLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not in nginxTiming:\n%s", i+1, line)
		}
		when, err = time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
		v.requestTimeText, v.upstreamText = m[8], m[9]
	}
	if err != nil {
		t.Fatalf("line %d: %v", i+1, err)
	}
	_, v.offset = when.Zone()
	v.requestTime = nginxSeconds(t, v.requestTimeText)
	for _, part := range strings.FieldsFunc(v.upstreamText, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
		if part != "-" {
			v.upstreamSum += nginxSeconds(t, part)
		}
	}
	return v
}

// nginxSeconds reads nginx's "0.041" exactly, without a float's rounding.
func nginxSeconds(t *testing.T, s string) time.Duration {
	t.Helper()
	sec, ms, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(sec)
	b, err2 := strconv.Atoi(ms)
	if !ok || len(ms) != 3 || err1 != nil || err2 != nil {
		t.Fatalf("%q is not nginx's seconds with milliseconds", s)
	}
	return time.Duration(a)*time.Second + time.Duration(b)*time.Millisecond
}

// runNginx starts the test's upstream, a UDP socket for syslog and nginx
// with testdata/nginx/formats.conf.tmpl; makes nginxRequests, then
// nginxRawRequests, through it; stops nginx, so that every line is
// written; and returns where the lines are.
func runNginx(t *testing.T) *nginxRun {
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

	run := &nginxRun{Dir: dir, Upstream: up, Dead: fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))}
	type named struct{ Name, Spec string }
	var compiled []named
	logs := []string{"timing.log", "json.log"}
	for _, f := range nginxCompiled {
		compiled = append(compiled, named{f.name, f.spec})
		logs = append(logs, f.name+".log")
	}
	ngx := startServer(t, bin, serverSpec{
		name: "nginx", tmpl: "nginx/formats.conf.tmpl", conf: "nginx.conf",
		args:   []string{"-p", dir + "/", "-c", "{conf}", "-e", filepath.Join(dir, "error.log")},
		banner: "nginx", quit: syscall.SIGQUIT, errorLog: "error.log", logs: logs,
	}, map[string]any{
		"Dir": dir, "Upstream": up, "DeadPort": strings.TrimPrefix(run.Dead, "127.0.0.1:"),
		"SyslogPort": syslogConn.LocalAddr().(*net.UDPAddr).Port,
		"CertFile":   cert.CertFile, "KeyFile": cert.KeyFile,
		"Timing": nginxTiming, "JSON": nginxJSON, "Compiled": compiled,
	})

	client := testClient(cert.Pool)
	defer client.CloseIdleConnections()
	run.Exchanges, run.Raw = nginxRequests(), nginxRawRequests()
	for i := range run.Exchanges {
		send(t, client, ngx.url, ngx.tlsURL, &run.Exchanges[i])
	}
	// nginx may log a request it could not read after the client has
	// its answer: wait for each line.
	for i := range run.Raw {
		send(t, client, ngx.url, ngx.tlsURL, &run.Raw[i])
		n := map[string]int{}
		for _, f := range nginxCompiled {
			n[f.name+".log"] = len(run.Exchanges) + i + 1
		}
		waitLines(t, dir, n)
	}

	var got []string
	deadline := time.After(serverWait)
	for len(got) < len(run.Exchanges) {
		select {
		case d := <-datagrams:
			got = append(got, d)
		case <-deadline:
			t.Fatalf("%d syslog datagrams from nginx within %v, want %d:\n%s", len(got), serverWait, len(run.Exchanges), strings.Join(got, "\n"))
		}
	}
	ngx.stop(t)

	if err := os.WriteFile(run.log("syslog"), []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keepSamples(t, dir, map[string]string{"timing.log": "nginx-timing.log", "json.log": "nginx-json.log", "syslog.log": "nginx-syslog.log"})
	return run
}
