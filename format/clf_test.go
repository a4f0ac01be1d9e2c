package format_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// The real logs in testdata (see testdata/README.md).
const (
	apacheLog = "testdata/apache_combined_10k.log"
	nginxLog  = "testdata/nginx_combined_extra_1k.log"
)

// readLines returns the lines of a test log without their newlines.
func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

var (
	utc    = time.UTC
	minus7 = time.FixedZone("", -7*3600)
	tehran = time.FixedZone("", 3*3600+30*60)
)

// rec builds the expected record of a parsed line; Line is filled in by
// the test from the input.
func rec(r record.Record) record.Record {
	r.Parsed = true
	return r
}

// t0 is the time used by most cases below.
var t0 = time.Date(2000, time.October, 10, 13, 55, 36, 0, minus7)

// ts is t0 as the log writes it.
const ts = "[10/Oct/2000:13:55:36 -0700]"

// checkRecord compares every field of got with want, naming the first
// difference.
func checkRecord(t *testing.T, line string, got, want record.Record) {
	t.Helper()
	if got.Line != line {
		t.Fatalf("Parse(%q).Line=%q, want the input", line, got.Line)
	}
	if got.Parsed != want.Parsed {
		t.Fatalf("Parse(%q).Parsed=%v, want %v (got %+v)", line, got.Parsed, want.Parsed, got)
	}
	if got.Seq != 0 || got.Source != "" || got.Node != "" {
		t.Fatalf("Parse(%q) set Seq/Source/Node: %d %q %q", line, got.Seq, got.Source, got.Node)
	}
	if !got.Time.Equal(want.Time) {
		t.Fatalf("Parse(%q).Time=%v, want %v", line, got.Time, want.Time)
	}
	if !want.Time.IsZero() {
		_, gotOff := got.Time.Zone()
		_, wantOff := want.Time.Zone()
		if gotOff != wantOff {
			t.Fatalf("Parse(%q).Time offset=%d, want %d", line, gotOff, wantOff)
		}
	}
	if got.Status != want.Status {
		t.Fatalf("Parse(%q).Status=%d, want %d", line, got.Status, want.Status)
	}
	if got.Bytes != want.Bytes {
		t.Fatalf("Parse(%q).Bytes=%d, want %d", line, got.Bytes, want.Bytes)
	}
	if !reflect.DeepEqual(got.Fields, want.Fields) {
		t.Fatalf("Parse(%q).Fields=%q, want %q", line, got.Fields, want.Fields)
	}
	for _, f := range []struct{ name, got, want string }{
		{"VHost", got.VHost, want.VHost},
		{"Host", got.Host, want.Host},
		{"Ident", got.Ident, want.Ident},
		{"User", got.User, want.User},
		{"Method", got.Method, want.Method},
		{"Path", got.Path, want.Path},
		{"Proto", got.Proto, want.Proto},
		{"Request", got.Request, want.Request},
		{"Referer", got.Referer, want.Referer},
		{"Agent", got.Agent, want.Agent},
		{"Extra", got.Extra, want.Extra},
	} {
		if f.got != f.want {
			t.Fatalf("Parse(%q).%s=%q, want %q", line, f.name, f.got, f.want)
		}
	}
}

// get is the request of most cases below, parsed.
func get(r record.Record) record.Record {
	r.Method, r.Path, r.Proto = "GET", "/apache_pb.gif", "HTTP/1.0"
	return r
}

