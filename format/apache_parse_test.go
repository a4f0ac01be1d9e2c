package format_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// TestApacheFormatsParse reads the lines real Apache wrote in
// TestApacheWritesItsFormats' run with the LogFormat strings Apache was
// configured with (and vcombined, the preset of Debian's vhost_combined),
// and checks every field against the request the line is about and what
// Apache logged.
func TestApacheFormatsParse(t *testing.T) {
	run := runApacheFormats(t)
	for _, tt := range []struct{ name, spec, log string }{
		{"timing", apacheTiming, run.Timing},
		{"msec", apacheMsec, run.Msec},
		{"vhost_combined", apacheVHostCombined, run.VHostCombined},
		{"vcombined", "vcombined", run.VHostCombined},
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
			match := run.matcher()
			for i, line := range lines {
				e := match(t, i, line)
				var r record.Record
				ok, at := p.Parse(&r, line)
				if !ok {
					t.Fatalf("line %d does not parse as %s: stopped at byte %d (%.40q)\n%s", i+1, tt.name, at, line[min(max(at, 0), len(line)):], line)
				}
				checkApacheRecord(t, i, tt.name, e, line, &r)
			}
		})
	}
}

func checkApacheRecord(t *testing.T, i int, name string, e webExchange, line string, r *record.Record) {
	t.Helper()
	checkEq(t, i, "host", r.Host, "127.0.0.1")
	checkEq(t, i, "user", r.User, or(e.User, "-"))
	checkEq(t, i, "method", r.Method, e.Method)
	checkEq(t, i, "path", r.Path, e.Path)
	checkEq(t, i, "proto", r.Proto, "HTTP/1.1")
	checkEq(t, i, "request", r.Request, "")
	checkEq(t, i, "status", strconv.Itoa(r.Status), strconv.Itoa(e.Status))
	checkEq(t, i, "referer", r.Referer, or(e.Referer, "-"))
	checkEq(t, i, "agent", r.Agent, e.Agent)
	if r.Time.IsZero() || r.Time.Before(e.Sent.Truncate(time.Second)) || r.Time.After(e.Sent.Add(e.Took)) {
		t.Errorf("line %d: time %v, want within %v (+%v)", i+1, r.Time, e.Sent, e.Took)
	}
	// Fields are checked by value: how a directive is named there is the
	// compiler's choice.
	hasValue := func(v string) bool {
		return slices.ContainsFunc(r.Fields, func(p record.Pair) bool { return p.Value == v })
	}

	switch name {
	case "timing":
		m := apacheTimingLine.FindStringSubmatch(line)
		checkEq(t, i, "bytes (%b)", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
		checkEq(t, i, "vhost (%v)", r.VHost, e.VHost)
		us, _ := strconv.ParseInt(m[8], 10, 64)
		if want := record.Took(time.Duration(us) * time.Microsecond); r.Duration != want {
			t.Errorf("line %d: duration %+v, want %+v (%%D %s)", i+1, r.Duration, want, m[8])
		}
		if !hasValue(e.RequestID) {
			t.Errorf("line %d: fields %v lack the UNIQUE_ID %q", i+1, r.Fields, e.RequestID)
		}
		if e.SSLProtocol != "" && !hasValue(e.SSLProtocol) {
			t.Errorf("line %d: fields %v lack the SSL_PROTOCOL %q", i+1, r.Fields, e.SSLProtocol)
		}
	case "msec":
		m := apacheMsecLine.FindStringSubmatch(line)
		checkEq(t, i, "bytes (%b)", strconv.FormatInt(r.Bytes, 10), strconv.FormatInt(e.Bytes, 10))
		// The time has milliseconds, and they are kept.
		want, _ := time.Parse("02/Jan/2006 15:04:05.000 -0700", m[2])
		if !r.Time.Equal(want) {
			t.Errorf("line %d: time %v, want the logged %v", i+1, r.Time, want)
		}
		ms, _ := strconv.ParseInt(m[8], 10, 64)
		if want := record.Took(time.Duration(ms) * time.Millisecond); r.Duration != want {
			t.Errorf("line %d: duration %+v, want %+v (%%{ms}T %s)", i+1, r.Duration, want, m[8])
		}
		if !hasValue(e.Host) {
			t.Errorf("line %d: fields %v lack the Host header %q", i+1, r.Fields, e.Host)
		}
	default: // vhost_combined: %v:%p, and %O counts the headers too
		if r.VHost != e.VHost && r.VHost != e.VHost+":"+apachePort(e) {
			t.Errorf("line %d: vhost %q, want %q (with or without its port)", i+1, r.VHost, e.VHost)
		}
		if r.Bytes <= e.Bytes {
			t.Errorf("line %d: bytes (%%O) %d, want more than the body's %d", i+1, r.Bytes, e.Bytes)
		}
	}
}
