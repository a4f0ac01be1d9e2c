package fleet_test

import (
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/fleet"
	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// TestWireRoundTrip: a record in a batch comes back whole, with the
// batch's node and source, for parsed and unparsed records; one in the
// JSON form of versions before batches too (its time to the second).
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
			check := func(form string, data []byte, want record.Record) {
				t.Helper()
				b, err := fleet.DecodeBatch(data)
				if err != nil || len(b.Records) != 1 {
					t.Fatalf("%s: DecodeBatch(%q)=%d records, %v", form, data, len(b.Records), err)
				}
				got := b.Records[0]
				// time.Time compares by instant and zone offset here.
				if !got.Time.Equal(want.Time) || got.Time.Format(time.RFC3339Nano) != want.Time.Format(time.RFC3339Nano) {
					t.Errorf("%s: Time=%v, want %v", form, got.Time, want.Time)
				}
				g := *got
				g.Time, want.Time = time.Time{}, time.Time{}
				if !reflect.DeepEqual(g, want) {
					t.Errorf("%s: decoded %+v, want %+v", form, g, want)
				}
			}
			// The batch gives each record its node and source.
			want := *tt.rec
			want.Node, want.Source = "web-9", "other.log"
			check("batch", fleet.AppendBatch(nil, "web-9", "other.log", []*record.Record{tt.rec}), want)
			// The JSON form of versions before batches, to the second.
			want = *tt.rec
			want.Time = want.Time.Truncate(time.Second)
			check("JSON", transports.AppendJSONRaw(nil, &want), want)
		})
	}
	for _, bad := range []string{
		"{",
		`{"seq":1,"status":200,"duration":1e3}`,
		`{"seq":1,"status":200,"upstream_duration":99999999999}`,
		`{"seq":1,"status":200,"fields":[]}`,
		`{"seq":1,"status":200,"fields":{"a":1}}`,
		"",
		"\x01",
		"\x01\x02\x01n\x01s\x01\x00\x00",     // two records said, one there
		"\x01\x01\x01n\x01s\x01\x00\x00\x00", // a byte after the last record
		"\x01\x01\x01n\x01s\x01\x10\x00",     // an unknown flag
		"\x01\x01\x01n\x01s\x01\x01\x02ab\x04\x01", // a piece of the line beyond its end
	} {
		if b, err := fleet.DecodeBatch([]byte(bad)); err == nil {
			t.Errorf("DecodeBatch(%q)=%+v, nil error; want one", bad, b)
		}
	}
}

// TestWireBatch: a batch holds its records in order; a batch of a version
// this weblogd does not know is an error that says the version and how
// many records it holds, never records misread.
func TestWireBatch(t *testing.T) {
	recs := []*record.Record{
		{Seq: 1, Line: "one"},
		{Seq: 2, Parsed: true, Status: 200, Host: "h", Line: "h - - x"},
		{Seq: 3, Line: ""},
	}
	data := fleet.AppendBatch(nil, "web-1", "a.log", recs)
	b, err := fleet.DecodeBatch(data)
	if err != nil || b.Node != "web-1" || b.Source != "a.log" || len(b.Records) != 3 {
		t.Fatalf("DecodeBatch()=%+v, %v", b, err)
	}
	for i, r := range b.Records {
		if r.Seq != recs[i].Seq || r.Line != recs[i].Line || r.Node != "web-1" {
			t.Errorf("record %d: %+v, want %+v of node web-1", i, r, recs[i])
		}
	}
	data[0] = 2
	_, err = fleet.DecodeBatch(data)
	var unknown *fleet.UnknownVersionError
	if !errors.As(err, &unknown) || unknown.Version != 2 || unknown.Records != 3 {
		t.Errorf("DecodeBatch(version 2)=%v, want an UnknownVersionError of version 2 and 3 records", err)
	}
}

// BenchmarkWireSize encodes the batches of a Combined log as the
// publisher does and reports the bytes of the wire form per byte of log,
// and the cost of encoding and decoding a record.
func BenchmarkWireSize(b *testing.B) {
	log, err := os.ReadFile("../format/testdata/apache_combined_10k.log")
	if err != nil {
		b.Fatal(err)
	}
	var recs []*record.Record
	for _, l := range strings.Split(strings.TrimSuffix(string(log), "\n"), "\n") {
		r := format.Parse(l)
		r.Seq = uint64(len(recs) + 1)
		recs = append(recs, &r)
	}
	const batch = 1000
	var data []byte
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			data = data[:0]
			for i := 0; i < len(recs); i += batch {
				data = fleet.AppendBatch(data, "web-1", "access.log", recs[i:min(i+batch, len(recs))])
			}
		}
		b.ReportMetric(float64(len(data))/float64(len(log)), "wire-B/log-B")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
	})
	one := fleet.AppendBatch(nil, "web-1", "access.log", recs[:batch])
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := fleet.DecodeBatch(one); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/record")
	})
}

// FuzzDecodeBatch: whatever a message holds, DecodeBatch returns records
// or an error, never panics, and what it returns encodes back to a batch
// that decodes to the same records.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(fleet.AppendBatch(nil, "web-1", "a.log", []*record.Record{
		{Seq: 7, Parsed: true, Time: time.Date(2026, 11, 21, 10, 0, 0, 5, time.FixedZone("", 3600)), Host: "203.0.113.9",
			Method: "GET", Path: "/x", Proto: "HTTP/1.1", Status: 200, Bytes: 12, Duration: record.Took(3),
			UpstreamDuration: record.Took(0), Agent: "curl", Fields: []record.Pair{{Name: "a", Value: "GET"}},
			Line: `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /x HTTP/1.1" 200 12 "-" "curl"`},
		{Seq: 8, Line: "not parsed"},
	}))
	f.Add([]byte(`{"seq":1,"status":200,"raw":"x"}`))
	f.Add([]byte{9, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := fleet.DecodeBatch(data)
		if err != nil {
			return
		}
		again, err := fleet.DecodeBatch(fleet.AppendBatch(nil, b.Node, b.Source, b.Records))
		if err != nil || len(again.Records) != len(b.Records) {
			t.Fatalf("a decoded batch encoded again: %d records, %v; want %d", len(again.Records), err, len(b.Records))
		}
		for i := range b.Records {
			if !reflect.DeepEqual(again.Records[i], b.Records[i]) && !b.Records[i].Time.Equal(again.Records[i].Time) {
				t.Fatalf("record %d: %+v, then %+v", i, b.Records[i], again.Records[i])
			}
		}
	})
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
	if a, b := fleet.BatchID("n", "s", "seq:7", 1), fleet.BatchID("n", "s", "seq:7", 2); a == b {
		t.Errorf("BatchID of 1 and 2 records from seq 7 both %q", a)
	}
}
