package transports_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// apacheLog is the real log the parser tests use (format/testdata/README.md).
const apacheLog = "../format/testdata/apache_combined_10k.log"

// timeLayout is the time format of docs/protocol.md.
const timeLayout = "2006-01-02T15:04:05-07:00"

// protocolHit is the example record of docs/protocol.md.
func protocolHit() *record.Record {
	return &record.Record{
		Seq: 42, Source: "access.log", Parsed: true,
		Time: time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("CET", 3600)),
		Host: "203.0.113.9", Ident: "-", User: "frank",
		Method: "GET", Path: "/index.html?q=1", Proto: "HTTP/1.1",
		Status: 200, Bytes: 2326, Referer: "http://example.com/", Agent: "curl/8.5.0",
		Line: "not written for parsed records",
	}
}

func TestAppend(t *testing.T) {
	full := &record.Record{
		Seq: 7, Source: "other_vhosts_access.log", Node: "web-2", Parsed: true,
		Time:  time.Date(2015, 5, 17, 10, 5, 3, 0, time.UTC),
		VHost: "example.com:443", Host: "10.0.0.1, 203.0.113.5", Ident: "-", User: "-",
		Request: "hello", Status: 400, Bytes: 0, Referer: "-", Agent: "-", Extra: `"-" 0.003`,
	}
	tests := []struct {
		name      string
		r         *record.Record
		xml, json string
	}{
		{"protocol example", protocolHit(),
			`<hit seq="42" source="access.log" time="2026-11-21T10:00:00+01:00" host="203.0.113.9" ident="-" user="frank" method="GET" path="/index.html?q=1" proto="HTTP/1.1" status="200" bytes="2326" referer="http://example.com/" agent="curl/8.5.0"/>`,
			`{"seq":42,"source":"access.log","time":"2026-11-21T10:00:00+01:00","host":"203.0.113.9","ident":"-","user":"frank","method":"GET","path":"/index.html?q=1","proto":"HTTP/1.1","status":200,"bytes":2326,"referer":"http://example.com/","agent":"curl/8.5.0"}`},
		{"protocol example unparsed", &record.Record{Seq: 43, Source: "access.log", Line: "\x00garbage that is not a log line"},
			`<hit seq="43" source="access.log" raw="` + "\uFFFD" + `garbage that is not a log line"/>`,
			`{"seq":43,"source":"access.log","raw":"\u0000garbage that is not a log line"}`},
		{"every field", full,
			`<hit seq="7" source="other_vhosts_access.log" node="web-2" time="2015-05-17T10:05:03+00:00" vhost="example.com:443" host="10.0.0.1, 203.0.113.5" ident="-" user="-" request="hello" status="400" bytes="0" referer="-" agent="-" extra="&quot;-&quot; 0.003"/>`,
			`{"seq":7,"source":"other_vhosts_access.log","node":"web-2","time":"2015-05-17T10:05:03+00:00","vhost":"example.com:443","host":"10.0.0.1, 203.0.113.5","ident":"-","user":"-","request":"hello","status":400,"bytes":0,"referer":"-","agent":"-","extra":"\"-\" 0.003"}`},
		{"unparsed with node, parsed fields ignored", &record.Record{Seq: 1, Source: "a.log", Node: "n1", Host: "ignored", Status: 200, Line: "x y"},
			`<hit seq="1" source="a.log" node="n1" raw="x y"/>`,
			`{"seq":1,"source":"a.log","node":"n1","raw":"x y"}`},
		{"unparsed empty line", &record.Record{Seq: 2, Source: "a.log"},
			`<hit seq="2" source="a.log" raw=""/>`,
			`{"seq":2,"source":"a.log","raw":""}`},
		{"parsed, nothing but status and bytes", &record.Record{Parsed: true},
			`<hit seq="0" request="" status="0" bytes="0"/>`,
			`{"seq":0,"request":"","status":0,"bytes":0}`},
		{"durations and fields", &record.Record{
			Seq: 8, Source: "access.log", Parsed: true, Host: "203.0.113.9", Method: "GET", Path: "/", Proto: "HTTP/2.0",
			Status: 200, Bytes: 5, Duration: record.Took(23 * time.Millisecond), UpstreamDuration: record.Took(2 * time.Second),
			Referer: "-", Agent: "curl/8.5.0",
			Fields: []record.Pair{{Name: "ssl_protocol", Value: "TLSv1.3"}, {Name: "request_id", Value: "a<b&\"c\""}, {Name: "ssl_protocol", Value: ""}},
		},
			`<hit seq="8" source="access.log" host="203.0.113.9" method="GET" path="/" proto="HTTP/2.0" status="200" bytes="5" duration="0.023" upstream_duration="2" referer="-" agent="curl/8.5.0">` +
				`<field name="ssl_protocol">TLSv1.3</field><field name="request_id">a&lt;b&amp;&quot;c&quot;</field><field name="ssl_protocol"></field></hit>`,
			`{"seq":8,"source":"access.log","host":"203.0.113.9","method":"GET","path":"/","proto":"HTTP/2.0","status":200,"bytes":5,"duration":0.023,"upstream_duration":2,"referer":"-","agent":"curl/8.5.0",` +
				`"fields":{"ssl_protocol":"TLSv1.3","request_id":"a<b&\"c\"","ssl_protocol":""}}`},
		{"a zero duration is written, an unset one is not", &record.Record{Parsed: true, Method: "GET", Status: 200, Duration: record.Took(0)},
			`<hit seq="0" method="GET" status="200" bytes="0" duration="0"/>`,
			`{"seq":0,"method":"GET","status":200,"bytes":0,"duration":0}`},
		{"an empty request line is written", &record.Record{Seq: 3, Parsed: true, Host: "203.0.113.9", Status: 400, Request: ""},
			`<hit seq="3" host="203.0.113.9" request="" status="400" bytes="0"/>`,
			`{"seq":3,"host":"203.0.113.9","request":"","status":400,"bytes":0}`},
		{"an unparsed record writes no durations or fields", &record.Record{Seq: 4, Duration: record.Took(1), Fields: []record.Pair{{Name: "a", Value: "b"}}, Line: "x"},
			`<hit seq="4" raw="x"/>`,
			`{"seq":4,"raw":"x"}`},
		{"big numbers", &record.Record{Seq: 18446744073709551615, Parsed: true, Status: 999, Bytes: 9223372036854775807},
			`<hit seq="18446744073709551615" request="" status="999" bytes="9223372036854775807"/>`,
			`{"seq":18446744073709551615,"request":"","status":999,"bytes":9223372036854775807}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(transports.AppendXML(nil, tt.r)); got != tt.xml {
				t.Fatalf("AppendXML()=%s, want %s", got, tt.xml)
			}
			if got := string(transports.AppendJSON(nil, tt.r)); got != tt.json {
				t.Fatalf("AppendJSON()=%s, want %s", got, tt.json)
			}
			checkXML(t, tt.r, transports.AppendXML(nil, tt.r))
			checkJSON(t, tt.r, transports.AppendJSON(nil, tt.r))
		})
	}
}

// TestProtocolDocExamples: the examples of docs/protocol.md are what the
// encoders write for the records they show.
func TestProtocolDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	withFields := &record.Record{
		Seq: 44, Source: "access.log", Parsed: true,
		Time: time.Date(2026, 11, 21, 10, 0, 1, 0, time.FixedZone("CET", 3600)),
		Host: "203.0.113.9", Method: "GET", Path: "/api/cart", Proto: "HTTP/2.0", Status: 200, Bytes: 512,
		Duration: record.Took(23 * time.Millisecond), UpstreamDuration: record.Took(20 * time.Millisecond),
		Referer: "-", Agent: "curl/8.5.0",
		Fields: []record.Pair{{Name: "ssl_protocol", Value: "TLSv1.3"}, {Name: "request_id", Value: "5f2b9c0e4d1a"}},
	}
	for _, r := range []*record.Record{protocolHit(), {Seq: 43, Source: "access.log", Line: "garbage that is not a log line"}, withFields} {
		for _, enc := range [][]byte{transports.AppendXML(nil, r), transports.AppendJSON(nil, r)} {
			if !bytes.Contains(doc, append(append([]byte("\n"), enc...), '\n')) {
				t.Errorf("docs/protocol.md does not show the line\n%s", enc)
			}
		}
	}
}

func TestAppendAppends(t *testing.T) {
	dst := []byte("prefix\n")
	got := string(transports.AppendJSON(dst, &record.Record{Seq: 1, Line: "x"}))
	if want := "prefix\n" + `{"seq":1,"raw":"x"}`; got != want {
		t.Fatalf("AppendJSON(prefix)=%q, want %q", got, want)
	}
	got = string(transports.AppendXML(dst, &record.Record{Seq: 1, Line: "x"}))
	if want := "prefix\n" + `<hit seq="1" raw="x"/>`; got != want {
		t.Fatalf("AppendXML(prefix)=%q, want %q", got, want)
	}
}

func TestAppendEscapes(t *testing.T) {
	const fffd = "\uFFFD"
	tests := []struct {
		name, in, xml, json string
	}{
		{"plain", "Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)"},
		{"xml specials", `a&b<c>d"e'f`, "a&amp;b&lt;c&gt;d&quot;e&apos;f", `a&b<c>d\"e'f`},
		{"entity-like text", "&amp;&#9;", "&amp;amp;&amp;#9;", "&amp;&#9;"},
		{"backslash", `C:\dir\`, `C:\dir\`, `C:\\dir\\`},
		{"tab lf cr", "a\tb\nc\rd", "a&#9;b&#10;c&#13;d", `a\tb\nc\rd`},
		{"backspace formfeed", "\b\f", fffd + fffd, `\b\f`},
		{"c0 controls", "\x01\x0b\x0e\x1b\x1f", fffd + fffd + fffd + fffd + fffd, `\u0001\u000b\u000e\u001b\u001f`},
		{"nul", "a\x00b", "a" + fffd + "b", `a\u0000b`},
		{"del and c1 controls are characters", "\x7f\u0085\u009f", "\x7f\u0085\u009f", "\x7f\u0085\u009f"},
		{"utf-8", "Don’t 😀 é", "Don’t 😀 é", "Don’t 😀 é"},
		{"u+fffd itself", fffd, fffd, fffd},
		{"u+fffe u+ffff", "a\uFFFEb\uFFFFc", "a" + fffd + "b" + fffd + "c", "a\uFFFEb\uFFFFc"},
		{"u+2028 u+2029", "a\u2028b\u2029c", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"invalid byte", "a\xffb", "a" + fffd + "b", "a" + fffd + "b"},
		{"each invalid byte", "http://\xe4\xe5\xe3-\xf0\xf4/", "http://" + fffd + fffd + fffd + "-" + fffd + fffd + "/", "http://" + fffd + fffd + fffd + "-" + fffd + fffd + "/"},
		{"truncated sequence", "a\xe2\x80", "a" + fffd + fffd, "a" + fffd + fffd},
		{"truncated at start", "\x80abc", fffd + "abc", fffd + "abc"},
		{"overlong nul", "\xc0\x80", fffd + fffd, fffd + fffd},
		{"surrogate", "\xed\xa0\x80", fffd + fffd + fffd, fffd + fffd + fffd},
		{"beyond u+10ffff", "\xf4\x90\x80\x80", fffd + fffd + fffd + fffd, fffd + fffd + fffd + fffd},
		{"escape at both ends", `"x"`, "&quot;x&quot;", `\"x\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &record.Record{Seq: 1, Parsed: true, Status: 200, Agent: tt.in}
			wantXML := `<hit seq="1" request="" status="200" bytes="0" agent="` + tt.xml + `"/>`
			if got := string(transports.AppendXML(nil, r)); got != wantXML {
				t.Fatalf("AppendXML(agent %q)=%q, want %q", tt.in, got, wantXML)
			}
			wantJSON := `{"seq":1,"request":"","status":200,"bytes":0,"agent":"` + tt.json + `"}`
			if got := string(transports.AppendJSON(nil, r)); got != wantJSON {
				t.Fatalf("AppendJSON(agent %q)=%q, want %q", tt.in, got, wantJSON)
			}
			checkXML(t, r, transports.AppendXML(nil, r))
			checkJSON(t, r, transports.AppendJSON(nil, r))

			// The same string as the name and value of a field.
			f := &record.Record{Seq: 1, Parsed: true, Method: "GET", Status: 200, Fields: []record.Pair{{Name: tt.in, Value: tt.in}}}
			wantXML = `<hit seq="1" method="GET" status="200" bytes="0"><field name="` + tt.xml + `">` + tt.xml + `</field></hit>`
			if got := string(transports.AppendXML(nil, f)); got != wantXML {
				t.Fatalf("AppendXML(field %q)=%q, want %q", tt.in, got, wantXML)
			}
			wantJSON = `{"seq":1,"method":"GET","status":200,"bytes":0,"fields":{"` + tt.json + `":"` + tt.json + `"}}`
			if got := string(transports.AppendJSON(nil, f)); got != wantJSON {
				t.Fatalf("AppendJSON(field %q)=%q, want %q", tt.in, got, wantJSON)
			}
			checkXML(t, f, transports.AppendXML(nil, f))
			checkJSON(t, f, transports.AppendJSON(nil, f))

			// The same string as the raw line of an unparsed record.
			u := &record.Record{Seq: 1, Line: tt.in}
			checkXML(t, u, transports.AppendXML(nil, u))
			checkJSON(t, u, transports.AppendJSON(nil, u))
		})
	}
}

