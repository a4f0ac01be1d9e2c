package format_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// TestNginxFormatsParse reads the lines real nginx wrote in
// TestNginxWritesItsFormats' run with the format strings nginx was
// configured with, the json preset, and auto, and checks every field
// against what the client sent and saw and what nginx logged.
func TestNginxFormatsParse(t *testing.T) {
	run := runNginxFormats(t)
	for _, tt := range []struct {
		name, spec, log string
		json            bool // the log is nginxJSON: values nginx lacks are "", not "-"
	}{
		{"log_format", nginxTiming, run.Timing, false},
		{"json", "json", run.JSON, true},
		{"escape=json", "log_format jsonlog escape=json '" + nginxJSON + "'", run.JSON, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := format.Compile(tt.spec)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.spec, err)
			}
			p := f.NewParser()
			lines := readLines(t, tt.log)
			if len(lines) != len(run.Exchanges) {
				t.Fatalf("%d lines, want %d", len(lines), len(run.Exchanges))
			}
			for i, line := range lines {
				var r record.Record
				ok, at := p.Parse(&r, line)
				if !ok {
					t.Fatalf("line %d does not parse as %s: stopped at byte %d (%.40q)\n%s", i+1, tt.name, at, line[min(max(at, 0), len(line)):], line)
				}
				checkNginxRecord(t, i, run, tt.json, line, &r)
			}
		})
	}

	// A line of the other format does not fit, and says where it stopped.
	t.Run("mismatch", func(t *testing.T) {
		f, err := format.Compile(nginxTiming)
		if err != nil {
			t.Fatal(err)
		}
		p := f.NewParser()
		line := readLines(t, run.JSON)[0]
		var r record.Record
		ok, at := p.Parse(&r, line)
		if ok || at < 0 || at > len(line) {
			t.Fatalf("the timing format on a JSON line: ok %v at %d, want false and an offset within the line", ok, at)
		}
	})

	// auto is not told the format: it must still read the basics of each.
	for _, tt := range []struct{ name, log string }{{"auto timing", run.Timing}, {"auto json", run.JSON}} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := format.Compile("auto")
			if err != nil {
				t.Fatal(err)
			}
			p := f.NewParser()
			for i, line := range readLines(t, tt.log) {
				e := run.Exchanges[i]
				var r record.Record
				if ok, at := p.Parse(&r, line); !ok {
					t.Fatalf("line %d does not parse under auto: stopped at byte %d\n%s", i+1, at, line)
				}
				checkEq(t, i, "host", r.Host, "127.0.0.1")
				checkEq(t, i, "request", r.Method+" "+r.Path+" "+r.Proto, e.Method+" "+e.Path+" HTTP/1.1")
				checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
				checkEq(t, i, "bytes", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
				checkEq(t, i, "agent", r.Agent, e.Agent)
			}
		})
	}
}

