package transports_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// parseFilter runs ParseFilter on a query string as a URL carries it.
func parseFilter(tb testing.TB, query string) (*transports.Filter, error) {
	tb.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		tb.Fatalf("ParseQuery(%q)=%v", query, err)
	}
	return transports.ParseFilter(func(name string) []string { return v[name] })
}

// clfLine builds a Combined Log Format line.
func clfLine(host, method, path string, status int, agent string) string {
	return host + ` - - [21/Nov/2026:10:00:00 +0100] "` + method + " " + path + ` HTTP/1.1" ` +
		strconv.Itoa(status) + ` 512 "-" "` + agent + `"`
}

// filterRec parses l as the server would, as a record of source.
func filterRec(tb testing.TB, source, l string) *record.Record {
	tb.Helper()
	r := format.Parse(l)
	r.Seq, r.Source = 1, source
	return &r
}

// mustParse is filterRec for a line that must parse.
func mustParse(tb testing.TB, source, l string) *record.Record {
	tb.Helper()
	r := filterRec(tb, source, l)
	if !r.Parsed {
		tb.Fatalf("Parse(%q) did not parse", l)
	}
	return r
}

func TestParseFilterNoParameters(t *testing.T) {
	for _, q := range []string{"", "backlog=5", "since=3&limit=2&_=123"} {
		f, err := parseFilter(t, q)
		if err != nil || f != nil {
			t.Fatalf("ParseFilter(%q)=%v, %v; want nil, nil (other parameters are the caller's)", q, f, err)
		}
		r := &record.Record{Line: "anything"}
		if !f.Match(r) {
			t.Fatalf("a nil filter's Match()=false, want true")
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	cases := []struct {
		query string
		want  string // in the error
	}{
		{"status=abc", `bad status "abc"`},
		{"status=99", `bad status "99"`},
		{"status=1000", `bad status "1000"`},
		{"status=099", `bad status "099"`},
		{"status=600-500", `bad status "600-500"`},
		{"status=200-", `bad status "200-"`},
		{"status=-200", `bad status "-200"`},
		{"status=2xx-3xx", `bad status "2xx-3xx"`},
		{"status=0xx", `bad status "0xx"`},
		{"status=5x", `bad status "5x"`},
		{"status=x04", `bad status "x04"`},
		{"status=5xX", `bad status "5xX"`},
		{"status=%2B40", `bad status "+40"`},
		// Only 100-599 are HTTP status codes: the rest would match nothing.
		{"status=6xx", `bad status "6xx"`},
		{"status=9xx", `bad status "9xx"`},
		{"status=999", `bad status "999"`},
		{"status=600", `bad status "600"`},
		{"status=599-600", `bad status "599-600"`},
		{"status=100-999", `bad status "100-999"`},
		{"status=404,6xx", `bad status "6xx"`},
		{"path=api", `bad path "api": want a prefix starting with /`},
		{"path=api/v1", `bad path "api/v1"`},
		{"path=/api&path=%20/x", `bad path " /x"`},
		{"path=*", `bad path "*"`},
		{"status=", "status has an empty value"},
		{"status=404,", "status has an empty value"},
		{"status=404,,500", "status has an empty value"},
		{"status=404&status=abc", `bad status "abc"`},
		{"method=G3T", `bad method "G3T"`},
		{"method=GE%20T", `bad method "GE T"`},
		{"method=GET,P-ST", `bad method "P-ST"`},
		{"method=", "method has an empty value"},
		{"host=1.2.3.4/99", `bad host "1.2.3.4/99"`},
		{"host=2001:db8::/129", `bad host "2001:db8::/129"`},
		{"host=foo/bar", `bad host "foo/bar"`},
		{"host=", "host has an empty value"},
		{"vhost=", "vhost has an empty value"},
		{"vhost=example.com,,a.org", "vhost has an empty value"},
		{"vhost=exa%20mple.com", `bad vhost "exa mple.com": want a host name or address, optionally with :port`},
		{"vhost=example.com/", `bad vhost "example.com/"`},
		{"vhost=*.example.com", `bad vhost "*.example.com"`},
		{"vhost=example.com:", `bad vhost "example.com:"`},
		{"vhost=example.com:0", `bad vhost "example.com:0"`},
		{"vhost=example.com:0443", `bad vhost "example.com:0443"`},
		{"vhost=example.com:%2B443", `bad vhost "example.com:+443"`},
		{"vhost=example.com:65536", `bad vhost "example.com:65536"`},
		{"vhost=example.com:https", `bad vhost "example.com:https"`},
		{"vhost=:443", `bad vhost ":443"`},
		{"vhost=a:1:2", `bad vhost "a:1:2"`},
		{"vhost=[example.com]:443", `bad vhost "[example.com]:443"`},
		{"vhost=[2001:db8::1]x", `bad vhost "[2001:db8::1]x"`},
		{"vhost=[2001:db8::1]:", `bad vhost "[2001:db8::1]:"`},
		{"vhost=[1.2.3.4]:80", `bad vhost "[1.2.3.4]:80"`},
		{"vhost=%C3%BCber.de", `bad vhost "über.de"`},
		{"source=", "source has an empty value"},
		{"source=a.log,", "source has an empty value"},
		{"node=", "node has an empty value"},
		{"node=web-1,,web-2", "node has an empty value"},
		{"node=web-1&node=", "node has an empty value"},
		{"min_duration=", `bad min_duration ""`},
		{"min_duration=250", `bad min_duration "250": want a duration such as 250ms, 1.5s or 2m`},
		{"min_duration=1d", `bad min_duration "1d"`},
		{"min_duration=fast", `bad min_duration "fast"`},
		{"min_duration=-1s", `bad min_duration "-1s": want 0 or more`},
		{"min_duration=-0.5ms", `bad min_duration "-0.5ms": want 0 or more`},
		{"min_duration=250ms,1s", `bad min_duration "250ms,1s"`},
		{"min_duration=99999999h", `bad min_duration "99999999h"`},
		{"min_duration=1s&min_duration=2s", "min_duration is given twice"},
		{"path=", "path is empty"},
		{"q=", "q is empty"},
		{"q=a&q=b", "q is given twice"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			f, err := parseFilter(t, c.query)
			if err == nil {
				t.Fatalf("ParseFilter(%q)=%v, nil; want an error with %q", c.query, f, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseFilter(%q) error %q, want it to say %q", c.query, err, c.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseFilter(%q) error %q: want one line (it is a 400's body)", c.query, err)
			}
		})
	}
}

// The bounds of what one parameter may list, counted over its comma lists
// and repeats together; the bound itself is accepted.
func TestParseFilterBounds(t *testing.T) {
	list := func(n int, item func(i int) string) string {
		var v []string
		for i := range n {
			v = append(v, item(i))
		}
		return strings.Join(v, ",")
	}
	repeat := func(name string, n int, item func(i int) string) string {
		var v []string
		for i := range n {
			v = append(v, name+"="+url.QueryEscape(item(i)))
		}
		return strings.Join(v, "&")
	}
	host := func(i int) string { return "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + "/32" }
	code := func(i int) string { return strconv.Itoa(100 + i) }
	path := func(i int) string { return "/p" + strconv.Itoa(i) }
	bound := transports.MaxFilterValues
	for _, c := range []struct {
		query string
		want  string // "" when accepted
	}{
		{"host=" + list(bound, host), ""},
		{"host=" + list(bound+1, host), "host has 65 values, more than the 64 allowed"},
		{"host=" + list(3400, host), "host has 3400 values, more than the 64 allowed"},
		{repeat("host", bound+1, host), "host has 65 values"},
		{"host=" + list(bound/2, host) + "&" + repeat("host", bound/2, host), ""},
		{"host=" + list(bound/2, host) + "&" + repeat("host", bound/2+1, host), "host has 65 values"},
		{"status=" + list(bound, code), ""},
		{"status=" + list(bound+1, code), "status has 65 values"},
		{"method=" + strings.Repeat("GET,", bound-1) + "GET", ""},
		{"method=" + strings.Repeat("GET,", bound) + "GET", "method has 65 values"},
		{repeat("path", bound, path), ""},
		{repeat("path", bound+1, path), "path has 65 values"},
		{"source=" + list(bound+1, path), "source has 65 values"},
		{"node=" + list(bound+1, path), "node has 65 values"},
		// Counted before any value is read: a bad value past the bound
		// is not what the error names.
		{"host=" + list(bound, host) + ",x/y", "host has 65 values"},
	} {
		name := c.query
		if len(name) > 60 {
			name = name[:60] + "..."
		}
		t.Run(name, func(t *testing.T) {
			f, err := parseFilter(t, c.query)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("ParseFilter()=%v, want it accepted", err)
			case c.want == "" && f == nil:
				t.Fatal("ParseFilter()=nil, want a filter")
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("ParseFilter()=%v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	const src = "access.log"
	ok200 := mustParse(t, src, clfLine("203.0.113.5", "GET", "/index.html", 200, "curl/8.5.0"))
	nf404 := mustParse(t, src, clfLine("203.0.113.9", "GET", "/missing", 404, "Mozilla/5.0"))
	post201 := mustParse(t, src, clfLine("198.51.100.7", "POST", "/api/items", 201, "Go-http-client/1.1"))
	err500 := mustParse(t, src, clfLine("2001:db8::1", "PUT", "/api/items/1", 500, "curl/8.5.0"))
	err503 := mustParse(t, src, clfLine("2001:db9::1", "DELETE", "/apix", 503, "python-requests/2.31"))
	redir301 := mustParse(t, src, clfLine("::ffff:203.0.113.77", "HEAD", "/old", 301, "Wget/1.21"))
	xff := mustParse(t, src, clfLine("10.0.0.1, 203.0.113.5", "GET", "/xff", 200, "curl/8.5.0"))
	named := mustParse(t, src, clfLine("proxy.example.com", "GET", "/named", 200, "curl/8.5.0"))
	other := mustParse(t, "other.log", clfLine("192.0.2.1", "GET", "/api/other", 404, "CURL/7.0"))
	raw := filterRec(t, src, "GET /api garbage 404 from 203.0.113.5 with CURL inside")
	otherRaw := filterRec(t, "other.log", "\x00 not a log line")
	if raw.Parsed || otherRaw.Parsed {
		t.Fatal("the raw lines parsed; the test needs unparsed records")
	}
	if xff.Host != "10.0.0.1, 203.0.113.5" {
		t.Fatalf("Parse of an X-Forwarded-For line: Host=%q, want the list as logged", xff.Host)
	}
	all := map[string]*record.Record{
		"ok200": ok200, "nf404": nf404, "post201": post201, "err500": err500, "err503": err503,
		"redir301": redir301, "xff": xff, "named": named, "other": other, "raw": raw, "otherRaw": otherRaw,
	}

	cases := []struct {
		query string
		want  []string // the records that match; every other one must not
	}{
		// status: one code, a class, a range, lists, repeats.
		{"status=404", []string{"nf404", "other"}},
		{"status=5xx", []string{"err500", "err503"}},
		{"status=5XX", []string{"err500", "err503"}},
		{"status=200-299", []string{"ok200", "post201", "xff", "named"}},
		{"status=404,500", []string{"nf404", "other", "err500"}},
		{"status=%20404%20,%20500", []string{"nf404", "other", "err500"}},
		{"status=404&status=500", []string{"nf404", "other", "err500"}},
		{"status=3xx,500-502", []string{"redir301", "err500"}},
		{"status=100-599", []string{"ok200", "nf404", "post201", "err500", "err503", "redir301", "xff", "named", "other"}},
		// method: case-insensitive, lists.
		{"method=POST", []string{"post201"}},
		{"method=post", []string{"post201"}},
		{"method=POST,PUT", []string{"post201", "err500"}},
		{"method=DELETE&method=HEAD", []string{"err503", "redir301"}},
		// path: a prefix, not a path segment.
		{"path=/api", []string{"post201", "err500", "err503", "other"}},
		{"path=/api/", []string{"post201", "err500", "other"}},
		{"path=/api/items", []string{"post201", "err500"}},
		{"path=/old&path=/xff", []string{"redir301", "xff"}},
		{"path=/a,b", nil}, // a comma is part of a path, not a list
		// host: an address, a CIDR, IPv6, IPv4-mapped, X-Forwarded-For lists, names.
		{"host=203.0.113.0/24", []string{"ok200", "nf404", "redir301", "xff"}},
		{"host=203.0.113.5", []string{"ok200", "xff"}},
		{"host=203.0.113.5/24", []string{"ok200", "nf404", "redir301", "xff"}}, // host bits are ignored
		{"host=203.0.113.77", []string{"redir301"}},                            // a mapped client is its IPv4 address
		{"host=::ffff:203.0.113.77", []string{"redir301"}},
		{"host=::ffff:203.0.113.0/120", []string{"ok200", "nf404", "redir301", "xff"}},
		{"host=2001:db8::/32", []string{"err500"}},
		{"host=2001:db8::1", []string{"err500"}},
		{"host=2001:DB8:0::1", []string{"err500"}},
		{"host=10.0.0.0/8", []string{"xff"}},
		{"host=10.0.0.1", []string{"xff"}},
		{"host=192.0.2.1,2001:db9::/32", []string{"other", "err503"}},
		{"host=proxy.example.com", []string{"named"}},
		{"host=0.0.0.0/0", []string{"ok200", "nf404", "post201", "redir301", "xff", "other"}},
		// source: exact names.
		{"source=other.log", []string{"other", "otherRaw"}},
		{"source=access.log,other.log", []string{"ok200", "nf404", "post201", "err500", "err503", "redir301", "xff", "named", "raw", "other", "otherRaw"}},
		{"source=access", nil},
		// q: a case-insensitive substring of the raw line, parsed or not.
		{"q=curl", []string{"ok200", "err500", "xff", "named", "other", "raw"}},
		{"q=CURL/8", []string{"ok200", "err500", "xff", "named"}},
		{"q=mozilla", []string{"nf404"}},
		{"q=garbage", []string{"raw"}},
		{"q=%00", []string{"otherRaw"}},
		{"q=21/nov/2026", []string{"ok200", "nf404", "post201", "err500", "err503", "redir301", "xff", "named", "other"}},
		// Unparsed lines pass no filter that needs a parsed field, even one
		// whose text they contain.
		{"status=404&source=access.log", []string{"nf404"}},
		{"method=GET&q=garbage", nil},
		{"host=203.0.113.5&q=garbage", nil},
		{"path=/api&q=garbage", nil},
		// Combinations are ANDed.
		{"status=4xx&q=curl", []string{"other"}},
		{"status=5xx&method=PUT", []string{"err500"}},
		{"path=/api&status=2xx", []string{"post201"}},
		{"host=203.0.113.0/24&status=200&path=/x", []string{"xff"}},
		{"source=other.log&q=curl", []string{"other"}},
		{"status=404&method=POST", nil},
		{"status=200&method=GET&path=/&host=203.0.113.0/24&source=access.log&q=CURL", []string{"ok200", "xff"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			f, err := parseFilter(t, c.query)
			if err != nil || f == nil {
				t.Fatalf("ParseFilter(%q)=%v, %v; want a filter", c.query, f, err)
			}
			want := map[string]bool{}
			for _, name := range c.want {
				if all[name] == nil {
					t.Fatalf("bad test: no record %q", name)
				}
				want[name] = true
			}
			for name, r := range all {
				if got := f.Match(r); got != want[name] {
					t.Errorf("ParseFilter(%q).Match(%s: %q)=%v, want %v", c.query, name, r.Line, got, want[name])
				}
			}
		})
	}
}

// node= selects records by the node that published them: exact names, a
// comma list or repeats as OR, ANDed with the other filters; a record read
// from a local log (no node) passes no node filter, and one that did not
// parse passes it like source=.
// A Combined line that starts with an X-Forwarded-For list is found by
// its client address and by any address of the list.
func TestFilterMatchForwardedFor(t *testing.T) {
	r := mustParse(t, "access.log", clfLine(`"198.18.0.9, 203.0.113.5" 10.2.1.185`, "GET", "/", 200, "curl/8.5.0"))
	plain := mustParse(t, "access.log", clfLine("10.2.1.186", "GET", "/", 200, "curl/8.5.0"))
	for _, c := range []struct {
		query       string
		want, plain bool
	}{
		{"host=10.2.1.185", true, false},
		{"host=198.18.0.9", true, false},
		{"host=203.0.113.0/24", true, false},
		{"host=10.2.1.0/24", true, true},
		{"host=192.0.2.1", false, false},
	} {
		f, err := parseFilter(t, c.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(r); got != c.want {
			t.Errorf("%s: Match(%q)=%v, want %v", c.query, r.Line, got, c.want)
		}
		if got := f.Match(plain); got != c.plain {
			t.Errorf("%s: Match(%q)=%v, want %v", c.query, plain.Line, got, c.plain)
		}
	}
}

func TestFilterMatchNode(t *testing.T) {
	line := clfLine("203.0.113.5", "GET", "/x", 200, "curl/8.5.0")
	withNode := func(node, source, l string) *record.Record {
		r := filterRec(t, source, l)
		r.Node = node
		return r
	}
	all := map[string]*record.Record{
		"local":  withNode("", "access.log", line),
		"a":      withNode("a", "access.log", line),
		"a404":   withNode("a", "access.log", clfLine("203.0.113.5", "GET", "/x", 404, "curl/8.5.0")),
		"b":      withNode("b", "access.log", line),
		"bShop":  withNode("b", "shop.log", line),
		"aRaw":   withNode("a", "access.log", "not a log line"),
		"web.1":  withNode("web.1", "access.log", line), // as written: no subject mangling
		"Upper":  withNode("A", "access.log", line),
		"spaced": withNode(" a", "access.log", line),
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"node=a", []string{"a", "a404", "aRaw"}},
		{"node=b", []string{"b", "bShop"}},
		{"node=a,b", []string{"a", "a404", "aRaw", "b", "bShop"}},
		{"node=a&node=b", []string{"a", "a404", "aRaw", "b", "bShop"}},
		{"node=%20a%20,%20b", []string{"a", "a404", "aRaw", "b", "bShop"}}, // list items are trimmed, like the others'
		{"node=web.1", []string{"web.1"}},
		{"node=web_1", nil}, // exact, not the NATS subject token
		{"node=A", []string{"Upper"}},
		{"node=c", nil},
		{"node=a&status=404", []string{"a404"}},
		{"node=a&q=not+a+log", []string{"aRaw"}},
		{"node=b&source=shop.log", []string{"bShop"}},
		{"node=a&source=shop.log", nil},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) { checkMatches(t, c.query, "node", all, c.want) })
	}
}

// vhost= compares the host part of a record's virtual host without regard
// to case, and its port too when the value names one; a record without a
// virtual host passes no vhost= filter.
func TestFilterMatchVHost(t *testing.T) {
	line := clfLine("203.0.113.5", "GET", "/x", 200, "curl/8.5.0")
	withVHost := func(vhost string) *record.Record {
		r := mustParse(t, "access.log", line)
		r.VHost = vhost
		return r
	}
	all := map[string]*record.Record{
		"none":     withVHost(""),
		"ex443":    withVHost("example.com:443"),
		"ex80":     withVHost("Example.COM:80"),
		"exBare":   withVHost("example.com"),
		"longer":   withVHost("example.community:443"),
		"sub":      withVHost("www.example.com:443"),
		"v4":       withVHost("192.0.2.1:8080"),
		"v6":       withVHost("[2001:db8::1]:443"),
		"v6Bare":   withVHost("2001:db8::1"),
		"odd":      withVHost("[2001:db8::1]x"),
		"raw":      filterRec(t, "access.log", "example.com:443 not a log line"),
		"rawVHost": func() *record.Record { r := filterRec(t, "access.log", "x"); r.VHost = "example.com:443"; return r }(),
	}
	if all["raw"].Parsed {
		t.Fatal("the raw line parsed; the test needs an unparsed record")
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"vhost=example.com", []string{"ex443", "ex80", "exBare", "rawVHost"}},
		{"vhost=EXAMPLE.com", []string{"ex443", "ex80", "exBare", "rawVHost"}},
		{"vhost=example.com:443", []string{"ex443", "rawVHost"}},
		{"vhost=example.com:80", []string{"ex80"}},
		{"vhost=example.com:8443", nil},
		{"vhost=example.com:443,example.com:80", []string{"ex443", "ex80", "rawVHost"}},
		{"vhost=example.com:443&vhost=www.example.com", []string{"ex443", "sub", "rawVHost"}},
		{"vhost=%20example.com%20,%20sub.example.com", []string{"ex443", "ex80", "exBare", "rawVHost"}},
		{"vhost=example", nil},
		{"vhost=192.0.2.1", []string{"v4"}},
		{"vhost=192.0.2.1:8080", []string{"v4"}},
		{"vhost=2001:DB8::1", []string{"v6", "v6Bare"}},
		{"vhost=[2001:db8::1]", []string{"v6", "v6Bare"}},
		{"vhost=[2001:db8::1]:443", []string{"v6"}},
		{"vhost=example.com&status=200", []string{"ex443", "ex80", "exBare"}},
		{"vhost=example.com&status=404", nil},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) { checkMatches(t, c.query, "vhost", all, c.want) })
	}
}

// min_duration= passes records whose duration is at least the value;
// records without a duration (the line does not say, or it did not parse)
// pass none, and a duration of 0 passes min_duration=0s.
func TestFilterMatchMinDuration(t *testing.T) {
	line := clfLine("203.0.113.5", "GET", "/x", 200, "curl/8.5.0")
	took := func(d record.Duration) *record.Record {
		r := mustParse(t, "access.log", line)
		r.Duration = d
		return r
	}
	all := map[string]*record.Record{
		"none":    took(record.Duration{}),
		"zero":    took(record.Took(0)),
		"1ms":     took(record.Took(time.Millisecond)),
		"249.9ms": took(record.Took(249_900 * time.Microsecond)),
		"250ms":   took(record.Took(250 * time.Millisecond)),
		"2s":      took(record.Took(2 * time.Second)),
		"1h":      took(record.Took(time.Hour)),
		"raw":     filterRec(t, "access.log", "not a log line 5s"),
		"rawTook": func() *record.Record {
			r := filterRec(t, "access.log", "x")
			r.Duration = record.Took(time.Hour)
			return r
		}(),
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"min_duration=0s", []string{"zero", "1ms", "249.9ms", "250ms", "2s", "1h", "rawTook"}},
		{"min_duration=0", []string{"zero", "1ms", "249.9ms", "250ms", "2s", "1h", "rawTook"}},
		{"min_duration=250ms", []string{"250ms", "2s", "1h", "rawTook"}},
		{"min_duration=0.25s", []string{"250ms", "2s", "1h", "rawTook"}},
		{"min_duration=%20250ms%20", []string{"250ms", "2s", "1h", "rawTook"}},
		{"min_duration=249900us", []string{"249.9ms", "250ms", "2s", "1h", "rawTook"}},
		{"min_duration=1m30s", []string{"1h", "rawTook"}},
		{"min_duration=2h", nil},
		{"min_duration=1s&status=200", []string{"2s", "1h"}},
		{"min_duration=1s&status=404", nil},
	} {
		t.Run(c.query, func(t *testing.T) { checkMatches(t, c.query, "min_duration", all, c.want) })
	}
	if all["raw"].Parsed {
		t.Fatal("the raw line parsed; the test needs an unparsed record")
	}
}

