package format

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// The real logs in testdata (see testdata/README.md).
const (
	apacheLogFile = "testdata/apache_combined_10k.log"
	nginxLogFile  = "testdata/nginx_combined_extra_1k.log"
)

func logLines(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// The formats as nginx's and Apache's documentation and default
// configurations write them.
const (
	nginxCombined = `log_format combined '$remote_addr - $remote_user [$time_local] '
                    '"$request" $status $body_bytes_sent '
                    '"$http_referer" "$http_user_agent"';`
	nginxTimed = `'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent ` +
		`"$http_referer" "$http_user_agent" $request_time $upstream_response_time'`
	apacheCommon   = `LogFormat "%h %l %u %t \"%r\" %>s %b" common`
	apacheCombined = `LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined`
	apacheVhost    = `LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined`
)

var (
	plus1  = time.FixedZone("", 3600)
	minus7 = time.FixedZone("", -7*3600)
	tNov   = time.Date(2026, 11, 21, 10, 0, 0, 0, plus1)
	tOct   = time.Date(2000, 10, 10, 13, 55, 36, 0, minus7)
)

type compileCase struct {
	name, spec, line string
	want             record.Record // Parsed and Line are not compared
}

// same compares two parsed records, times by instant and offset.
func same(t *testing.T, what string, got, want record.Record) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Fatalf("%s: Time=%v, want %v", what, got.Time, want.Time)
	}
	if !want.Time.IsZero() {
		_, g := got.Time.Zone()
		_, w := want.Time.Zone()
		if g != w {
			t.Fatalf("%s: Time offset %d, want %d", what, g, w)
		}
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if len(got.Fields) == 0 && len(want.Fields) == 0 {
		got.Fields, want.Fields = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func runCompileCases(t *testing.T, compile func(string) (Parser, error), cases []compileCase) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compile(tt.spec)
			if err != nil {
				t.Fatalf("compile(%q): %v", tt.spec, err)
			}
			var r record.Record
			if ok, at := p.Parse(&r, tt.line); !ok {
				t.Fatalf("Parse(%q) does not fit %q: stopped at %d (%q)", tt.line, tt.spec, at, tt.line[min(at, len(tt.line)):])
			}
			same(t, tt.line, r, tt.want)
		})
	}
}

func pairs(kv ...string) []record.Pair {
	var ps []record.Pair
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, record.Pair{Name: kv[i], Value: kv[i+1]})
	}
	return ps
}