// checkNginxRecord checks r, read from line i of a log of run, against
// the exchange and the values nginx logged.
func checkNginxRecord(t *testing.T, i int, run *nginxRun, isJSON bool, line string, r *record.Record) {
	t.Helper()
	e := run.Exchanges[i]
	logged := nginxLogged(t, i, isJSON, line)

	dash := "-" // how the log writes a value nginx does not have
	if isJSON {
		dash = ""
	}
	checkEq(t, i, "host", r.Host, "127.0.0.1")
	checkEq(t, i, "user", r.User, or(e.User, dash))
	checkEq(t, i, "method", r.Method, e.Method)
	checkEq(t, i, "path", r.Path, e.Path)
	checkEq(t, i, "proto", r.Proto, "HTTP/1.1")
	checkEq(t, i, "request", r.Request, "") // set only when the request line does not split
	checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
	checkEq(t, i, "bytes", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
	checkEq(t, i, "referer", r.Referer, or(e.Referer, dash))
	checkEq(t, i, "agent", r.Agent, e.Agent)
	checkEq(t, i, "vhost", r.VHost, e.VHost)

	// nginx's times have whole seconds: the one logged is the second the
	// request ended in.
	if r.Time.IsZero() || r.Time.Before(e.Sent.Truncate(time.Second)) || r.Time.After(e.Sent.Add(e.Took)) {
		t.Errorf("line %d: time %v, want the second of %v (+%v)", i+1, r.Time, e.Sent, e.Took)
	}
	if _, off := r.Time.Zone(); off != logged.offset {
		t.Errorf("line %d: time offset %d, want the logged %d", i+1, off, logged.offset)
	}

	if want := record.Took(logged.requestTime); r.Duration != want {
		t.Errorf("line %d: duration %+v, want %+v ($request_time %s)", i+1, r.Duration, want, logged.requestTimeText)
	}
	var wantUp record.Duration // not set when nginx wrote "-" or ""
	if e.Upstream != noUpstream {
		wantUp = record.Took(logged.upstreamSum)
	}
	if r.UpstreamDuration != wantUp {
		t.Errorf("line %d: upstream_duration %+v, want %+v ($upstream_response_time %q)", i+1, r.UpstreamDuration, wantUp, logged.upstreamText)
	}

	// Fields: the variables that are no record field, in the format's
	// order. A value nginx did not have may be left out or kept as
	// written; the others must be there, exact.
	want := []record.Pair{}
	if isJSON {
		want = append(want,
			record.Pair{Name: "upstream_addr", Value: wantUpstreamAddr(run, e)},
			record.Pair{Name: "upstream_status", Value: wantUpstreamStatus(e)})
	}
	want = append(want,
		record.Pair{Name: "ssl_protocol", Value: or(e.SSLProtocol, dash)},
		record.Pair{Name: "request_id", Value: e.RequestID})
	got := r.Fields
	var kept []record.Pair
	for _, w := range want {
		k := slices.IndexFunc(got, func(p record.Pair) bool { return p.Name == w.Name })
		switch {
		case k < 0 && w.Value == dash:
			continue // left out
		case k < 0:
			t.Errorf("line %d: fields %v lack %s=%q", i+1, r.Fields, w.Name, w.Value)
			continue
		case got[k].Value != w.Value:
			t.Errorf("line %d: field %s=%q, want %q", i+1, w.Name, got[k].Value, w.Value)
		}
		kept = append(kept, got[k])
	}
	if !slices.Equal(kept, r.Fields) {
		t.Errorf("line %d: fields %v, want exactly %v in this order", i+1, r.Fields, kept)
	}
}

// nginxLoggedValues are the values of a line as nginx wrote them, for the
// checks that compare a parsed value with the logged one, not with what the
// client saw.
type nginxLoggedValues struct {
	offset          int // of the logged time, in seconds east of UTC
	requestTime     time.Duration
	requestTimeText string
	upstreamSum     time.Duration
	upstreamText    string
}

func nginxLogged(t *testing.T, i int, isJSON bool, line string) nginxLoggedValues {
	t.Helper()
	var v nginxLoggedValues
	var when time.Time
	var err error
	if isJSON {
		var j struct {
			Time        string          `json:"time_iso8601"`
			RequestTime json.RawMessage `json:"request_time"`
			Upstream    string          `json:"upstream_response_time"`
		}
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		when, err = time.Parse(time.RFC3339, j.Time)
		v.requestTimeText, v.upstreamText = string(j.RequestTime), j.Upstream
	} else {
		m := timingLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not in nginxTiming:\n%s", i+1, line)
		}
		when, err = time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
		v.requestTimeText, v.upstreamText = m[8], m[9]
	}
	if err != nil {
		t.Fatalf("line %d: %v", i+1, err)
	}
	_, v.offset = when.Zone()
	v.requestTime = nginxSeconds(t, v.requestTimeText)
	for _, part := range strings.FieldsFunc(v.upstreamText, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
		if part != "-" {
			v.upstreamSum += nginxSeconds(t, part)
		}
	}
	return v
}

// nginxSeconds reads nginx's "0.041" exactly, without a float's rounding.
func nginxSeconds(t *testing.T, s string) time.Duration {
	t.Helper()
	sec, ms, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(sec)
	b, err2 := strconv.Atoi(ms)
	if !ok || len(ms) != 3 || err1 != nil || err2 != nil {
		t.Fatalf("%q is not nginx's seconds with milliseconds", s)
	}
	return time.Duration(a)*time.Second + time.Duration(b)*time.Millisecond
}
