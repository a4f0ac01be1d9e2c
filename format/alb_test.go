package format

import (
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// albLine is a line as an Application Load Balancer writes it.
const albLine = `https 2024-01-02T22:23:00.186641Z app/my-lb/50dc6c495c0c9188 192.0.2.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 ` +
	`"GET https://www.example.com:443/index.html?a=1 HTTP/1.1" "curl/8.5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ` +
	`arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/web/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" ` +
	`"www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 ` +
	`2024-01-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234`

func TestALB(t *testing.T) {
	checkParse(t, newALB(), albLine, record.Record{
		Time: time.Date(2024, 1, 2, 22, 23, 0, 186641000, time.UTC), VHost: "www.example.com", Host: "192.0.2.39",
		Method: "GET", Path: "/index.html?a=1", Proto: "HTTP/1.1", Status: 200, Bytes: 57,
		Duration: record.Took(171 * time.Millisecond), UpstreamDuration: record.Took(48 * time.Millisecond),
		Agent: "curl/8.5.0",
		Fields: []record.Pair{
			{Name: "type", Value: "https"},
			{Name: "elb", Value: "app/my-lb/50dc6c495c0c9188"},
			{Name: "target:port", Value: "10.0.0.1:80"},
			{Name: "request_processing_time", Value: "0.086"},
			{Name: "response_processing_time", Value: "0.037"},
			{Name: "target_status_code", Value: "200"},
			{Name: "received_bytes", Value: "0"},
			{Name: "ssl_cipher", Value: "ECDHE-RSA-AES128-GCM-SHA256"},
			{Name: "ssl_protocol", Value: "TLSv1.2"},
			{Name: "target_group_arn", Value: "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/web/73e2d6bc24d8a067"},
			{Name: "trace_id", Value: "Root=1-58337281-1d84f3d73c47ec4e58577259"},
			{Name: "chosen_cert_arn", Value: "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"},
			{Name: "matched_rule_priority", Value: "1"},
			{Name: "request_creation_time", Value: "2024-01-02T22:22:48.364000Z"},
			{Name: "actions_executed", Value: "authenticate,forward"},
			{Name: "target:port_list", Value: "10.0.0.1:80"},
			{Name: "target_status_code_list", Value: "200"},
			{Name: "conn_trace_id", Value: "TID_1234"},
		},
	})
	// No target reached (-1), plain HTTP (vhost from the request's URL),
	// an IPv6 client, an escaped quote, a field newer than this parser.
	checkParse(t, newALB(), `http 2024-01-02T22:23:00Z app/my-lb/50dc6c495c0c9188 [2001:db8::1]:2817 - -1 -1 -1 503 - 34 366 `+
		`"POST http://api.example.com:8080/v1 HTTP/1.1" "a \"b\"" - - - "Root=1-2" "-" "-" 0 2024-01-02T22:23:00Z "forward" "-" "-" "-" "-" "-" "-" - new`,
		record.Record{
			Time: time.Date(2024, 1, 2, 22, 23, 0, 0, time.UTC), VHost: "api.example.com", Host: "2001:db8::1",
			Method: "POST", Path: "/v1", Proto: "HTTP/1.1", Status: 503, Bytes: 366, Agent: `a "b"`,
			Fields: []record.Pair{
				{Name: "type", Value: "http"},
				{Name: "elb", Value: "app/my-lb/50dc6c495c0c9188"},
				{Name: "request_processing_time", Value: "-1"},
				{Name: "response_processing_time", Value: "-1"},
				{Name: "received_bytes", Value: "34"},
				{Name: "trace_id", Value: "Root=1-2"},
				{Name: "matched_rule_priority", Value: "0"},
				{Name: "request_creation_time", Value: "2024-01-02T22:23:00Z"},
				{Name: "actions_executed", Value: "forward"},
				{Name: "field_31", Value: "new"},
			},
		})
	// A request that is not a request line.
	checkParse(t, newALB(), `http 2024-01-02T22:23:00Z app/my-lb/1 192.0.2.39:2817 - -1 -1 -1 400 - 0 272 "- http://lb.example.com:80- -" "-"`,
		record.Record{Time: time.Date(2024, 1, 2, 22, 23, 0, 0, time.UTC), Host: "192.0.2.39", Status: 400, Bytes: 272,
			Request: "- http://lb.example.com:80- -",
			Fields: []record.Pair{
				{Name: "type", Value: "http"}, {Name: "elb", Value: "app/my-lb/1"},
				{Name: "request_processing_time", Value: "-1"}, {Name: "response_processing_time", Value: "-1"},
				{Name: "received_bytes", Value: "0"},
			}})
}

func TestALBNoFit(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   int
	}{
		{"", 0},
		{strings.Replace(albLine, "2024-01-02T22:23:00.186641Z", "2024-01-02 22:23:00", 1), 6},
		{strings.Replace(albLine, " 0.048 ", " fast ", 1), strings.Index(albLine, " 0.048 ") + 1},
		{strings.Replace(albLine, " 200 200 ", " 20 200 ", 1), strings.Index(albLine, " 200 200 ") + 1},
		{albLine[:strings.Index(albLine, ` ECDHE`)-1], strings.Index(albLine, `"curl`)},
		{strings.Replace(albLine, " 57 ", "  57 ", 1), strings.Index(albLine, " 57 ") + 1},
		{albLine[:strings.Index(albLine, ` "curl`)], strings.Index(albLine, ` "curl`)},
		{`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`, 10},
	} {
		checkNoParse(t, newALB(), tc.line, tc.at)
	}
}

func FuzzALB(f *testing.F) {
	f.Add(albLine)
	addSamples(f, "alb-access.log")
	f.Add(`http 2024-01-02T22:23:00Z app/my-lb/1 [2001:db8::1]:2817 - -1 -1 -1 503 - 34 366 "POST http://[::1]:8080/v1 HTTP/1.1" "a \"b\"" - - - "Root=1-2" "-"`)
	p := newALB()
	f.Fuzz(func(t *testing.T, line string) { fuzzParser(t, p, line) })
}

func BenchmarkALB(b *testing.B) {
	benchParser(b, newALB(), []string{albLine})
}

func TestALBAllocs(t *testing.T) {
	p := newALB()
	var r record.Record
	n := testing.AllocsPerRun(100, func() {
		r = record.Record{}
		if ok, at := p.Parse(&r, albLine); !ok {
			t.Fatalf("stopped at %d", at)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
}