// Durations are exact decimal seconds from the nanoseconds, trailing
// zeros trimmed, in both forms.
func TestAppendDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{time.Nanosecond, "0.000000001"},
		{100 * time.Microsecond, "0.0001"},
		{23 * time.Millisecond, "0.023"},
		{1500 * time.Millisecond, "1.5"},
		{2 * time.Second, "2"},
		{10*time.Second + 20_300_007, "10.020300007"},
		{36 * time.Hour, "129600"},
		{-1500 * time.Millisecond, "-1.5"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	} {
		if got := seconds(tt.d); got != tt.want {
			t.Fatalf("the reference writes %v as %s, want %s: the test is wrong", tt.d, got, tt.want)
		}
		r := &record.Record{Parsed: true, Method: "GET", Status: 200, Duration: record.Took(tt.d), UpstreamDuration: record.Took(tt.d)}
		wantXML := `<hit seq="0" method="GET" status="200" bytes="0" duration="` + tt.want + `" upstream_duration="` + tt.want + `"/>`
		if got := string(transports.AppendXML(nil, r)); got != wantXML {
			t.Errorf("AppendXML(duration %v)=%s, want %s", tt.d, got, wantXML)
		}
		wantJSON := `{"seq":0,"method":"GET","status":200,"bytes":0,"duration":` + tt.want + `,"upstream_duration":` + tt.want + `}`
		if got := string(transports.AppendJSON(nil, r)); got != wantJSON {
			t.Errorf("AppendJSON(duration %v)=%s, want %s", tt.d, got, wantJSON)
		}
		checkXML(t, r, transports.AppendXML(nil, r))
		checkJSON(t, r, transports.AppendJSON(nil, r))
	}
}

func TestAppendTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string // "" means no time field
	}{
		{"zero", time.Time{}, ""},
		{"utc", time.Date(2015, 5, 17, 10, 5, 3, 0, time.UTC), "2015-05-17T10:05:03+00:00"},
		{"fixed zero", time.Date(2015, 5, 17, 10, 5, 3, 0, time.FixedZone("", 0)), "2015-05-17T10:05:03+00:00"},
		{"-0700", time.Date(2000, 10, 10, 13, 55, 36, 0, time.FixedZone("", -7*3600)), "2000-10-10T13:55:36-07:00"},
		{"-0930", time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(9*3600+30*60))), "1999-12-31T23:59:59-09:30"},
		{"+0330", time.Date(2019, 1, 22, 3, 56, 14, 0, time.FixedZone("", 3*3600+30*60)), "2019-01-22T03:56:14+03:30"},
		{"+0545", time.Date(2019, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+45*60)), "2019-01-02T03:04:05+05:45"},
		{"+1400", time.Date(2019, 1, 2, 3, 4, 5, 0, time.FixedZone("", 14*3600)), "2019-01-02T03:04:05+14:00"},
		{"nanoseconds dropped", time.Date(2019, 1, 2, 3, 4, 5, 999999999, time.UTC), "2019-01-02T03:04:05+00:00"},
		{"year 1", time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), "0001-01-01T00:00:01+00:00"},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), "9999-12-31T23:59:59+00:00"},
		// The rare cases go through time.Format.
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "10000-01-01T00:00:00+00:00"},
		{"negative year", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), "-0001-01-01T00:00:00+00:00"},
		{"offset with seconds", time.Date(1850, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -(1*60+15))), "1850-01-01T00:00:00-00:01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &record.Record{Parsed: true, Time: tt.t}
			wantXML, wantJSON := `<hit seq="0" request="" status="0" bytes="0"/>`, `{"seq":0,"request":"","status":0,"bytes":0}`
			if tt.want != "" {
				wantXML = `<hit seq="0" time="` + tt.want + `" request="" status="0" bytes="0"/>`
				wantJSON = `{"seq":0,"time":"` + tt.want + `","request":"","status":0,"bytes":0}`
				if f := tt.t.Format(timeLayout); f != tt.want {
					t.Fatalf("time.Format()=%s, want %s: the test is wrong", f, tt.want)
				}
			}
			if got := string(transports.AppendXML(nil, r)); got != wantXML {
				t.Fatalf("AppendXML(time %v)=%s, want %s", tt.t, got, wantXML)
			}
			if got := string(transports.AppendJSON(nil, r)); got != wantJSON {
				t.Fatalf("AppendJSON(time %v)=%s, want %s", tt.t, got, wantJSON)
			}
		})
	}
}

