package format

import (
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// iisLine is a line in IIS's default field list.
const iisLine = `2024-01-02 00:00:01 10.0.0.4 GET /index.html q=1&r=2 443 - 203.0.113.9 ` +
	`Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) https://example.com/ 200 0 0 46`

func TestW3C(t *testing.T) {
	p := newW3C()
	day := func(h, m, s, ns int) time.Time { return time.Date(2024, 1, 2, h, m, s, ns, time.UTC) }
	steps := []struct {
		line string
		want record.Record
	}{
		// Before any #Fields: IIS's default list.
		{iisLine, record.Record{
			Time: day(0, 0, 1, 0), Host: "203.0.113.9", Method: "GET", Path: "/index.html?q=1&r=2", Status: 200,
			Duration: record.Took(46 * time.Millisecond), Referer: "https://example.com/",
			Agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
			Fields: []record.Pair{
				{Name: "s-ip", Value: "10.0.0.4"}, {Name: "s-port", Value: "443"},
				{Name: "sc-substatus", Value: "0"}, {Name: "sc-win32-status", Value: "0"},
			},
		}},
		// Directives are no requests: Parse says Directive.
		{"#Software: Microsoft Internet Information Services 10.0", record.Record{}},
		{"#Version: 1.0", record.Record{}},
		{"#Date: 2024-01-02 00:00:00", record.Record{}},
		// A #Fields of more fields, in another order, without the date.
		{"#Fields: time c-ip cs-username cs-method cs-uri-stem cs-uri-query cs-version cs-host sc-status sc-bytes cs-bytes time-taken cs(Cookie) X-Forwarded-For\r", record.Record{}},
		{`13:55:36.25 2001:db8::1 DOMAIN\alice POST /api/x - HTTP/1.1 www.example.com 201 1234 99 0 a=1;+b=2 198.51.100.2` + "\r",
			record.Record{
				Time: day(13, 55, 36, 250e6), Host: "2001:db8::1", User: `DOMAIN\alice`, Method: "POST", Path: "/api/x",
				Proto: "HTTP/1.1", VHost: "www.example.com", Status: 201, Bytes: 1234, Duration: record.Took(0),
				Fields: []record.Pair{
					{Name: "cs-bytes", Value: "99"}, {Name: "cs(Cookie)", Value: "a=1; b=2"},
					{Name: "X-Forwarded-For", Value: "198.51.100.2"},
				},
			}},
		// W3C's quoted strings.
		{"#Fields: date time c-ip cs(User-Agent) sc-status", record.Record{}},
		{`2024-01-02 10:00:00 ::1 "say ""hi"" +1" 304`, record.Record{
			Time: day(10, 0, 0, 0), Host: "::1", Agent: `say "hi"  1`, Status: 304}},
		{`2024-01-02 10:00:01 ::1 "" 304`, record.Record{Time: day(10, 0, 1, 0), Host: "::1", Status: 304}},
	}
	for _, st := range steps {
		if strings.HasPrefix(st.line, "#") {
			var r record.Record
			if ok, at := p.Parse(&r, st.line); ok || at != Directive {
				t.Errorf("Parse(%q)=%v,%d, want false,Directive", st.line, ok, at)
			}
			continue
		}
		checkParse(t, p, st.line, st.want)
	}
}

func TestW3CNoFit(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   int
	}{
		{"", 0},
		{strings.Replace(iisLine, " 200 ", " 2000 ", 1), strings.Index(iisLine, " 200 ") + 1},
		{strings.Replace(iisLine, " 200 ", " 099 ", 1), strings.Index(iisLine, " 200 ") + 1},
		{strings.Replace(iisLine, "2024-01-02", "2024-02-30", 1), 0},
		{strings.Replace(iisLine, "00:00:01", "24:00:01", 1), 11},
		{strings.Replace(iisLine, " 46", " 4.6.", 1), len(iisLine) - 2},
		{iisLine + " extra", len(iisLine)},
		{strings.TrimSuffix(iisLine, " 46"), len(iisLine) - 3},
		{strings.Replace(iisLine, " ", "  ", 1), 11},
		{`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`, 0},
	} {
		checkNoParse(t, newW3C(), tc.line, tc.at)
	}
	// An unterminated quoted string.
	p := newW3C()
	p.Parse(&record.Record{}, "#Fields: c-ip cs(User-Agent) sc-status")
	checkNoParse(t, p, `::1 "open 200`, 4)
}