func TestParse(t *testing.T) {
	const req = `"GET /apache_pb.gif HTTP/1.0"`
	notParsed := record.Record{}
	tests := []struct {
		name string
		line string
		want record.Record
	}{
		// Formats.
		{"common", `127.0.0.1 - frank ` + ts + ` ` + req + ` 200 2326`,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "frank", Status: 200, Bytes: 2326}))},
		{"combined", `127.0.0.1 - frank ` + ts + ` ` + req + ` 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "frank", Status: 200, Bytes: 2326,
				Referer: "http://www.example.com/start.html", Agent: "Mozilla/4.08 [en] (Win98; I ;Nav)"}))},
		{"combined dashes", `127.0.0.1 - - ` + ts + ` ` + req + ` 304 - "-" "-"`,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 304, Referer: "-", Agent: "-"}))},
		{"common crlf", `127.0.0.1 - frank ` + ts + ` ` + req + " 200 2326\r",
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "frank", Status: 200, Bytes: 2326}))},
		{"combined crlf", `127.0.0.1 - - ` + ts + ` ` + req + ` 200 1 "-" "a"` + "\r",
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Referer: "-", Agent: "a"}))},
		{"referer only", `127.0.0.1 - - ` + ts + ` ` + req + ` 200 1 "http://r/"`,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Referer: "http://r/"}))},
		{"extra spaces between fields", `127.0.0.1  -  -  ` + ts + `  ` + req + `  200  1  "r"  "a"  `,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Referer: "r", Agent: "a"}))},
		{"ident and user", `192.0.2.7 ident42 alice@example.com ` + ts + ` ` + req + ` 401 12`,
			rec(get(record.Record{Time: t0, Host: "192.0.2.7", Ident: "ident42", User: "alice@example.com", Status: 401, Bytes: 12}))},

		// Hosts.
		{"vhost", `www.example.com:443 192.0.2.1 - - ` + ts + ` ` + req + ` 200 512 "-" "curl/8.5.0"`,
			rec(get(record.Record{Time: t0, VHost: "www.example.com:443", Host: "192.0.2.1", Ident: "-", User: "-", Status: 200, Bytes: 512, Referer: "-", Agent: "curl/8.5.0"}))},
		{"xff list", `10.0.0.1, 203.0.113.5 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "10.0.0.1, 203.0.113.5", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"xff list of three with vhost", `example.com:80 10.0.0.1, 10.0.0.2, 203.0.113.5 - bob ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, VHost: "example.com:80", Host: "10.0.0.1, 10.0.0.2, 203.0.113.5", Ident: "-", User: "bob", Status: 200, Bytes: 5}))},
		{"xff list without spaces", `10.0.0.1,203.0.113.5 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "10.0.0.1,203.0.113.5", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"ipv6 loopback", `::1 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "::1", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"ipv6", `2001:db8::1 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "2001:db8::1", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"ipv6 full", `2a03:0000:0000:0000:0000:0000:0000:0001 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "2a03:0000:0000:0000:0000:0000:0000:0001", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"ipv6 bracketed with port", `[2001:db8::1]:443 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "[2001:db8::1]:443", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"hostname", `crawl-66-249-73-135.googlebot.com - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "crawl-66-249-73-135.googlebot.com", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"unix socket", `unix: - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "unix:", Ident: "-", User: "-", Status: 200, Bytes: 5}))},
		{"xff list quoted before the client", `"10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "10.2.1.185", Ident: "-", User: "-", Status: 200, Bytes: 5,
				Fields: []record.Pair{{Name: "x_forwarded_for", Value: "10.5.102.222, 199.96.1.1, 204.246.1.1"}}}))},
		{"xff dash quoted before the client", `"-" 10.2.1.185 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "10.2.1.185", Ident: "-", User: "-", Status: 200, Bytes: 5,
				Fields: []record.Pair{{Name: "x_forwarded_for", Value: "-"}}}))},
		{"xff list with ipv6 before the client", `2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 - - ` + ts + ` ` + req + ` 200 5`,
			rec(get(record.Record{Time: t0, Host: "10.2.2.121", Ident: "-", User: "-", Status: 200, Bytes: 5,
				Fields: []record.Pair{{Name: "x_forwarded_for", Value: "2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17"}}}))},
		{"no ident and user", `192.168.202.254 [20/Jul/2009:22:59:29 +0000] "GET /x HTTP/1.1" 404 46210 "-" "gPXE/0.9.7"`,
			rec(record.Record{Time: time.Date(2009, 7, 20, 22, 59, 29, 0, utc), Host: "192.168.202.254", Method: "GET", Path: "/x", Proto: "HTTP/1.1",
				Status: 404, Bytes: 46210, Referer: "-", Agent: "gPXE/0.9.7"})},
		{"two tokens", `127.0.0.1 - ` + ts + ` ` + req + ` 200 5`, notParsed},
		{"five tokens", `a b c d e ` + ts + ` ` + req + ` 200 5`, notParsed},
		{"five tokens after xff join", `v a, b c d e ` + ts + ` ` + req + ` 200 5`, notParsed},

		// Extra fields.
		{"nginx extra quoted", `127.0.0.1 - - ` + ts + ` ` + req + ` 200 1 "-" "a" "-"`,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Referer: "-", Agent: "a", Extra: `"-"`}))},
		{"extra several kept as written", `127.0.0.1 - - ` + ts + ` ` + req + ` 200 1 "-" "a"   "10.0.0.1, 10.0.0.2" 0.003 "x\x22y"  `,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Referer: "-", Agent: "a", Extra: `"10.0.0.1, 10.0.0.2" 0.003 "x\x22y"`}))},
		{"common with request time", `127.0.0.1 - - ` + ts + ` ` + req + ` 200 1 1234`,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Extra: "1234"}))},
		{"trailing spaces only", `127.0.0.1 - - ` + ts + ` ` + req + ` 200 1 "-" "a"    `,
			rec(get(record.Record{Time: t0, Host: "127.0.0.1", Ident: "-", User: "-", Status: 200, Bytes: 1, Referer: "-", Agent: "a"}))},

		// Times.
		{"offset +0330", `1.2.3.4 - - [22/Jan/2019:03:56:14 +0330] ` + req + ` 200 1`,
			rec(get(record.Record{Time: time.Date(2019, 1, 22, 3, 56, 14, 0, tehran), Host: "1.2.3.4", Ident: "-", User: "-", Status: 200, Bytes: 1}))},
		{"offset +0000", `1.2.3.4 - - [17/May/2015:10:05:03 +0000] ` + req + ` 200 1`,
			rec(get(record.Record{Time: time.Date(2015, 5, 17, 10, 5, 3, 0, utc), Host: "1.2.3.4", Ident: "-", User: "-", Status: 200, Bytes: 1}))},
		{"offset -0000", `1.2.3.4 - - [17/May/2015:10:05:03 -0000] ` + req + ` 200 1`,
			rec(get(record.Record{Time: time.Date(2015, 5, 17, 10, 5, 3, 0, utc), Host: "1.2.3.4", Ident: "-", User: "-", Status: 200, Bytes: 1}))},
		{"offset -0930", `1.2.3.4 - - [31/Dec/1999:23:59:59 -0930] ` + req + ` 200 1`,
			rec(get(record.Record{Time: time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(9*3600+30*60))), Host: "1.2.3.4", Ident: "-", User: "-", Status: 200, Bytes: 1}))},
		{"leap day", `1.2.3.4 - - [29/Feb/2016:00:00:00 +0100] ` + req + ` 200 1`,
			rec(get(record.Record{Time: time.Date(2016, 2, 29, 0, 0, 0, 0, time.FixedZone("", 3600)), Host: "1.2.3.4", Ident: "-", User: "-", Status: 200, Bytes: 1}))},
		{"leap day 2000", `1.2.3.4 - - [29/Feb/2000:00:00:00 +0100] ` + req + ` 200 1`,
			rec(get(record.Record{Time: time.Date(2000, 2, 29, 0, 0, 0, 0, time.FixedZone("", 3600)), Host: "1.2.3.4", Ident: "-", User: "-", Status: 200, Bytes: 1}))},
		{"bad month", `1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"lower-case month", `1.2.3.4 - - [10/oct/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"day 0", `1.2.3.4 - - [00/Oct/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"day 32", `1.2.3.4 - - [32/Oct/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"31 April", `1.2.3.4 - - [31/Apr/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"29 Feb not leap", `1.2.3.4 - - [29/Feb/2015:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"29 Feb 1900", `1.2.3.4 - - [29/Feb/1900:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"hour 24", `1.2.3.4 - - [10/Oct/2000:24:00:00 -0700] ` + req + ` 200 1`, notParsed},
		{"minute 60", `1.2.3.4 - - [10/Oct/2000:13:60:36 -0700] ` + req + ` 200 1`, notParsed},
		{"second 60", `1.2.3.4 - - [10/Oct/2000:13:55:60 -0700] ` + req + ` 200 1`, notParsed},
		{"bad offset hours", `1.2.3.4 - - [10/Oct/2000:13:55:36 +2400] ` + req + ` 200 1`, notParsed},
		{"bad offset minutes", `1.2.3.4 - - [10/Oct/2000:13:55:36 +0060] ` + req + ` 200 1`, notParsed},
		{"bad offset sign", `1.2.3.4 - - [10/Oct/2000:13:55:36 *0700] ` + req + ` 200 1`, notParsed},
		{"offset without sign", `1.2.3.4 - - [10/Oct/2000:13:55:36 0700] ` + req + ` 200 1`, notParsed},
		{"offset with colon", `1.2.3.4 - - [10/Oct/2000:13:55:36 -07:00] ` + req + ` 200 1`, notParsed},
		{"digits not digits", `1.2.3.4 - - [1a/Oct/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"one-digit day", `1.2.3.4 - - [1/Oct/2000:13:55:36 -0700] ` + req + ` 200 1`, notParsed},
		{"time unclosed", `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700 ` + req + ` 200 1`, notParsed},
		{"time cut", `1.2.3.4 - - [10/Oct/2000:13:55`, notParsed},
		{"no space after time", `1.2.3.4 - - ` + ts + req + ` 200 1`, notParsed},

		// Requests.
		{"http/0.9", `1.2.3.4 - - ` + ts + ` "GET /" 200 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Status: 200, Bytes: 1})},
		{"http/2", `1.2.3.4 - - ` + ts + ` "POST /api?x=1 HTTP/2.0" 201 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "POST", Path: "/api?x=1", Proto: "HTTP/2.0", Status: 201, Bytes: 1})},
		{"m-search", `1.2.3.4 - - ` + ts + ` "M-SEARCH * HTTP/1.1" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "M-SEARCH", Path: "*", Proto: "HTTP/1.1", Status: 400, Bytes: 1})},
		{"connect", `1.2.3.4 - - ` + ts + ` "CONNECT example.com:443 HTTP/1.1" 405 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "CONNECT", Path: "example.com:443", Proto: "HTTP/1.1", Status: 405, Bytes: 1})},
		{"request dash", `1.2.3.4 - - ` + ts + ` "-" 408 -`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "-", Status: 408})},
		{"request empty", `1.2.3.4 - - ` + ts + ` "" 400 0 "-" "-"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Status: 400, Referer: "-", Agent: "-"})},
		{"request hello", `1.2.3.4 - - ` + ts + ` "hello" 400 150`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "hello", Status: 400, Bytes: 150})},
		{"request tls", `1.2.3.4 - - ` + ts + ` "\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03" 400 150 "-" "-"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", Status: 400, Bytes: 150, Referer: "-", Agent: "-"})},
		{"request lower-case method", `1.2.3.4 - - ` + ts + ` "get / HTTP/1.1" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "get / HTTP/1.1", Status: 400, Bytes: 1})},
		{"request method only", `1.2.3.4 - - ` + ts + ` "GET" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "GET", Status: 400, Bytes: 1})},
		{"request space in path", `1.2.3.4 - - ` + ts + ` "GET /a b HTTP/1.1" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "GET /a b HTTP/1.1", Status: 400, Bytes: 1})},
		{"request double space", `1.2.3.4 - - ` + ts + ` "GET  / HTTP/1.1" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "GET  / HTTP/1.1", Status: 400, Bytes: 1})},
		{"request bad proto", `1.2.3.4 - - ` + ts + ` "GET / http/1.1" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "GET / http/1.1", Status: 400, Bytes: 1})},
		{"request control byte in path", `1.2.3.4 - - ` + ts + ` "GET /\x00 HTTP/1.1" 400 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Request: "GET /\x00 HTTP/1.1", Status: 400, Bytes: 1})},
		{"request utf-8 path", `1.2.3.4 - - ` + ts + ` "GET /caf\xC3\xA9 HTTP/1.1" 200 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/café", Proto: "HTTP/1.1", Status: 200, Bytes: 1})},
		{"request unterminated", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1 200 1`, notParsed},
		{"request not quoted", `1.2.3.4 - - ` + ts + ` GET / HTTP/1.1 200 1`, notParsed},

		// Escapes.
		{"nginx utf-8 escapes", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "Don\xE2\x80\x99t"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: "Don’t"})},
		{"lower-case hex", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "\xe4\xe5" "-"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "\xe4\xe5", Agent: "-"})},
		{"escaped quotes and backslashes", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "say \"hi\" C:\\dir\\"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: `say "hi" C:\dir\`})},
		{"escaped quote at end of field", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "a\"" "b"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: `a"`, Agent: "b"})},
		{"escaped quote then space", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "a\" b" "c"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: `a" b`, Agent: "c"})},
		{"apache control escapes", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "\b\n\r\t\v"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: "\b\n\r\t\v"})},
		{"unknown escapes stay", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "\q\xZZ\x4" "\"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: `\q\xZZ\x4`, Agent: `"`})},
		{"escaped request", `1.2.3.4 - - ` + ts + ` "GET /\x22q\x22 HTTP/1.1" 200 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: `/"q"`, Proto: "HTTP/1.1", Status: 200, Bytes: 1})},
		{"escaped space splits request", `1.2.3.4 - - ` + ts + ` "GET\x20/ HTTP/1.1" 200 1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1})},
		{"escaped nul", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "a\x00b"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: "a\x00b"})},
		{"unescaped inner quotes", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "Mozilla/4.0 (compatible; "x")"`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: `Mozilla/4.0 (compatible; "x")`})},

		// Unterminated quotes.
		{"agent unterminated", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (compatible; Googlebot/2.1`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: "Mozilla/5.0 (compatible; Googlebot/2.1"})},
		{"agent unterminated with escape", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "-" "a\"b\`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: `a"b\`})},
		{"referer unterminated", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 1 "http://cut`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "http://cut"})},
		{"unterminated in the middle", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1 200 1 "-" "curl"`, notParsed},

		// Status and bytes.
		{"status 999", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 999 0`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 999})},
		{"status 2 digits", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 20 1`, notParsed},
		{"status 4 digits", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 2000 1`, notParsed},
		{"status 099", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 099 1`, notParsed},
		{"status dash", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" - 1`, notParsed},
		{"status letters", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 2x0 1`, notParsed},
		{"bytes missing", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200`, notParsed},
		{"bytes missing after space", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 `, notParsed},
		{"bytes max int64", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 9223372036854775807`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 9223372036854775807})},
		{"bytes leading zeros", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 000000000000000000000000042`,
			rec(record.Record{Time: t0, Host: "1.2.3.4", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 42})},
		{"bytes overflow", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 9223372036854775808`, notParsed},
		{"bytes huge", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 99999999999999999999999999999999`, notParsed},
		{"bytes negative", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 -5`, notParsed},
		{"bytes plus", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 +5`, notParsed},
		{"bytes letters", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 12a`, notParsed},
		{"bytes quoted", `1.2.3.4 - - ` + ts + ` "GET / HTTP/1.1" 200 "-" "-"`, notParsed},

		// Garbage.
		{"empty", ``, notParsed},
		{"spaces", `     `, notParsed},
		{"cr only", "\r", notParsed},
		{"nul bytes", "\x00\x00\x00", notParsed},
		{"nul bytes in fields", "1.2.3.4\x00 - - " + ts + " \"GET / HTTP/1.1\" 200 1 \"-\" \"a\x00b\"",
			rec(record.Record{Time: t0, Host: "1.2.3.4\x00", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1, Referer: "-", Agent: "a\x00b"})},
		{"words", `hello world`, notParsed},
		{"syslog", `Nov 21 10:00:00 web1 nginx[123]: something happened`, notParsed},
		{"json", `{"remote_addr":"1.2.3.4","status":200}`, notParsed},
		{"bracket only", `a b c [`, notParsed},
		{"prefix only", `a b c ` + ts, notParsed},
		{"invalid utf-8", "\xff\xfe\xfd - - " + ts + " \"GET / HTTP/1.1\" 200 1",
			rec(record.Record{Time: t0, Host: "\xff\xfe\xfd", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Bytes: 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := format.Parse(tt.line)
			checkRecord(t, tt.line, got, tt.want)
		})
	}
}