// A non-ASCII q takes the slow path; it must agree with the fast one.
func TestFilterMatchUnicodeQ(t *testing.T) {
	cases := []struct {
		q, line string
		want    bool
	}{
		{"ÜBER", "GET /über-uns", true},
		{"über", "GET /ÜBER-UNS", true},
		{"straße", "GET /STRASSE", false}, // no full case folding
		{"日本", "GET /日本語", true},
		{"日本", "GET /中文", false},
		{"curl", "naïve CURL line", true},
		{"ïve c", "NAÏVE CURL LINE", true},
		{"\uFFFD", "invalid \xff byte", true},
	}
	for _, c := range cases {
		t.Run(c.q+"/"+c.line, func(t *testing.T) {
			f, err := parseFilter(t, "q="+url.QueryEscape(c.q))
			if err != nil {
				t.Fatal(err)
			}
			r := &record.Record{Line: c.line}
			if got := f.Match(r); got != c.want {
				t.Fatalf("q=%q Match(%q)=%v, want %v", c.q, c.line, got, c.want)
			}
		})
	}
}

func FuzzFilter(f *testing.F) {
	for _, q := range []string{
		"status=404", "status=5xx,200-299", "method=get,POST", "path=/api", "host=203.0.113.0/24",
		"host=::ffff:10.0.0.0/104", "host=2001:db8::1%25eth0", "source=a.log", "node=web-1,web-2", "q=CuRl",
		"q=%C3%9Cber", "status=404&method=GET&q=x&host=10.0.0.1&path=/&source=s", "host=a,b,%20c",
		"status=999-100", "q=%FF", "status=6xx", "status=999", "status=99", "path=api", "status=100-599",
		"status= 5xx , 404", "path=/a&path=/b&q=x",
		"vhost=example.com", "vhost=EXAMPLE.com:443,other.org", "vhost=%5B2001:db8::1%5D:443", "vhost=2001:db8::1",
		"vhost=example.com:0443", "vhost=example.com:", "vhost=a%20b", "vhost=x&vhost=y:80&status=200",
		"min_duration=250ms", "min_duration=0s", "min_duration=0", "min_duration=-1s", "min_duration=1.5", "min_duration=1h&status=200",
		"min_duration=0.1s&min_duration=1s", "min_duration=9223372036854775807ns", "min_duration=1e3s",
	} {
		f.Add(q, clfLine("203.0.113.5", "GET", "/api/x", 404, "curl/8.5.0"))
		f.Add(q, "10.0.0.1, ::ffff:203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] \"GET / HTTP/1.1\" 500 1 \"-\" \"x\"")
		f.Add(q, "\xff\x00 garbage Über")
		f.Add(q, "example.com:443 203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"")
		f.Add(q, "[2001:DB8::1]:443 203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\"")
		f.Add(q, "203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\" 0.250")
		f.Add(q, "203.0.113.9 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 12 \"-\" \"curl/8\" 0")
	}
	f.Fuzz(func(t *testing.T, query, l string) {
		v, _ := url.ParseQuery(query) // a partial result is still input
		flt, err := transports.ParseFilter(func(name string) []string { return v[name] })
		if err != nil {
			if flt != nil {
				t.Fatalf("ParseFilter(%q)=%v with error %v, want nil", query, flt, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") && !strings.ContainsAny(query, "\r\n") && !strings.Contains(query, "%0") {
				t.Fatalf("ParseFilter(%q) error %q is not one line", query, err)
			}
			return
		}
		p := format.Parse(l)
		p.Source = "s"
		// A trailing number of seconds (nginx's $request_time) is the
		// duration, as the formats that name it will read it.
		if d, err := time.ParseDuration(p.Extra + "s"); p.Parsed && err == nil {
			p.Duration = record.Took(d)
		}
		u := &record.Record{Source: "s", Line: l}
		mp, mu := flt.Match(&p), flt.Match(u)
		if flt == nil && !(mp && mu) {
			t.Fatalf("nil filter rejected a record")
		}
		// An accepted filter reads back from its own query form as the
		// same filter: the same form, the same matches.
		if flt != nil {
			back, err := parseFilter(t, flt.String())
			if err != nil || back.String() != flt.String() {
				t.Fatalf("ParseFilter(%q) reads back from %q as %v, %v", query, flt.String(), back, err)
			}
			if back.Match(&p) != mp || back.Match(u) != mu {
				t.Fatalf("ParseFilter(%q) read back from %q matches otherwise", query, flt.String())
			}
		}
		// What is accepted can match: every status value names some code
		// of 100-599, every path starts with '/'.
		for _, raw := range v["status"] {
			for _, s := range strings.Split(raw, ",") {
				one, _ := parseFilter(t, "status="+url.QueryEscape(s))
				some := false
				for code := 100; code <= 599 && !some; code++ {
					some = one.Match(&record.Record{Parsed: true, Status: code})
				}
				if !some || one.Match(&record.Record{Parsed: true, Status: 99}) || one.Match(&record.Record{Parsed: true, Status: 600}) {
					t.Fatalf("status=%q is accepted but does not name codes of 100-599", s)
				}
			}
		}
		for _, path := range v["path"] {
			if !strings.HasPrefix(path, "/") {
				t.Fatalf("path=%q is accepted without a leading /", path)
			}
		}
		// With only q, Match is a case-insensitive substring test.
		if qs := v["q"]; len(v) == 1 && len(qs) == 1 && utf8.ValidString(l) && utf8.ValidString(qs[0]) {
			want := strings.Contains(strings.ToLower(l), strings.ToLower(qs[0]))
			if isASCII(qs[0]) {
				want = strings.Contains(asciiLower(l), strings.ToLower(qs[0]))
			}
			if mu != want || mp != want {
				t.Fatalf("q=%q on %q: Match()=%v (parsed %v), want %v", qs[0], l, mu, mp, want)
			}
		}
		// A vhost= value with a port matches no more than its host alone.
		if len(v["vhost"]) > 0 && len(v) == 1 && mp {
			hostOnly := url.Values{}
			for _, raw := range v["vhost"] {
				for _, s := range strings.Split(raw, ",") {
					s = strings.TrimSpace(s)
					if h, _, ok := strings.Cut(strings.TrimPrefix(s, "["), "]"); ok {
						s = h
					} else if strings.Count(s, ":") == 1 {
						s, _, _ = strings.Cut(s, ":")
					}
					hostOnly.Add("vhost", s)
				}
			}
			if wide, err := parseFilter(t, hostOnly.Encode()); err != nil || !wide.Match(&p) {
				t.Fatalf("%q matches %q but its hosts alone %q do not (%v)", query, l, hostOnly.Encode(), err)
			}
		}
		// With only min_duration, Match compares the record's duration.
		if ms := v["min_duration"]; len(v) == 1 && len(ms) == 1 {
			min, err := time.ParseDuration(strings.TrimSpace(ms[0]))
			if err != nil || min < 0 {
				t.Fatalf("min_duration=%q is accepted but is not a duration of 0 or more: %v", ms[0], err)
			}
			if want := p.Duration.Set && p.Duration.D >= min; mp != want {
				t.Fatalf("min_duration=%q on %q (duration %v): Match()=%v, want %v", ms[0], l, p.Duration, mp, want)
			}
		}
		// An unparsed record passes only filters of source and q.
		for _, name := range []string{"status", "method", "path", "host", "vhost", "min_duration"} {
			if len(v[name]) > 0 && mu {
				t.Fatalf("filter %q matched an unparsed record %q", query, l)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// cidrs is a comma list of n IPv4 /24s.
func cidrs(n int) string {
	var v []string
	for i := range n {
		v = append(v, "10."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256)+".0/24")
	}
	return strings.Join(v, ",")
}

// BenchmarkFilterMatch runs typical filters over the real Apache log: the
// cost each filtered subscriber adds per record.
func BenchmarkFilterMatch(b *testing.B) {
	recs := parseLog(b, apacheLog)
	for _, q := range []string{
		"status=5xx",
		"status=404,500-599&method=GET,POST",
		"path=/images",
		"host=192.168.0.0/16,10.0.0.0/8",
		"q=mozilla",
		"q=%C3%BCber",
		"status=200&method=GET&path=/&q=firefox",
		// The most a host= list may hold (MaxFilterValues), none matching.
		"host=" + cidrs(transports.MaxFilterValues),
	} {
		name := q
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		b.Run(name, func(b *testing.B) {
			f, err := parseFilter(b, q)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n, matched := 0, 0
			for b.Loop() {
				for _, r := range recs {
					if f.Match(r) {
						matched++
					}
				}
				n += len(recs)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			if matched < 0 {
				b.Fatal("unreachable")
			}
		})
	}
}

// checkMatches parses query, checks that it matches exactly the records of
// all named in want, and that its query form keeps param.
func checkMatches(t *testing.T, query, param string, all map[string]*record.Record, want []string) {
	t.Helper()
	f, err := parseFilter(t, query)
	if err != nil || f == nil {
		t.Fatalf("ParseFilter(%q)=%v, %v; want a filter", query, f, err)
	}
	wanted := map[string]bool{}
	for _, name := range want {
		wanted[name] = true
	}
	for name, r := range all {
		if got := f.Match(r); got != wanted[name] {
			t.Errorf("ParseFilter(%q).Match(%s: %+v)=%v, want %v", query, name, *r, got, wanted[name])
		}
	}
	if got := f.String(); !strings.Contains(got, param+"=") {
		t.Errorf("ParseFilter(%q).String()=%q, want the %s in it", query, got, param)
	}
}