func TestW3CAllocs(t *testing.T) {
	p := newW3C()
	// No query and no '+' to decode: no allocation of its own.
	line := strings.Replace(strings.Replace(iisLine, "q=1&r=2", "-", 1), "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)", "curl/8.5.0", 1)
	var r record.Record
	n := testing.AllocsPerRun(100, func() {
		r = record.Record{}
		if ok, at := p.Parse(&r, line); !ok {
			t.Fatalf("stopped at %d", at)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
}

func FuzzW3C(f *testing.F) {
	f.Add(iisLine)
	f.Add(strings.Join(sampleLines(f, "iis-w3c.log")[:30], "\n"))
	f.Add("#Fields: time c-ip cs-username cs-method cs-uri-stem cs-uri-query cs-version cs-host sc-status sc-bytes time-taken\n" +
		`13:55:36.25 2001:db8::1 DOMAIN\alice POST /api/x - HTTP/1.1 www.example.com 201 1234 0`)
	f.Add("#Date: 2024-01-02 00:00:00\n#Fields: time c-ip cs(User-Agent) sc-status\n" + `10:00:00 ::1 "say ""hi"" +1" 304`)
	f.Fuzz(func(t *testing.T, lines string) {
		// Lines share one Parser, so that #Fields reaches the next.
		p := newW3C()
		for _, line := range strings.Split(lines, "\n") {
			fuzzParser(t, p, line)
		}
	})
}

func BenchmarkW3C(b *testing.B) {
	benchParser(b, newW3C(), []string{iisLine})
}

// cloudFrontLine is a line in CloudFront's field list.
var cloudFrontLine = strings.Join([]string{
	"2024-01-02", "21:02:31", "LAX1", "392", "192.0.2.100", "GET", "d111111abcdef8.cloudfront.net", "/index.html", "200",
	"https://www.example.com/a%20b", "Mozilla/5.0%2520(Windows%2520NT%252010.0)", "x=1", "session=a%3Bb", "Hit",
	"SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==", "www.example.com", "https", "23", "0.001", "-",
	"TLSv1.3", "TLS_AES_128_GCM_SHA256", "Hit", "HTTP/2.0", "-", "-", "11040", "0.001", "Hit", "text/html", "78", "-", "-",
}, "\t")

func TestCloudFront(t *testing.T) {
	p := newCloudFront()
	checkParse(t, p, cloudFrontLine, record.Record{
		Time: time.Date(2024, 1, 2, 21, 2, 31, 0, time.UTC), VHost: "www.example.com", Host: "192.0.2.100",
		Method: "GET", Path: "/index.html?x=1", Proto: "HTTP/2.0", Status: 200, Bytes: 392,
		Duration: record.Took(time.Millisecond), Referer: "https://www.example.com/a b",
		Agent: "Mozilla/5.0 (Windows NT 10.0)",
		Fields: []record.Pair{
			{Name: "x-edge-location", Value: "LAX1"},
			{Name: "cs(Cookie)", Value: "session=a;b"},
			{Name: "x-edge-result-type", Value: "Hit"},
			{Name: "x-edge-request-id", Value: "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="},
			{Name: "cs-protocol", Value: "https"},
			{Name: "cs-bytes", Value: "23"},
			{Name: "ssl-protocol", Value: "TLSv1.3"},
			{Name: "ssl-cipher", Value: "TLS_AES_128_GCM_SHA256"},
			{Name: "x-edge-response-result-type", Value: "Hit"},
			{Name: "c-port", Value: "11040"},
			{Name: "time-to-first-byte", Value: "0.001"},
			{Name: "x-edge-detailed-result-type", Value: "Hit"},
			{Name: "sc-content-type", Value: "text/html"},
			{Name: "sc-content-len", Value: "78"},
		},
	})
	// The header and an older, shorter #Fields; cs(Host) is the vhost
	// when there is no x-host-header; status 000 when the viewer left
	// before the response.
	checkNoParse(t, p, "#Version: 1.0", Directive)
	checkNoParse(t, p, "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query", Directive)
	checkParse(t, p, "2024-01-02\t21:02:31\tFRA2\t0\t2001:db8::7\tGET\td111111abcdef8.cloudfront.net\t/x%20y\t000\t-\tcurl/8.5.0\t-",
		record.Record{Time: time.Date(2024, 1, 2, 21, 2, 31, 0, time.UTC), VHost: "d111111abcdef8.cloudfront.net",
			Host: "2001:db8::7", Method: "GET", Path: "/x%20y", Agent: "curl/8.5.0",
			Fields: []record.Pair{{Name: "x-edge-location", Value: "FRA2"}}})
}

func TestCloudFrontNoFit(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   int
	}{
		{strings.Replace(cloudFrontLine, "\t", " ", 1), 0},
		{strings.Replace(cloudFrontLine, "0.001", "fast", 1), strings.Index(cloudFrontLine, "0.001")},
		{iisLine, 0},
	} {
		checkNoParse(t, newCloudFront(), tc.line, tc.at)
	}
}

func FuzzCloudFront(f *testing.F) {
	f.Add(cloudFrontLine)
	addSamples(f, "cloudfront-access.log")
	f.Add("#Fields: date time c-ip cs(User-Agent) sc-status\n2024-01-02\t10:00:00\t::1\ta%2520b%25\t200")
	f.Fuzz(func(t *testing.T, lines string) {
		p := newCloudFront()
		for _, line := range strings.Split(lines, "\n") {
			fuzzParser(t, p, line)
		}
	})
}

func BenchmarkCloudFront(b *testing.B) {
	benchParser(b, newCloudFront(), []string{cloudFrontLine})
}

func TestURLDecode(t *testing.T) {
	for _, tc := range []struct{ in, once, twice string }{
		{"plain", "plain", "plain"},
		{"a%20b", "a b", "a b"},
		{"Mozilla/5.0%2520(X11)", "Mozilla/5.0%20(X11)", "Mozilla/5.0 (X11)"},
		{"100%", "100%", "100%"},
		{"%zz%2", "%zz%2", "%zz%2"},
		{"%252525", "%2525", "%25"},
		{"%e2%80%99", "\u2019", "\u2019"},
	} {
		if got := urlDecode(tc.in); got != tc.once {
			t.Errorf("urlDecode(%q) = %q, want %q", tc.in, got, tc.once)
		}
		if got := urlDecodeTwice(tc.in); got != tc.twice || got != urlDecode(urlDecode(tc.in)) {
			t.Errorf("urlDecodeTwice(%q) = %q, want %q", tc.in, got, tc.twice)
		}
	}
}

func TestURLDecodeAllocs(t *testing.T) {
	ua := "Mozilla/5.0%2520(Windows%2520NT%252010.0;%2520Win64;%2520x64)%2520AppleWebKit/537.36"
	if n := testing.AllocsPerRun(100, func() { urlDecodeTwice(ua) }); n != 1 {
		t.Errorf("urlDecodeTwice: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { urlDecode(ua) }); n != 1 {
		t.Errorf("urlDecode: %v allocations, want 1", n)
	}
}
