package format

import (
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// jsonLine is a line of the log_format that nginx users write for JSON:
//
//	log_format json escape=json '{"time_local":"$time_local","remote_addr":"$remote_addr",'
//	    '"remote_user":"$remote_user","request":"$request","status":$status,'
//	    '"body_bytes_sent":$body_bytes_sent,"request_time":$request_time,'
//	    '"http_referer":"$http_referer","http_user_agent":"$http_user_agent",'
//	    '"upstream_response_time":"$upstream_response_time","ssl_protocol":"$ssl_protocol",'
//	    '"request_id":"$request_id"}';
const jsonLine = `{"time_local":"21/Nov/2026:10:00:00 +0100","remote_addr":"203.0.113.9","remote_user":"",` +
	`"request":"GET /a?b=1 HTTP/1.1","status":200,"body_bytes_sent":512,"request_time":0.002,` +
	`"http_referer":"","http_user_agent":"curl \"q\" \u00e9","upstream_response_time":"0.001, 0.002 : -",` +
	`"ssl_protocol":"TLSv1.3","request_id":"7f3a"}`

func TestJSON(t *testing.T) {
	for _, tt := range []struct {
		line string
		want record.Record
	}{
		{jsonLine, record.Record{Time: tNov, Host: "203.0.113.9", Method: "GET", Path: "/a?b=1", Proto: "HTTP/1.1",
			Status: 200, Bytes: 512, Duration: record.Took(2 * time.Millisecond),
			UpstreamDuration: record.Took(3 * time.Millisecond), Agent: `curl "q" é`,
			Fields: pairs("ssl_protocol", "TLSv1.3", "request_id", "7f3a")}},
		{`{"time_iso8601":"2026-11-21T10:00:00+01:00","host":"example.com","server_name":"_","request_method":"POST",` +
			`"uri":"/login","args":"next=%2F","server_protocol":"HTTP/2.0","status":"302","bytes_sent":"734","remote_user":"-"}`,
			record.Record{Time: tNov, VHost: "example.com", Method: "POST", Path: "/login?next=%2F", Proto: "HTTP/2.0",
				Status: 302, Bytes: 734, User: "-", Fields: pairs("server_name", "_")}},
		{`{"msec":1795251600.123,"status":200,"request_uri":"/x","args":"y=1","request_length":"345"}`,
			record.Record{Time: time.Date(2026, 11, 21, 9, 0, 0, 123e6, time.UTC), Status: 200, Path: "/x",
				Fields: pairs("request_length", "345", "args", "y=1")}},
		{`{"@timestamp":"2026-11-21T09:00:00Z","remote_ip":"::1","method":"GET","request_uri":"/","status":404,` +
			`"referrer":"http://r/","user_agent":"ua","vhost":"v.example","request_time":"-","cached":true,` +
			`"headers":{"a":"b"},"gone":null,"list":[1,2]}`,
			record.Record{Time: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Host: "::1", Method: "GET", Path: "/",
				Status: 404, Referer: "http://r/", Agent: "ua", VHost: "v.example", Fields: pairs("cached", "true")}},
		{`{"time":1795251600,"status":200}`, record.Record{Time: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Status: 200}},
		{` {"status":200,"request":"\u0016\u0003"} `, record.Record{Status: 200, Request: "\x16\x03"}},
	} {
		checkParse(t, newJSON(), tt.line, tt.want)
	}
	for _, tt := range []struct {
		line string
		at   int
	}{
		{``, 0},
		{`not json`, 0},
		{`{"remote_addr":"::1"}`, 21},             // no status
		{`{"status":"abc"}`, 10},                  // not a status
		{`{"status":200,"request_time":"x"}`, 29}, // not a time
		{`{"status":200,"time_local":"yesterday"}`, 27},
		{`{"status":200,`, 14},
		{`{"status":200,"body_bytes_sent":true}`, 32},
	} {
		checkNoParse(t, newJSON(), tt.line, tt.at)
	}
}

// TestJSONAllocs checks that a line without escapes costs no allocation of
// its own: its fields share a buffer with the lines before it.
func TestJSONAllocs(t *testing.T) {
	p := newJSON()
	line := `{"time_local":"21/Nov/2026:10:00:00 +0100","remote_addr":"203.0.113.9","request":"GET / HTTP/1.1",` +
		`"status":200,"body_bytes_sent":512,"request_time":0.002,"http_user_agent":"curl","request_id":"7f3a"}`
	var r record.Record
	if got := testing.AllocsPerRun(1000, func() { r = record.Record{}; p.Parse(&r, line) }); got > 0.01 {
		t.Errorf("a JSON line costs %v allocations, want none", got)
	}
}

func FuzzJSON(f *testing.F) {
	f.Add(jsonLine)
	f.Add(`{"status":200,"uri":"/","args":"a","is_args":"?","server_port":"80"}`)
	f.Add(`{"status":"200","msec":"1.5","time_iso8601":"2026-11-21T10:00:00Z"}`)
	f.Fuzz(func(t *testing.T, line string) { fuzzParser(t, newJSON(), line) })
}

func BenchmarkJSON(b *testing.B) {
	benchParser(b, newJSON(), []string{jsonLine})
}
