package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t testing.TB, lr bodyLines) (lines []string, cuts int, err error) {
	for {
		l, cut, err := lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return lines, cuts, err
		}
		lines = append(lines, string(l))
		if cut {
			cuts++
		}
	}
}

func TestBodyText(t *testing.T) {
	const max = 8
	body := "a\r\nbb\n\n12345678\r\n123456789\ncut here and more\nlast"
	lines, cuts, err := readAll(t, &bodyText{br: bufio.NewReaderSize(strings.NewReader(body), 16), max: max})
	want := []string{"a", "bb", "", "12345678", "12345678", "cut here", "last"}
	if err != nil || strings.Join(lines, "|") != strings.Join(want, "|") || cuts != 2 {
		t.Fatalf("lines %q cuts %d err %v, want %q and 2 cuts", lines, cuts, err, want)
	}
}

func TestBodyJSON(t *testing.T) {
	cases := []struct {
		body string
		want []string
		cuts int
		bad  bool
	}{
		{`[{"message":"a"},{"log":"b"}]`, []string{"a", "b"}, 0, false},
		{"{\"log\":\"x\\n\",\"message\":\"y\"}\n{\"a\":[1,{\"b\":null}],\"log\":\"z\"}", []string{"y", "z"}, 0, false},
		{`{"message":"\u00e9\ud83d\ude00\ud800x"}`, []string{"é😀\ufffdx"}, 0, false},
		{`{"message":"\"\\\/\b\f\n\r\t"}`, []string{"\"\\/\b\f\n\r\t"}, 0, false},
		{`{"o":1}`, []string{`{"o":1}`}, 0, false},
		{`{"message":"0123456789abc"}`, []string{"0123456789"}, 1, false},
		{`{"k":"0123456789abc"}`, []string{`{"k":"0123`}, 1, false},
		{`[] [ ] "s" {}`, []string{"s", "{}"}, 0, false},
		{`{"message": nope}`, nil, 0, true},
		{`{"message":"a"`, nil, 0, true},
		{`[{"message":"a"}`, []string{"a"}, 0, true},
		{`{"a":01}`, nil, 0, true},
		{`{"a":1e}`, nil, 0, true},
		{`{"a":-0.5e+3,"b":true,"c":false,"d":null}`, []string{`{"a":-0.5e`}, 1, false},
		{"{\"message\":\"a\x01\"}", nil, 0, true},
		{`5`, nil, 0, true},
		{strings.Repeat("[", 600), nil, 0, true},
		{`{"a":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, nil, 0, true},
	}
	for _, c := range cases {
		lines, cuts, err := readAll(t, &bodyJSON{br: bufio.NewReaderSize(strings.NewReader(c.body), 16), max: 10})
		if (err != nil) != c.bad || strings.Join(lines, "|") != strings.Join(c.want, "|") || cuts != c.cuts {
			t.Errorf("%.60q: lines %q cuts %d err %v; want %q, %d cuts, error %v", c.body, lines, cuts, err, c.want, c.cuts, c.bad)
		}
	}
}

// The decoders never panic or hang, never return a line over max, and
// on a body of objects that encoding/json reads, find the same lines.
func FuzzIngestBody(f *testing.F) {
	for _, s := range []string{
		`[{"date":1795251600.123456,"log":"203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] \"GET / HTTP/1.1\" 200 5"}]`,
		`{"file":"/var/log/a","host":"h","message":"m","source_type":"file","timestamp":"2026-11-21T09:00:00Z"}` + "\n",
		`{"log":"\ud83d\ude00"}{"message":{"x":[1,2,{"y":"z"}]}}`,
		"line one\r\nline two\nlast",
		`[{"a":"\u0000"},"str",[]]`,
	} {
		f.Add([]byte(s), uint8(16))
	}
	f.Fuzz(func(t *testing.T, body []byte, m uint8) {
		max := int(m) + 1
		for _, lr := range []bodyLines{
			&bodyText{br: bufio.NewReaderSize(bytes.NewReader(body), 16), max: max},
			&bodyJSON{br: bufio.NewReaderSize(bytes.NewReader(body), 16), max: max},
		} {
			n := 0
			for {
				l, _, err := lr.next()
				if err != nil {
					break
				}
				if len(l) > max {
					t.Fatalf("a line of %d bytes, max %d", len(l), max)
				}
				if n++; n > len(body)+1 {
					t.Fatalf("%d lines from %d bytes", n, len(body))
				}
			}
		}
		// Differential: a stream of objects with short string members.
		dec := json.NewDecoder(bytes.NewReader(body))
		var want []string
		for {
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				if !errors.Is(err, io.EOF) {
					return
				}
				break
			}
			if v == nil {
				return
			}
			var line string
			if s, ok := v["message"].(string); ok {
				line = s
			} else if s, ok := v["log"].(string); ok {
				line = s
			} else {
				return // the raw object: compared by the unit test
			}
			if len(line) > 200 || strings.ContainsRune(line, '\ufffd') {
				return // cut, or invalid UTF-8 that encoding/json replaces its own way
			}
			want = append(want, line)
		}
		if bytes.Count(body, []byte(`"message"`))+bytes.Count(body, []byte(`"log"`)) != len(want) {
			return // a member given twice, or escaped names: JSON leaves the choice open
		}
		got, _, err := readAll(t, &bodyJSON{br: bufio.NewReaderSize(bytes.NewReader(body), 16), max: 256})
		if err != nil || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("got %q (%v), encoding/json reads %q", got, err, want)
		}
	})
}

// Reading a line of a body allocates nothing: the line is in a buffer the
// next call reuses (the caller's string is the record's one allocation).
func TestBodyLinesAllocs(t *testing.T) {
	line := `203.0.113.9 - - [21/Nov/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 5 "-" "curl/8.5.0"`
	obj, _ := json.Marshal(map[string]any{"date": 1795251600.123456, "log": line})
	for name, one := range map[string]string{"text": line + "\n", "ndjson": string(obj) + "\n"} {
		body := strings.Repeat(one, 2000)
		r := strings.NewReader(body)
		br := bufio.NewReaderSize(r, 64<<10)
		var lr bodyLines = &bodyText{br: br, max: 1 << 16}
		if name == "ndjson" {
			lr = &bodyJSON{br: br, max: 1 << 16}
		}
		lr.next() // the buffers grow once
		allocs := testing.AllocsPerRun(1000, func() {
			if l, _, err := lr.next(); err != nil || string(l) != line {
				t.Fatalf("%s: %q %v", name, l, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations a line, want 0", name, allocs)
		}
	}
}