func TestCompileNginx(t *testing.T) {
	get := func(r record.Record) record.Record {
		r.Method, r.Path, r.Proto = "GET", "/index.html?q=1", "HTTP/1.1"
		return r
	}
	base := record.Record{Time: tNov, Host: "203.0.113.9", User: "frank", Status: 200, Bytes: 2326,
		Referer: "http://example.com/", Agent: "curl/8.5.0"}
	const head = `203.0.113.9 - frank [21/Nov/2026:10:00:00 +0100] "GET /index.html?q=1 HTTP/1.1" 200 2326`
	timed := func(d, up time.Duration, upSet bool) record.Record {
		r := get(base)
		r.Duration = record.Took(d)
		if upSet {
			r.UpstreamDuration = record.Took(up)
		}
		return r
	}
	runCompileCases(t, compileNginx, []compileCase{
		{"combined", nginxCombined, head + ` "http://example.com/" "curl/8.5.0"`, get(base)},
		{"combined, escapes", nginxCombined,
			head + ` "-" "Mozilla \x22x\x22 \xE2\x80\x99 \x5C"`,
			func() record.Record {
				r := get(base)
				r.Referer, r.Agent = "-", "Mozilla \"x\" \xE2\x80\x99 \\"
				return r
			}()},
		{"combined, bad request", nginxCombined,
			`203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "\x16\x03\x01" 400 157 "-" "-"`,
			record.Record{Time: tNov, Host: "203.0.113.9", User: "-", Request: "\x16\x03\x01", Status: 400, Bytes: 157,
				Referer: "-", Agent: "-"}},
		{"combined, IPv6 and CRLF", nginxCombined,
			`2001:db8::1 - frank [21/Nov/2026:10:00:00 +0100] "GET /index.html?q=1 HTTP/1.1" 200 2326 "http://example.com/" "curl/8.5.0"` + "\r",
			func() record.Record { r := get(base); r.Host = "2001:db8::1"; return r }()},
		{"times", nginxTimed, head + ` "http://example.com/" "curl/8.5.0" 0.023 0.010, 0.020 : 0.005`,
			timed(23*time.Millisecond, 35*time.Millisecond, true)},
		{"times, no upstream", nginxTimed, head + ` "http://example.com/" "curl/8.5.0" 0.000 -`,
			timed(0, 0, false)},
		{"times, a failed upstream", nginxTimed, head + ` "http://example.com/" "curl/8.5.0" 1.5 -, 1.002`,
			timed(1500*time.Millisecond, 1002*time.Millisecond, true)},
		{"pasted bare, forwarded-for",
			`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"`,
			head + ` "http://example.com/" "curl/8.5.0" "10.0.0.1, 10.0.0.2"`,
			func() record.Record {
				r := get(base)
				r.Fields = pairs("http_x_forwarded_for", "10.0.0.1, 10.0.0.2")
				return r
			}()},
		{"compression, from nginx's documentation",
			`log_format compression '$remote_addr - $remote_user [$time_local] '
                       '"$request" $status $bytes_sent '
                       '"$http_referer" "$http_user_agent" "$gzip_ratio"';`,
			head + ` "http://example.com/" "curl/8.5.0" "2.75"`,
			func() record.Record { r := get(base); r.Fields = pairs("gzip_ratio", "2.75"); return r }()},
		{"upstream log, request unquoted",
			`log_format upstreamlog '[$time_local] $remote_addr - $remote_user - $server_name $host to: $upstream_addr: $request $status upstream_response_time $upstream_response_time msec $msec request_time $request_time';`,
			`[21/Nov/2026:10:00:00 +0100] 203.0.113.9 - - - example.com www.example.com to: 10.0.0.5:8080: GET /api?x=1 HTTP/1.1 200 upstream_response_time 0.010, 0.020 msec 1795251600.123 request_time 0.031`,
			record.Record{Time: tNov, Host: "203.0.113.9", User: "-", VHost: "example.com", Method: "GET", Path: "/api?x=1",
				Proto: "HTTP/1.1", Status: 200, Duration: record.Took(31 * time.Millisecond),
				UpstreamDuration: record.Took(30 * time.Millisecond),
				Fields:           pairs("host", "www.example.com", "upstream_addr", "10.0.0.5:8080", "msec", "1795251600.123")}},
		{"escape=json, JSON-shaped",
			`log_format json_combined escape=json
  '{'
    '"time_local":"$time_local",'
    '"remote_addr":"$remote_addr",'
    '"remote_user":"$remote_user",'
    '"request":"$request",'
    '"status": "$status",'
    '"body_bytes_sent":"$body_bytes_sent",'
    '"request_time":"$request_time",'
    '"http_referrer":"$http_referer",'
    '"http_user_agent":"$http_user_agent"'
  '}';`,
			`{"time_local":"21/Nov/2026:10:00:00 +0100","remote_addr":"203.0.113.9","remote_user":"","request":"GET /a\"b HTTP/1.1","status": "200","body_bytes_sent":"512","request_time":"0.002","http_referrer":"","http_user_agent":"curl \"q\", \\ \u00e9\ud83d\ude00\n"}`,
			record.Record{Time: tNov, Host: "203.0.113.9", Method: "GET", Path: `/a"b`, Proto: "HTTP/1.1", Status: 200, Bytes: 512,
				Duration: record.Took(2 * time.Millisecond), Agent: "curl \"q\", \\ \u00e9\U0001F600\n"}},
		{"path from uri and args, vhost with port",
			`$host:$server_port $remote_addr "$request_method $uri$is_args$args $server_protocol" ${status} $body_bytes_sent $request_id`,
			`example.com:443 ::1 "GET /search?q=go HTTP/2.0" 200 0 5f3c2a`,
			record.Record{VHost: "example.com:443", Host: "::1", Method: "GET", Path: "/search?q=go", Proto: "HTTP/2.0", Status: 200,
				Fields: pairs("request_id", "5f3c2a")}},
		{"path from uri without args",
			`$host:$server_port $remote_addr "$request_method $uri$is_args$args $server_protocol" ${status} $body_bytes_sent $request_id`,
			`example.com:443 ::1 "GET /search HTTP/2.0" 200 0 -`,
			record.Record{VHost: "example.com:443", Host: "::1", Method: "GET", Path: "/search", Proto: "HTTP/2.0", Status: 200,
				Fields: pairs("request_id", "-")}},
		{"path from uri, args not found", `"$request_method $uri$is_args$args $server_protocol" $status`,
			`"GET /search- HTTP/1.1" 200`, record.Record{Method: "GET", Path: "/search", Proto: "HTTP/1.1", Status: 200}},
		{"uri?args apart", `$uri?$args $status`, `/a b?x=1 200`, record.Record{Path: "/a b?x=1", Status: 200}},
		{"uri and args not together", `$args $uri $status`, `x=1 /a 200`, record.Record{Path: "/a", Status: 200, Fields: pairs("args", "x=1")}},
		{"scheme, host and request_uri together", `$scheme://$host$request_uri $status`, `https://example.com/a?b=1 301`,
			record.Record{VHost: "example.com", Path: "/a?b=1", Status: 301, Fields: pairs("scheme", "https")}},
		{"iso8601 and msec", `$time_iso8601 $msec $remote_addr $status $ssl_protocol/$ssl_cipher $connection $connection_requests $pipe`,
			`2026-11-21T10:00:00+01:00 1795251600.123 203.0.113.9 200 TLSv1.3/TLS_AES_128_GCM_SHA256 1042 3 p`,
			record.Record{Time: tNov, Host: "203.0.113.9", Status: 200,
				Fields: pairs("msec", "1795251600.123", "ssl_protocol", "TLSv1.3", "ssl_cipher", "TLS_AES_128_GCM_SHA256",
					"connection", "1042", "connection_requests", "3", "pipe", "p")}},
		{"msec alone", `$msec $remote_addr "$request" $status`, `1795251600.123 203.0.113.9 "GET / HTTP/1.1" 200`,
			record.Record{Time: time.Date(2026, 11, 21, 9, 0, 0, 123e6, time.UTC), Host: "203.0.113.9", Method: "GET", Path: "/",
				Proto: "HTTP/1.1", Status: 200}},
		{"escape=none", `log_format raw escape=none '"$http_user_agent" $status';`, `"a \x22 "b" 200`,
			record.Record{Agent: `a \x22 "b`, Status: 200}},
		{"headers, cookies, args, sent headers, upstream", `$status "$http_x_request_id" $cookie_session $arg_page "$sent_http_content_type" $upstream_status : $upstream_connect_time : $upstream_header_time`,
			`502 "abc" s3cr3t 2 "text/html; charset=utf-8" 502, 200 : 0.001, 0.002 : 0.010, 0.020`,
			record.Record{Status: 502, Fields: pairs("http_x_request_id", "abc", "cookie_session", "s3cr3t", "arg_page", "2",
				"sent_http_content_type", "text/html; charset=utf-8", "upstream_status", "502, 200",
				"upstream_connect_time", "0.001, 0.002", "upstream_header_time", "0.010, 0.020")}},
		{"a variable twice", `$status $status $http_x $http_x`, `200 200 a b`,
			record.Record{Status: 200, Fields: pairs("status", "200", "http_x", "a", "http_x_2", "b")}},
		{"upper case, request length", `$Status $request_length`, `200 345`,
			record.Record{Status: 200, Fields: pairs("request_length", "345")}},
	})
}