func TestAppendGap(t *testing.T) {
	if got, want := string(transports.AppendXMLGap(nil, 101, 150)), `<gap from="101" to="150"/>`; got != want {
		t.Fatalf("AppendXMLGap(101, 150)=%s, want %s", got, want)
	}
	if got, want := string(transports.AppendJSONGap(nil, 101, 150)), `{"type":"gap","from":101,"to":150}`; got != want {
		t.Fatalf("AppendJSONGap(101, 150)=%s, want %s", got, want)
	}
	if got, want := string(transports.AppendXMLGap([]byte("x"), 1, 18446744073709551615)), `x<gap from="1" to="18446744073709551615"/>`; got != want {
		t.Fatalf("AppendXMLGap(x, 1, max)=%s, want %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal(transports.AppendJSONGap(nil, 1, 2), &m); err != nil {
		t.Fatalf("decode AppendJSONGap: %v", err)
	}
}

// TestAppendRealLog encodes every line of the real Apache log, parsed and
// as raw lines, and decodes each result with the standard library.
func TestAppendRealLog(t *testing.T) {
	for i, r := range parseLog(t, apacheLog) {
		checkXML(t, r, transports.AppendXML(nil, r))
		checkJSON(t, r, transports.AppendJSON(nil, r))
		u := &record.Record{Seq: uint64(i + 1), Source: "access.log", Line: r.Line}
		checkXML(t, u, transports.AppendXML(nil, u))
		checkJSON(t, u, transports.AppendJSON(nil, u))
	}
}

// parseLog reads a log and parses each line, numbering them as the ring
// would.
func parseLog(tb testing.TB, path string) []*record.Record {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	recs := make([]*record.Record, len(lines))
	for i, line := range lines {
		r := format.Parse(line)
		r.Seq, r.Source = uint64(i+1), "access.log"
		recs[i] = &r
	}
	return recs
}

// field is one expected attribute or member, in order, with its value as
// a string (numbers in decimal).
type field struct{ name, value string }

// wantFields lists what the encoders must write for r, unsanitised.
func wantFields(r *record.Record) []field {
	fs := []field{{"seq", strconv.FormatUint(r.Seq, 10)}}
	add := func(name, v string) {
		if v != "" {
			fs = append(fs, field{name, v})
		}
	}
	add("source", r.Source)
	add("node", r.Node)
	if !r.Parsed {
		return append(fs, field{"raw", r.Line})
	}
	if !r.Time.IsZero() {
		add("time", r.Time.Format(timeLayout))
	}
	add("vhost", r.VHost)
	add("host", r.Host)
	add("ident", r.Ident)
	add("user", r.User)
	add("method", r.Method)
	add("path", r.Path)
	add("proto", r.Proto)
	if r.Request != "" || r.Method == "" && r.Path == "" && r.Proto == "" {
		fs = append(fs, field{"request", r.Request})
	}
	fs = append(fs, field{"status", strconv.Itoa(r.Status)}, field{"bytes", strconv.FormatInt(r.Bytes, 10)})
	if r.Duration.Set {
		fs = append(fs, field{"duration", seconds(r.Duration.D)})
	}
	if r.UpstreamDuration.Set {
		fs = append(fs, field{"upstream_duration", seconds(r.UpstreamDuration.D)})
	}
	add("referer", r.Referer)
	add("agent", r.Agent)
	add("extra", r.Extra)
	return fs
}

// seconds is the reference form of a duration: exact decimal seconds,
// trailing zeros trimmed, through big.Rat rather than the encoder's code.
func seconds(d time.Duration) string {
	s := new(big.Rat).SetFrac(big.NewInt(int64(d)), big.NewInt(1e9)).FloatString(9)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// sanitizeXML is the reference for what an XML attribute value decodes
// to. Ranging over a string yields U+FFFD once per byte that is not UTF-8
// (strings.ToValidUTF8 would merge runs of them), which is the encoders'
// rule; then characters XML 1.0 forbids become U+FFFD too.
func sanitizeXML(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sanitizeJSON is the reference for what a JSON string decodes to: the
// input with each byte that is not UTF-8 replaced by U+FFFD.
func sanitizeJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// checkXML decodes out with encoding/xml and checks that it is exactly one
// empty <hit> element carrying the fields of r, sanitised, in order.
func checkXML(tb testing.TB, r *record.Record, out []byte) {
	tb.Helper()
	if !utf8.Valid(out) {
		tb.Fatalf("AppendXML(%+v)=%q is not UTF-8", r, out)
	}
	if bytes.ContainsAny(out, "\n\r\t") {
		tb.Fatalf("AppendXML(%+v)=%q holds a literal tab, LF or CR", r, out)
	}
	d := xml.NewDecoder(bytes.NewReader(out))
	tok, err := d.Token()
	if err != nil {
		tb.Fatalf("decode AppendXML(%+v)=%q: %v", r, out, err)
	}
	start, ok := tok.(xml.StartElement)
	if !ok || start.Name.Local != "hit" || start.Name.Space != "" {
		tb.Fatalf("AppendXML(%+v)=%q starts with %#v, want <hit>", r, out, tok)
	}
	want := wantFields(r)
	if len(start.Attr) != len(want) {
		tb.Fatalf("AppendXML(%+v)=%q has %d attributes, want %d", r, out, len(start.Attr), len(want))
	}
	for i, a := range start.Attr {
		if a.Name.Space != "" || a.Name.Local != want[i].name {
			tb.Fatalf("AppendXML(%+v)=%q: attribute %d is %v, want %s", r, out, i, a.Name, want[i].name)
		}
		if v := sanitizeXML(want[i].value); a.Value != v {
			tb.Fatalf("AppendXML(%+v) %s=%q, want %q", r, a.Name.Local, a.Value, v)
		}
	}
	// Then a <field name="...">value</field> per pair, for a parsed record.
	var pairs []record.Pair
	if r.Parsed {
		pairs = r.Fields
	}
	for i, p := range pairs {
		tok, err = d.Token()
		fs, ok := tok.(xml.StartElement)
		if err != nil || !ok || fs.Name.Local != "field" || len(fs.Attr) != 1 || fs.Attr[0].Name.Local != "name" {
			tb.Fatalf("AppendXML(%+v)=%q: child %d is %#v, %v, want <field name=...>", r, out, i, tok, err)
		}
		if v := sanitizeXML(p.Name); fs.Attr[0].Value != v {
			tb.Fatalf("AppendXML(%+v): field %d name=%q, want %q", r, i, fs.Attr[0].Value, v)
		}
		// An empty value has no text token.
		text := ""
		tok, err = d.Token()
		if cd, ok := tok.(xml.CharData); ok {
			text = string(cd)
			tok, err = d.Token()
		}
		if v := sanitizeXML(p.Value); text != v {
			tb.Fatalf("AppendXML(%+v): field %d (%s) holds %q, want %q", r, i, p.Name, text, v)
		}
		if end, ok := tok.(xml.EndElement); err != nil || !ok || end.Name.Local != "field" {
			tb.Fatalf("AppendXML(%+v)=%q: field %d ends with %#v, %v, want </field>", r, out, i, tok, err)
		}
	}
	tok, err = d.Token()
	if end, ok := tok.(xml.EndElement); err != nil || !ok || end.Name.Local != "hit" {
		tb.Fatalf("AppendXML(%+v)=%q: after <hit> and its fields got %#v, %v, want </hit>", r, out, tok, err)
	}
	if tok, err = d.Token(); !errors.Is(err, io.EOF) {
		tb.Fatalf("AppendXML(%+v)=%q: after </hit> got %#v, %v, want the end", r, out, tok, err)
	}
	// A hit without fields stays one empty element, as clients of the
	// plain form expect.
	if end := "/>"; len(pairs) > 0 {
		if !bytes.HasSuffix(out, []byte("</field></hit>")) {
			tb.Fatalf("AppendXML(%+v)=%q does not end with </field></hit>", r, out)
		}
	} else if !bytes.HasSuffix(out, []byte(end)) {
		tb.Fatalf("AppendXML(%+v)=%q does not end with />", r, out)
	}
}

// checkJSON decodes out and checks that it is exactly one object with the
// fields of r, sanitised, in order; numbers are numbers.
func checkJSON(tb testing.TB, r *record.Record, out []byte) {
	tb.Helper()
	if !json.Valid(out) {
		tb.Fatalf("AppendJSON(%+v)=%q is not valid JSON", r, out)
	}
	if !utf8.Valid(out) {
		tb.Fatalf("AppendJSON(%+v)=%q is not UTF-8", r, out)
	}
	if bytes.Contains(out, []byte("\u2028")) || bytes.Contains(out, []byte("\u2029")) {
		tb.Fatalf("AppendJSON(%+v)=%q holds a literal U+2028 or U+2029", r, out)
	}
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		tb.Fatalf("AppendJSON(%+v)=%q starts with %v, %v, want {", r, out, tok, err)
	}
	for i, f := range wantFields(r) {
		key, err := d.Token()
		if err != nil || key != f.name {
			tb.Fatalf("AppendJSON(%+v)=%q: key %d is %v, %v, want %s", r, out, i, key, err, f.name)
		}
		val, err := d.Token()
		if err != nil {
			tb.Fatalf("AppendJSON(%+v)=%q: decode %s: %v", r, out, f.name, err)
		}
		switch f.name {
		case "seq", "status", "bytes", "duration", "upstream_duration":
			if n, ok := val.(json.Number); !ok || string(n) != f.value {
				tb.Fatalf("AppendJSON(%+v) %s=%#v, want the number %s", r, f.name, val, f.value)
			}
		default:
			if s, ok := val.(string); !ok || s != sanitizeJSON(f.value) {
				tb.Fatalf("AppendJSON(%+v) %s=%#v, want %q", r, f.name, val, sanitizeJSON(f.value))
			}
		}
	}
	// Then "fields":{...}, for a parsed record with pairs, in order.
	if r.Parsed && len(r.Fields) > 0 {
		if key, err := d.Token(); err != nil || key != "fields" {
			tb.Fatalf("AppendJSON(%+v)=%q: last key is %v, %v, want fields", r, out, key, err)
		}
		if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
			tb.Fatalf("AppendJSON(%+v)=%q: fields is %v, %v, want an object", r, out, tok, err)
		}
		for i, p := range r.Fields {
			name, err1 := d.Token()
			value, err2 := d.Token()
			if err1 != nil || err2 != nil || name != sanitizeJSON(p.Name) || value != sanitizeJSON(p.Value) {
				tb.Fatalf("AppendJSON(%+v)=%q: field %d is %#v: %#v (%v, %v), want %q: %q", r, out, i, name, value, err1, err2, sanitizeJSON(p.Name), sanitizeJSON(p.Value))
			}
		}
		if tok, err := d.Token(); err != nil || tok != json.Delim('}') {
			tb.Fatalf("AppendJSON(%+v)=%q: after the pairs got %v, %v, want }", r, out, tok, err)
		}
	}
	if tok, err := d.Token(); err != nil || tok != json.Delim('}') {
		tb.Fatalf("AppendJSON(%+v)=%q: after the fields got %v, %v, want }", r, out, tok, err)
	}
	if d.More() {
		tb.Fatalf("AppendJSON(%+v)=%q: more after the object", r, out)
	}
	// And the plain way a client would read it.
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		tb.Fatalf("decode AppendJSON(%+v)=%q: %v", r, out, err)
	}
}

