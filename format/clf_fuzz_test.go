package format_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/weblogd/weblogd/format"
	"github.com/weblogd/weblogd/record"
)

// tricky lines that seed the fuzzer besides the real logs; inputs it
// found are kept in testdata/fuzz/FuzzParse.
var tricky = []string{
	"",
	"   ",
	"\r",
	"\x00\x00\x00",
	`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
	`www.example.com:443 ::1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 512 "-" "curl/8.5.0"`,
	`10.0.0.1, 203.0.113.5 - - [10/Oct/2000:13:55:36 +0330] "GET / HTTP/1.1" 200 5 "-" "a" "-" 0.003`,
	`[::1]:80 - - [29/Feb/2016:00:00:00 +0000] "-" 408 -`,
	`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01\x00\xA5" 400 150 "-" "-"`,
	`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "Don\xE2\x80\x99t \"q\" \\ \t \q \x4"`,
	`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "cut \"`,
	`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1 200 1 "-" "curl"`,
	`1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`,
	`1.2.3.4 - - [10/Oct/2000:13:55:36 +2400] "GET / HTTP/1.1" 200 1`,
	`1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 99999999999999999999999`,
	"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /\x00 HTTP/1.1\" 200 1 \"\x00\" \"\xff\"\r",
	`"10.5.102.222, 199.96.1.1, 204.246.1.1" 10.2.1.185 - - [20/Jul/2009:22:59:29 +0000] "GET / HTTP/1.1" 200 5`,
	`2a03:0000:10ff:f00f:0000:0000:0:8000, 10.225.192.17 10.2.2.121 - - [20/Jul/2009:22:59:29 +0000] "GET / HTTP/1.1" 200 5`,
	`192.168.202.254 [20/Jul/2009:22:59:29 +0000] "GET /x HTTP/1.1" 404 46210 "-" "gPXE/0.9.7"`,
	`"" 10.2.1.185 - - [20/Jul/2009:22:59:29 +0000] "GET / HTTP/1.1" 200 5`,
}

func FuzzParse(f *testing.F) {
	for _, path := range []string{apacheLog, nginxLog} {
		lines := readLines(f, path)
		// A sample keeps the seed run short; every line is parsed by
		// TestParseRealLogs anyway.
		for i := 0; i < len(lines); i += 97 {
			f.Add(lines[i])
		}
	}
	apache := readLines(f, apacheLog)
	f.Add(apache[5851-1]) // \xhh escapes in the referer
	f.Add(apache[8899-1]) // unterminated agent
	for _, s := range tricky {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, line string) {
		r := format.Parse(line)
		if r.Line != line {
			t.Fatalf("Parse(%q).Line=%q, want the input", line, r.Line)
		}
		if r.Seq != 0 || r.Source != "" || r.Node != "" {
			t.Fatalf("Parse(%q) set Seq/Source/Node", line)
		}
		if !r.Parsed {
			if !reflect.DeepEqual(r, record.Record{Line: line}) {
				t.Fatalf("Parse(%q) did not parse but set fields: %+v", line, r)
			}
			return
		}
		if r.Status < 100 || r.Status > 999 {
			t.Fatalf("Parse(%q).Status=%d, want 100..999", line, r.Status)
		}
		if r.Bytes < 0 {
			t.Fatalf("Parse(%q).Bytes=%d, want >= 0", line, r.Bytes)
		}
		if r.Time.IsZero() {
			t.Fatalf("Parse(%q).Time is zero", line)
		}
		// Ident and user are both there, or (an embedded server's line)
		// both absent.
		if r.Host == "" || (r.Ident == "") != (r.User == "") {
			t.Fatalf("Parse(%q) has an empty host, or one of ident and user: %+v", line, r)
		}
		if len(r.Fields) > 1 || len(r.Fields) == 1 && (r.Fields[0].Name != format.FieldForwardedFor || !strings.Contains(line, r.Fields[0].Value) || r.VHost != "") {
			t.Fatalf("Parse(%q).Fields=%q, want at most an X-Forwarded-For list from the line, and no vhost with it", line, r.Fields)
		}
		if r.Method != "" && (r.Path == "" || r.Request != "") {
			t.Fatalf("Parse(%q) split the request but Path=%q Request=%q", line, r.Path, r.Request)
		}
		if r.Method == "" && (r.Path != "" || r.Proto != "") {
			t.Fatalf("Parse(%q) has Path=%q Proto=%q without a method", line, r.Path, r.Proto)
		}

		// Without escapes there is nothing to decode, so every field is
		// a piece of the line.
		if isPlainASCII(line) {
			for _, f := range []struct{ name, v string }{
				{"VHost", r.VHost}, {"Host", r.Host}, {"Ident", r.Ident}, {"User", r.User},
				{"Method", r.Method}, {"Path", r.Path}, {"Proto", r.Proto}, {"Request", r.Request},
				{"Referer", r.Referer}, {"Agent", r.Agent}, {"Extra", r.Extra},
			} {
				if !strings.Contains(line, f.v) {
					t.Fatalf("Parse(%q).%s=%q is not part of the line", line, f.name, f.v)
				}
			}
		}

		// A trailing CR changes nothing but Line.
		if !strings.HasSuffix(line, "\r") {
			cr := format.Parse(line + "\r")
			cr.Line = line
			if !reflect.DeepEqual(cr, r) {
				t.Fatalf("Parse(%q + CR)=%+v, want %+v", line, cr, r)
			}
		}
	})
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == '\\' {
			return false
		}
	}
	return true
}