func TestCompileApache(t *testing.T) {
	docs := record.Record{Time: tOct, Host: "127.0.0.1", Ident: "-", User: "frank", Method: "GET", Path: "/apache_pb.gif",
		Proto: "HTTP/1.0", Status: 200, Bytes: 2326}
	const docLine = `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`
	with := func(r record.Record, f func(*record.Record)) record.Record { f(&r); return r }
	runCompileCases(t, compileApache, []compileCase{
		{"common", apacheCommon, docLine, docs},
		{"common, no size", apacheCommon, strings.TrimSuffix(docLine, "2326") + "-",
			with(docs, func(r *record.Record) { r.Bytes = 0 })},
		{"combined", apacheCombined, docLine + ` "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			with(docs, func(r *record.Record) {
				r.Referer, r.Agent = "http://www.example.com/start.html", "Mozilla/4.08 [en] (Win98; I ;Nav)"
			})},
		{"combined, escapes", apacheCombined,
			`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /\xc3\xa9 HTTP/1.0" 200 2326 "-" "Say \"hi\" \\o/"`,
			with(docs, func(r *record.Record) { r.Path, r.Referer, r.Agent = "/\xc3\xa9", "-", `Say "hi" \o/` })},
		{"combined, timeout", apacheCombined, `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "-" 408 - "-" "-"`,
			record.Record{Time: tOct, Host: "127.0.0.1", Ident: "-", User: "-", Request: "-", Status: 408, Referer: "-", Agent: "-"}},
		{"vhost_combined", apacheVhost,
			`www.example.com:443 ` + docLine + ` "-" "curl/8.5.0"`,
			with(docs, func(r *record.Record) { r.VHost, r.Referer, r.Agent = "www.example.com:443", "-", "curl/8.5.0" })},
		{"referer", `LogFormat "%{Referer}i -> %U" referer`, `http://www.example.com/start.html -> /apache_pb.gif`,
			record.Record{Referer: "http://www.example.com/start.html", Path: "/apache_pb.gif"}},
		{"agent", `LogFormat "%{User-agent}i" agent`, `Mozilla/4.08 [en] (Win98; I ;Nav)`,
			record.Record{Agent: "Mozilla/4.08 [en] (Win98; I ;Nav)"}},
		{"pasted bare, durations and conditions",
			`%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D %T %{ms}T %400,501{X-Forwarded-For}i %!200,304<{Referer}i`,
			docLine + ` "-" "curl/8.5.0" 1500 0 1 - http://x/`,
			with(docs, func(r *record.Record) {
				r.Referer, r.Agent, r.Duration = "-", "curl/8.5.0", record.Took(1500*time.Microsecond)
				r.Fields = pairs("duration_s", "0", "duration_ms", "1", "X-Forwarded-For", "-", "Referer", "http://x/")
			})},
		{"seconds", `%h %T`, `::1 2`, record.Record{Host: "::1", Duration: record.Took(2 * time.Second)}},
		{"milliseconds", `%h %{ms}T %{us}T`, `::1 20 20100`, record.Record{Host: "::1", Duration: record.Took(20 * time.Millisecond),
			Fields: pairs("duration_us", "20100")}},
		{"time in pieces, from Apache's documentation", `"[%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] %h \"%r\" %>s"`,
			`[10/Oct/2000 13:55:36.123 -0700] 127.0.0.1 "GET / HTTP/1.1" 200`,
			record.Record{Time: tOct.Add(123 * time.Millisecond), Host: "127.0.0.1", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200}},
		{"time, day names and 12 hours", `%{%a, %d %b %Y %I:%M:%S %p %z}t %{usec_frac}t %>s`,
			`Tue, 10 Oct 2000 01:55:36 PM -0700 000250 200`,
			record.Record{Time: tOct.Add(250 * time.Microsecond), Status: 200}},
		{"time, compact strftime", `%{%Y%m%d%H%M%S%z}t %>s`, `20001010135536-0700 200`, record.Record{Time: tOct, Status: 200}},
		{"time, no zone", `%{%F %T}t %>s`, `2000-10-10 13:55:36 200`,
			record.Record{Time: time.Date(2000, 10, 10, 13, 55, 36, 0, time.Local), Status: 200}},
		{"epoch times", `%{sec}t %{msec}t %{end:usec}t %h`, `971211336 971211336123 971211336123456 ::1`,
			record.Record{Time: tOct.UTC(), Host: "::1", Fields: pairs("time", "971211336123", "time_2", "971211336123456")}},
		{"epoch with a fraction", `%{sec}t.%{msec_frac}t %h`, `971211336.123 ::1`,
			record.Record{Time: tOct.Add(123 * time.Millisecond).UTC(), Host: "::1"}},
		{"ssl_request_log", `"%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b"`,
			`[10/Oct/2000:13:55:36 -0700] 127.0.0.1 TLSv1.3 TLS_AES_256_GCM_SHA384 "GET /apache_pb.gif HTTP/1.0" 2326`,
			with(docs, func(r *record.Record) {
				r.Ident, r.User, r.Status = "", "", 0
				r.Fields = pairs("SSL_PROTOCOL", "TLSv1.3", "SSL_CIPHER", "TLS_AES_256_GCM_SHA384")
			})},
		{"every other directive",
			`%a "%m %U%q %H" %>s %B %k %X %P %{tid}P %L %R %f %A %p %{remote}p %{local}p %{c}a %{c}h %h %{X-Request-Id}i %{Set-Cookie}o %{UNIQUE_ID}e %{note}n %{session}C %I %O %S %v %V %s %%`,
			`10.0.0.1 "POST /login?next=%2F HTTP/1.1" 302 0 1 + 4242 140 aAbB proxy-server /srv/www/login 10.0.0.2 443 51234 443 192.0.2.7 192.0.2.7 host.example 7f3a a=b;Path=/ Z1 n1 abc 512 734 1246 www.example.com example.com 302 %`,
			record.Record{Host: "10.0.0.1", Method: "POST", Path: "/login?next=%2F", Proto: "HTTP/1.1", Status: 302, Bytes: 0,
				VHost: "www.example.com",
				Fields: pairs("keepalive", "1", "connection_status", "+", "pid", "4242", "tid", "140", "log_id", "aAbB",
					"handler", "proxy-server", "filename", "/srv/www/login", "local_addr", "10.0.0.2", "port", "443",
					"remote_port", "51234", "local_port", "443", "peer_addr", "192.0.2.7", "peer_host", "192.0.2.7",
					"remote_host", "host.example", "X-Request-Id", "7f3a", "Set-Cookie", "a=b;Path=/", "UNIQUE_ID", "Z1",
					"note", "n1", "session", "abc", "bytes_received", "512", "bytes_sent", "734", "bytes_transferred", "1246",
					"server_name_used", "example.com", "status", "302")}},
		{"trailers, escapes in the format", `%{Grpc-Status}^to\t%>s`, "0\t200",
			record.Record{Status: 200, Fields: pairs("Grpc-Status", "0")}},
		{"single quotes", `'%h %>s'`, `::1 200`, record.Record{Host: "::1", Status: 200}},
	})
}