// TestAppendAllocatesNothing: with room in dst, encoding a record costs no
// allocation, durations and fields included.
func TestAppendAllocatesNothing(t *testing.T) {
	recs := withFields(parseLog(t, apacheLog)[:200])
	recs = append(recs, parseLog(t, apacheLog)[:200]...)
	buf := make([]byte, 0, 1<<16)
	for name, enc := range map[string]func([]byte, *record.Record) []byte{
		"XML": transports.AppendXML, "JSON": transports.AppendJSON, "JSONRaw": transports.AppendJSONRaw,
	} {
		if n := testing.AllocsPerRun(20, func() {
			for _, r := range recs {
				buf = enc(buf[:0], r)
			}
		}); n != 0 {
			t.Errorf("Append%s: %v allocations for %d records, want 0", name, n, len(recs))
		}
	}
}

func BenchmarkAppendXML(b *testing.B) {
	benchmarkAppend(b, transports.AppendXML)
}

func BenchmarkAppendJSON(b *testing.B) {
	benchmarkAppend(b, transports.AppendJSON)
}

// BenchmarkAppendXMLFields and BenchmarkAppendJSONFields encode the same
// records with what formats beyond Combined add: two durations and three
// fields each.
func BenchmarkAppendXMLFields(b *testing.B) {
	benchmarkAppendRecords(b, transports.AppendXML, withFields(parseLog(b, apacheLog)))
}

