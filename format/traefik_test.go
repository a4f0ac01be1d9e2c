package format

import (
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// traefikLine is a line as Traefik's default access log writes it.
const traefikLine = `192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET /api?x=1 HTTP/1.1" 200 2326 "https://example.com/" "curl/8.5.0" 42 "web@docker" "http://10.0.0.5:8080" 3ms`

func TestTraefik(t *testing.T) {
	t0 := time.Date(2000, 10, 10, 13, 55, 36, 0, time.UTC)
	for _, tc := range []struct {
		line string
		want record.Record
	}{
		{traefikLine, record.Record{
			Time: t0, Host: "192.0.2.7", Ident: "-", User: "-", Method: "GET", Path: "/api?x=1", Proto: "HTTP/1.1",
			Status: 200, Bytes: 2326, Referer: "https://example.com/", Agent: "curl/8.5.0",
			Duration: record.Took(3 * time.Millisecond),
			Fields: []record.Pair{
				{Name: "RequestCount", Value: "42"},
				{Name: "RouterName", Value: "web@docker"},
				{Name: "ServiceURL", Value: "http://10.0.0.5:8080"},
			},
		}},
		// No router matched: Traefik writes "-" for router and URL; a user
		// from basic auth; an agent with a quote Traefik does not escape.
		{`::1 - alice [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 404 19 "-" "Mozilla "x"" 7 "-" "-" 0ms` + "\r",
			record.Record{
				Time: time.Date(2000, 10, 10, 13, 55, 36, 0, time.FixedZone("", -7*3600)), Host: "::1", Ident: "-", User: "alice",
				Method: "POST", Path: "/login", Proto: "HTTP/2.0", Status: 404, Bytes: 19, Referer: "-", Agent: `Mozilla "x"`,
				Duration: record.Took(0), Fields: []record.Pair{{Name: "RequestCount", Value: "7"}},
			}},
		// genericCLF: no tail.
		{`192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"`,
			record.Record{Time: t0, Host: "192.0.2.7", Ident: "-", User: "-", Method: "GET", Path: "/", Proto: "HTTP/1.1",
				Status: 200, Bytes: 5, Referer: "-", Agent: "-"}},
	} {
		checkParse(t, newTraefik(), tc.line, tc.want)
	}
}

func TestTraefikNoFit(t *testing.T) {
	front := `192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-" `
	n := len(front)
	for _, tc := range []struct {
		line string
		at   int
	}{
		{`192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" - 5`, 0},
		{front + `x "r" "u" 1ms`, n},
		{front + `1 r "u" 1ms`, n + 2},
		{front + `1 "r" "u`, n + 6},
		{front + `1 "r" "u" 1s`, n + 10},
		{front + `1 "r" "u" 1ms x`, n + 10},
		{front + `1 "r" "u" 99999999999999999999ms`, n + 10},
	} {
		checkNoParse(t, newTraefik(), tc.line, tc.at)
	}
}

func TestTraefikAllocs(t *testing.T) {
	p := newTraefik()
	var r record.Record
	n := testing.AllocsPerRun(100, func() {
		r = record.Record{}
		if ok, at := p.Parse(&r, traefikLine); !ok {
			t.Fatalf("stopped at %d", at)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
}

func FuzzTraefik(f *testing.F) {
	f.Add(traefikLine)
	addSamples(f, "traefik-clf.log")
	f.Add(`::1 - alice [10/Oct/2000:13:55:36 -0700] "POST /login HTTP/2.0" 404 19 "-" "Mozilla "x"" 7 "-" "-" 0ms` + "\r")
	f.Add(`192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-" 1 "r" "u" 1s`)
	p := newTraefik()
	f.Fuzz(func(t *testing.T, line string) { fuzzParser(t, p, line) })
}

func BenchmarkTraefik(b *testing.B) {
	benchParser(b, newTraefik(), []string{traefikLine})
}

// traefikJSONLine is a line as Traefik's JSON access log writes it
// (Traefik sorts the keys).
const traefikJSONLine = `{"ClientAddr":"192.0.2.7:52144","ClientHost":"192.0.2.7","ClientPort":"52144","ClientUsername":"-",` +
	`"DownstreamContentSize":2326,"DownstreamStatus":200,"Duration":3164727,"OriginContentSize":2326,` +
	`"OriginDuration":2906103,"OriginStatus":200,"Overhead":258624,"RequestAddr":"example.com",` +
	`"RequestContentSize":0,"RequestCount":42,"RequestHost":"example.com","RequestMethod":"GET",` +
	`"RequestPath":"/api?x=1","RequestPort":"-","RequestProtocol":"HTTP/1.1","RequestScheme":"http",` +
	`"RetryAttempts":0,"RouterName":"web@docker","ServiceAddr":"10.0.0.5:8080","ServiceName":"web@docker",` +
	`"ServiceURL":"http://10.0.0.5:8080","StartLocal":"2024-01-02T13:55:36.123456789+01:00",` +
	`"StartUTC":"2024-01-02T12:55:36.123456789Z","entryPointName":"web","level":"info","msg":"",` +
	`"request_Referer":"https://example.com/","request_User-Agent":"curl/8.5.0","time":"2024-01-02T13:55:36+01:00"}`

func TestTraefikJSON(t *testing.T) {
	plus1 := time.FixedZone("", 3600)
	for _, tc := range []struct {
		line string
		want record.Record
	}{
		{traefikJSONLine, record.Record{
			Time: time.Date(2024, 1, 2, 13, 55, 36, 123456789, plus1), VHost: "example.com", Host: "192.0.2.7",
			Method: "GET", Path: "/api?x=1", Proto: "HTTP/1.1", Status: 200, Bytes: 2326,
			Duration: record.Took(3164727), UpstreamDuration: record.Took(2906103),
			Referer: "https://example.com/", Agent: "curl/8.5.0",
			Fields: []record.Pair{
				{Name: "ClientAddr", Value: "192.0.2.7:52144"},
				{Name: "ClientPort", Value: "52144"},
				{Name: "OriginContentSize", Value: "2326"},
				{Name: "OriginStatus", Value: "200"},
				{Name: "Overhead", Value: "258624"},
				{Name: "RequestAddr", Value: "example.com"},
				{Name: "RequestContentSize", Value: "0"},
				{Name: "RequestCount", Value: "42"},
				{Name: "RequestScheme", Value: "http"},
				{Name: "RetryAttempts", Value: "0"},
				{Name: "RouterName", Value: "web@docker"},
				{Name: "ServiceAddr", Value: "10.0.0.5:8080"},
				{Name: "ServiceName", Value: "web@docker"},
				{Name: "ServiceURL", Value: "http://10.0.0.5:8080"},
				{Name: "entryPointName", Value: "web"},
			},
		}},
		// No router: no Origin*, no Service*; only StartUTC; a user; an
		// escaped agent; TLS fields; a nested value kept as written.
		{`{"ClientHost":"::1","ClientUsername":"bob","DownstreamContentSize":19,"DownstreamStatus":404,"Duration":51000,` +
			`"RequestMethod":"GET","RequestPath":"/nope","RequestProtocol":"HTTP/2.0","StartUTC":"2024-01-02T12:55:36Z",` +
			`"TLSVersion":"1.3","TLSCipher":"TLS_AES_128_GCM_SHA256","request_User-Agent":"a \"b\"","x":{"y":[1]}}`,
			record.Record{
				Time: time.Date(2024, 1, 2, 12, 55, 36, 0, time.UTC), Host: "::1", User: "bob", Method: "GET", Path: "/nope",
				Proto: "HTTP/2.0", Status: 404, Bytes: 19, Duration: record.Took(51 * time.Microsecond), Agent: `a "b"`,
				Fields: []record.Pair{
					{Name: "TLSVersion", Value: "1.3"},
					{Name: "TLSCipher", Value: "TLS_AES_128_GCM_SHA256"},
					{Name: "x", Value: `{"y":[1]}`},
				},
			}},
		// Only the logger's time, only OriginStatus.
		{`{"OriginStatus":502,"time":"2024-01-02T13:55:36+01:00"}`,
			record.Record{Time: time.Date(2024, 1, 2, 13, 55, 36, 0, plus1), Status: 502,
				Fields: []record.Pair{{Name: "OriginStatus", Value: "502"}}}},
	} {
		checkParse(t, newTraefikJSON(), tc.line, tc.want)
	}
}

func TestTraefikJSONNoFit(t *testing.T) {
	for _, tc := range []struct {
		line string
		at   int
	}{
		// Traefik's own log.
		{`{"level":"info","msg":"Configuration loaded from flags.","time":"2024-01-02T13:55:36+01:00"}`, 92},
		{`{"DownstreamStatus":200,"Duration":-1}`, 35},
		{`{"DownstreamStatus":200,"Duration":"3ms"}`, 35},
		{`{"DownstreamStatus":2000}`, 25},
		{`{"DownstreamStatus":200,"DownstreamContentSize":1.5}`, 48},
		{`{"DownstreamStatus":200`, 23},
		{traefikLine, 0},
	} {
		checkNoParse(t, newTraefikJSON(), tc.line, tc.at)
	}
}

func TestTraefikJSONAllocs(t *testing.T) {
	p := newTraefikJSON()
	var r record.Record
	n := testing.AllocsPerRun(100, func() {
		r = record.Record{}
		if ok, at := p.Parse(&r, traefikJSONLine); !ok {
			t.Fatalf("stopped at %d", at)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations a line, want 0", n)
	}
}

func FuzzTraefikJSON(f *testing.F) {
	f.Add(traefikJSONLine)
	addSamples(f, "traefik-json.log")
	addSamples(f, "traefik-json-mixed.log")
	f.Add(`{"OriginStatus":502,"time":"2024-01-02T13:55:36+01:00","x":{"y":[1]}}`)
	f.Add(`{"DownstreamStatus":200,"Duration":-1,"StartLocal":"2024-01-02T13:55:36.1234567891-0930"}`)
	p := newTraefikJSON()
	f.Fuzz(func(t *testing.T, line string) { fuzzParser(t, p, line) })
}

func BenchmarkTraefikJSON(b *testing.B) {
	benchParser(b, newTraefikJSON(), []string{traefikJSONLine})
}
