package format

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	accessLine = `10.0.0.1 - - [07/Dec/2026:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 512 "-" "curl/8.5.0"`
	// accessJSON is accessLine as a JSON string's content.
	accessJSON = `10.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /a?b=1 HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\"`
)

func TestUnwrap(t *testing.T) {
	cases := []struct {
		name    string
		line    string
		ok      bool
		text    string
		stream  int
		partial bool
	}{
		{"plain", accessLine, false, "", 0, false},
		{"plain ipv6", "2001:db8::1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1", false, "", 0, false},
		{"empty", "", false, "", 0, false},

		{"docker", `{"log":"` + accessJSON + `\n","stream":"stdout","time":"2026-12-07T10:00:00.123456789Z"}`, true, accessLine, streamStdout, false},
		{"docker stderr", `{"log":"2026/12/07 10:00:00 [error] 29#29: *1 open() failed\n","stream":"stderr","time":"2026-12-07T10:00:00Z"}`,
			true, "2026/12/07 10:00:00 [error] 29#29: *1 open() failed", streamStderr, false},
		{"docker escapes", `{"log":"a \"q\" \\ \/ \t \u00e9 \u2019 \ud83d\ude00 \r\n","stream":"stdout","time":"t"}`,
			true, "a \"q\" \\ / \t é \u2019 😀 \r", streamStdout, false},
		{"docker lone surrogate", `{"log":"x\ud800y\n","stream":"stdout"}`, true, "x\uFFFDy", streamStdout, false},
		{"docker attrs", `{"log":"x\n","stream":"stdout","attrs":{"tag":"web"},"time":"t"}`, true, "x", streamStdout, false},
		{"docker split part", `{"log":"` + accessJSON[:40] + `","stream":"stdout","time":"t"}`, true, accessLine[:40], streamStdout, true},
		{"docker empty log", `{"log":"\n","stream":"stdout","time":"t"}`, true, "", streamStdout, false},
		{"docker CRLF file", `{"log":"x\n","stream":"stdout","time":"t"}` + "\r", true, "x", streamStdout, false},
		{"docker cut", `{"log":"` + accessJSON + `\n","stream":"std`, false, "", 0, false},
		{"docker unterminated", `{"log":"abc`, false, "", 0, false},
		{"docker bad escape", `{"log":"a\qb\n","stream":"stdout"}`, false, "", 0, false},
		{"docker bad \\u", `{"log":"a\u12G4\n","stream":"stdout"}`, false, "", 0, false},
		{"docker trailing junk", `{"log":"x\n"} junk`, false, "", 0, false},
		{"other json", `{"msg":"x"}`, false, "", 0, false},

		{"cri full", "2026-12-07T10:00:00.123456789Z stdout F " + accessLine, true, accessLine, streamStdout, false},
		{"cri partial", "2026-12-07T10:00:00.123456789Z stdout P " + accessLine[:30], true, accessLine[:30], streamStdout, true},
		{"cri stderr", "2026-12-07T10:00:00.123456789+01:00 stderr F 2026/12/07 [error] x", true, "2026/12/07 [error] x", streamStderr, false},
		{"cri empty", "2026-12-07T10:00:00.123456789Z stdout F ", true, "", streamStdout, false},
		{"cri empty no space", "2026-12-07T10:00:00.123456789Z stdout F", true, "", streamStdout, false},
		{"cri more tags", "2026-12-07T10:00:00Z stdout F:x y", true, "y", streamStdout, false},
		{"cri bad stream", "2026-12-07T10:00:00.123456789Z stdin F x", false, "", 0, false},
		{"cri bad tag", "2026-12-07T10:00:00.123456789Z stdout X x", false, "", 0, false},
		{"cri short time", "2026-12-07T10 stdout F x", false, "", 0, false},
		{"cri no stream", "2026-12-07T10:00:00.123456789Z", false, "", 0, false},

		{"rfc3164", "<190>Dec  7 10:00:00 web1 nginx: " + accessLine, true, accessLine, 0, false},
		{"rfc3164 pid", "<190>Dec 17 10:00:00 web1 nginx[123]: " + accessLine, true, accessLine, 0, false},
		{"rfc3164 iso time", "<190>2026-12-07T10:00:00+00:00 web1 nginx: " + accessLine, true, accessLine, 0, false},
		{"rfc3164 no tag", "<190>Dec  7 10:00:00 web1 " + accessLine, false, "", 0, false},
		{"rfc3164 bad time", "<190>December 7 web1 nginx: x", false, "", 0, false},
		{"rfc5424", "<190>1 2026-12-07T10:00:00.000Z web1 nginx - - - " + accessLine, true, accessLine, 0, false},
		{"rfc5424 sd", `<190>1 2026-12-07T10:00:00.000Z web1 nginx 123 access [ex@32473 a="x\"]y" b="2"][o@1 c="3"] ` + accessLine, true, accessLine, 0, false},
		{"rfc5424 bom", "<190>1 2026-12-07T10:00:00.000Z web1 nginx - - - \uFEFF" + accessLine, true, accessLine, 0, false},
		{"rfc5424 no msg", "<190>1 2026-12-07T10:00:00.000Z web1 nginx - - -", true, "", 0, false},
		{"rfc5424 open sd", `<190>1 2026-12-07T10:00:00.000Z web1 nginx - - [ex a="]" x`, false, "", 0, false},
		{"rfc5424 short", "<190>1 2026-12-07T10:00:00.000Z web1 nginx", false, "", 0, false},
		{"bad pri", "<19x>Dec  7 10:00:00 web1 nginx: x", false, "", 0, false},
		{"long pri", "<19000>Dec  7 10:00:00 web1 nginx: x", false, "", 0, false},
		{"html", "<html>", false, "", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, ok := unwrap(c.line)
			if ok != c.ok {
				t.Fatalf("unwrap(%q) ok=%v, want %v (%+v)", c.line, ok, c.ok, u)
			}
			if !ok {
				return
			}
			want := unwrapped{text: c.text, stream: c.stream, partial: c.partial}
			u.host, u.tag = "", "" // TestSyslog
			if u != want {
				t.Fatalf("unwrap(%q)=%+v, want %+v", c.line, u, want)
			}
		})
	}
}

