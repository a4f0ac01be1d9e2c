package format

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/weblogd/weblogd/record"
)

// parseWith runs one line through p as the feed does.
func parseWith(p Parser, line string) (record.Record, int) {
	var r record.Record
	ok, at := p.Parse(&r, line)
	if !ok {
		return record.Record{Line: line}, at
	}
	r.Parsed = true
	r.Line = line
	return r, at
}

// checkParse parses line with p and compares every field with want
// (Parsed and Line are filled in from the line); times compare by
// instant and offset.
func checkParse(t *testing.T, p Parser, line string, want record.Record) {
	t.Helper()
	got, at := parseWith(p, line)
	if !got.Parsed {
		t.Fatalf("%s: %q did not parse (stopped at %d)", p.Name(), line, at)
	}
	want.Parsed = true
	want.Line = line
	checkSame(t, line, got, want)
}

func checkSame(t *testing.T, line string, got, want record.Record) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Errorf("%q: Time=%v, want %v", line, got.Time, want.Time)
	}
	_, goff := got.Time.Zone()
	_, woff := want.Time.Zone()
	if goff != woff {
		t.Errorf("%q: Time offset %d, want %d", line, goff, woff)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if len(got.Fields) == 0 && len(want.Fields) == 0 {
		got.Fields, want.Fields = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := 0; i < gv.NumField(); i++ {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%q: %s=%#v, want %#v", line, gv.Type().Field(i).Name,
					gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
}

// checkNoParse checks that p does not fit line, and stops at at.
func checkNoParse(t *testing.T, p Parser, line string, at int) {
	t.Helper()
	var r record.Record
	ok, got := p.Parse(&r, line)
	if ok {
		t.Fatalf("%s: %q parsed: %+v", p.Name(), line, r)
	}
	if got != at {
		t.Errorf("%s: %q stopped at %d, want %d", p.Name(), line, got, at)
	}
}

// fuzzParser checks that p neither panics nor hangs on line, keeps its
// offsets within the line, and sets sound fields when it fits.
func fuzzParser(t *testing.T, p Parser, line string) {
	var r record.Record
	ok, at := p.Parse(&r, line)
	if !ok {
		if at == Directive && !strings.HasPrefix(line, "#") || at != Directive && (at < 0 || at > len(line)) {
			t.Fatalf("%s: %q stopped at %d, outside the line", p.Name(), line, at)
		}
		return
	}
	if r.Status != 0 && (r.Status < 100 || r.Status > 999) {
		t.Fatalf("%s: %q: status %d", p.Name(), line, r.Status)
	}
	if r.Bytes < 0 || r.Duration.D < 0 || r.UpstreamDuration.D < 0 {
		t.Fatalf("%s: %q: negative bytes or duration: %+v", p.Name(), line, r)
	}
	if r.Method != "" && r.Request != "" {
		t.Fatalf("%s: %q: both a request and its parts: %+v", p.Name(), line, r)
	}
	for _, f := range r.Fields {
		if f.Name == "" {
			t.Fatalf("%s: %q: a field without a name: %+v", p.Name(), line, r.Fields)
		}
	}
}

// benchParser parses lines with p round and round, reporting lines/s.
func benchParser(b *testing.B, p Parser, lines []string) {
	b.ReportAllocs()
	var r record.Record
	for i := 0; i < b.N; i++ {
		line := lines[i%len(lines)]
		r = record.Record{}
		if ok, at := p.Parse(&r, line); !ok {
			b.Fatalf("%q stopped at %d", line, at)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