func BenchmarkAppendJSONFields(b *testing.B) {
	benchmarkAppendRecords(b, transports.AppendJSON, withFields(parseLog(b, apacheLog)))
}

// withFields gives each record durations and fields as an nginx
// log_format with $request_time, $upstream_response_time, $ssl_protocol,
// $request_id and $upstream_addr would.
func withFields(recs []*record.Record) []*record.Record {
	for i, r := range recs {
		r.Duration = record.Took(time.Duration(i%2000) * 37 * time.Microsecond)
		r.UpstreamDuration = record.Took(time.Duration(i%1000) * time.Millisecond)
		r.Fields = []record.Pair{
			{Name: "ssl_protocol", Value: "TLSv1.3"},
			{Name: "request_id", Value: fmt.Sprintf("%032x", i*2654435761)},
			{Name: "upstream_addr", Value: "10.0.3.17:8080"},
		}
	}
	return recs
}

// benchmarkAppend encodes the whole parsed Apache log per iteration, one
// record per line as the streams write it.
func benchmarkAppend(b *testing.B, appendRecord func([]byte, *record.Record) []byte) {
	benchmarkAppendRecords(b, appendRecord, parseLog(b, apacheLog))
}

func benchmarkAppendRecords(b *testing.B, appendRecord func([]byte, *record.Record) []byte, recs []*record.Record) {
	var buf []byte
	for _, r := range recs {
		buf = append(appendRecord(buf, r), '\n')
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf = buf[:0]
		for _, r := range recs {
			buf = append(appendRecord(buf, r), '\n')
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