// TestSyslog: the host name and tag of each header shape, "-" as none.
func TestSyslog(t *testing.T) {
	cases := []struct {
		msg, host, tag, body string
		ok                   bool
	}{
		{"<190>Dec  7 10:00:00 web1 nginx: " + accessLine, "web1", "nginx", accessLine, true},
		{"<190>Dec 17 10:00:00 web1 nginx[123]: x", "web1", "nginx", "x", true},
		{"<13>2026-12-07T10:00:00.123456+00:00 web1.example.com httpd: x", "web1.example.com", "httpd", "x", true},
		{"<190>Dec  7 10:00:00 - nginx: x", "", "nginx", "x", true},
		{"<13>Dec  7 10:00:00 nginx[42]: " + accessLine, "", "nginx", accessLine, true},
		{"<190>Dec  7 10:00:00 web1 [x]: x", "web1", "[x]", "x", true},
		{"<190>1 2026-12-07T10:00:00.000Z web1 nginx - - - " + accessLine, "web1", "nginx", accessLine, true},
		{"<190>1 2026-12-07T10:00:00.000Z - nginx 42 - - x", "", "nginx", "x", true},
		{"<190>1 - - - - - - x", "", "", "x", true},
		{`<190>1 2026-12-07T10:00:00.000Z web1 - - - [a b="c"] x`, "web1", "", "x", true},
		{accessLine, "", "", "", false},
		{"<190>garbage", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, c := range cases {
		host, tag, body, ok := Syslog(c.msg)
		if host != c.host || tag != c.tag || body != c.body || ok != c.ok {
			t.Errorf("Syslog(%q)=%q, %q, %q, %v; want %q, %q, %q, %v", c.msg, host, tag, body, ok, c.host, c.tag, c.body, c.ok)
		}
	}
}

// newTestReader is a Reader of Combined lines that joins parts up to max
// bytes.
func newTestReader(max int) *Reader {
	return MustCompile("combined").NewReader(ReaderConfig{MaxLine: max})
}

// feedLines reads each line and returns the records' Line, nil records
// (parts of lines) left out.
func feedLines(rd *Reader, lines ...string) []string {
	var out []string
	for _, l := range lines {
		if r := rd.Read(l, false, time.Time{}); r != nil {
			out = append(out, r.Line)
		}
	}
	return out
}

func TestReaderJoinsParts(t *testing.T) {
	ts := "2026-12-07T10:00:00.123456789Z "
	a, b, c := accessLine[:20], accessLine[20:50], accessLine[50:]
	t.Run("cri P P F", func(t *testing.T) {
		rd := newTestReader(DefaultMaxLine)
		got := feedLines(rd, ts+"stdout P "+a, ts+"stdout P "+b, ts+"stdout F "+c)
		if len(got) != 1 || got[0] != accessLine {
			t.Fatalf("records %q, want one: %q", got, accessLine)
		}
		r := Parse(got[0])
		if !r.Parsed || r.Status != 200 || r.Path != "/a?b=1" {
			t.Fatalf("joined line does not parse: %+v", r)
		}
	})
	t.Run("streams apart", func(t *testing.T) {
		rd := newTestReader(DefaultMaxLine)
		got := feedLines(rd, ts+"stdout P "+a, ts+"stderr F err", ts+"stdout P "+b, ts+"stderr P e1 ", ts+"stdout F "+c, ts+"stderr F e2")
		want := []string{"err", accessLine, "e1 e2"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("records %q, want %q", got, want)
		}
	})
	t.Run("docker split", func(t *testing.T) {
		rd := newTestReader(DefaultMaxLine)
		got := feedLines(rd, `{"log":"`+a+`","stream":"stdout"}`, `{"log":"`+strings.ReplaceAll(b+c, `"`, `\"`)+`\n","stream":"stdout"}`)
		if len(got) != 1 || got[0] != accessLine {
			t.Fatalf("records %q, want one: %q", got, accessLine)
		}
	})
	t.Run("cut at max", func(t *testing.T) {
		rd := newTestReader(10)
		got := feedLines(rd, ts+"stdout P 0123456", ts+"stdout P 789abc", ts+"stdout P def", ts+"stdout F ghi", ts+"stdout F next")
		want := []string{"0123456789", "next"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("records %q, want %q", got, want)
		}
		if records, _, truncated := rd.Counts(); truncated != 1 || records != 2 {
			t.Fatalf("records=%d truncated=%d, want 2 and 1", records, truncated)
		}
	})
	t.Run("cut on the final part", func(t *testing.T) {
		rd := newTestReader(10)
		got := feedLines(rd, ts+"stdout P 01234", ts+"stdout F 56789abc", ts+"stdout F x")
		want := []string{"0123456789", "x"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("records %q, want %q", got, want)
		}
	})
	t.Run("raw stays whole", func(t *testing.T) {
		rd := newTestReader(DefaultMaxLine)
		bad := `{"log":"cut`
		got := feedLines(rd, bad, ts+"stderr F not an access line")
		want := []string{bad, "not an access line"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("records %q, want %q", got, want)
		}
		if _, n, _ := rd.Counts(); n != 2 {
			t.Fatalf("parseErrors=%d, want 2", n)
		}
	})
}

// FuzzUnwrap: unwrapping never panics and never loses a line. A line it
// does not take as wrapped is a record as it is; one it does gives a record
// (or, for a part, one when the line ends) no longer than the input; a
// Docker line's text is what encoding/json reads.
func FuzzUnwrap(f *testing.F) {
	for _, s := range []string{
		accessLine,
		`{"log":"` + accessJSON + `\n","stream":"stdout","time":"2026-12-07T10:00:00.123456789Z"}`,
		`{"log":"a \"q\" \\ \/ \u00e9 \ud83d\ude00 \ud800\n","stream":"stderr","time":"t"}`,
		`{"log":"part","stream":"stdout","time":"t"}`,
		"2026-12-07T10:00:00.123456789Z stdout F " + accessLine,
		"2026-12-07T10:00:00.123456789Z stderr P x",
		"<190>Dec  7 10:00:00 web1 nginx[123]: " + accessLine,
		`<190>1 2026-12-07T10:00:00.000Z web1 nginx - - [a b="\]"] ` + accessLine,
		"<1>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if host, tag, body, ok := Syslog(line); ok && (!strings.Contains(line, host) || !strings.Contains(line, tag) || !strings.HasSuffix(line, body)) {
			t.Fatalf("Syslog(%q)=%q, %q, %q: not parts of the message", line, host, tag, body)
		}
		u, ok := unwrap(line)
		rd := newTestReader(64)
		r := rd.Read(line, false, time.Time{})
		if !ok {
			if r == nil || r.Line != line {
				t.Fatalf("unwrap(%q) not wrapped, but the record is %+v", line, r)
			}
			return
		}
		if len(u.text) > len(line) {
			t.Fatalf("unwrap(%q) text %q longer than the line", line, u.text)
		}
		// A whole line alone is bounded by the tailer already: not cut again.
		if !u.partial && (r == nil || r.Line != u.text) {
			t.Fatalf("unwrap(%q)=%+v, but the record is %+v", line, u, r)
		}
		if line[0] == '{' && utf8.ValidString(line) {
			var d struct {
				Log *string `json:"log"`
			}
			if json.Unmarshal([]byte(line), &d) == nil && d.Log != nil {
				want := *d.Log
				if !u.partial {
					want = strings.TrimSuffix(want, "\n")
				}
				if u.text != want {
					t.Fatalf("unwrap(%q) text %q, encoding/json reads %q", line, u.text, want)
				}
			}
		}
	})
}
