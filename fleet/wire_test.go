package fleet_test

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// TestWireRoundTrip: Decode(Append(r)) gives r back, node and raw line
// included, for parsed and unparsed records; and the wire form is the
// JSON form with the raw line added.
func TestWireRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("", -5*3600-30*60))
	tests := []struct {
		name string
		rec  *record.Record
	}{
		{"parsed, every field", &record.Record{
			Seq: 42, Source: "access.log", Node: "web-1", Parsed: true, Time: at,
			VHost: "example.com:443", Host: "2001:db8::1", Ident: "-", User: "frank",
			Method: "GET", Path: "/index.html?q=1", Proto: "HTTP/1.1", Status: 200, Bytes: 2326,
			Referer: "http://example.com/", Agent: "curl/8.5.0", Extra: "0.003",
			Line: `line with "quotes" and \ backslash`}},
		{"parsed, durations and fields", &record.Record{
			Seq: 45, Source: "access.log", Node: "web-1", Parsed: true, Time: at,
			Host: "203.0.113.9", Method: "GET", Path: "/", Proto: "HTTP/2.0", Status: 200, Bytes: 1,
			Duration: record.Took(23 * time.Millisecond), UpstreamDuration: record.Took(0),
			Fields: []record.Pair{{Name: "ssl_protocol", Value: "TLSv1.3"}, {Name: "a\"b", Value: "<\u2028>"}, {Name: "ssl_protocol", Value: ""}},
			Line:   `{"remote_addr":"203.0.113.9"}`}},
		{"parsed, empty request line, longest durations", &record.Record{
			Seq: 46, Source: "a.log", Parsed: true, Status: 400,
			Duration: record.Took(math.MaxInt64), UpstreamDuration: record.Took(math.MinInt64), Line: `x - - [..] "" 400 0`}},
		{"parsed, odd request, no time", &record.Record{
			Seq: 1, Source: "a.log", Node: "n", Parsed: true, Request: "garbage", Status: 400, Line: "x"}},
		{"unparsed", &record.Record{Seq: 43, Source: "access.log", Node: "web-2", Line: "\tnot a log line \u2028"}},
		{"unparsed, empty line, no node", &record.Record{Seq: 44, Source: "access.log"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := fleet.Append(nil, tt.rec)
			got, err := fleet.Decode(data)
			if err != nil {
				t.Fatalf("Decode(%s)=%v", data, err)
			}
			// time.Time compares by instant and zone offset here.
			if !got.Time.Equal(tt.rec.Time) || got.Time.Format(time.RFC3339) != tt.rec.Time.Format(time.RFC3339) {
				t.Errorf("Time=%v, want %v", got.Time, tt.rec.Time)
			}
			g, w := *got, *tt.rec
			g.Time, w.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Decode(Append(r))=%+v, want %+v", g, w)
			}
			if !tt.rec.Parsed {
				if json := transports.AppendJSON(nil, tt.rec); string(json) != string(data) {
					t.Errorf("Append()=%s, want the JSON form %s", data, json)
				}
			}
		})
	}
	for _, bad := range []string{
		"{",
		`{"seq":1,"status":200,"duration":1e3}`,
		`{"seq":1,"status":200,"upstream_duration":99999999999}`,
		`{"seq":1,"status":200,"fields":[]}`,
		`{"seq":1,"status":200,"fields":{"a":1}}`,
	} {
		if _, err := fleet.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s)=nil error, want one", bad)
		}
	}
}

// TestSubject: node and source each become one token.
func TestSubject(t *testing.T) {
	for _, tt := range []struct{ node, source, want string }{
		{"web-1", "access.log", "weblogd.records.web-1.access_log"},
		{"a.b", "/var/log/x*>.log", "weblogd.records.a_b./var/log/x___log"},
		{"", "with space\n", "weblogd.records._.with_space_"},
	} {
		if got := fleet.Subject(fleet.DefaultPrefix, tt.node, tt.source); got != tt.want {
			t.Errorf("Subject(%q, %q)=%q, want %q", tt.node, tt.source, got, tt.want)
		}
	}
	if a, b := fleet.MsgID("n", "s", "", 7), fleet.MsgID("n", "s", "", 8); a == b {
		t.Errorf("MsgID of seq 7 and 8 both %q", a)
	}
}