func TestCompileErrors(t *testing.T) {
	for _, tt := range []struct {
		apache bool
		spec   string
		want   string
	}{
		{false, `log_format main '$remote_addr - $remote_user ' '[$time_local]`, "column 48: unbalanced quote"},
		{false, `'$remote_addr - $remote_user`, "column 1: unbalanced quote"},
		{false, `log_format main escape=foo '$status';`, "column 17: unknown escape=foo"},
		{false, `'no variable here'`, "no variable at all"},
		{false, ``, "no variable at all"},
		{false, `log_format`, "column 11: log_format needs a name"},
		{false, `'$status'; '$request'`, "column 12: text after the ';' that ends log_format"},
		{false, `$remote_addr ${status`, "column 14: unterminated ${"},
		{false, `$remote_addr $ $status`, "column 14: $ without a variable name"},
		{false, `"$http_referer$http_user_agent"`, "column 15: $http_user_agent directly follows $http_referer, so nothing tells where $http_referer ends"},
		{false, `'$status'x`, "column 10: a quoted piece must be followed by a space"},
		{true, `%h %l %Z`, "column 7: unknown Apache directive %Z"},
		{true, `LogFormat "%h %l %u %t \"%r\" %>s %Z" broken`, "column 35: unknown Apache directive %Z"},
		{true, `"é %Z"`, "column 4: unknown Apache directive %Z"},
		{true, `%h %{Referer i`, "column 4: unterminated %{"},
		{true, ``, "empty format"},
		{true, `LogFormat   `, "empty format"},
		{true, `"%h %l`, "column 1: unbalanced quote"},
		{true, `just text`, "no directive at all"},
		{true, `%h %{Referer}`, "column 4: unfinished Apache directive %{Referer}"},
		{true, `%h %i`, "column 4: %i needs a header name: %{...}i"},
		{true, `%{%Q}t`, "column 1: %{%Q}t: strftime %Q is not supported"},
		{true, `%{x}p`, "column 1: unknown Apache directive %{x}p"},
		{true, `%^tx`, "column 1: unknown Apache directive %^tx"},
		{true, `"%h" combined extra`, "column 5: text after the format"},
		{true, `%{Referer}i%{User-Agent}i`, "column 12: %{User-Agent}i directly follows %{Referer}i, so nothing tells where %{Referer}i ends"},
	} {
		compile, which := compileNginx, "compileNginx"
		if tt.apache {
			compile, which = compileApache, "compileApache"
		}
		_, err := compile(tt.spec)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s(%q) = %v, want %q", which, tt.spec, err, tt.want)
		}
	}
}