// TestParseRealLogs parses every line of the real logs in testdata: each
// must parse, and a few are checked field by field.
func TestParseRealLogs(t *testing.T) {
	t.Run("apache", func(t *testing.T) {
		lines := readLines(t, apacheLog)
		if len(lines) != 10000 {
			t.Fatalf("%s has %d lines, want 10000", apacheLog, len(lines))
		}
		parsed, dashBytes := 0, 0
		for _, line := range lines {
			r := format.Parse(line)
			if r.Parsed {
				parsed++
			}
			if r.Bytes == 0 && strings.Contains(line, fmt.Sprintf(`" %d - `, r.Status)) {
				dashBytes++
			}
		}
		if parsed != len(lines) {
			t.Fatalf("parsed %d of %d lines", parsed, len(lines))
		}
		if dashBytes != 669 {
			t.Fatalf("%d lines with bytes \"-\", want 669", dashBytes)
		}
		for _, tt := range []struct {
			n    int // line number, from 1
			want record.Record
		}{
			{1, rec(record.Record{
				Time: time.Date(2015, 5, 17, 10, 5, 3, 0, utc), Host: "83.149.9.216", Ident: "-", User: "-",
				Method: "GET", Path: "/presentations/logstash-monitorama-2013/images/kibana-search.png", Proto: "HTTP/1.1",
				Status: 200, Bytes: 203023, Referer: "http://semicomplete.com/presentations/logstash-monitorama-2013/",
				Agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"})},
			{5851, rec(record.Record{
				Time: time.Date(2015, 5, 19, 11, 5, 10, 0, utc), Host: "201.242.142.135", Ident: "-", User: "-",
				Method: "GET", Path: "/files/logstash/", Proto: "HTTP/1.0", Status: 200, Bytes: 13316,
				Referer: "http://\xe4\xe5\xe3\xf2\xff\xf0\xed\xee\xe5-\xec\xfb\xeb\xee.\xf0\xf4/",
				Agent:   "Mozilla/5.0 (Windows NT 6.1; rv:11.0) Gecko/20100101 Firefox/11.0"})},
			{8899, rec(record.Record{
				Time: time.Date(2015, 5, 20, 12, 5, 17, 0, utc), Host: "46.118.127.106", Ident: "-", User: "-",
				Method: "GET", Path: "/scripts/grok-py-test/configlib.py", Proto: "HTTP/1.1", Status: 200, Bytes: 235,
				Referer: "-", Agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"})},
			{10000, rec(record.Record{
				Time: time.Date(2015, 5, 20, 21, 5, 15, 0, utc), Host: "46.105.14.53", Ident: "-", User: "-",
				Method: "GET", Path: "/blog/tags/puppet?flav=rss20", Proto: "HTTP/1.1", Status: 200, Bytes: 14872,
				Referer: "-", Agent: "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/"})},
		} {
			t.Run(fmt.Sprint("line ", tt.n), func(t *testing.T) {
				line := lines[tt.n-1]
				checkRecord(t, line, format.Parse(line), tt.want)
			})
		}
	})

	t.Run("nginx", func(t *testing.T) {
		lines := readLines(t, nginxLog)
		if len(lines) != 1000 {
			t.Fatalf("%s has %d lines, want 1000", nginxLog, len(lines))
		}
		parsed, extraDash := 0, 0
		for _, line := range lines {
			r := format.Parse(line)
			if !r.Parsed {
				continue
			}
			parsed++
			if _, off := r.Time.Zone(); off != 3*3600+30*60 {
				t.Fatalf("Parse(%q).Time offset=%d, want +0330", line, off)
			}
			if r.Extra == `"-"` {
				extraDash++
			}
		}
		if parsed != len(lines) {
			t.Fatalf("parsed %d of %d lines", parsed, len(lines))
		}
		// 13 lines have a real X-Forwarded-For address instead.
		if extraDash != 987 {
			t.Fatalf("%d lines with Extra %q, want 987", extraDash, `"-"`)
		}
		if line, want := lines[647], `"103.28.132.65"`; format.Parse(line).Extra != want {
			t.Fatalf("Parse(%q).Extra=%q, want %q", line, format.Parse(line).Extra, want)
		}
		line := lines[0]
		checkRecord(t, line, format.Parse(line), rec(record.Record{
			Time: time.Date(2019, 1, 22, 3, 56, 14, 0, tehran), Host: "54.36.149.41", Ident: "-", User: "-",
			Method: "GET", Proto: "HTTP/1.1", Status: 200, Bytes: 30577, Referer: "-",
			Path:  "/filter/27|13%20%D9%85%DA%AF%D8%A7%D9%BE%DB%8C%DA%A9%D8%B3%D9%84,27|%DA%A9%D9%85%D8%AA%D8%B1%20%D8%A7%D8%B2%205%20%D9%85%DA%AF%D8%A7%D9%BE%DB%8C%DA%A9%D8%B3%D9%84,p53",
			Agent: "Mozilla/5.0 (compatible; AhrefsBot/6.1; +http://ahrefs.com/robot/)", Extra: `"-"`}))
	})
}

// TestParseAllocs checks the promise that a line without escapes costs no
// allocation, and one with escapes costs one per escaped field.
func TestParseAllocs(t *testing.T) {
	for _, tt := range []struct {
		line string
		want float64
	}{
		{`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a HTTP/1.1" 200 203023 "http://x/" "Mozilla/5.0"`, 0},
		{`1.2.3.4 - - [22/Jan/2019:03:56:14 +0330] "GET /a HTTP/1.1" 200 1 "-" "curl" "-"`, 0},
		{`1.2.3.4 - - [22/Jan/2019:03:56:14 +0330] "GET /a HTTP/1.1" 200 1 "-" "Don\xE2\x80\x99t"`, 1},
		{`garbage`, 0},
		// The X-Forwarded-For list before the client is a field.
		{`"10.5.102.222, 199.96.1.1" 10.2.1.185 - - [22/Jan/2019:03:56:14 +0330] "GET /a HTTP/1.1" 200 1`, 1},
	} {
		format.Parse(tt.line) // warm the zone cache
		if got := testing.AllocsPerRun(100, func() { format.Parse(tt.line) }); got != tt.want {
			t.Fatalf("Parse(%q) allocates %v times, want %v", tt.line, got, tt.want)
		}
	}
}

// TestParseConcurrent runs Parse from many goroutines over many offsets,
// for the race detector's sake: the zone cache is shared.
func TestParseConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for h := -12; h <= 14; h++ {
				sign := '+'
				if h < 0 {
					sign = '-'
				}
				line := fmt.Sprintf(`1.2.3.4 - - [10/Oct/2000:13:55:36 %c%02d%02d] "GET / HTTP/1.1" 200 %d`, sign, max(h, -h), (g%4)*15, g)
				r := format.Parse(line)
				if !r.Parsed {
					t.Errorf("Parse(%q).Parsed=false, want true", line)
					return
				}
				off := h*3600 + (g%4)*15*60
				if h < 0 {
					off = h*3600 - (g%4)*15*60
				}
				if _, got := r.Time.Zone(); got != off {
					t.Errorf("Parse(%q).Time offset=%d, want %d", line, got, off)
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkParse(b *testing.B) {
	lines := readLines(b, apacheLog)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		format.Parse(lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
