package transports_test

import (
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
	"github.com/weblogd/weblogd/transports"
)

// fuzzRecord builds a record from fuzz arguments. unix == 0 means no time;
// the offset is folded into what time.FixedZone accepts as sane (±1 day),
// seconds included, so that the rare offsets are fuzzed too. fields holds
// the pairs, each "name\x1fvalue", one "\x1e" apart; "" is none.
func fuzzRecord(seq uint64, parsed bool, unix int64, offset int32,
	source, node, vhost, host, ident, user, method, path, proto, request string,
	status int, bytes int64, referer, agent, extra, line string,
	duration int64, durationSet bool, upstream int64, upstreamSet bool, fields string) *record.Record {
	r := &record.Record{
		Seq: seq, Source: source, Node: node, Parsed: parsed,
		VHost: vhost, Host: host, Ident: ident, User: user,
		Method: method, Path: path, Proto: proto, Request: request,
		Status: status, Bytes: bytes, Referer: referer, Agent: agent, Extra: extra,
		Line: line,
	}
	if unix != 0 {
		r.Time = time.Unix(unix, 0).In(time.FixedZone("", int(offset%(24*3600))))
	}
	if durationSet {
		r.Duration = record.Took(time.Duration(duration))
	}
	if upstreamSet {
		r.UpstreamDuration = record.Took(time.Duration(upstream))
	}
	if fields != "" {
		for _, p := range strings.Split(fields, "\x1e") {
			name, value, _ := strings.Cut(p, "\x1f")
			r.Fields = append(r.Fields, record.Pair{Name: name, Value: value})
		}
	}
	return r
}

// addSeeds seeds a fuzz target with records of the real log and with
// strings that need every kind of escape; inputs the fuzzer found are
// kept in testdata/fuzz/<FuzzName>.
func addSeeds(f *testing.F) {
	recs := parseLog(f, apacheLog)
	for i := 0; i < len(recs); i += 499 {
		r := recs[i]
		_, off := r.Time.Zone()
		f.Add(r.Seq, r.Parsed, r.Time.Unix(), int32(off), r.Source, r.Node, r.VHost, r.Host, r.Ident, r.User,
			r.Method, r.Path, r.Proto, r.Request, r.Status, r.Bytes, r.Referer, r.Agent, r.Extra, r.Line,
			int64(i)*1_000_003, i%2 == 0, int64(i), i%3 == 0, "ssl_protocol\x1fTLSv1.3\x1erequest_id\x1f"+r.Path)
	}
	r := recs[5851-1] // the \xhh referer: invalid UTF-8 once decoded
	f.Add(r.Seq, r.Parsed, r.Time.Unix(), int32(12600), r.Source, r.Node, r.VHost, r.Host, r.Ident, r.User,
		r.Method, r.Path, r.Proto, r.Request, r.Status, r.Bytes, r.Referer, r.Agent, r.Extra, r.Line,
		int64(0), false, int64(0), false, "referer\x1f"+r.Referer)
	for _, s := range []string{
		"", `&<>"'`, "\t\n\r", "\x00\x01\x1f\x7f", "\xff\xfe", "\xe2\x80", "\xed\xa0\x80",
		"\uFFFD\uFFFE\uFFFF", "\u2028\u2029", "Don’t 😀", `\"\\`, "]]>", "<!--", "&#0;",
	} {
		f.Add(uint64(1), true, int64(1e9), int32(-25200), s, s, s, s, s, s, s, s, s, s, 404, int64(-1), s, s, s, s,
			int64(23e6), true, int64(-1), true, s+"\x1f"+s+"\x1e"+s+"\x1f"+s)
		f.Add(uint64(2), false, int64(0), int32(0), s, s, s, s, s, s, s, s, s, s, 0, int64(0), s, s, s, s,
			int64(1), true, int64(0), false, s)
	}
	f.Add(uint64(18446744073709551615), true, int64(-62135596800), int32(-75), "a", "", "", "", "", "", "", "", "", "", -1, int64(-9223372036854775808), "", "", "", "",
		int64(-9223372036854775808), true, int64(9223372036854775807), true, "\x1f")
	f.Add(uint64(3), true, int64(253402300800), int32(86399), "", "", "", "", "", "", "", "", "", "", 200, int64(0), "", "", "", "",
		int64(0), true, int64(0), true, "")
}

func FuzzXML(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, seq uint64, parsed bool, unix int64, offset int32,
		source, node, vhost, host, ident, user, method, path, proto, request string,
		status int, bytes int64, referer, agent, extra, line string,
		duration int64, durationSet bool, upstream int64, upstreamSet bool, fields string) {
		r := fuzzRecord(seq, parsed, unix, offset, source, node, vhost, host, ident, user,
			method, path, proto, request, status, bytes, referer, agent, extra, line,
			duration, durationSet, upstream, upstreamSet, fields)
		checkXML(t, r, transports.AppendXML(nil, r))
	})
}

func FuzzJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, seq uint64, parsed bool, unix int64, offset int32,
		source, node, vhost, host, ident, user, method, path, proto, request string,
		status int, bytes int64, referer, agent, extra, line string,
		duration int64, durationSet bool, upstream int64, upstreamSet bool, fields string) {
		r := fuzzRecord(seq, parsed, unix, offset, source, node, vhost, host, ident, user,
			method, path, proto, request, status, bytes, referer, agent, extra, line,
			duration, durationSet, upstream, upstreamSet, fields)
		checkJSON(t, r, transports.AppendJSON(nil, r))
	})
}