// TestCompileNames checks the names a compiled format has, which
// /api/status shows.
func TestCompileNames(t *testing.T) {
	for spec, want := range map[string]string{
		nginxCombined:            "nginx combined",
		`$remote_addr $status`:   "nginx",
		apacheVhost:              "apache vhost_combined",
		`%h %>s`:                 "apache",
		`LogFormat "%h %>s"`:     "apache",
		`'$remote_addr $status'`: "nginx",
	} {
		compile := compileNginx
		if strings.Contains(spec, "%") {
			compile = compileApache
		}
		p, err := compile(spec)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name() != want {
			t.Errorf("compile(%q).Name()=%q, want %q", spec, p.Name(), want)
		}
	}
}

// TestCompiledMismatch checks that a line that does not fit is refused,
// with the offset where it stopped.
func TestCompiledMismatch(t *testing.T) {
	for _, tt := range []struct {
		spec, line string
		at         int
	}{
		{nginxCombined, ``, 0},
		{nginxCombined, `garbage`, 0},
		{nginxCombined, `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 2000 1 "-" "-"`, 58},
		{nginxCombined, `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 x "-" "-"`, 62},
		{nginxCombined, `1.2.3.4 - - [31/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "-"`, 13},
		{nginxCombined, `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "cut`, 69},
		{nginxTimed, `1.2.3.4 - - [21/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1 "-" "-" 0.1 abc`, 76},
		{`{"a":"$status"}`, `{"b":"200"}`, 2},
		{apacheCombined, `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "cut \"`, 69},
		{`%{%d/%b/%Y}t %h`, `10/Foo/2000 ::1`, 3},
	} {
		compile := compileNginx
		if !strings.Contains(tt.spec, "$") {
			compile = compileApache
		}
		p, err := compile(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		var r record.Record
		if ok, at := p.Parse(&r, tt.line); ok || at != tt.at {
			t.Errorf("Parse(%q) by %q = %v, %d; want false, %d", tt.line, tt.spec, ok, at, tt.at)
		}
	}
}

// TestCompiledRealLogs reads the real logs with their formats compiled
// and checks each record against the hand-written parser's.
func TestCompiledRealLogs(t *testing.T) {
	for _, tt := range []struct {
		name, spec, log string
		nginx           bool
		misfits         []int // line numbers, from 1, that do not fit
		adjust          func(clf *record.Record)
	}{
		{"apache combined", apacheCombined, apacheLogFile, false,
			// The agent with no closing quote: Parse takes it to the end
			// of the line, a format does not fit it.
			[]int{8899}, func(*record.Record) {}},
		{"nginx combined and forwarded-for", nginxCombined[:len(nginxCombined)-2] + ` "$http_x_forwarded_for"';`,
			nginxLogFile, true, nil,
			func(r *record.Record) {
				// The format writes a literal '-' for the ident, and
				// names the last field.
				r.Ident = ""
				r.Fields = pairs("http_x_forwarded_for", strings.Trim(r.Extra, `"`))
				r.Extra = ""
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			compile := compileApache
			if tt.nginx {
				compile = compileNginx
			}
			p, err := compile(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			var misfits []int
			for n, line := range logLines(t, tt.log) {
				var got record.Record
				if ok, _ := p.Parse(&got, line); !ok {
					misfits = append(misfits, n+1)
					continue
				}
				var want record.Record
				if !parseLine(&want, line) {
					t.Fatalf("line %d: Parse does not parse it", n+1)
				}
				tt.adjust(&want)
				same(t, line, got, want)
			}
			if !reflect.DeepEqual(misfits, tt.misfits) {
				t.Fatalf("lines that do not fit: %v, want %v", misfits, tt.misfits)
			}
		})
	}
}

// TestCompiledAllocs checks that a Combined-like line costs no
// allocation, and a format with fields one.
func TestCompiledAllocs(t *testing.T) {
	const line = `203.0.113.9 - frank [21/Nov/2026:10:00:00 +0100] "GET /index.html?q=1 HTTP/1.1" 200 2326 "http://example.com/" "curl/8.5.0"`
	for _, tt := range []struct {
		spec, line string
		want       float64
	}{
		{nginxCombined, line, 0},
		{nginxTimed, line + ` 0.023 0.010, 0.020 : 0.005`, 0},
		{apacheCombined, line, 0},
		{apacheVhost, "example.com:443 " + line, 0},
		{`%h %l %u [%{%d/%b/%Y:%H:%M:%S}t.%{msec_frac}t %{%z}t] "%r" %>s %b`, `::1 - - [10/Oct/2000:13:55:36.123 -0700] "GET / HTTP/1.1" 200 5`, 0},
		{`$uri$is_args$args $status`, `/a?b 200`, 0},
		{`$remote_addr $status $request_id $ssl_protocol`, `::1 200 abc TLSv1.3`, 1},
	} {
		compile := compileNginx
		if strings.Contains(tt.spec, "%") {
			compile = compileApache
		}
		p, err := compile(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		var r record.Record
		if ok, at := p.Parse(&r, tt.line); !ok {
			t.Fatalf("Parse(%q) by %q stopped at %d", tt.line, tt.spec, at)
		}
		if got := testing.AllocsPerRun(100, func() { r = record.Record{}; p.Parse(&r, tt.line) }); got != tt.want {
			t.Errorf("Parse(%q) by %q allocates %v times, want %v", tt.line, tt.spec, got, tt.want)
		}
	}
}

// benchCompiled parses the real Apache log, its lines rewritten to fit
// spec by fit.
func benchCompiled(b *testing.B, compile func(string) (Parser, error), spec string, fit func(string) string) {
	p, err := compile(spec)
	if err != nil {
		b.Fatal(err)
	}
	var lines []string
	size := 0
	for _, l := range logLines(b, apacheLogFile) {
		l = fit(l)
		var r record.Record
		if ok, _ := p.Parse(&r, l); ok {
			lines = append(lines, l)
			size += len(l)
		}
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	n := 0
	var r record.Record
	for b.Loop() {
		r = record.Record{}
		p.Parse(&r, lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

func asIs(l string) string { return l }

func BenchmarkCompiledNginx(b *testing.B) {
	b.Run("combined", func(b *testing.B) { benchCompiled(b, compileNginx, nginxCombined, asIs) })
	b.Run("timed", func(b *testing.B) {
		benchCompiled(b, compileNginx, nginxTimed, func(l string) string { return l + " 0.023 0.010, 0.020 : 0.005" })
	})
}

func BenchmarkCompiledApache(b *testing.B) {
	b.Run("combined", func(b *testing.B) { benchCompiled(b, compileApache, apacheCombined, asIs) })
	b.Run("vhost_combined", func(b *testing.B) {
		benchCompiled(b, compileApache, apacheVhost, func(l string) string { return "www.example.com:443 " + l })
	})
}
